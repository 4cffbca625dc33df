"""A draft's background work: the download and probe of what the user sent (``*_CHECK``
steps), and the check of a face offered with [Use this face instead]. Each moves the stored
draft on with a compare-and-set when it ends, and tells the user through the
:class:`Presenter` the handlers attach; a restart starts the checks that were under way
again."""

from __future__ import annotations

from typing import Protocol

from bot.conversation.checks import InputChecks
from bot.conversation.steps import StepRules
from bot.models import Draft, InputFile, Step
from bot.models.draft import second_speaker
from bot.tasks import BackgroundTasks
from storage import DraftRepository

#: The step a background check returns to when the file is refused (when it is accepted,
#: the draft moves on to whatever is still missing: StepRules.advance).
CHECKS = {
    Step.MEDIA_CHECK: Step.MEDIA,
    Step.VOICE_CHECK: Step.VOICE,
    Step.VOICE2_CHECK: Step.VOICE2,
}


class Presenter(Protocol):
    """How background checks talk to the user (the handlers' prompts)."""

    async def prompt(self, draft: Draft) -> None: ...

    async def refuse(self, draft: Draft, key: str, **params: object) -> None: ...

    async def swapped(self, draft: Draft) -> None: ...


class BackgroundChecks:
    def __init__(
        self,
        repo: DraftRepository,
        tasks: BackgroundTasks,
        checks: InputChecks,
        rules: StepRules,
    ) -> None:
        self._repo = repo
        self._tasks = tasks
        self._checks = checks
        self._rules = rules
        self._presenter: Presenter | None = None

    def attach(self, presenter: Presenter) -> None:
        """Where background checks report (set once at start-up, before any update)."""
        self._presenter = presenter

    def cancel(self, chat_id: int, user_id: int) -> None:
        """Stop the check a conversation has running, if any."""
        self._tasks.cancel(_check_key(chat_id, user_id))

    async def start(self, draft: Draft | None) -> Draft | None:
        """Check the file a ``*_CHECK`` draft waits on, in the background (replacing any
        check of the same conversation); returns ``draft``."""
        if draft is not None:
            key = _check_key(draft.chat_id, draft.user_id)
            self._tasks.spawn(key, self._check(draft), replace=True)
        return draft

    def swap(self, draft: Draft) -> None:
        """Check the offered face in the background; it replaces the old one once it passes."""
        # Its own task key: a voice check running at the same time must not cancel it.
        key = f"swap:{draft.chat_id}:{draft.user_id}"
        self._tasks.spawn(key, self._swap(draft), replace=True)

    async def resume(self) -> int:
        """After a restart, restart the checks that were under way. Returns how many."""
        drafts = await self._repo.in_steps(*CHECKS)
        for draft in drafts:
            await self.start(draft)
        return len(drafts)

    async def _check(self, draft: Draft) -> None:
        """Download and probe the file a ``*_CHECK`` draft is waiting on, then move it on."""
        refused_step = CHECKS[draft.step]
        second = draft.step is Step.VOICE2_CHECK
        cleared: dict[str, object]
        if draft.step is Step.MEDIA_CHECK:
            result = await self._checks.face(draft)
            field, cleared = "media", {"media": None}
        else:
            result = await self._checks.voice(draft, second=second)
            cleared = second_speaker({"voice": None, "voice_text": None}, second)
            field = "voice2" if second else "voice"

        too_long = False

        def settle(current: Draft) -> Draft | None:
            nonlocal too_long
            if current.step is not draft.step:
                return None  # moved on meanwhile
            if isinstance(result, tuple):
                return current.model_copy(update={"step": refused_step, **cleared})
            checked = current.model_copy(update={field: result})
            shorter = self._rules.too_long(checked) if second else None
            too_long = shorter is not None
            return shorter or self._rules.advance(checked)

        settled = await self._repo.update(draft, settle)
        if settled is None:
            return  # the user canceled or started over meanwhile
        if too_long:
            key = "dialogue_too_long" if settled.step is Step.VOICE2 else "dialogue_too_long_both"
            await self._presenter_().refuse(settled, f"error.{key}")
        elif isinstance(result, tuple):
            key, params = result
            await self._presenter_().refuse(settled, key, **params)
        else:
            await self._presenter_().prompt(settled)

    async def _swap(self, draft: Draft) -> None:
        """Check the offered face; swap it in keeping the voice and still-valid choices."""
        offered, kind = draft.offered_media, draft.offered_media_kind
        assert offered is not None
        assert kind is not None
        face = await self._checks.offered_face(draft)

        def swap_in(current: Draft) -> Draft:
            # A face sent while this one was checked is the one offered now: it stays.
            still_offered = current.offered_media is not None and _same_file(
                current.offered_media, offered
            )
            cleared = {"offered_media": None, "offered_media_kind": None} if still_offered else {}
            if isinstance(face, tuple):
                return current.model_copy(update=cleared)
            # The sent face replaces an avatar too (which would otherwise win: Draft.face_kind;
            # a dialogue's two), and the avatar's provider voice with it: the text was spoken
            # by the built-in one.
            update = {"media": face, "media_kind": kind, "avatar": None, "avatar2": None}
            update |= cleared
            if current.avatar is not None:
                update |= {"voice_id": None, "voice2_id": None}
            return self._rules.keep_choices(current.model_copy(update=update))

        current = await self._repo.update(draft, swap_in)
        if current is None:
            return  # canceled, generated or started over meanwhile
        if isinstance(face, tuple):
            key, params = face
            await self._presenter_().refuse(current, key, **params)
        elif current.step not in CHECKS:  # a running check prompts when done
            await self._presenter_().swapped(current)

    def _presenter_(self) -> Presenter:
        assert self._presenter is not None, "DraftService.attach() was not called"
        return self._presenter


def _same_file(a: InputFile, b: InputFile) -> bool:
    """The same file Telegram holds (file ids differ between bots and over time)."""
    if a.file_unique_id and b.file_unique_id:
        return a.file_unique_id == b.file_unique_id
    return a.file_id == b.file_id


def _check_key(chat_id: int, user_id: int) -> str:
    return f"check:{chat_id}:{user_id}"
