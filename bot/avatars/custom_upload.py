"""Sending a new custom avatar's videos to its provider (:meth:`Uploads.send`), for
:class:`~bot.avatars.custom.CustomAvatars`.

The videos are copied beside the avatar's row first (``<folder>/<id>/``), and the row marked
"submitted" just before the call: from then on a lost answer means "maybe made", and the
avatar is never sent again (its webhook names it, or it fails as unconfirmed when it was given
none). Its provider id is kept whatever became of the row meanwhile (deleted by its owner
during the upload, say): a real person's face is never offered as a stock avatar. The copies
go as soon as the avatar is not pending any more.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

from bot.avatars.custom_errors import AvatarRefused, AvatarsUnavailable, AvatarUnconfirmed
from bot.avatars.custom_files import keep
from bot.avatars.custom_watch import AvatarWatcher, HookUrl, PersonaMaker
from bot.errors import ProviderError, ProviderRejected, ProviderUnavailable
from bot.jobs.reasons import shown_reason
from bot.models import Reason
from bot.models.custom_avatars import CustomAvatar, CustomAvatarState
from storage.custom_avatars import CustomAvatarRepository
from storage.db import now

log = logging.getLogger(__name__)


class Uploads:
    def __init__(
        self, repo: CustomAvatarRepository, watcher: AvatarWatcher, folder: Path, hook_url: HookUrl
    ) -> None:
        self._repo = repo
        self._watcher = watcher
        self._folder = folder
        self._hook_url = hook_url
        #: Avatars whose videos an upload may still open (a delete leaves them to it).
        self._running: set[int] = set()

    def running(self, avatar_id: int) -> bool:
        return avatar_id in self._running

    async def send(
        self, avatar: CustomAvatar, maker: PersonaMaker, training: Path, consent: Path | None
    ) -> CustomAvatar:
        """Copy ``avatar``'s videos beside it, send them, keep what came back; the avatar as
        it is now (pending, or deleted meanwhile).

        Raises:
            AvatarRefused, AvatarsUnavailable, AvatarUnconfirmed: as
                :meth:`~bot.avatars.custom.CustomAvatars.create` (the avatar failed).
        """
        self._running.add(avatar.id)
        try:
            await self._upload(avatar, maker, training, consent)
        finally:
            self._running.discard(avatar.id)
            # Deleted (or failed) while the upload ran: its copies go now, not in a sweep.
            current = await self._current(avatar)
            if current.state is not CustomAvatarState.PENDING and (
                current.training_path or current.consent_path
            ):
                await self._watcher.forget_files(current)
        return await self._current(avatar)

    async def _upload(
        self, avatar: CustomAvatar, maker: PersonaMaker, training: Path, consent: Path | None
    ) -> None:
        folder = self._folder / str(avatar.id)
        try:
            kept = await asyncio.to_thread(keep, folder, training, consent)
        except OSError as exc:
            log.error("Custom avatar %d: could not keep its videos: %s", avatar.id, exc)
            await self._end(avatar, "avatar.reason_interrupted")
            raise AvatarsUnavailable from None
        # Marked just before the call: from here on, "submitted" means "maybe made".
        started = now()
        await self._repo.update(
            avatar.id, training_path=kept[0], consent_path=kept[1], submitted_at=started
        )
        avatar = avatar.model_copy(
            update={"training_path": kept[0], "consent_path": kept[1], "submitted_at": started}
        )
        hook = self._hook_url(avatar)
        try:
            persona_id = await maker.create_persona(
                avatar.name, avatar.gender, kept[0], kept[1], hook
            )
        except ProviderUnavailable as exc:
            if not exc.maybe_done:
                log.warning("Custom avatar %d: not sent: %s", avatar.id, exc)
                await self._end(avatar, "avatar.reason_interrupted")
                raise AvatarsUnavailable from None
            log.warning(
                "Custom avatar %d: %s may have made it (%s)", avatar.id, avatar.provider, exc
            )
            if hook is None:  # nothing can ever name it
                await self._end(avatar, "avatar.reason_unconfirmed")
                raise AvatarUnconfirmed from None
            # Its webhook will name it; until then it waits (the deadline ends the wait).
            await self._watcher.check(avatar)
            return
        except ProviderRejected as exc:
            reason = shown_reason(exc.reason) or ""
            await self._end(avatar, "avatar.reason_provider", reason=reason)
            raise AvatarRefused(reason=reason) from None
        except ProviderError as exc:  # bad key, no credits: an admin's problem
            log.error("Custom avatar %d: %s", avatar.id, exc)
            await self._end(avatar, "avatar.reason_interrupted")
            raise AvatarsUnavailable from None
        except OSError as exc:  # a kept video could not be read: the body never went whole
            log.error("Custom avatar %d: reading its videos failed: %s", avatar.id, exc)
            await self._end(avatar, "avatar.reason_interrupted")
            raise AvatarsUnavailable from None
        log.info("Custom avatar %d sent to %s as %s", avatar.id, avatar.provider, persona_id)
        # Kept whatever became of the row meanwhile (deleted too): a real person's face.
        if not await self._repo.adopt(avatar.id, persona_id):
            known = (await self._current(avatar)).persona_id
            if known == persona_id:
                log.info("Custom avatar %d: its webhook came first", avatar.id)
            else:
                log.error(
                    "Custom avatar %d: could not keep %s (has %s)", avatar.id, persona_id, known
                )
        first = now() + timedelta(seconds=self._watcher.policy.pause(0))
        pending = [CustomAvatarState.PENDING]
        await self._repo.transition(
            avatar.id, pending, CustomAvatarState.PENDING, next_check_at=first
        )
        await self._watcher.publish()  # its id is never to be offered as a stock avatar

    async def _end(self, avatar: CustomAvatar, code: str, **params: str) -> None:
        """Fail an avatar whose create did not go through (its maker is told by the caller's
        exception, not by a message), and delete its videos."""
        reason = Reason(code=code, params=params)
        await self._repo.transition(
            avatar.id, [CustomAvatarState.PENDING], CustomAvatarState.FAILED, reason=reason
        )
        await self._watcher.forget_files(await self._current(avatar))

    async def _current(self, avatar: CustomAvatar) -> CustomAvatar:
        found = await self._repo.get(avatar.id)
        assert found is not None
        return found
