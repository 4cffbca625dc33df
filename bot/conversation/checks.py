"""A draft's background check of one input: download (or speak) and probe it, and turn any
failure into a refusal to show the user, never an exception that would leave the draft
"still checking" until a restart."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from telegram import Bot
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.errors import MediaError
from bot.media.intake import MediaService
from bot.models import Draft, InputFile

log = logging.getLogger(__name__)

#: A refusal: a locale key and its parameters.
Refusal = tuple[str, dict[str, object]]


async def checked_input(
    bot: Bot, draft: Draft, ingest: Callable[[], Awaitable[InputFile]]
) -> InputFile | Refusal:
    """The checked file, or why it is refused."""
    with contextlib.suppress(TelegramError):  # only a courtesy
        await bot.send_chat_action(draft.chat_id, ChatAction.TYPING)
    try:
        return await ingest()
    except MediaError as exc:
        log.info("Refused a file in chat %d: %s", draft.chat_id, exc)
        return exc.key, exc.params
    except Exception:
        # A bug or a full disk must not leave the draft "still checking" until a restart.
        log.exception("Checking a file in chat %d failed", draft.chat_id)
        return "error.check_failed", {}


class InputChecks:
    """What a draft's check downloads, speaks and probes: its face, the face it was offered,
    its voice (a recording, or typed text in the user's language and chosen voice)."""

    def __init__(self, media: MediaService, bot: Bot) -> None:
        self._media = media
        self._bot = bot

    async def face(self, draft: Draft) -> InputFile | Refusal:
        assert draft.media is not None
        assert draft.media_kind is not None
        ingest = partial(self._media.ingest_face, draft.media, draft.media_kind)
        return await checked_input(self._bot, draft, ingest)

    async def offered_face(self, draft: Draft) -> InputFile | Refusal:
        assert draft.offered_media is not None
        assert draft.offered_media_kind is not None
        ingest = partial(self._media.ingest_face, draft.offered_media, draft.offered_media_kind)
        return await checked_input(self._bot, draft, ingest)

    async def voice(self, draft: Draft, *, second: bool = False) -> InputFile | Refusal:
        """The voice, or with ``second`` a dialogue's second speaker's."""
        if second:
            voice, text, chosen = draft.voice2, draft.voice2_text, draft.voice2_id
        else:
            voice, text, chosen = draft.voice, draft.voice_text, draft.voice_id
        if text is not None:
            language = draft.language or draft.locale
            # An avatar's provider reads the text itself (in the chosen voice, if it is one of
            # its own): the built-in voice speaks it only to price it, and no provider's voice
            # is paid for a recording nobody will hear.
            voice_id = None if draft.avatar is not None else chosen
            ingest = partial(self._media.ingest_text, text, language, voice_id)
        else:
            assert voice is not None
            ingest = partial(self._media.ingest_voice, voice)
        return await checked_input(self._bot, draft, ingest)
