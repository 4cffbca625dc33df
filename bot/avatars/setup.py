"""The /avatar conversation as transitions on a stored :class:`AvatarSetup`: TRAINING ->
CONSENT -> NAME -> GENDER -> CONFIRM -> SENDING, and RENAME; handlers only render it.

Each step takes only what it asks; a refusal (:class:`SetupRefused`) leaves the step as it
was, so nothing already given is lost. Videos are downloaded and checked in the background
(bot.avatars.setup_work), which reports through the handlers' presenter. A user has one setup
at a time, in their private chat, whatever chat /avatar came from.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from pathlib import Path

import httpx
from telegram import Bot

from bot.avatars.custom import CustomAvatars
from bot.avatars.custom_errors import AvatarsUnavailable, NoSlots
from bot.avatars.names import MAX_NAME, clean_name
from bot.avatars.setup_state import CHECKS, AvatarSetup, SetupStep
from bot.avatars.setup_videos import CONSENT, TRAINING, SetupRefused, check_declared
from bot.avatars.setup_work import SetupPresenter, SetupWork
from bot.models import Gender, InputFile
from bot.signing import Signer
from bot.tasks import BackgroundTasks
from bot.untrusted import ascii_int, same_secret
from storage.avatar_setups import AvatarSetupRepository
from storage.db import Database, now

log = logging.getLogger(__name__)

#: Steps of making a new avatar (RENAME is not one: a new avatar may replace it).
MAKING = frozenset(SetupStep) - {SetupStep.RENAME}
#: Direction marks and embeddings: a name holding one reads backwards or drags the text after
#: it along (the others of category Cf, zero-width joiners in emoji, are dropped quietly).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class SetupInProgress(SetupRefused):
    """The user is already making an avatar (``setup``): one at a time."""

    def __init__(self, setup: AvatarSetup) -> None:
        super().__init__("avatar.setup_in_progress")
        self.setup = setup


def checked_name(text: str) -> str:
    """A name as typed, trimmed: 1 to MAX_NAME characters of plain text.

    Raises:
        SetupRefused: empty, too long, or holding control or direction characters.
    """
    stripped = text.strip()
    if any(unicodedata.category(c) == "Cc" or c in _BIDI for c in stripped):
        raise SetupRefused("avatar.name_control")
    length = len(unicodedata.normalize("NFC", stripped))
    if length > MAX_NAME:
        raise SetupRefused("avatar.name_too_long", length=length, limit=MAX_NAME)
    name = clean_name(stripped, "")
    if not name:
        raise SetupRefused("avatar.name_empty", limit=MAX_NAME)
    return name


class AvatarSetups:
    def __init__(
        self,
        repo: AvatarSetupRepository,
        avatars: CustomAvatars,
        work: SetupWork,
        signer: Signer,
        *,
        download_limit: int,
    ) -> None:
        self._repo = repo
        self._avatars = avatars
        self._work = work
        self._signer = signer
        self.download_limit = download_limit

    # --- who is in one ------------------------------------------------------------------

    def attach(self, presenter: SetupPresenter) -> None:
        """Where background work reports (set once at start-up, before any update)."""
        self._work.attach(presenter)

    def active(self, user_id: int) -> bool:
        """Whether the user has a setup (their private messages go to it): no database read,
        so it can filter updates."""
        return self._work.active(user_id)

    async def get(self, user_id: int) -> AvatarSetup | None:
        return await self._repo.get(user_id)

    # --- [New avatar] and where it is made for ---------------------------------------------

    def origin(self, user_id: int, chat_id: int) -> str:
        """What [New avatar] carries for an avatar made for ``chat_id`` (a group /avatar was
        sent in): signed, so a forged button cannot make one shared with any other group."""
        if chat_id == user_id:
            return ""
        return f"{chat_id}.{self._signer.sign(f'avatar-origin:{user_id}:{chat_id}')[:16]}"

    def origin_of(self, user_id: int, value: str) -> int | None:
        """The chat an :meth:`origin` value names for ``user_id``; None when forged."""
        if not value:
            return user_id
        chat, _, signature = value.partition(".")
        number = ascii_int(chat.removeprefix("-"))
        if number is None or not chat.startswith("-"):
            return None
        chat_id = -number
        expected = self._signer.sign(f"avatar-origin:{user_id}:{chat_id}")[:16]
        return chat_id if same_secret(signature, expected) else None

    async def begin(self, user_id: int, chat_id: int, locale: str) -> AvatarSetup:
        """Start making an avatar for ``chat_id``; every check that can refuse is made before
        any video is asked for (the account's slots too).

        Raises:
            SetupInProgress: one is being made already (``setup``).
            NotAllowed, TooMany, NoSlots, AvatarsUnavailable: why not.
        """
        current = await self._repo.get(user_id)
        if current is not None and current.step in MAKING:
            raise SetupInProgress(current)
        await self._avatars.check_room(user_id)
        left = await self._avatars.slots_left()
        if left is None:
            raise AvatarsUnavailable
        if left <= 0:
            raise NoSlots
        fresh = self._new(user_id, chat_id, locale, SetupStep.TRAINING)
        return await self._replace_or_start(current, fresh)

    async def begin_rename(self, user_id: int, avatar_id: int, locale: str) -> AvatarSetup:
        """Ask for a new name for one of the user's avatars.

        Raises:
            SetupInProgress: an avatar is being made (one thing at a time).
            AvatarNotFound: not one of theirs.
        """
        current = await self._repo.get(user_id)
        if current is not None and current.step in MAKING:
            raise SetupInProgress(current)
        avatar = await self._avatars.get(user_id, avatar_id)
        fresh = self._new(user_id, avatar.chat_id, locale, SetupStep.RENAME)
        # ``name`` holds the current name, for the prompt.
        named = fresh.model_copy(update={"avatar_id": avatar.id, "name": avatar.name})
        return await self._replace_or_start(current, named)

    # --- each step -------------------------------------------------------------------------

    async def take_video(
        self, setup: AvatarSetup, file: InputFile, seconds: int | None
    ) -> AvatarSetup | None:
        """A video at TRAINING or CONSENT: checked for what Telegram says of it now, then
        downloaded and checked in the background. None when the setup changed meanwhile.

        Raises:
            SetupRefused: not at a video step, or refused before any download.
        """
        rule = {SetupStep.TRAINING: TRAINING, SetupStep.CONSENT: CONSENT}.get(setup.step)
        if rule is None:
            raise SetupRefused("avatar.setup_no_video_now")
        check_declared(rule, file, seconds, download_limit=self.download_limit)
        step = SetupStep.TRAINING_CHECK if rule is TRAINING else SetupStep.CONSENT_CHECK
        checking = setup.model_copy(update={"step": step, "checking": file})
        moved = await self._repo.replace(setup, checking)
        if moved is not None:
            self._work.check(moved)
        return moved

    async def take_name(self, setup: AvatarSetup, text: str) -> AvatarSetup | None:
        """The avatar's name, at NAME.

        Raises:
            SetupRefused: not a usable name.
        """
        if setup.step is not SetupStep.NAME:
            raise SetupRefused("avatar.setup_no_name_now")
        name = checked_name(text)
        update = {"name": name, "step": SetupStep.GENDER}
        return await self._repo.replace(setup, setup.model_copy(update=update))

    async def choose_gender(self, setup: AvatarSetup, value: str) -> AvatarSetup | None:
        """[Woman] [Man] [Other] at GENDER; None for another step or a forged value."""
        if setup.step is not SetupStep.GENDER or value not in set(Gender):
            return None
        update = {"gender": Gender(value), "step": SetupStep.CONFIRM}
        return await self._repo.replace(setup, setup.model_copy(update=update))

    async def confirm(self, setup: AvatarSetup) -> bool:
        """[Create] at CONFIRM: the videos go to the provider in the background. Whether this
        press started it (a second tap finds it sending)."""
        if setup.step is not SetupStep.CONFIRM:
            return False
        update = {"step": SetupStep.SENDING, "sending_since": now()}
        sending = await self._repo.replace(setup, setup.model_copy(update=update))
        if sending is None:
            return False
        self._work.send(sending)
        return True

    async def rename(self, setup: AvatarSetup, text: str) -> str:
        """The new name at RENAME; it ends the setup. Returns the name as kept.

        Raises:
            SetupRefused: not a usable name.
            AvatarNotFound: the avatar was deleted meanwhile (the setup ends too).
        """
        if setup.step is not SetupStep.RENAME or setup.avatar_id is None:
            raise SetupRefused("avatar.setup_no_name_now")
        name = checked_name(text)
        await self._work.end(setup)
        renamed = await self._avatars.rename(setup.user_id, setup.avatar_id, name)
        return renamed.name

    async def touch(self, setup: AvatarSetup) -> AvatarSetup:
        """Mark the setup as the user's latest conversation (shown again by /avatar): their
        private messages go to it rather than to an older /new."""
        return await self._repo.replace(setup, setup) or setup

    async def cancel(self, user_id: int) -> bool:
        """End the user's setup (its check, its videos). Whether there was one.

        Raises:
            SetupRefused: [Create] was pressed: the videos are on their way (or there), and
                the avatar may be made whatever we do; once listed, /avatar deletes it.
        """
        setup = await self._repo.get(user_id)
        if setup is None:
            return False
        if setup.step is not SetupStep.SENDING and await self._work.end(
            setup, unless_sending=True
        ):
            return True
        now_there = await self._repo.get(user_id)
        if now_there is not None and now_there.step is SetupStep.SENDING:
            raise SetupRefused("avatar.cancel_too_late")
        return False

    # --- lifecycle ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Know who has a setup (before any update); drop abandoned ones and stray files."""
        await self._work.load()

    async def resume(self) -> None:
        """After a restart: the checks under way start again, and a [Create] cut short is
        either found done or offered again (the presenter must be attached)."""
        await self._work.resume()

    async def close(self) -> None:
        """Stop the periodic sweep (started by :meth:`resume`)."""
        await self._work.close()

    # --- internals ---------------------------------------------------------------------------

    def _new(self, user_id: int, chat_id: int, locale: str, step: SetupStep) -> AvatarSetup:
        return AvatarSetup(
            user_id=user_id,
            chat_id=chat_id,
            token=secrets.token_urlsafe(6),
            step=step,
            locale=locale,
        )

    async def _replace_or_start(
        self, current: AvatarSetup | None, fresh: AvatarSetup
    ) -> AvatarSetup:
        if current is not None:
            await self._work.end(current)
        started = await self._work.start(fresh)
        if started is None:  # another tap started one in between
            raced = await self._repo.get(fresh.user_id)
            raise SetupInProgress(raced or fresh)
        return started


def make_setups(
    db: Database,
    avatars: CustomAvatars,
    tasks: BackgroundTasks,
    folder: Path,
    *,
    bot: Bot,
    http: httpx.AsyncClient,
    signer: Signer,
    download_limit: int,
) -> AvatarSetups:
    """The /avatar conversation's service (open_services); videos wait in ``folder``."""
    repo = AvatarSetupRepository(db)
    work = SetupWork(
        repo, avatars, tasks, folder, bot=bot, http=http, download_limit=download_limit
    )
    return AvatarSetups(repo, avatars, work, signer, download_limit=download_limit)


__all__ = [
    "CHECKS",
    "MAKING",
    "AvatarSetups",
    "SetupInProgress",
    "SetupPresenter",
    "SetupRefused",
    "checked_name",
    "make_setups",
]
