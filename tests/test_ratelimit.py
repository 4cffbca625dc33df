"""Per-chat pacing: one chat's 429 holds back only that chat; other requests never wait."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bot.app import Running
from bot.telegram import files as telegram_files
from bot.telegram.ratelimit import ChatPacer, Rate
from tests import media as make
from tests.conftest import TOKEN, Harness, to_chat
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import said

ANN = User(111, "Ann", language_code="en")
BOB = User(222, "Bob", language_code="en")
GROUP = -100123
FAST = Rate(1000.0, burst=100)  # effectively unpaced, to test one limit at a time


def flooded(call: Call) -> bool:
    return call.status == 429


async def test_a_flood_limited_chat_does_not_hold_up_other_chats(
    fake: FakeTelegram, bot: Running
) -> None:
    retry = "Too Many Requests: retry after 5"
    fake.fail("sendMessage", 429, retry, retry_after=5, chat_id=ANN.id)
    mark = fake.mark()
    fake.send_command(ANN, "/start")
    limited = (await fake.wait_for("sendMessage", flooded, since=mark))[0]
    fake.send_command(BOB, "/start")
    bobs = await said(fake, BOB.id, "Hi Bob", mark)
    assert bobs.at - limited.at < 0.5
    anns = await fake.wait_for("sendMessage", to_chat(ANN.id), since=mark, timeout=8)
    assert anns[0].at - limited.at >= 5.0
    await asyncio.sleep(0.3)
    assert len([c for c in fake.sent(ANN.id, "sendMessage")[-3:] if c.status == 200]) == 1


class Recorder:
    """A stand-in for PTB's request callback: records when each request went out."""

    def __init__(self, pacer: ChatPacer, floods: dict[Any, int] | None = None) -> None:
        self.pacer = pacer
        self.floods = floods or {}  # chat -> seconds of the one 429 it gets
        self.sent: list[tuple[str, Any, float]] = []
        self.started = time.monotonic()

    async def call(self, endpoint: str, **data: Any) -> float:
        """Make one request through the pacer; returns seconds from the start to its answer."""

        async def callback() -> bool:
            chat = data.get("chat_id")
            self.sent.append((endpoint, chat, time.monotonic() - self.started))
            if chat in self.floods:
                raise RetryAfter(self.floods.pop(chat))
            return True

        await self.pacer.process_request(callback, (), {}, endpoint, data, None)
        return time.monotonic() - self.started


async def test_private_chat_gets_its_burst_then_one_message_per_interval() -> None:
    pacer = ChatPacer(private=Rate(5.0, burst=2), overall=FAST)
    rec = Recorder(pacer)
    times = await asyncio.gather(*(rec.call("sendMessage", chat_id=1) for _ in range(4)))
    other = await rec.call("sendMessage", chat_id=2)
    assert times[1] < 0.05
    assert times[2] == pytest.approx(0.2, abs=0.06)
    assert times[3] == pytest.approx(0.4, abs=0.06)
    assert other == pytest.approx(times[3], abs=0.06)  # it waited for nobody but its turn


async def test_groups_are_paced_slower_than_private_chats() -> None:
    pacer = ChatPacer(private=Rate(50.0, burst=1), group=Rate(5.0, burst=1), overall=FAST)
    rec = Recorder(pacer)
    group = await asyncio.gather(*(rec.call("sendMessage", chat_id=GROUP) for _ in range(3)))
    rec.started = time.monotonic()
    private = await asyncio.gather(*(rec.call("sendMessage", chat_id=1) for _ in range(3)))
    assert group[2] == pytest.approx(0.4, abs=0.06)
    assert private[2] == pytest.approx(0.04, abs=0.03)


async def test_overall_pace_spans_chats() -> None:
    pacer = ChatPacer(private=FAST, overall=Rate(10.0, burst=1))
    rec = Recorder(pacer)
    times = await asyncio.gather(*(rec.call("sendMessage", chat_id=n) for n in range(4)))
    assert max(times) == pytest.approx(0.3, abs=0.06)


async def test_a_429_holds_only_its_chat_and_is_retried_once() -> None:
    pacer = ChatPacer(overall=FAST)
    rec = Recorder(pacer, floods={1: 1})
    held = asyncio.create_task(rec.call("sendMessage", chat_id=1))
    await asyncio.sleep(0.05)
    assert await rec.call("sendMessage", chat_id=2) < 0.1
    assert await held >= 1.0
    assert [chat for _, chat, _ in rec.sent] == [1, 2, 1]


async def test_requests_that_are_not_messages_never_wait_behind_a_held_chat() -> None:
    pacer = ChatPacer(private=Rate(0.1, burst=1), overall=Rate(0.1, burst=1))
    pacer.hold(1, 30.0)
    rec = Recorder(pacer)
    await rec.call("sendMessage", chat_id=2)  # uses up chat 2's and the overall pace
    requests: list[tuple[str, dict[str, Any]]] = [
        ("getMe", {}),
        ("getFile", {"file_id": "x"}),
        ("answerCallbackQuery", {"callback_query_id": "7"}),
        ("setMyCommands", {"commands": []}),
        ("sendChatAction", {"chat_id": 1, "action": "typing"}),
        ("getChatMember", {"chat_id": 1, "user_id": 5}),
        ("answerCallbackQuery", {"callback_query_id": "8"}),
    ]
    for endpoint, data in requests:
        assert await rec.call(endpoint, **data) < 0.05, endpoint


async def test_retries_after_429_are_bounded() -> None:
    pacer = ChatPacer(max_retries=2, overall=FAST)
    calls = 0

    async def always_flooded() -> bool:
        nonlocal calls
        calls += 1
        raise RetryAfter(0)

    with pytest.raises(RetryAfter):
        await pacer.process_request(always_flooded, (), {}, "sendMessage", {"chat_id": 1}, None)
    assert calls == 3


async def test_streaming_upload_shares_the_chat_pace(harness: Harness, tmp_path: Path) -> None:
    """A 429 on the upload holds that chat's other messages too, and no other chat's."""
    fake = harness.fake
    for user in (ANN, BOB):
        fake.chat_for(user)
    video = make.make_video(tmp_path / "out.mp4", seconds=1.0)
    pacer = ChatPacer()
    bot = ExtBot(
        TOKEN,
        base_url=f"{harness.base_url}/bot",
        base_file_url=f"{harness.base_url}/file/bot",
        rate_limiter=pacer,
    )
    fake.fail("sendVideo", 429, "Too Many Requests: retry after 2", retry_after=2, chat_id=ANN.id)
    async with bot, httpx.AsyncClient() as http:
        upload = asyncio.create_task(
            telegram_files.send_video(
                bot,
                http,
                chat_id=ANN.id,
                path=video,
                duration=1,
                width=320,
                height=240,
                caption="done",
            )
        )
        limited = (await fake.wait_for("sendVideo", flooded))[0]
        await bot.send_message(BOB.id, "not held")
        assert time.monotonic() - limited.at < 0.5
        await bot.send_message(ANN.id, "held")
        assert time.monotonic() - limited.at >= 2.0
        await upload
    assert [c.status for c in fake.sent(ANN.id, "sendVideo")] == [429, 200]


async def test_a_long_429_on_a_request_that_is_not_a_message_is_passed_on() -> None:
    """A button's answer or a file lookup must not sleep for minutes: the caller decides."""
    pacer = ChatPacer(overall=FAST)

    async def flooded() -> bool:
        raise RetryAfter(600)

    with pytest.raises(RetryAfter):
        async with asyncio.timeout(2):  # a regression would sleep for ten minutes
            await pacer.process_request(
                flooded, (), {}, "answerCallbackQuery", {"callback_query_id": "7"}, None
            )
