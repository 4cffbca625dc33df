"""The gate's parts on their own: bans and usernames in SQLite, the /new token bucket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cooldown import Cooldown, Refusal
from bot.moderation import Moderation
from storage import Database, UserRepository


@pytest.fixture
async def users(tmp_path: Path) -> AsyncIterator[UserRepository]:
    db = await Database.open(tmp_path / "bot.db")
    await db.migrate()
    yield UserRepository(db)
    await db.close()


async def _seen(users: UserRepository, user_id: int, username: str | None) -> None:
    await users.seen(
        user_id,
        first_name="Ann",
        username=username,
        language_code="en",
        chat_id=user_id,
        chat_type="private",
        chat_title=None,
    )


async def test_a_ban_needs_no_earlier_message_and_survives_their_first_one(
    users: UserRepository,
) -> None:
    assert await users.ban(555)
    assert not await users.ban(555)  # already banned
    await _seen(users, 555, "spammer")  # their details arrive later; the ban stays
    assert await users.banned_ids() == {555}


async def test_the_ban_notice_is_taken_once_per_ban(users: UserRepository) -> None:
    await _seen(users, 7, "ann")
    assert not await users.take_ban_notice(7)  # not banned: nothing to tell
    await users.ban(7)
    assert await users.take_ban_notice(7)
    assert not await users.take_ban_notice(7)
    assert await users.unban(7)
    assert not await users.unban(7)
    assert await users.banned_ids() == set()
    await users.ban(7)
    assert await users.take_ban_notice(7)  # a new ban, a new refusal


async def test_moderation_keeps_its_set_in_step_with_the_table(users: UserRepository) -> None:
    await users.ban(1)
    moderation = Moderation(users)
    await moderation.load()
    assert moderation.is_banned(1)
    await moderation.ban(2)
    await moderation.unban(1)
    assert (moderation.is_banned(1), moderation.is_banned(2)) == (False, True)
    assert await users.banned_ids() == {2}


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("@Ann_Smith", 7),
        ("ann_smith", 7),
        ("  @ANN_SMITH ", 7),
        ("@bob", None),  # nobody seen with that name
        ("@", None),
        ("", None),
        ("ann%", None),  # a LIKE wildcard matches nothing: the name is compared whole
        ("\N{CYRILLIC SMALL LETTER A}nn_smith", None),  # a look-alike is not the name
        ("ann_smith' OR 1=1 --", None),
        ("a" * 33, None),
        ("@@ann_smith", None),
    ],
)
async def test_find_by_username(users: UserRepository, name: str, found: int | None) -> None:
    await _seen(users, 7, "Ann_Smith")
    await _seen(users, 8, None)
    assert await users.find_by_username(name) == found


async def test_a_username_that_moved_finds_its_latest_owner(users: UserRepository) -> None:
    await _seen(users, 7, "handle")
    await _seen(users, 8, "handle")  # 7 gave it up and 8 took it, both seen since
    assert await users.find_by_username("handle") == 8


def test_cooldown_allows_a_burst_then_one_start_per_refill() -> None:
    now = [1000.0]
    cooldown = Cooldown(burst=3, refill_seconds=10.0, clock=lambda: now[0])
    assert [cooldown.take(1) for _ in range(3)] == [None, None, None]
    assert cooldown.take(1) == Refusal(wait=10, tell=True)
    now[0] += 4
    assert cooldown.take(1) == Refusal(wait=6, tell=False)  # told once per cooldown
    assert cooldown.take(2) is None  # someone else is not held back
    now[0] += 6
    assert cooldown.take(1) is None
    assert cooldown.take(1) == Refusal(wait=10, tell=True)  # a new cooldown is told again
    now[0] -= 500  # a clock stepping back never takes tokens away nor grants them
    assert cooldown.take(1) == Refusal(wait=10, tell=False)


def test_cooldown_memory_is_bounded() -> None:
    cooldown = Cooldown(burst=1, max_users=2, clock=lambda: 0.0)
    assert cooldown.take(1) is None
    assert cooldown.take(2) is None
    assert cooldown.take(3) is None  # user 1 is forgotten: a full bucket again
    assert cooldown.take(1) is None
    assert cooldown.take(3) is not None
