"""The /avatar conversation's background work: a video's download and checks, the send to the
provider after [Create], and what a restart finds half done. Never in an update handler: a
video takes seconds to fetch and probe, an upload longer.

Results reach the user through the handlers' presenter. Every change to a setup is a
compare-and-set, so a check that finishes after /cancel (or a newer /avatar) changes nothing.
Once [Create] was pressed nothing cancels the send: the avatar may be made whatever we do.

Setups nobody touched for MAX_AGE, and folders no setup owns, are swept at start-up and every
SWEEP_EVERY after (users abandon a setup half way, with a video of their face in it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import httpx
from telegram import Bot
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.avatars.custom import CustomAvatars
from bot.avatars.custom_errors import AvatarsUnavailable, CustomAvatarError, NoSlots, TooMany
from bot.avatars.setup_state import CHECKS, AvatarSetup, SetupStep
from bot.avatars.setup_videos import CONSENT, TRAINING, SetupRefused, fetch_and_check
from bot.models.custom_avatars import CustomAvatar
from bot.tasks import BackgroundTasks, stop
from storage.avatar_setups import AvatarSetupRepository
from storage.db import now

log = logging.getLogger(__name__)

#: A refusal to show with a prompt: a locale key and its parameters.
Refusal = tuple[str, dict[str, object]]
#: A setup nobody touched for this long is dropped (with its videos).
MAX_AGE = timedelta(days=7)
#: How often abandoned setups and stray folders are looked for, while the bot runs.
SWEEP_EVERY = 3600.0
#: A folder this recent is left alone by a sweep while the bot runs (its setup may have
#: started after the sweep read the table).
SWEEP_GRACE = 3600.0
#: Refusals of a create that may pass later: the summary stays, [Create] again.
_TRY_AGAIN = (AvatarsUnavailable, NoSlots, TooMany)


class SetupPresenter(Protocol):
    """How the background work talks to the user (the handlers' screens)."""

    async def prompt(self, setup: AvatarSetup, refusal: Refusal | None = None) -> None:
        """Ask for what ``setup``'s step wants, after ``refusal`` when given."""
        ...

    async def tell(self, setup: AvatarSetup, key: str, **params: object) -> None:
        """A message to the setup's user, in its language."""
        ...


class SetupWork:
    def __init__(
        self,
        repo: AvatarSetupRepository,
        avatars: CustomAvatars,
        tasks: BackgroundTasks,
        folder: Path,
        *,
        bot: Bot,
        http: httpx.AsyncClient,
        download_limit: int,
    ) -> None:
        """
        Args:
            folder: where each setup keeps its checked videos (``<user>/<token>/``), outside
                the inputs' retention: a setup may wait days for its consent video.
        """
        self._repo = repo
        self._avatars = avatars
        self._tasks = tasks
        self._folder = folder
        self._bot = bot
        self._http = http
        self._download_limit = download_limit
        self._presenter: SetupPresenter | None = None
        #: Users with a setup, mirrored from the table (the update filter reads it).
        self._active: set[int] = set()
        self.sweep_every = SWEEP_EVERY
        self.sweep_grace = SWEEP_GRACE
        #: The periodic sweep: its own task, not a background task (those end; it never
        #: does), stopped by :meth:`close`.
        self._sweeper: asyncio.Task[None] | None = None

    def attach(self, presenter: SetupPresenter) -> None:
        self._presenter = presenter

    def active(self, user_id: int) -> bool:
        return user_id in self._active

    def folder_of(self, setup: AvatarSetup) -> Path:
        return self._folder / str(setup.user_id) / setup.token

    # --- starting and ending -----------------------------------------------------------------

    async def start(self, setup: AvatarSetup) -> AvatarSetup | None:
        started = await self._repo.start(setup)
        if started is not None:
            self._active.add(setup.user_id)
        return started

    async def end(
        self, setup: AvatarSetup, *, from_work: bool = False, unless_sending: bool = False
    ) -> bool:
        """End ``setup``'s conversation: its running work (unless this is it), its row, its
        videos. Whether this call ended it; with ``unless_sending``, not when it is sending
        by now (a /cancel: the avatar may be made whatever we do, so nothing stops)."""
        unless = SetupStep.SENDING if unless_sending else None
        ended = await self._repo.delete(setup, unless=unless)
        if unless_sending and not ended:
            return False
        if ended and not from_work:
            self._tasks.cancel(_key(setup.user_id))
        if await self._repo.get(setup.user_id) is None:
            self._active.discard(setup.user_id)
        await asyncio.to_thread(_remove, self.folder_of(setup))
        return ended

    # --- checks ------------------------------------------------------------------------------

    def check(self, setup: AvatarSetup) -> None:
        """Download and check the video ``setup`` is waiting on, in the background."""
        self._tasks.spawn(_key(setup.user_id), self._check(setup), replace=True)

    async def _check(self, setup: AvatarSetup) -> None:
        assert setup.checking is not None
        refused_step, next_step = CHECKS[setup.step]
        rule = TRAINING if setup.step is SetupStep.TRAINING_CHECK else CONSENT
        with contextlib.suppress(TelegramError):  # only a courtesy
            await self._bot.send_chat_action(setup.user_id, ChatAction.TYPING)
        refusal: Refusal | None = None
        try:
            path, seconds = await fetch_and_check(
                rule,
                setup.checking,
                self.folder_of(setup),
                bot=self._bot,
                http=self._http,
                download_limit=self._download_limit,
            )
        except SetupRefused as exc:
            log.info("Refused a %s video of user %d: %s", rule.kind, setup.user_id, exc)
            refusal = exc.key, exc.params
        except Exception:  # a bug or a full disk must not leave it "checking" until a restart
            log.exception("Checking a %s video of user %d failed", rule.kind, setup.user_id)
            refusal = "error.check_failed", {}
        if refusal is not None:
            update: dict[str, object] = {"step": refused_step, "checking": None}
        else:
            update = {
                "step": next_step,
                "checking": None,
                f"{rule.kind}_path": str(path),
                f"{rule.kind}_seconds": seconds,
            }
        settled = await self._repo.replace(setup, setup.model_copy(update=update))
        if settled is None:
            return  # canceled or started over meanwhile: its folder went with it
        await self._presenter_().prompt(settled, refusal)

    # --- sending -----------------------------------------------------------------------------

    def send(self, setup: AvatarSetup) -> None:
        """Send a SENDING setup's avatar to the provider, in the background."""
        self._tasks.spawn(_key(setup.user_id), self._send(setup), replace=True)

    async def _send(self, setup: AvatarSetup) -> None:
        assert setup.name is not None
        assert setup.gender is not None
        assert setup.training_path is not None
        presenter = self._presenter_()
        # The stored chat: its group may have moved to a supergroup since [Create].
        stored = await self._repo.get(setup.user_id)
        chat_id = stored.chat_id if stored is not None else setup.chat_id
        try:
            avatar = await self._avatars.create(
                setup.user_id,
                chat_id,
                setup.name,
                setup.gender,
                Path(setup.training_path),
                Path(setup.consent_path) if setup.consent_path else None,
                locale=setup.locale,
            )
        except _TRY_AGAIN as exc:
            await self._offer_again(setup, (exc.key, exc.params))
            return
        except CustomAvatarError as exc:  # refused, or unconfirmed: it is in /avatar's list
            await self.end(setup, from_work=True)
            await presenter.tell(setup, exc.key, **exc.params)
            return
        except Exception:
            log.exception("Sending the avatar of user %d failed", setup.user_id)
            await self._offer_again(setup, ("avatar.setup_send_failed", {}))
            return
        # The service copied the videos beside the avatar: ours can go.
        await self.end(setup, from_work=True)
        await presenter.tell(setup, "avatar.building", name=avatar.name)

    async def _offer_again(self, setup: AvatarSetup, refusal: Refusal) -> None:
        """Back to the summary (nothing was made), [Create] again later."""
        back = setup.model_copy(update={"step": SetupStep.CONFIRM, "sending_since": None})
        saved = await self._repo.replace(setup, back)
        if saved is not None:
            await self._presenter_().prompt(saved, refusal)

    # --- lifecycle ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Know who has a setup; drop the abandoned ones, and videos no setup owns."""
        self._active = {setup.user_id for setup in await self._repo.all()}
        await self.sweep(grace=0.0)  # nothing runs yet: every stray folder can go

    async def sweep(self, *, grace: float | None = None) -> None:
        """Drop the setups nobody touched for MAX_AGE (their work, their videos), then the
        folders no setup owns (but those changed in the last ``grace`` seconds)."""
        kept: dict[int, str] = {}
        for setup in await self._repo.all():
            if setup.updated_at is not None and now() - setup.updated_at > MAX_AGE:
                log.info("Dropping the avatar setup user %d left %s", setup.user_id, setup.step)
                await self.end(setup)
            else:
                kept[setup.user_id] = setup.token
        wait = self.sweep_grace if grace is None else grace
        await asyncio.to_thread(_sweep, self._folder, kept, wait)

    async def resume(self) -> None:
        """Start again what a restart cut short: checks, and sends (found done, or offered
        again); then sweep every SWEEP_EVERY, in the background."""
        for setup in await self._repo.all():
            if setup.step in CHECKS:
                self.check(setup)
            elif setup.step is SetupStep.SENDING:
                await self._resume_send(setup)
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweeping(), name="avatar-setups-sweep")

    async def close(self) -> None:
        await stop(self._sweeper)
        self._sweeper = None

    async def _sweeping(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_every)
            try:
                await self.sweep()
            except Exception:  # the database, a full disk: the next round tries again
                log.exception("Sweeping the avatar setups failed")

    async def _resume_send(self, setup: AvatarSetup) -> None:
        since = setup.sending_since or setup.updated_at or now()
        made = [a for a in await self._avatars.mine(setup.user_id) if a.created_at >= since]
        if made and not _never_sent(made[0]):
            # The upload may have left: never sent twice. The avatar's row (its webhook, its
            # polls) says what became of it, in /avatar.
            await self.end(setup)
            await self._presenter_().tell(
                setup, "avatar.setup_sent_before_restart", name=made[0].name
            )
        else:
            await self._offer_again(setup, ("avatar.setup_not_sent_before_restart", {}))

    def _presenter_(self) -> SetupPresenter:
        assert self._presenter is not None, "SetupWork.attach() was not called"
        return self._presenter


def _never_sent(avatar: CustomAvatar) -> bool:
    """Whether the avatar's upload surely never left (it is marked just before it goes): its
    row fails (or has failed) as interrupted, and the setup's own videos may go again."""
    return avatar.submitted_at is None


def _key(user_id: int) -> str:
    return f"avatar-setup:{user_id}"


def _remove(folder: Path) -> None:
    """Delete a setup's folder, and its user's when that is left empty (blocking I/O)."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()


def _sweep(folder: Path, kept: dict[int, str], grace: float) -> None:
    """Delete setup folders of setups that are gone, unless changed in the last ``grace``
    seconds (blocking I/O)."""
    if not folder.is_dir():
        return
    oldest = time.time() - grace
    for user_dir in folder.iterdir():
        token = kept.get(int(user_dir.name)) if user_dir.name.isdecimal() else None
        for setup_dir in user_dir.iterdir() if user_dir.is_dir() else []:
            with contextlib.suppress(OSError):  # gone meanwhile
                if setup_dir.name != token and setup_dir.stat().st_mtime <= oldest:
                    shutil.rmtree(setup_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            user_dir.rmdir()  # only when empty
