"""A group upgraded to a supergroup (a new chat id) keeps its switch, limits, usage and open
conversations (design §6). The real bot against the fake Telegram, and the move on its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Running
from bot.avatars.setup_state import AvatarSetup, SetupStep
from bot.models import Draft, Gender, Step
from storage import Database, DraftRepository
from storage.avatar_setups import AvatarSetupRepository
from storage.chats import ChatRepository
from storage.custom_avatars import CustomAvatarRepository
from storage.db import now
from storage.ledger import LedgerRepository, Limits, Scope
from tests.conftest import Media
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import said

OWNER = User(301, "Olga", language_code="en")
ANN = User(302, "Ann", language_code="en")
OLD, NEW = -4001, -1004001


def _basic_group(fake: FakeTelegram) -> dict:
    """A basic group (the kind Telegram upgrades), with Olga as its admin."""
    chat = fake.chats.setdefault(OLD, {"id": OLD, "type": "group", "title": "Fans"})
    fake.members.setdefault(OLD, set())
    # Telegram keeps the admins of an upgraded group.
    fake.chat_admins[OLD] = fake.chat_admins[NEW] = {OWNER.id}
    return chat


async def _until(check, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def _usage_rows(db: Database, chat_id: int) -> list[tuple]:
    return [
        tuple(row)
        for row in await db.fetchall(
            "SELECT scope, owner_id, chat_id, seconds FROM ledger WHERE chat_id = ? ORDER BY id",
            (chat_id,),
        )
    ]


async def test_a_conversation_limits_and_usage_follow_the_group(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    fake.privacy_mode = False  # the voice in the new supergroup is an ordinary message
    group = _basic_group(fake)
    mark = fake.mark()
    fake.send_command(ANN, "/new", chat=group)
    prompt = await said(fake, OLD, "Send a photo", mark)
    mark = fake.mark()
    fake.send_photo(ANN, media.photo.read_bytes(), chat=group, reply_to=prompt.result)
    await said(fake, OLD, "Now the voice", mark)
    db = bot.services.db
    stamp = now().isoformat()
    await db.execute(
        "INSERT INTO quota_limits (scope, owner_id, daily, updated_at) VALUES (?, ?, ?, ?)",
        ("group", OLD, 100, stamp),
    )
    for scope, owner in (("group", OLD), ("user", ANN.id)):
        await db.execute(
            """
            INSERT INTO ledger (scope, owner_id, user_id, chat_id, kind, seconds, day, month,
                created_at) VALUES (?, ?, ?, ?, 'commit', 12, '2025-01-01', '2025-01', ?)
            """,
            (scope, owner, ANN.id, OLD, stamp),
        )

    supergroup = fake.migrate(OWNER, group, NEW)

    async def moved() -> bool:
        return await bot.services.drafts.get(NEW, ANN.id) is not None

    await _until(moved)
    mark = fake.mark()
    fake.send_voice(ANN, media.voice.read_bytes(), duration=3, chat=supergroup)
    await said(fake, NEW, "Pick the shape", mark)
    assert await bot.services.drafts.get(OLD, ANN.id) is None
    limits = await db.fetchall("SELECT scope, owner_id, daily FROM quota_limits")
    assert [tuple(row) for row in limits] == [("group", NEW, 100)]
    assert await _usage_rows(db, OLD) == []
    assert await _usage_rows(db, NEW) == [("group", NEW, NEW, 12), ("user", ANN.id, NEW, 12)]
    # Nothing was sent to the old id (the fake would have refused it, as Telegram does).
    assert not [c for c in fake.calls if c.params.get("chat_id") == OLD and c.status != 200]


async def test_switched_off_stays_off_and_a_late_notice_undoes_nothing(
    fake: FakeTelegram, bot: Running
) -> None:
    group = _basic_group(fake)
    mark = fake.mark()
    fake.send_command(OWNER, "/bot", "off", chat=group)
    await said(fake, OLD, "I'm off", mark)

    supergroup = fake.migrate(OWNER, group, NEW)

    async def switched() -> bool:
        return not bot.services.groups.enabled(NEW)

    await _until(switched)
    # Stored too, so it holds after a restart.
    assert await ChatRepository(bot.services.db).disabled_ids() == {NEW}
    mark = fake.mark()
    fake.send_command(ANN, "/new", chat=supergroup)
    await said(fake, NEW, "switched off in this group", mark)
    mark = fake.mark()
    fake.send_command(OWNER, "/bot", "on", chat=supergroup)
    await said(fake, NEW, "I'm on", mark)
    # Telegram's second notice of the move (or a repeat) arriving now changes nothing.
    await bot.services.groups.migrate(OLD, NEW)
    assert bot.services.groups.enabled(NEW)
    row = await bot.services.db.fetchone("SELECT bot_enabled FROM chats WHERE id = ?", (NEW,))
    assert row is not None
    assert row["bot_enabled"] == 1
    mark = fake.mark()
    fake.send_command(ANN, "/new", chat=supergroup)
    await said(fake, NEW, "Send a photo", mark)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.db")
    await database.migrate()
    yield database
    await database.close()


async def test_a_conversation_already_started_in_the_supergroup_wins(db: Database) -> None:
    drafts = DraftRepository(db)
    old = Draft(chat_id=OLD, user_id=ANN.id, token="old", chat_type="group", step=Step.VOICE)
    await drafts.save(old)
    await drafts.save(Draft(chat_id=NEW, user_id=ANN.id, token="new", chat_type="supergroup"))
    await drafts.save(Draft(chat_id=OLD, user_id=OWNER.id, token="olga", reply_to=55))
    chats = ChatRepository(db)
    assert await chats.migrate(OLD, NEW)
    kept = await drafts.get(NEW, ANN.id)
    assert kept is not None
    assert kept.token == "new"
    moved = await drafts.get(NEW, OWNER.id)
    assert moved is not None
    assert (moved.token, moved.chat_id, moved.chat_type, moved.reply_to) == (
        "olga",
        NEW,
        "supergroup",
        None,
    )
    assert await db.fetchall("SELECT 1 FROM drafts WHERE chat_id = ?", (OLD,)) == []
    assert not await chats.migrate(OLD, NEW)  # the second notice finds nothing left


async def test_limits_move_over_a_lock_row_but_not_over_a_newer_limit(db: Database) -> None:
    """A reserve in the supergroup before the migration ran leaves a limits row holding no
    limit (the row is the reserve's lock): the old group's limits still move over it."""
    ledger = LedgerRepository()
    await ledger.set_limits(db, Scope.GROUP, -1, Limits(daily=0, member_daily=5))
    await ledger.lock(db, Scope.GROUP, -1002)  # only the lock row
    await ChatRepository(db).migrate(-1, -1002)
    assert await ledger.limits(db, Scope.GROUP, -1002) == Limits(daily=0, member_daily=5)
    # An admin's /groupquota in the supergroup before the move is the newer decision.
    await ledger.set_limits(db, Scope.GROUP, -3, Limits(daily=10))
    await ledger.set_limits(db, Scope.GROUP, -1004, Limits(daily=99))
    await ChatRepository(db).migrate(-3, -1004)
    assert await ledger.limits(db, Scope.GROUP, -1004) == Limits(daily=99)


async def test_custom_avatars_and_avatar_setups_follow_the_group(db: Database) -> None:
    avatars = CustomAvatarRepository(db)
    made = {
        "the group's": await avatars.create(
            owner_id=ANN.id,
            chat_id=OLD,
            provider="creatify",
            name="Ann",
            gender=Gender.FEMALE,
            locale="en",
            webhook_token="t1",
        ),
        "a private one": await avatars.create(
            owner_id=ANN.id,
            chat_id=ANN.id,
            provider="creatify",
            name="Ann alone",
            gender=Gender.FEMALE,
            locale="en",
            webhook_token="t2",
        ),
    }
    await avatars.update(made["the group's"].id, shared_with_chat=True)
    setups = AvatarSetupRepository(db)
    making = AvatarSetup(
        user_id=OWNER.id, chat_id=OLD, token="tok", step=SetupStep.NAME, locale="en"
    )
    started = await setups.start(making)
    assert started is not None
    assert await ChatRepository(db).migrate(OLD, NEW)
    moved = await avatars.get(made["the group's"].id)
    assert moved is not None
    assert (moved.chat_id, moved.shared_with_chat) == (NEW, True)
    kept = await avatars.get(made["a private one"].id)
    assert kept is not None
    assert kept.chat_id == ANN.id
    now_making = await setups.get(OWNER.id)
    assert now_making is not None
    assert now_making.chat_id == NEW
    # A check that read the setup before the move still lands, and keeps the new chat.
    named = await setups.replace(started, started.model_copy(update={"name": "Olga"}))
    assert named is not None
    stored = await setups.get(OWNER.id)
    assert stored is not None
    assert (stored.chat_id, stored.name) == (NEW, "Olga")
    assert not await ChatRepository(db).migrate(OLD, NEW)
