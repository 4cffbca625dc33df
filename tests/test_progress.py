"""The status message board: the latest text always shows, nothing identical is re-sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot.delivery.progress import ProgressBoard
from bot.models import JobStatus
from tests.conftest import TOKEN, Harness, Media
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.test_providers_e2e import (  # noqa: F401 - fixtures
    Remote,
    order,
    provider_output,
    remote,
    wait_status,
)

ANN = User(111, "Ann")
INTERVAL = 0.3


@pytest.fixture
async def tg_bot(harness: Harness) -> AsyncIterator[Bot]:
    bot = Bot(
        TOKEN, base_url=f"{harness.base_url}/bot", base_file_url=f"{harness.base_url}/file/bot"
    )
    async with bot:
        harness.fake.send_text(ANN, "hello")  # the user opens the chat first
        yield bot


@pytest.fixture
def board(tg_bot: Bot) -> ProgressBoard:
    return ProgressBoard(tg_bot, private_interval=INTERVAL, group_interval=INTERVAL)


async def status_message(bot: Bot) -> int:
    return (await bot.send_message(ANN.id, "Video #1: starting")).message_id


def edits(fake: FakeTelegram, since: int) -> list[Call]:
    return [c for c in fake.calls[since:] if c.method == "editMessageText"]


def texts(fake: FakeTelegram, since: int) -> list[str]:
    return [c.params["text"] for c in edits(fake, since)]


async def test_an_edit_inside_the_interval_is_shown_when_the_interval_is_up(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    message_id = await status_message(tg_bot)
    mark = fake.mark()
    await board.show(ANN.id, message_id, "queued…")
    started = time.monotonic()
    await board.show(ANN.id, message_id, "rendering…")
    assert time.monotonic() - started < 0.05  # the caller does not wait for the interval
    await fake.wait_for("editMessageText", lambda c: c.params["text"] == "rendering…", timeout=2)
    queued, rendering = edits(fake, mark)
    assert rendering.at - queued.at >= INTERVAL - 0.02
    assert fake.message(ANN.id, message_id)["text"] == "rendering…"


async def test_only_the_latest_of_a_burst_is_flushed(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    message_id = await status_message(tg_bot)
    mark = fake.mark()
    for percent in (10, 20, 30, 40):
        await board.show(ANN.id, message_id, f"rendering {percent}%")
    await asyncio.sleep(3 * INTERVAL)
    assert texts(fake, mark) == ["rendering 10%", "rendering 40%"]


async def test_an_edit_back_to_what_is_shown_is_not_sent(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    message_id = await status_message(tg_bot)
    mark = fake.mark()
    await board.show(ANN.id, message_id, "rendering 10%")
    await board.show(ANN.id, message_id, "rendering 20%")  # pending...
    await board.show(ANN.id, message_id, "rendering 10%")  # ...and back to what shows
    await asyncio.sleep(3 * INTERVAL)
    await board.show(ANN.id, message_id, "rendering 10%")
    await board.show(ANN.id, message_id, "rendering 10%", final=True)
    await asyncio.sleep(0.05)
    assert texts(fake, mark) == ["rendering 10%"]
    assert all(c.status == 200 for c in edits(fake, mark))  # no "message is not modified"


async def test_a_final_edit_replaces_the_pending_one_and_is_sent(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    message_id = await status_message(tg_bot)
    mark = fake.mark()
    await board.show(ANN.id, message_id, "rendering 10%")
    await board.show(ANN.id, message_id, "rendering 90%")
    await board.show(ANN.id, message_id, "sending…", final=True)
    await asyncio.sleep(2 * INTERVAL)
    sent = edits(fake, mark)
    assert [c.params["text"] for c in sent] == ["rendering 10%", "sending…"]
    assert sent[1].at - sent[0].at >= INTERVAL - 0.02
    assert fake.message(ANN.id, message_id)["text"] == "sending…"


async def test_a_final_with_the_same_text_but_new_buttons_is_sent(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    message_id = await status_message(tg_bot)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="again")]])
    await board.show(ANN.id, message_id, "done")
    await board.show(ANN.id, message_id, "done", final=True, reply_markup=markup)
    assert fake.buttons(fake.message(ANN.id, message_id)) == [("Again", "again")]


async def test_the_board_forgets_messages_that_ended(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    ids = [await status_message(tg_bot) for _ in range(3)]
    for message_id in ids:
        await board.show(ANN.id, message_id, "rendering…")
    for message_id in ids:
        await board.show(ANN.id, message_id, "done", final=True)
    assert board.tracked == 0
    assert [fake.message(ANN.id, m)["text"] for m in ids] == ["done"] * 3


async def test_tracked_messages_are_bounded(tg_bot: Bot) -> None:
    board = ProgressBoard(tg_bot, private_interval=0, group_interval=0, max_tracked=2)
    ids = [await status_message(tg_bot) for _ in range(4)]
    for message_id in ids:
        await board.show(ANN.id, message_id, "rendering…")
    assert board.tracked <= 2


async def test_close_drops_pending_edits(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    message_id = await status_message(tg_bot)
    mark = fake.mark()
    await board.show(ANN.id, message_id, "queued…")
    await board.show(ANN.id, message_id, "rendering…")
    await board.close()
    await asyncio.sleep(2 * INTERVAL)
    assert texts(fake, mark) == ["queued…"]
    assert board.tracked == 0


async def test_a_late_progress_update_does_not_overwrite_the_final_text(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    message_id = await status_message(tg_bot)
    await board.show(ANN.id, message_id, "rendering 90%")
    await board.show(ANN.id, message_id, "sending…", final=True)
    await board.show(ANN.id, message_id, "rendering 95%")  # raced with the job's end
    await asyncio.sleep(2 * INTERVAL)
    assert fake.message(ANN.id, message_id)["text"] == "sending…"
    await board.show(ANN.id, message_id, "delivered", final=True)
    assert fake.message(ANN.id, message_id)["text"] == "delivered"


async def test_edits_of_two_messages_in_one_chat_share_the_interval(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    first, second = await status_message(tg_bot), await status_message(tg_bot)
    mark = fake.mark()
    await board.show(ANN.id, first, "job 1 rendering")
    await board.show(ANN.id, second, "job 2 rendering")
    await fake.wait_for("editMessageText", since=mark, count=2, timeout=2)
    one, two = edits(fake, mark)
    assert two.at - one.at >= INTERVAL - 0.02


async def test_a_waiting_final_keeps_its_slot_from_other_messages_in_the_chat(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    first, second = await status_message(tg_bot), await status_message(tg_bot)
    mark = fake.mark()
    await board.show(ANN.id, first, "job 1 rendering")
    final = asyncio.create_task(board.show(ANN.id, first, "job 1 done", final=True))
    await asyncio.sleep(0.01)
    await board.show(ANN.id, second, "job 2 rendering")
    await final
    await fake.wait_for("editMessageText", since=mark, count=3, timeout=2)
    sent = edits(fake, mark)
    assert [c.params["text"] for c in sent] == ["job 1 rendering", "job 1 done", "job 2 rendering"]
    assert sent[2].at - sent[1].at >= INTERVAL - 0.02


async def test_an_edit_to_what_a_new_message_already_says_is_not_sent(
    fake: FakeTelegram, tg_bot: Bot, board: ProgressBoard
) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data="stop:1")]])
    message = await tg_bot.send_message(ANN.id, "Video #1: queued…", reply_markup=markup)
    board.sent(ANN.id, message.message_id, "Video #1: queued…", reply_markup=markup)
    mark = fake.mark()
    await board.show(ANN.id, message.message_id, "Video #1: queued…", reply_markup=markup)
    await asyncio.sleep(2 * INTERVAL)
    assert edits(fake, mark) == []
    await board.show(ANN.id, message.message_id, "Video #1: rendering…")
    await fake.wait_for("editMessageText", since=mark, timeout=2)
    assert texts(fake, mark) == ["Video #1: rendering…"]


async def test_a_remote_jobs_status_message_is_never_edited_to_what_it_says(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
) -> None:
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        await order(fake, media, "magichour")
        await wait_status(bot, JobStatus.DELIVERED)
    refused = [c for c in fake.calls if c.method == "editMessageText" and c.status != 200]
    assert refused == []
