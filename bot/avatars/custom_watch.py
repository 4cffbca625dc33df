"""Watching custom avatars being built: a webhook and slow polls, across restarts.

A provider takes days to build an avatar, so every pending avatar's next check is in its row
(``next_check_at``): ten minutes after its create at first, the pause doubling up to an hour
(:class:`WatchPolicy`), and a start-up checks every pending avatar at once (webhooks may have
been missed while the bot was down). An avatar its provider does not call built by
``deadline`` (7 days) has failed: it is read first, as it may have been built in the last
hour or while the bot was down. A webhook (its URL carries the avatar's own secret token)
only says "look now": the avatar is read again from the provider, and its body's ``id`` is
trusted only to name the avatar of a create whose answer was lost (it may have been made:
never sent twice).

Two paths can learn the same news at once: an avatar settles by compare-and-set, so its owner
is told once (``on_settled``), and a deleted avatar stays deleted.

The videos are kept beside each avatar only while it is built: deleted when it settles, and
swept every ``sweep_every`` (a folder no pending avatar owns: a crash between the copy and
the row's update, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from bot.avatars.catalog import AvatarCatalog
from bot.avatars.custom_files import discard_files, sweep_folders
from bot.errors import ProviderError, ProviderRejected, ProviderUnavailable
from bot.models import Gender, Reason
from bot.models.custom_avatars import CustomAvatar, CustomAvatarState
from bot.providers.base import identifier
from bot.providers.creatify_personas import PersonaState, PersonaStatus
from bot.tasks import BackgroundTasks, stop
from bot.untrusted import json_object, same_secret
from storage.custom_avatars import CustomAvatarRepository
from storage.db import now

log = logging.getLogger(__name__)

PENDING = CustomAvatarState.PENDING
#: Told when an avatar is ready or has failed (the owner hears of it).
Notify = Callable[[CustomAvatar], Awaitable[None]]
#: Avatars checked per round; more wait for the next round, at once.
BATCH = 20
#: The longest sleep between rounds (a wake-up comes sooner whenever there is news).
MAX_SLEEP = 3600.0
#: The pause after a round that failed as a whole (the database, say).
ERROR_SLEEP = 60.0
#: What an unknown avatar's token is compared with, so a wrong id costs the same time.
_NO_TOKEN = secrets.token_urlsafe(16)
#: The webhook URL of an avatar, or None when its provider is not given one (no PUBLIC_URL, or
#: too long for the provider): then only polls can follow it.
HookUrl = Callable[[CustomAvatar], str | None]


class PersonaMaker(Protocol):
    """A provider that builds custom avatars (Creatify's ``personas``)."""

    async def create_persona(
        self,
        name: str,
        gender: Gender,
        training: Path,
        consent: Path | None,
        webhook_url: str | None,
    ) -> str: ...

    async def get_persona(self, persona_id: str) -> PersonaState: ...

    async def persona_slots(self) -> tuple[int, int]: ...


@dataclass(frozen=True)
class WatchPolicy:
    """How often a pending avatar is read, and how long it may take."""

    first_check: float = 600.0
    max_check: float = 3600.0
    deadline: float = 7 * 86400.0
    #: How often folders of avatars no longer pending are looked for (and deleted).
    sweep_every: float = 3600.0
    #: A folder this recent is left alone (its avatar's row may be being written).
    sweep_grace: float = 3600.0

    def pause(self, checks: int, retry_after: float | None = None) -> float:
        """Seconds before the next check after ``checks`` checks without news."""
        pause: float = self.first_check * 2.0 ** min(checks, 32)
        return max(min(pause, self.max_check), retry_after or 0.0)


class AvatarWatcher:
    def __init__(
        self,
        repo: CustomAvatarRepository,
        makers: Mapping[str, PersonaMaker],
        catalog: AvatarCatalog,
        tasks: BackgroundTasks,
        policy: WatchPolicy,
        *,
        hook_url: HookUrl,
        folder: Path,
    ) -> None:
        """
        Args:
            hook_url: each avatar's webhook URL, None when it has none: a create whose answer
                was lost can then never be claimed, and fails at once.
            folder: where the avatars' videos wait (``<id>/``), swept now and then.
        """
        self._repo = repo
        self._makers = makers
        self._catalog = catalog
        self._tasks = tasks
        self.policy = policy
        self._hook_url = hook_url
        self._folder = folder
        #: When the folders were last swept (monotonic; never yet: at the first round).
        self._swept_at = -math.inf
        self.on_settled: Notify | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: The latest webhook hint per avatar not handled yet (see :meth:`hinted`).
        self._hints: dict[int, str | None] = {}
        #: One publish at a time: each reads the table after the one before has set its
        #: lists, so the last to finish has read the newest state.
        self._publishing = asyncio.Lock()

    # --- lifecycle ---------------------------------------------------------------------------

    async def publish(self) -> None:
        """Give the picker every ready avatar, and every custom avatar's provider id (never
        to be offered as a provider's stock). Serialized: two reads are awaited before the
        lists are set, and an older publish finishing after a newer one (an un-share, a
        delete) would put back what was taken away, until the next change."""
        async with self._publishing:
            rows = await self._repo.ready()
            ready = [a for row in rows if (a := row.as_avatar()) is not None]
            self._catalog.set_custom(ready, await self._repo.persona_ids())

    async def start(self) -> None:
        """Check every pending avatar now (news may have been missed while the bot was
        down), then keep watching in the background."""
        for avatar in await self._repo.pending():
            await self._repo.transition(avatar.id, [PENDING], PENDING, next_check_at=now())
        self._task = asyncio.create_task(self._run(), name="custom-avatars")

    async def close(self) -> None:
        await stop(self._task)
        self._task = None

    def wake(self) -> None:
        """Look at the schedule again now (an avatar was added or is due sooner)."""
        self._wake.set()

    # --- webhooks ----------------------------------------------------------------------------

    async def verify(self, provider: str, avatar_id: int, token: str) -> bool:
        """Whether ``token`` is the secret of avatar ``avatar_id`` at ``provider`` (compared in
        constant time, also when there is no such avatar)."""
        avatar = await self._repo.get(avatar_id)
        right = same_secret(token, avatar.webhook_token if avatar is not None else _NO_TOKEN)
        return right and avatar is not None and avatar.provider == provider

    def hinted(self, avatar_id: int, body: bytes) -> None:
        """A verified webhook about ``avatar_id``: read it again from its provider, in the
        background. Webhooks that come while one is being handled are folded into one more
        look (the latest body's id kept)."""
        data = json_object(body) or {}
        hint = identifier(data.get("id"))
        self._hints[avatar_id] = hint or self._hints.get(avatar_id)
        self._tasks.spawn(f"custom-avatar:{avatar_id}", self._drain(avatar_id))

    async def _drain(self, avatar_id: int) -> None:
        while avatar_id in self._hints:
            hint = self._hints.pop(avatar_id)
            try:
                await self._on_webhook(avatar_id, hint)
            except Exception:  # one avatar's trouble must not lose the others' news
                log.exception("Custom avatar %d: handling its webhook failed", avatar_id)

    async def _on_webhook(self, avatar_id: int, hint: str | None) -> None:
        avatar = await self._repo.get(avatar_id)
        if avatar is None:
            return
        if avatar.persona_id is None and hint is not None:
            # Its create's answer was lost: the webhook names what it made. Kept even when
            # the avatar was deleted or gave up meanwhile: that face is never to be offered
            # as a stock avatar.
            if not await self._repo.adopt(avatar_id, hint):
                log.warning(
                    "Custom avatar %d: could not take %s from its webhook", avatar_id, hint
                )
                return
            log.info("Custom avatar %d claimed by its webhook as %s", avatar_id, hint)
            avatar = avatar.model_copy(update={"persona_id": hint})
            if avatar.state is not PENDING:
                await self.publish()
        if avatar.state is PENDING and avatar.persona_id is not None:
            await self.check(avatar)

    # --- checks ------------------------------------------------------------------------------

    async def poll_once(self) -> int:
        """Check the avatars that are due; how many were."""
        due = await self._repo.due(now(), BATCH)
        for avatar in due:
            try:
                await self.check(avatar)
            except Exception:  # never a tight loop over one avatar that keeps failing
                log.exception("Custom avatar %d: checking it failed", avatar.id)
                await self._later(avatar)
        return len(due)

    async def check(self, avatar: CustomAvatar) -> None:
        """Read a pending avatar from its provider and settle it, or schedule the next look.
        Past the deadline it is read too (it may have been built in the last hour, or while
        the bot was down: built and paid for), and fails only when not built."""
        overdue = now() >= avatar.created_at + timedelta(seconds=self.policy.deadline)
        if avatar.persona_id is None:
            await self._unanswered(avatar, overdue)
            return
        maker = self._makers.get(avatar.provider)
        state: PersonaState | None = None
        retry_after: float | None = None
        try:
            if maker is not None:  # else its provider was turned off: kept until the deadline
                state = await maker.get_persona(avatar.persona_id)
        except ProviderRejected as exc:
            if exc.status_code == 404:
                await self.settle(avatar, Reason(code="avatar.reason_gone"))
                return
            if not overdue:
                raise
            log.warning("Custom avatar %d: %s", avatar.id, exc)
        except ProviderUnavailable as exc:
            log.info("Custom avatar %d: %s", avatar.id, exc)
            retry_after = exc.retry_after
        except ProviderError as exc:  # auth, credits: the provider's, not the avatar's
            log.warning("Custom avatar %d: %s", avatar.id, exc)
        if state is not None and state.status is PersonaStatus.READY:
            await self.settle(avatar, state=state)
        elif state is not None and state.status is PersonaStatus.FAILED:
            params = {"reason": state.reason} if state.reason else {}
            code = "avatar.reason_provider" if state.reason else "avatar.reason_none"
            await self.settle(avatar, Reason(code=code, params=params))
        elif overdue:
            days = math.ceil(self.policy.deadline / 86400)
            await self.settle(avatar, Reason(code="avatar.reason_too_long", params={"days": days}))
        else:
            await self._later(avatar, retry_after)

    async def _unanswered(self, avatar: CustomAvatar, overdue: bool) -> None:
        """A pending avatar without a provider id: its create never left (a crash before it
        was sent), or its answer was lost and only its webhook can name it (until the
        deadline; never, when it was given no webhook URL)."""
        if avatar.submitted_at is None:
            await self.settle(avatar, Reason(code="avatar.reason_interrupted"))
        elif overdue or self._hook_url(avatar) is None:
            # The provider may have made it (and keeps its slot): only its dashboard can tell.
            log.warning(
                "Custom avatar %d (%r, by user %d) was sent to %s but never confirmed",
                avatar.id,
                avatar.name,
                avatar.owner_id,
                avatar.provider,
            )
            await self.settle(avatar, Reason(code="avatar.reason_unconfirmed"))
        else:
            deadline = avatar.created_at + timedelta(seconds=self.policy.deadline)
            await self._repo.transition(avatar.id, [PENDING], PENDING, next_check_at=deadline)

    async def _later(self, avatar: CustomAvatar, retry_after: float | None = None) -> None:
        pause = self.policy.pause(avatar.checks + 1, retry_after)
        await self._repo.transition(
            avatar.id,
            [PENDING],
            PENDING,
            next_check_at=now() + timedelta(seconds=pause),
            checks=avatar.checks + 1,
        )

    async def settle(
        self,
        avatar: CustomAvatar,
        reason: Reason | None = None,
        *,
        state: PersonaState | None = None,
    ) -> bool:
        """End a pending avatar: ready (with the provider's ``state``) or failed (``reason``).
        Its videos are deleted, the picker updated and its owner told, once.

        Returns:
            Whether this call settled it (False: another path did, or it was deleted).
        """
        ready = state is not None
        fields: dict[str, Any] = {"next_check_at": None}
        if ready:
            assert state is not None
            fields.update(ready_at=now(), avatar_data=state.avatar)
        else:
            fields["reason"] = reason
        to = CustomAvatarState.READY if ready else CustomAvatarState.FAILED
        if not await self._repo.transition(avatar.id, [PENDING], to, **fields):
            return False
        settled = await self._repo.get(avatar.id)
        assert settled is not None
        log.info("Custom avatar %d (%s) is %s", avatar.id, avatar.persona_id, to)
        await self.forget_files(settled)
        await self.publish()
        if self.on_settled is not None:
            try:
                await self.on_settled(settled)
            except Exception:  # the news is kept in the row: /avatar shows it
                log.exception("Custom avatar %d: telling its owner failed", avatar.id)
        return True

    async def forget_files(self, avatar: CustomAvatar) -> None:
        """Delete an avatar's videos (kept only while it is being built)."""
        try:
            await asyncio.to_thread(discard_files, avatar)
        except OSError as exc:
            log.warning("Custom avatar %d: could not delete its videos: %s", avatar.id, exc)
        await self._repo.update(avatar.id, training_path=None, consent_path=None)

    async def sweep(self) -> int:
        """Delete the video folders no pending avatar owns (and not just made); how many."""
        kept = await self._repo.pending_ids()
        swept = await asyncio.to_thread(sweep_folders, self._folder, kept, self.policy.sweep_grace)
        if swept:
            log.info("Deleted %d custom avatar folder(s) no pending avatar owns", swept)
        return swept

    # --- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before the round: a wake-up during it is not lost
            await self._sweep_when_due()
            try:
                if await self.poll_once() >= BATCH:
                    continue
                upcoming = await self._repo.next_check_time()
            except Exception:
                log.exception("Checking custom avatars failed")
                wait = ERROR_SLEEP
            else:
                wait = MAX_SLEEP
                if upcoming is not None:
                    wait = min(MAX_SLEEP, max(0.0, (upcoming - now()).total_seconds()))
            wait = max(0.0, min(wait, self._sweep_due() - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def _sweep_due(self) -> float:
        return self._swept_at + self.policy.sweep_every

    async def _sweep_when_due(self) -> None:
        if time.monotonic() < self._sweep_due():
            return
        self._swept_at = time.monotonic()
        try:
            await self.sweep()
        except Exception:  # a full disk, a bad folder: the next sweep tries again
            log.exception("Sweeping the custom avatar folders failed")


__all__ = [
    "AvatarWatcher",
    "HookUrl",
    "Notify",
    "PersonaMaker",
    "WatchPolicy",
]
