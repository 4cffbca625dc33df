"""The picker's custom avatars are published again after every change (ready, renamed,
shared, un-shared, deleted): publishes that overlap must end with the newest state, never an
older read put back over it (an un-shared or deleted avatar offered again until the next
change, days later)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.avatars.catalog import AvatarCatalog
from bot.avatars.custom_watch import AvatarWatcher, WatchPolicy
from bot.models import Avatar, Gender
from bot.models.custom_avatars import CustomAvatar, CustomAvatarState
from bot.tasks import BackgroundTasks
from storage.custom_avatars import CustomAvatarRepository
from storage.db import Database, now

OWNER = 7


class SlowReads(CustomAvatarRepository):
    """The table, whose next read of the ready avatars waits for ``release`` once it has
    read them (a busy disk, a long transaction)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.hold: asyncio.Event | None = None
        self.read = asyncio.Event()

    async def ready(self) -> list[CustomAvatar]:
        rows = await super().ready()
        hold, self.hold = self.hold, None
        self.read.set()
        if hold is not None:
            await hold.wait()
        return rows


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[SlowReads]:
    db = await Database.open(tmp_path / "bot.db")
    await db.migrate()
    try:
        yield SlowReads(db)
    finally:
        await db.close()


async def test_an_older_publish_finishing_last_does_not_bring_a_deleted_avatar_back(
    repo: SlowReads, tmp_path: Path
) -> None:
    catalog = AvatarCatalog({}, tmp_path / "lists")
    watcher = AvatarWatcher(
        repo,
        {},
        catalog,
        BackgroundTasks(),
        WatchPolicy(),
        hook_url=lambda avatar: None,
        folder=tmp_path / "videos",
    )
    made = await repo.create(
        owner_id=OWNER,
        chat_id=OWNER,
        provider="creatify",
        name="Mine",
        gender=Gender.FEMALE,
        locale="en",
        webhook_token="secret",
    )
    assert await repo.adopt(made.id, "persona-1")
    still = Avatar(provider="creatify", avatar_id="persona-1", name="Mine")
    ready = CustomAvatarState.READY
    assert await repo.transition(
        made.id, [CustomAvatarState.PENDING], ready, avatar_data=still, ready_at=now()
    )
    # A publish (after a rename, say) reads the avatar ready, and is held up.
    held = repo.hold = asyncio.Event()
    older = asyncio.create_task(watcher.publish())
    await asyncio.wait_for(repo.read.wait(), 5)
    # Its owner deletes it meanwhile, and publishes; the older read is let go only then.
    assert await repo.transition(made.id, [ready], CustomAvatarState.DELETED, owner_id=OWNER)
    newer = asyncio.create_task(watcher.publish())
    await asyncio.sleep(0.1)
    held.set()
    await asyncio.wait_for(asyncio.gather(older, newer), 5)
    assert not catalog.has_own(OWNER)
    assert not catalog.offers("creatify", "persona-1", OWNER)
