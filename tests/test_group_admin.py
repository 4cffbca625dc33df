"""/bot on|off: a group's admins switch the bot off and on; members are turned away quietly.
The real bot against the fake Telegram (whose getChatMember reads ``fake.chat_admins``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import Running
from bot.groups import Groups
from bot.telegram.chat_admins import ChatAdmins
from storage.chats import ChatRepository
from tests.conftest import Harness
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import said

OWNER = User(101, "Olga", language_code="en")
MEMBER = User(102, "Mia", language_code="en")
BOT_ADMIN = User(7, "Boss", language_code="en")

OFF_NOTE = "switched off in this group"


@pytest.fixture
async def bot(harness: Harness) -> AsyncIterator[Running]:
    async with harness.bot(ADMIN_IDS=str(BOT_ADMIN.id)) as running_bot:
        yield running_bot


@pytest.fixture
def group(fake: FakeTelegram) -> dict:
    chat = fake.group()
    fake.chat_admins[chat["id"]] = {OWNER.id}
    return chat


def _texts(fake: FakeTelegram, chat_id: int, since: int) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in fake.calls[since:]
        if c.method == "sendMessage" and c.params.get("chat_id") == chat_id
    ]


async def _bot(fake: FakeTelegram, user: User, group: dict, args: str = "") -> str:
    """``/bot args`` in the group; returns the reply."""
    mark = fake.mark()
    fake.send_command(user, "/bot", args, chat=group)
    calls = await fake.wait_for("sendMessage", since=mark)
    return str(calls[0].params["text"])


async def test_off_drops_members_with_one_note_and_on_restores(
    fake: FakeTelegram, bot: Running, group: dict
) -> None:
    gid = group["id"]
    assert "I'm off in this group" in await _bot(fake, OWNER, group, "off")
    assert not bot.services.groups.enabled(gid)

    mark = fake.mark()
    fake.send_command(MEMBER, "/new", chat=group)
    await said(fake, gid, OFF_NOTE, mark)
    # Within ten minutes: silence, whatever they send (the owner's /bot is a sync point).
    fake.send_command(MEMBER, "/new", chat=group)
    fake.send_command(MEMBER, "/help", chat=group)
    fake.send_command(MEMBER, "/jobs", chat=group)
    assert "I'm off in this group" in await _bot(fake, OWNER, group)
    assert len([text for text in _texts(fake, gid, mark) if OFF_NOTE in text]) == 1
    assert not [text for text in _texts(fake, gid, mark) if "Send a photo" in text]
    assert await bot.services.drafts.get(gid, MEMBER.id) is None
    # Private chats are not affected.
    mark = fake.mark()
    fake.send_command(MEMBER, "/new")
    await said(fake, MEMBER.id, "Send a photo", mark)

    assert "I'm on in this group" in await _bot(fake, OWNER, group, "ON")
    mark = fake.mark()
    fake.send_command(MEMBER, "/new", chat=group)
    await said(fake, gid, "Send a photo", mark)


async def test_the_switch_survives_a_restart(harness: Harness, fake: FakeTelegram) -> None:
    group = fake.group()
    fake.chat_admins[group["id"]] = {OWNER.id}
    async with harness.bot():
        await _bot(fake, OWNER, group, "off")
    async with harness.bot() as bot:
        assert not bot.services.groups.enabled(group["id"])
        mark = fake.mark()
        fake.send_command(MEMBER, "/lipsync", chat=group)
        await said(fake, group["id"], OFF_NOTE, mark)


async def test_only_the_groups_admins_may_flip_it(
    fake: FakeTelegram, bot: Running, group: dict
) -> None:
    assert "Only this group's admins" in await _bot(fake, MEMBER, group, "off")
    assert bot.services.groups.enabled(group["id"])
    # The creator counts; so does a bot admin, in every group.
    fake.chat_admins[group["id"]] = set()
    fake.chat_owners[group["id"]] = OWNER.id
    assert "I'm off" in await _bot(fake, OWNER, group, "off")
    assert "I'm on" in await _bot(fake, BOT_ADMIN, group, "on")


@pytest.mark.parametrize(
    "args",
    ["maybe", "on off", "\N{FULLWIDTH DIGIT ONE}", "\N{CYRILLIC SMALL LETTER O}n", "-1", "9" * 40],
)
async def test_a_wrong_argument_gets_the_usage_line(
    fake: FakeTelegram, bot: Running, group: dict, args: str
) -> None:
    assert await _bot(fake, OWNER, group, args) == "Usage: /bot on or /bot off"
    assert bot.services.groups.enabled(group["id"])


async def test_in_private_it_says_to_use_it_in_a_group(fake: FakeTelegram, bot: Running) -> None:
    mark = fake.mark()
    fake.send_command(OWNER, "/bot", "off")
    await said(fake, OWNER.id, "This command works in groups", mark)
    assert not fake.sent(method="getChatMember")


async def clocked_admin_checks(bot: Running) -> list[float]:
    """The bot's group-admin checks on a clock the test moves: ``now[0] += seconds``."""
    now = [0.0]
    services = bot.services
    services.groups = Groups(
        ChatRepository(services.db),
        ChatAdmins(bot.application.bot, clock=lambda: now[0]),
        services.settings.admin_ids,
    )
    await services.groups.load()
    return now


async def test_admin_checks_are_cached_for_a_few_minutes(
    fake: FakeTelegram, bot: Running, group: dict
) -> None:
    now = await clocked_admin_checks(bot)
    for args in ("off", "on", ""):
        await _bot(fake, OWNER, group, args)
    assert "Only this group's admins" in await _bot(fake, MEMBER, group, "off")
    assert "Only this group's admins" in await _bot(fake, MEMBER, group, "off")
    assert len(fake.sent(method="getChatMember")) == 2  # once for each of them
    # Demoted: still an admin to the bot until the answer is five minutes old.
    fake.chat_admins[group["id"]] = set()
    assert "I'm off" in await _bot(fake, OWNER, group, "off")
    now[0] += 301
    assert "Only this group's admins" in await _bot(fake, OWNER, group, "on")
    assert len(fake.sent(method="getChatMember")) == 3


async def test_when_telegram_cannot_say_the_answer_is_no(
    fake: FakeTelegram, bot: Running, group: dict
) -> None:
    fake.fail("getChatMember", 400, "Bad Request: user not found")
    assert "Only this group's admins" in await _bot(fake, OWNER, group, "off")
    assert "I'm off" in await _bot(fake, OWNER, group, "off")  # the failure was not kept


ANONYMOUS = User(1087968824, "Group", language_code=None)
CHANNEL = {"id": -1009999, "type": "channel", "title": "Mia's channel"}


async def test_an_anonymous_admin_can_switch_the_bot(
    fake: FakeTelegram, bot: Running, group: dict
) -> None:
    mark = fake.mark()
    fake.send_as_chat(ANONYMOUS, group, f"/bot@{fake.bot_user['username']} off", group)
    reply = await fake.wait_for("sendMessage", since=mark)
    assert "I'm off in this group" in str(reply[0].params["text"])
    assert not bot.services.groups.enabled(group["id"])


async def test_messages_on_behalf_of_a_channel_are_ignored(
    fake: FakeTelegram, bot: Running, group: dict
) -> None:
    """A banned member posting as their channel, or anyone: no person behind it to hold a
    conversation, a quota or a ban."""
    await bot.services.moderation.ban(MEMBER.id)
    mark = fake.mark()
    fake.send_as_chat(MEMBER, CHANNEL, f"/new@{fake.bot_user['username']}", group)
    fake.send_as_chat(MEMBER, CHANNEL, f"/bot@{fake.bot_user['username']} off", group)
    fake.send_command(OWNER, "/help", chat=group)  # a marker: everything before is handled
    await said(fake, group["id"], "/new", mark)
    assert len(_texts(fake, group["id"], mark)) == 1
    assert bot.services.groups.enabled(group["id"])


async def test_when_off_a_caption_is_no_command_and_cancel_still_works(
    fake: FakeTelegram, bot: Running, group: dict
) -> None:
    await _bot(fake, OWNER, group, "off")
    mark = fake.mark()
    # "/bot" as a photo's caption is no group-admin command: dropped like any message.
    fake.send_photo(MEMBER, b"\xff\xd8not really", chat=group, caption="/bot on")
    fake.send_command(MEMBER, "/cancel", chat=group)
    reply = await fake.wait_for("sendMessage", since=mark)
    assert len(_texts(fake, group["id"], mark)) == 1
    assert "I'm off" not in str(reply[0].params["text"])
    assert not bot.services.groups.enabled(group["id"])


async def test_a_no_is_trusted_only_briefly(fake: FakeTelegram, bot: Running, group: dict) -> None:
    """A member promoted to admin gets their rights within half a minute, not five."""
    now = await clocked_admin_checks(bot)
    assert "Only this group's admins" in await _bot(fake, MEMBER, group, "off")
    fake.chat_admins[group["id"]] |= {MEMBER.id}
    now[0] += 10
    assert "Only this group's admins" in await _bot(fake, MEMBER, group, "off")
    now[0] += 21
    assert "I'm off" in await _bot(fake, MEMBER, group, "off")


async def test_a_bot_admins_command_works_in_a_switched_off_group(
    fake: FakeTelegram, bot: Running, group: dict
) -> None:
    await _bot(fake, OWNER, group, "off")
    fake.chat_for(BOT_ADMIN)
    mark = fake.mark()
    fake.send_command(BOT_ADMIN, "/stats", chat=group)
    await said(fake, group["id"], "private chat", mark)
    assert _texts(fake, group["id"], mark) == ["I sent you the answer in a private chat."]
    assert "credits" in _texts(fake, BOT_ADMIN.id, mark)[0]
