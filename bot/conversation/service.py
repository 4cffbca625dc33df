"""The /new conversation as transitions on a stored draft: MEDIA -> VOICE -> RATIO ->
PROVIDER -> CONFIRM (design §1); a dialogue (two people talking) asks for its two faces at
MEDIA (one photo of both, or two avatars), then VOICE and VOICE2, then TURNS where the
providers offer both ways. Handlers ask for a transition and render the draft it returns;
the face transitions are in :mod:`bot.conversation.faces`.

State lives in the drafts table, keyed by (chat, user), not in memory: a restart resumes at the
same step with everything the user already sent. Files are downloaded and probed by background
checks (``*_CHECK`` steps, :mod:`bot.conversation.background`), which move the draft on and
tell the user through the :class:`Presenter` the handlers attach. Every change but a fresh
start is compare-and-set (:meth:`DraftRepository.update`), so a check, a face swap and what
the user sends meanwhile never undo each other.
"""

from __future__ import annotations

import logging
import secrets
from enum import Enum

from bot import callback_data as cd
from bot.catalog import Catalog
from bot.conversation.background import BackgroundChecks, Presenter
from bot.conversation.checks import InputChecks
from bot.conversation.faces import FaceSteps
from bot.conversation.picker import AvatarPicker
from bot.conversation.steps import StepRules
from bot.errors import (
    DialogueRecordingNotTaken,
    MediaTooLong,
    RecordingNotTaken,
)
from bot.media.intake import MediaService
from bot.models import (
    AspectRatio,
    AvatarFace,
    Draft,
    InputFile,
    MediaKind,
    Step,
    Turns,
    VoiceKind,
)
from bot.models.draft import second_speaker
from bot.tasks import BackgroundTasks
from storage import DraftRepository

log = logging.getLogger(__name__)


class Press(Enum):
    """Why a conversation button acts on nothing."""

    #: Someone else's conversation.
    NOT_YOURS = "not_yours"
    #: Its conversation ended, or a newer one replaced it.
    STALE = "stale"


class DraftService(FaceSteps):
    def __init__(
        self,
        repo: DraftRepository,
        media: MediaService,
        catalog: Catalog,
        tasks: BackgroundTasks,
        checks: InputChecks,
        picker: AvatarPicker,
    ) -> None:
        self._repo = repo
        #: Which avatars a draft is offered at the MEDIA step.
        self.picker = picker
        self._media = media
        self._catalog = catalog
        self._rules = StepRules(catalog)
        self._background = BackgroundChecks(repo, tasks, checks, self._rules)

    def attach(self, presenter: Presenter) -> None:
        """Where background checks report (set once at start-up, before any update)."""
        self._background.attach(presenter)

    @property
    def max_voice_seconds(self) -> float:
        return self._media.max_voice_seconds

    def second_room(self, draft: Draft) -> dict[Turns, int]:
        """How long a dialogue's second voice may be, by the providers (see
        :meth:`StepRules.second_room`)."""
        return self._rules.second_room(draft, self.max_voice_seconds)

    @property
    def download_limit(self) -> int:
        return self._media.download_limit

    async def pressed(
        self, chat_id: int, presser_id: int, owner_id: int, token: str
    ) -> Draft | Press:
        """The conversation a button acts on: one made for ``owner_id``'s conversation
        ``token``, pressed by ``presser_id`` in ``chat_id``. NOT_YOURS when someone else
        pressed it; STALE when that conversation ended or a newer one replaced it."""
        if presser_id != owner_id:
            return Press.NOT_YOURS
        draft = await self._repo.get(chat_id, presser_id)
        return draft if draft is not None and draft.token == token else Press.STALE

    async def get(self, chat_id: int, user_id: int) -> Draft | None:
        return await self._repo.get(chat_id, user_id)

    async def begin(
        self,
        *,
        chat_id: int,
        user_id: int,
        chat_type: str,
        locale: str,
        reply_to: int | None,
        language: str | None = None,
        face: InputFile | None = None,
        face_kind: MediaKind | None = None,
        avatar: AvatarFace | None = None,
        dialogue: bool = False,
        avatar2: AvatarFace | None = None,
    ) -> Draft:
        """A fresh draft for this (chat, user), replacing any other; starts at VOICE when the
        face (a file or an avatar; a dialogue's two) is already known ([Again]). ``dialogue``:
        two people talking (/dialogue)."""
        self._background.cancel(chat_id, user_id)
        # A dialogue of avatars needs both: with one only, the second is still to pick.
        known = face is not None or (avatar is not None and (avatar2 is not None or not dialogue))
        draft = Draft(
            chat_id=chat_id,
            user_id=user_id,
            token=secrets.token_urlsafe(6),
            chat_type=chat_type,
            step=Step.VOICE if known else Step.MEDIA,
            media=face,
            media_kind=face_kind,
            avatar=avatar,
            dialogue=dialogue,
            avatar2=avatar2 if dialogue else None,
            reply_to=reply_to,
            locale=locale,
            language=language,
        )
        return await self._repo.save(draft)

    async def accept_voice(
        self, draft: Draft, file: InputFile, duration: int | None
    ) -> Draft | None:
        """Take ``file`` as the voice and check it in the background; None if the
        conversation ended meanwhile.

        Raises:
            MediaError: too big, longer than the limit by Telegram's own count, or the face
                is made from typed text only.
        """
        if not self._catalog.takes_recordings(draft):
            raise DialogueRecordingNotTaken() if draft.dialogue else RecordingNotTaken()
        self._media.check_size(file)
        limit = self._media.max_voice_seconds
        if duration is not None and duration > limit:
            # Telegram tells the length up front: no need to download a 10-minute file.
            raise MediaTooLong(limit=int(limit), duration=duration)
        update = {"voice": file, "voice_kind": VoiceKind.AUDIO, "voice_text": None}
        return await self._speaker_said(draft, update)

    async def accept_text(self, draft: Draft, text: str, voice_id: str | None) -> Draft | None:
        """Take typed text as the voice: it is spoken in the background (by ``voice_id``,
        the user's chosen voice, so its length, price and quota are known before CONFIRM) and
        then checked as a recording. None if the conversation ended meanwhile.

        Raises:
            MediaError: longer than MAX_TEXT_CHARS.
        """
        self._media.check_text(text)
        update = {
            "voice": InputFile(file_id="", source="text"),
            "voice_kind": VoiceKind.TEXT,
            "voice_text": text,
            "voice_id": voice_id,
        }
        return await self._speaker_said(draft, update)

    async def _speaker_said(self, draft: Draft, voice: dict[str, object]) -> Draft | None:
        """``voice`` (the first speaker's fields) for the speaker the draft asks for (a
        dialogue's second at VOICE2), checked in the background."""
        second = draft.step is Step.VOICE2
        step = Step.VOICE2_CHECK if second else Step.VOICE_CHECK
        update = {"step": step, **second_speaker(voice, second)}
        said = await self._said(draft, Step.VOICE2 if second else Step.VOICE, update)
        return await self._background.start(said)

    async def choose(self, draft: Draft, action: str, value: str) -> Draft | None:
        """A turns, ratio or provider button; the saved draft, or None if the press is out of
        place (judged on the stored draft: a face swap may have landed since ``draft`` was
        read)."""
        choosing = (Step.RATIO, Step.PROVIDER, Step.CONFIRM)

        def chosen(current: Draft) -> Draft | None:
            update: dict[str, object]
            if action == cd.TURNS and current.step is Step.TURNS:
                try:
                    turns = Turns(value)
                except ValueError:
                    return None
                if turns not in self._catalog.turns_offered(current):
                    return None
                return self._rules.advance(current.model_copy(update={"turns": turns}))
            if action == cd.RATIO and current.step in choosing:
                try:
                    ratio = AspectRatio(value)
                except ValueError:
                    return None
                update = {"ratio": ratio, "step": Step.PROVIDER, "provider": None}
            elif action == cd.PROVIDER and current.step in choosing[1:]:
                if value not in self._catalog.able(current):
                    return None
                update = {"provider": value, "step": Step.CONFIRM}
            else:
                return None
            return self._rules.single_choice(current.model_copy(update=update))

        return await self._repo.update(draft, chosen)

    async def shorter_voice(self, draft: Draft) -> Draft | None:
        """[Shorter voice] (the voice costs more quota than is left): back to the VOICE step,
        keeping the face, shape and provider (a dialogue's turns too, asking both voices
        again), so the next voice leads straight to the summary. None if the press is out of
        place (the conversation moved on or ended)."""

        def back(current: Draft) -> Draft | None:
            if current.step is not Step.CONFIRM:
                return None
            # A new token: the old summary's and refusal's buttons are stale from now on,
            # so none of them can act on the order the next voice makes.
            return current.model_copy(
                update={
                    "step": Step.VOICE,
                    "voice": None,
                    "voice_kind": None,
                    "voice_text": None,
                    "voice_id": None,
                    **second_speaker(
                        dict.fromkeys(("voice", "voice_kind", "voice_text", "voice_id"))
                    ),
                    "token": secrets.token_urlsafe(6),
                }
            )

        return await self._repo.update(draft, back)

    async def remember_prompt(self, draft: Draft, message_id: int) -> None:
        """The prompt just sent in a group for ``draft``'s conversation (see Draft.prompt_id)."""

        def remember(current: Draft) -> Draft:
            return current.model_copy(update={"prompt_id": message_id})

        await self._repo.update(draft, remember)

    async def claim(self, draft: Draft) -> bool:
        """[Generate]: end the conversation so it makes one job; False if a double tap
        already claimed it."""
        return await self._repo.delete(draft.chat_id, draft.user_id)

    async def restore(self, draft: Draft) -> None:
        """Put a claimed draft back (the job could not be made): nothing the user sent is
        lost. A conversation begun meanwhile (/new while [Generate] was being refused) is
        newer and stays."""
        await self._repo.save_if_absent(draft)

    async def cancel(self, draft: Draft) -> bool:
        """End a conversation and any check it has running. Returns whether there was one."""
        self._background.cancel(draft.chat_id, draft.user_id)
        return await self._repo.delete(draft.chat_id, draft.user_id)

    async def adopt(self, draft: Draft) -> Draft:
        """Make a draft built elsewhere ([Other provider] after a failure) the user's
        conversation, past PROVIDER when only one provider is able."""
        self._background.cancel(draft.chat_id, draft.user_id)
        return await self._repo.save(self._rules.single_choice(draft))

    async def resume_checks(self) -> int:
        """After a restart, restart the checks that were under way. Returns how many."""
        return await self._background.resume()

    async def _said(
        self, draft: Draft, step: Step | None, update: dict[str, object]
    ) -> Draft | None:
        """Apply what the user just sent to the stored draft with a compare-and-set, so a
        face swap that landed after the handler read ``draft`` is kept. ``draft`` (the
        handler's copy) brings the message's ``reply_to`` and locale; ``step``: the step the
        stored draft must still be at (None: any). None if the conversation ended meanwhile."""
        update = {
            "reply_to": draft.reply_to,
            "locale": draft.locale,
            "language": draft.language,
            **update,
        }

        def apply(current: Draft) -> Draft | None:
            if step is not None and current.step is not step:
                return None
            return current.model_copy(update=update)

        return await self._repo.update(draft, apply)
