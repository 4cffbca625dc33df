"""The custom_avatars table (migration 6): compare-and-set moves, claiming a provider id once,
the polling schedule, and what an owner's list shows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.models import Avatar, Gender, Reason
from bot.models.custom_avatars import CustomAvatarState
from storage.custom_avatars import CustomAvatarRepository
from storage.db import Database, now

PENDING, READY, FAILED, DELETED = (
    CustomAvatarState.PENDING,
    CustomAvatarState.READY,
    CustomAvatarState.FAILED,
    CustomAvatarState.DELETED,
)


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[CustomAvatarRepository]:
    db = await Database.open(tmp_path / "bot.db")
    await db.migrate()
    try:
        yield CustomAvatarRepository(db)
    finally:
        await db.close()


async def make(repo: CustomAvatarRepository, owner: int = 7, name: str = "Me"):
    return await repo.create(
        owner_id=owner,
        chat_id=owner,
        provider="creatify",
        name=name,
        gender=Gender.FEMALE,
        locale="en",
        webhook_token="secret",
    )


async def test_a_new_avatar_is_pending_without_a_provider_id(repo: CustomAvatarRepository) -> None:
    made = await make(repo)
    assert made.state is PENDING
    assert made.persona_id is None
    assert made.submitted_at is None
    assert made.next_check_at is None
    assert "secret" not in repr(made)


async def test_settling_is_compare_and_set(repo: CustomAvatarRepository) -> None:
    made = await make(repo)
    still = Avatar(provider="creatify", avatar_id="p1", name="x", preview_images={"1:1": "u"})
    assert await repo.transition(made.id, [PENDING], READY, avatar_data=still, ready_at=now())
    # A second path (a poll after the webhook) changes nothing.
    why = Reason(code="avatar.reason_none")
    assert not await repo.transition(made.id, [PENDING], FAILED, reason=why)
    got = await repo.get(made.id)
    assert got is not None
    assert got.state is READY
    assert got.reason is None
    assert got.avatar == still
    # Only its owner deletes it.
    assert not await repo.transition(made.id, [READY], DELETED, owner_id=8)
    assert await repo.transition(made.id, [READY], DELETED, owner_id=7)


async def test_a_provider_id_is_claimed_once_and_by_one_avatar(
    repo: CustomAvatarRepository,
) -> None:
    first, second = await make(repo), await make(repo, name="Two")
    assert await repo.adopt(first.id, "p1")
    assert not await repo.adopt(first.id, "p2")  # it has one
    assert not await repo.adopt(second.id, "p1")  # another avatar's
    assert await repo.persona_ids() == {("creatify", "p1")}


async def test_due_checks_come_most_overdue_first(repo: CustomAvatarRepository) -> None:
    a, b, c = await make(repo), await make(repo), await make(repo)
    at = now()
    await repo.update(a.id, next_check_at=at - timedelta(seconds=5))
    await repo.update(b.id, next_check_at=at - timedelta(seconds=50))
    await repo.update(c.id, next_check_at=at + timedelta(seconds=50))
    assert [x.id for x in await repo.due(at, 10)] == [b.id, a.id]
    await repo.transition(b.id, [PENDING], FAILED)
    assert [x.id for x in await repo.due(at, 10)] == [a.id]
    upcoming = await repo.next_check_time()
    assert upcoming is not None
    assert upcoming < at


async def test_an_owner_lists_everything_but_the_deleted(repo: CustomAvatarRepository) -> None:
    a, b = await make(repo), await make(repo, name="B")
    await make(repo, owner=99)
    await repo.transition(a.id, [PENDING], DELETED)
    assert [x.id for x in await repo.of_owner(7)] == [b.id]
    assert await repo.count_live(7) == 1
    assert not await repo.update(a.id, owner_id=7, shown_only=True, name="again")
    assert not await repo.update(b.id, owner_id=99, name="stolen")


async def test_only_known_columns_can_be_written(repo: CustomAvatarRepository) -> None:
    made = await make(repo)
    with pytest.raises(ValueError, match="state"):
        await repo.update(made.id, state="ready")  # only transition() moves it
    with pytest.raises(ValueError, match="webhook_token"):
        await repo.update(made.id, webhook_token="x")
