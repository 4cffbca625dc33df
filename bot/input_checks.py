"""A draft's background check of one input: download (or speak) and probe it, and turn any
failure into a refusal to show the user, never an exception that would leave the draft
"still checking" until a restart."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from telegram import Bot
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.errors import MediaError
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
