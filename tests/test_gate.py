"""Before every handler: banned users get one polite refusal, then silence; /new floods meet
a cooldown. The real bot against the fake Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import Running
from bot.cooldown import Cooldown
from tests.conftest import Harness, to_chat
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import said

ANN = User(111, "Ann", language_code="en")
ZE = User(222, "Zé", language_code="pt-br")
ADMIN = User(7, "Boss", language_code="en")

BANNED = "you can't use this bot"
TOO_FAST = "very fast"


@pytest.fixture
async def bot(harness: Harness) -> AsyncIterator[Running]:
    async with harness.bot(ADMIN_IDS=str(ADMIN.id)) as running_bot:
        yield running_bot


async def _answered(fake: FakeTelegram, user: User, message: dict, since: int) -> dict:
    """Press the message's first button; returns the answer the press got. The press is also
    a sync point: the chat's earlier updates were handled before it."""
    fake.press(user, message, fake.buttons(message)[0][1])
    calls = await fake.wait_for("answerCallbackQuery", since=since)
    return calls[0].params


def _texts(fake: FakeTelegram, chat_id: int, since: int) -> list[str]:
    """What the bot sent to ``chat_id`` since ``since``."""
    return [
        str(c.params.get("text"))
        for c in fake.calls[since:]
        if c.method == "sendMessage" and c.params.get("chat_id") == chat_id
    ]


async def test_a_banned_user_gets_one_refusal_then_silence(
    fake: FakeTelegram, bot: Running
) -> None:
    mark = fake.mark()
    fake.send_command(ANN, "/start")
    greeting = await said(fake, ANN.id, "Hi Ann", mark)
    await bot.services.moderation.ban(ANN.id)

    mark = fake.mark()
    fake.send_command(ANN, "/new")
    await said(fake, ANN.id, BANNED, mark)
    fake.send_command(ANN, "/new")
    fake.send_text(ANN, "hello?")
    answer = await _answered(fake, ANN, greeting.result, mark)
    assert "text" not in answer  # answered (no spinner), with nothing to say
    assert len(_texts(fake, ANN.id, mark)) == 1  # the one refusal
    assert await bot.services.drafts.get(ANN.id, ANN.id) is None  # no conversation began

    # Unbanned, served again; a second ban gets its own refusal.
    await bot.services.moderation.unban(ANN.id)
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    await said(fake, ANN.id, "Send a photo", mark)
    await bot.services.moderation.ban(ANN.id)
    mark = fake.mark()
    fake.send_command(ANN, "/help")
    await said(fake, ANN.id, BANNED, mark)


async def test_a_ban_of_someone_never_seen_holds_from_their_first_message(
    fake: FakeTelegram, bot: Running
) -> None:
    assert await bot.services.moderation.ban(ZE.id)  # no row for Zé until now
    group = fake.group()
    mark = fake.mark()
    fake.send_command(ZE, "/start", chat=group)
    refusal = await said(fake, group["id"], "não pode mais usar", mark)  # in his language
    fake.send_command(ZE, "/new", chat=group)
    fake.send_command(ANN, "/help", chat=group)  # handled after Zé's /new: a sync point
    await said(fake, group["id"], "How it works", mark)
    assert _texts(fake, group["id"], mark) == [refusal.params["text"], _help(fake, group)]
    assert await bot.services.drafts.get(group["id"], ZE.id) is None


def _help(fake: FakeTelegram, group: dict) -> str:
    return next(t for t in _texts(fake, group["id"], 0) if "How it works" in t)


async def test_a_banned_users_first_press_gets_the_refusal_as_an_alert(
    fake: FakeTelegram, bot: Running
) -> None:
    mark = fake.mark()
    fake.send_command(ANN, "/start")
    greeting = await said(fake, ANN.id, "Hi Ann", mark)
    await bot.services.moderation.ban(ANN.id)
    mark = fake.mark()
    answer = await _answered(fake, ANN, greeting.result, mark)
    assert answer["show_alert"] is True
    assert BANNED in answer["text"]
    mark = fake.mark()
    assert "text" not in await _answered(fake, ANN, greeting.result, mark)
    assert _texts(fake, ANN.id, mark) == []


async def test_a_bot_admin_is_never_turned_away(fake: FakeTelegram, bot: Running) -> None:
    await bot.services.moderation.ban(ADMIN.id)
    mark = fake.mark()
    fake.send_command(ADMIN, "/new")
    await said(fake, ADMIN.id, "Send a photo", mark)
    # Nor slowed down: admins test the bot.
    for _ in range(5):
        fake.send_command(ADMIN, "/new")
    await fake.wait_for("sendMessage", to_chat(ADMIN.id, "Send a photo"), count=6, since=mark)
    assert not [text for text in _texts(fake, ADMIN.id, mark) if BANNED in text]


async def test_new_floods_meet_a_cooldown_told_once(fake: FakeTelegram, bot: Running) -> None:
    now = [1000.0]
    bot.services.cooldown = Cooldown(clock=lambda: now[0])
    mark = fake.mark()
    for _ in range(4):
        fake.send_command(ANN, "/new")
    note = await said(fake, ANN.id, TOO_FAST, mark)
    assert "try again in 10 s" in note.params["text"]
    prompts = [text for text in _texts(fake, ANN.id, mark) if "Send a photo" in text]
    assert len(prompts) == 3
    draft = await bot.services.drafts.get(ANN.id, ANN.id)

    # More, still too fast: silence, and the draft from the last allowed /new is untouched.
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    fake.send_command(ANN, "/lipsync")
    fake.send_command(ANN, "/help")  # a sync point: answered after the two above
    await said(fake, ANN.id, "How it works", mark)
    assert len(_texts(fake, ANN.id, mark)) == 1
    assert await bot.services.drafts.get(ANN.id, ANN.id) == draft

    # The [New video] button is refused too, as an alert, told once.
    mark = fake.mark()
    fake.send_command(ANN, "/start")
    greeting = await said(fake, ANN.id, "Hi Ann", mark)
    answer = await _answered(fake, ANN, greeting.result, fake.mark())
    assert "text" not in answer  # this cooldown was already told (by message)

    now[0] += 10
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    await said(fake, ANN.id, "Send a photo", mark)
    mark = fake.mark()
    answer = await _answered(fake, ANN, greeting.result, mark)
    assert answer["show_alert"] is True
    assert TOO_FAST in answer["text"]
