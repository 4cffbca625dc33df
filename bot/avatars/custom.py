"""Custom avatars (issue 9): a user's own avatar, built by a provider (Creatify's
``personas_v2``) from a training video of them speaking and a consent video.

What handlers use (``/avatar``): :meth:`CustomAvatars.allowed`, :meth:`~CustomAvatars.slots_left`
(before asking for any video), :meth:`~CustomAvatars.create`, :meth:`~CustomAvatars.mine`,
:meth:`~CustomAvatars.rename`, :meth:`~CustomAvatars.delete` and :meth:`~CustomAvatars.share`.
A refusal raises a :class:`~bot.avatars.custom_errors.CustomAvatarError`, whose ``key`` and
``params`` are the words to show.

The row is written before the provider is called, and the videos are copied beside it
(``<folder>/<id>/``, out of the inputs' retention) until the avatar settles or is deleted: a
create whose answer is lost may have made the avatar (and taken a slot), so it is never sent
again; it stays pending until its webhook names it (bot.avatars.custom_watch). Ready avatars
are offered by the picker to their owner (and to the group they were made in, if shared).
Creatify documents no way to delete an avatar: deleting one is ours only (it is hidden and
its news ignored; its slot at Creatify stays taken, and its provider id is kept so that the
face is never offered as a stock avatar).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from bot.avatars.catalog import AvatarCatalog
from bot.avatars.custom_errors import (
    AvatarNotFound,
    AvatarsUnavailable,
    BadName,
    BadVideo,
    NoSlots,
    NotAllowed,
    NotShareable,
    TooMany,
)
from bot.avatars.custom_files import usable
from bot.avatars.custom_upload import Uploads
from bot.avatars.custom_watch import AvatarWatcher, Notify, PersonaMaker, WatchPolicy
from bot.avatars.names import clean_name
from bot.errors import ProviderError
from bot.models import Gender
from bot.models.custom_avatars import CustomAvatar, CustomAvatarState
from bot.providers.creatify_personas import MAX_WEBHOOK_URL
from bot.tasks import BackgroundTasks
from storage.custom_avatars import SHOWN, CustomAvatarRepository

log = logging.getLogger(__name__)

#: CUSTOM_AVATARS: who may make them.
Who = Literal["off", "admins", "everyone"]
#: Avatars a user who is not an admin may have being built or ready at once: the account's
#: slots are shared by every user.
MAX_PER_OWNER = 3


class CustomAvatars:
    def __init__(
        self,
        repo: CustomAvatarRepository,
        makers: Mapping[str, PersonaMaker],
        catalog: AvatarCatalog,
        tasks: BackgroundTasks,
        folder: Path,
        *,
        who: Who,
        admins: frozenset[int],
        public_url: str,
        policy: WatchPolicy | None = None,
        max_per_owner: int = MAX_PER_OWNER,
    ) -> None:
        """
        Args:
            makers: the enabled providers that build avatars, by name (the first is used).
            folder: where videos wait while their avatar is built.
            public_url: PUBLIC_URL; without it no webhook can come (polling only).
        """
        self._repo = repo
        self._makers = makers
        self._folder = folder
        self._who = who
        self._admins = admins
        self._public_url = public_url
        self._max_per_owner = max_per_owner
        self.watcher = AvatarWatcher(
            repo,
            makers,
            catalog,
            tasks,
            policy or WatchPolicy(),
            hook_url=self.webhook_url,
            folder=folder,
        )
        #: Creates on their way to the provider: slots they will take, not counted there yet.
        self._uploading = 0
        self._uploads = Uploads(repo, self.watcher, folder, self.webhook_url)
        self._long_url_logged = False

    # --- who may -------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether anyone may make avatars (CUSTOM_AVATARS is not off, a provider can)."""
        return self._who != "off" and bool(self._makers)

    def allowed(self, user_id: int) -> bool:
        """Whether ``user_id`` may make avatars (CUSTOM_AVATARS; default: admins only)."""
        if not self.available:
            return False
        return self._who == "everyone" or user_id in self._admins

    async def check_room(self, owner_id: int) -> None:
        """Refuse, before any video is asked for, a user who may not make one more.

        Raises:
            NotAllowed: CUSTOM_AVATARS does not let them.
            TooMany: not an admin, and as many being built or ready as one may have.
        """
        if not self.allowed(owner_id):
            raise NotAllowed
        admin = owner_id in self._admins
        if not admin and await self._repo.count_live(owner_id) >= self._max_per_owner:
            raise TooMany(limit=self._max_per_owner)

    def set_notifier(self, on_settled: Notify | None) -> None:
        """Who is told when an avatar is ready or has failed (the owner's message)."""
        self.watcher.on_settled = on_settled

    async def slots_left(self) -> int | None:
        """Avatars the provider account may still take (minus creates on their way); None
        when no provider can tell right now (or none builds avatars)."""
        try:
            _, maker = self._maker()
        except AvatarsUnavailable:
            return None
        try:
            current, most = await maker.persona_slots()
        except ProviderError as exc:
            log.warning("Could not read the custom avatar slots: %s", exc)
            return None
        return max(0, most - current - self._uploading)

    # --- making one ------------------------------------------------------------------------

    async def create(
        self,
        owner_id: int,
        chat_id: int,
        name: str,
        gender: Gender,
        training: Path,
        consent: Path | None,
        *,
        locale: str = "en",
    ) -> CustomAvatar:
        """Send a new avatar to the provider; it comes back pending (days to build).

        The videos are copied (the caller may delete its own) and deleted once it settles.

        Raises:
            NotAllowed, AvatarsUnavailable, BadName, BadVideo, TooMany, NoSlots: checked
                before anything is sent.
            AvatarRefused: the provider refused it (``reason``).
            AvatarsUnavailable: the provider could not be reached (nothing was made).
            AvatarUnconfirmed: the create's answer was lost and no webhook can claim it.
        """
        if not self.allowed(owner_id):
            raise NotAllowed
        maker_name, maker = self._maker()
        gender = Gender(gender)  # a bad value is the caller's bug: before anything is written
        shown = clean_name(name, "")
        if not shown:
            raise BadName
        for video in (training, consent):
            if video is not None and not await asyncio.to_thread(usable, video):
                raise BadVideo(str(video.name))
        await self.check_room(owner_id)
        left = await self.slots_left()
        if left is None:
            raise AvatarsUnavailable
        if left <= 0:
            raise NoSlots
        self._uploading += 1
        try:
            avatar = await self._repo.create(
                owner_id=owner_id,
                chat_id=chat_id,
                provider=maker_name,
                name=shown,
                gender=gender,
                locale=locale,
                webhook_token=secrets.token_urlsafe(24),
            )
            return await self._uploads.send(avatar, maker, training, consent)
        finally:
            self._uploading -= 1
            self.watcher.wake()

    # --- one's own -------------------------------------------------------------------------

    async def mine(self, owner_id: int) -> list[CustomAvatar]:
        """The user's avatars, newest first: being built, ready and failed (not deleted)."""
        return await self._repo.of_owner(owner_id)

    async def get(self, owner_id: int, avatar_id: int) -> CustomAvatar:
        """One of the user's avatars (not deleted).

        Raises:
            AvatarNotFound: none such of theirs.
        """
        avatar = await self._repo.get(avatar_id)
        if avatar is None or avatar.owner_id != owner_id or avatar.state not in SHOWN:
            raise AvatarNotFound
        return avatar

    async def rename(self, owner_id: int, avatar_id: int, name: str) -> CustomAvatar:
        """Give one's avatar another name (ours only: the provider keeps the first).

        Raises:
            BadName: nothing visible in ``name``.
            AvatarNotFound: none such of theirs.
        """
        shown = clean_name(name, "")
        if not shown:
            raise BadName
        if not await self._repo.update(avatar_id, owner_id=owner_id, shown_only=True, name=shown):
            raise AvatarNotFound
        await self.watcher.publish()
        return await self.get(owner_id, avatar_id)

    async def share(self, owner_id: int, avatar_id: int, with_chat: bool) -> CustomAvatar:
        """Offer one's avatar to the group it was made in too (or stop).

        Raises:
            NotShareable: it was made in a private chat.
            AvatarNotFound: none such of theirs.
        """
        avatar = await self.get(owner_id, avatar_id)
        if not avatar.made_in_group:
            raise NotShareable
        await self._repo.update(
            avatar_id, owner_id=owner_id, shown_only=True, shared_with_chat=with_chat
        )
        await self.watcher.publish()
        return await self.get(owner_id, avatar_id)

    async def delete(self, owner_id: int, avatar_id: int) -> None:
        """Delete one's avatar: hidden at once, its videos deleted (by its upload when one
        runs: it may not have opened them yet). Ours only: Creatify has no documented
        delete, so a pending one is still built there (and takes its slot).

        Raises:
            AvatarNotFound: none such of theirs.
        """
        avatar = await self.get(owner_id, avatar_id)
        if not await self._repo.transition(
            avatar_id, SHOWN, CustomAvatarState.DELETED, owner_id=owner_id, next_check_at=None
        ):
            raise AvatarNotFound
        if not self._uploads.running(avatar_id):  # else the upload deletes them when done
            await self.watcher.forget_files(await self._current(avatar))
        await self.watcher.publish()
        log.info("Custom avatar %d (%s) deleted by its owner", avatar_id, avatar.persona_id)

    # --- lifecycle and webhooks ----------------------------------------------------------

    async def load(self) -> None:
        """Offer the ready avatars to the picker (no provider is asked)."""
        await self.watcher.publish()

    async def start(self) -> None:
        """Watch the pending avatars (each is checked at once, then slowly)."""
        await self.watcher.start()

    async def close(self) -> None:
        await self.watcher.close()

    def webhook_url(self, avatar: CustomAvatar) -> str | None:
        """Where the provider tells of ``avatar``: its id and its own secret in the path.
        None without PUBLIC_URL, or when too long for the provider (Creatify takes 200
        characters): then none is sent, and polls alone follow it."""
        if not self._public_url:
            return None
        token = avatar.webhook_token
        url = f"{self._public_url}/hooks/{avatar.provider}/avatars/{avatar.id}/{token}"
        if len(url) > MAX_WEBHOOK_URL:
            if not self._long_url_logged:
                self._long_url_logged = True
                log.warning(
                    "Custom avatar webhook URLs have %d characters, over the %d Creatify "
                    "takes: a shorter PUBLIC_URL lets webhooks come (polling only until then)",
                    len(url),
                    MAX_WEBHOOK_URL,
                )
            return None
        return url

    async def verify_webhook(self, provider: str, avatar_id: int, token: str) -> bool:
        return await self.watcher.verify(provider, avatar_id, token)

    def webhook(self, avatar_id: int, body: bytes) -> None:
        """A verified webhook: the avatar is read again from its provider, in the background."""
        self.watcher.hinted(avatar_id, body)

    # --- internals ---------------------------------------------------------------------

    def _maker(self) -> tuple[str, PersonaMaker]:
        """The provider that builds avatars (the first enabled one), and its name.

        Raises:
            AvatarsUnavailable: none is enabled.
        """
        for name, maker in self._makers.items():
            return name, maker
        raise AvatarsUnavailable

    async def _current(self, avatar: CustomAvatar) -> CustomAvatar:
        found = await self._repo.get(avatar.id)
        assert found is not None
        return found
