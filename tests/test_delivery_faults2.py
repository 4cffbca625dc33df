"""More delivery faults end to end: whatever goes wrong before the upload fails the job with a
message (never "sending…" for ever); an answer that might hide a posted video (a 5xx, a body
that is not JSON) is not paid for again but offered; the offer itself is retried; a second
[Get my video] while the first request is finishing still uploads; a 403 in a group is not
the user blocking the bot, and a user known to have blocked it gets no upload."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.app import Running
from bot.delivery import results
from bot.delivery.sender import Delivery, ReadyVideo
from bot.jobs.reasons import reason_text
from bot.models import DeliveryClaim, Job, JobStatus, Reason
from bot.telegram import files
from tests import media as make
from tests.conftest import Harness, Media, to_chat
from tests.delivery_fault_steps import (
    ANN,
    NOT_SENT,
    UNCONFIRMED,
    fails_with_a_message_and_stays_failed,
    only_job,
    order,
    order_with_a_late_upload_answer,
    ordered_until_finished,
    status_texts,
    studio_returning,
    texts_to_ann,
)
from tests.fakes.lipsync_studio import FakeLipsyncStudio
from tests.fakes.telegram import Call, FakeTelegram
from tests.flows import button, latest_job_reaching, said


async def _offered(fake: FakeTelegram, since: int) -> Call:
    """The [Get my video] message, once Telegram took it."""
    calls = await fake.wait_for(
        "sendMessage",
        lambda call: to_chat(ANN.id, UNCONFIRMED)(call) and call.status == 200,
        since=since,
        timeout=30,
    )
    return calls[0]


@pytest.fixture
def short_upload_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "UPLOAD_TIMEOUT", httpx.Timeout(10.0, read=0.5))


@pytest.fixture
def quick_offer_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "OFFER_RETRY_DELAYS", (0.05, 0.05))


# ---------------------------------------------------------------- before the claim


def _empty_mvhd_video(folder: Path) -> Path:
    """A real MP4 whose ``mvhd`` box is emptied (its bytes become a ``free`` box)."""
    data = bytearray(make.make_video(folder / "real.mp4", seconds=1.0).read_bytes())
    at = data.index(b"mvhd") - 4
    size = struct.unpack_from(">I", data, at)[0]
    data[at : at + size] = (
        struct.pack(">I4s", 8, b"mvhd") + struct.pack(">I4s", size - 8, b"free") + bytes(size - 16)
    )
    out = folder / "empty_mvhd.mp4"
    out.write_bytes(data)
    return out


@pytest.fixture
async def studio(tmp_path: Path) -> AsyncIterator[tuple[FakeLipsyncStudio, dict[str, str]]]:
    async with studio_returning(_empty_mvhd_video(tmp_path)) as (fake, env):
        yield fake, env


async def test_an_mp4_with_an_empty_movie_header_is_not_left_sending(
    harness: Harness, media: Media, studio: tuple[FakeLipsyncStudio, dict[str, str]]
) -> None:
    """The header reader gives up on it; ffmpeg, behind it, decides (here: it plays)."""
    _, env = studio
    job = await ordered_until_finished(harness, env, media)
    assert job.status is JobStatus.DELIVERED
    assert len(harness.fake.sent(method="sendVideo")) == 1


async def test_a_result_url_with_a_nul_byte_fails_the_job_with_a_message(
    harness: Harness, media: Media, studio: tuple[FakeLipsyncStudio, dict[str, str]]
) -> None:
    fake_studio, env = studio
    fake_studio.base_url = f"{fake_studio.base_url}/x\x00y"  # output links carry the NUL
    await fails_with_a_message_and_stays_failed(harness, env, media, "could not be downloaded")
    assert not harness.fake.sent(method="sendVideo")


async def test_an_unexpected_error_before_the_upload_fails_the_job_with_a_message(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Delivery, job: Job) -> ReadyVideo:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Delivery, "prepare", broken)
    await fails_with_a_message_and_stays_failed(harness, {}, media, NOT_SENT)
    assert not harness.fake.sent(method="sendVideo")


# ---------------------------------------------------------------- unknown outcomes


@pytest.mark.parametrize(
    ("code", "page"),
    [
        (500, None),  # Telegram's own JSON error
        (502, "<html><body><h1>502 Bad Gateway</h1></body></html>"),  # a proxy's page
        (200, "<html>maintenance</html>"),  # an answer that is not JSON at all
    ],
)
async def test_a_5xx_or_non_json_answer_to_the_upload_offers_the_video_instead_of_failing(
    harness: Harness, media: Media, code: int, page: str | None
) -> None:
    fake = harness.fake
    fake.fail("sendVideo", code, "Internal Server Error", page=page)
    async with harness.bot() as bot:
        await order(fake, media)
        offer = await said(fake, ANN.id, UNCONFIRMED, 0)
        await bot.services.tasks.wait_idle()
        assert (await only_job(bot)).status is JobStatus.SUCCEEDED
        assert len(fake.sent(method="sendVideo")) == 1  # not retried on its own
        mark = fake.mark()
        fake.press(ANN, offer.result, button(fake, offer.result, "Get my video"))
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30)
        await bot.services.tasks.wait_idle()
        job = await only_job(bot)
    assert job.status is JobStatus.DELIVERED
    assert not texts_to_ann(fake, NOT_SENT)


async def test_an_offer_telegram_refuses_at_first_is_sent_again(
    harness: Harness, media: Media, short_upload_timeout: None, quick_offer_retries: None
) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        await order_with_a_late_upload_answer(fake, media)
        # A 400 proves the offer was not posted (a 5xx would not: it may be in the chat).
        fake.fail(
            "sendMessage", 400, "Bad Request: message text is empty", times=2, chat_id=ANN.id
        )
        await _offered(fake, 0)
        await bot.services.tasks.wait_idle()
        job = await only_job(bot)
    assert job.delivery is DeliveryClaim.OFFERED
    assert len(fake.uploads) == 1


async def test_an_offer_that_cannot_be_sent_says_so_and_comes_at_the_next_start(
    harness: Harness, media: Media, short_upload_timeout: None, quick_offer_retries: None
) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        await order_with_a_late_upload_answer(fake, media)
        # Every try of the offer fails (the first one and the two retries).
        fake.fail(
            "sendMessage", 400, "Bad Request: message text is empty", times=3, chat_id=ANN.id
        )
        await fake.wait_for("editMessageText", to_chat(ANN.id, "not confirmed"), timeout=30)
        await bot.services.tasks.wait_idle()
        job = await only_job(bot)
        assert job.delivery is DeliveryClaim.UPLOADING
        assert "sending" not in status_texts(fake)[-1]
        assert not texts_to_ann(fake, UNCONFIRMED)
    fake.answer_delay.clear()
    mark = fake.mark()
    async with harness.bot() as bot:
        await _offered(fake, mark)
        await bot.services.tasks.wait_idle()
    assert len(fake.uploads) == 1


async def test_a_press_while_the_previous_request_is_finishing_still_uploads(
    harness: Harness, media: Media, short_upload_timeout: None
) -> None:
    fake = harness.fake
    fake.answer_delay["sendVideo"] = 3.0
    async with harness.bot() as bot:
        await order(fake, media)
        first = await said(fake, ANN.id, UNCONFIRMED, 0)
        get = button(fake, first.result, "Get my video")
        # The requested upload is not confirmed either, and the new offer's answer is slow:
        # the request's task is still running when the claim is already back to "offered".
        fake.answer_delay["sendMessage"] = 2.0
        mark = fake.mark()
        fake.press(ANN, first.result, get)
        async with asyncio.timeout(30):  # the second offer is made; its answer is held back
            while not any(
                call.method == "sendMessage" and UNCONFIRMED in str(call.params.get("text"))
                for call in fake.calls[mark:]
            ):
                await asyncio.sleep(0.02)
        fake.answer_delay.clear()
        assert (await only_job(bot)).delivery is DeliveryClaim.OFFERED
        mark = fake.mark()
        fake.press(ANN, first.result, get, forged=True)  # a client that still shows it
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30)
        await bot.services.tasks.wait_idle()
        job = await only_job(bot)
    assert len(fake.uploads) == 3
    assert job.status is JobStatus.DELIVERED


# ---------------------------------------------------------------- unreachable chats


async def _delivered_then_again(bot: Running, fake: FakeTelegram, media: Media) -> Job:
    """Make and deliver a video, then put it back to "succeeded" as if not yet sent."""
    await order(fake, media)
    job = await latest_job_reaching(bot, ANN, JobStatus.DELIVERED)
    await bot.services.tasks.wait_idle()
    await bot.services.db.execute(
        "UPDATE jobs SET status = 'succeeded', delivery = NULL WHERE id = ?", (job.id,)
    )
    return job


async def _delivery_refused(bot: Running, fake: FakeTelegram, job: Job, description: str) -> None:
    """Telegram answers the upload with a 403: the job fails as "chat unreachable"."""
    fake.fail("sendVideo", 403, description)
    bot.services.results.spawn(job.id)
    await bot.services.tasks.wait_idle()
    failed = await only_job(bot)
    assert failed.status is JobStatus.FAILED
    assert failed.reason == Reason(code="error.chat_unreachable")
    assert (
        reason_text(bot.services.translator, failed) == "the bot can no longer write in this chat"
    )


async def test_a_user_who_blocked_the_bot_gets_no_upload_until_they_write_again(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        job = await _delivered_then_again(bot, fake, media)
        await _delivery_refused(bot, fake, job, "Forbidden: bot was blocked by the user")
        assert await bot.services.users.is_blocked(ANN.id)
        uploads = len(fake.sent(method="sendVideo"))

        await bot.services.db.execute(
            "UPDATE jobs SET status = 'succeeded', delivery = NULL WHERE id = ?", (job.id,)
        )
        bot.services.results.spawn(job.id)
        await bot.services.tasks.wait_idle()
        assert len(fake.sent(method="sendVideo")) == uploads  # no upload to a blocked user
        assert (await only_job(bot)).status is JobStatus.FAILED


async def test_a_403_in_a_group_fails_the_job_but_does_not_mark_the_user_blocked(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    group = fake.group()
    async with harness.bot() as bot:
        job = await _delivered_then_again(bot, fake, media)
        await bot.services.db.execute(
            "UPDATE jobs SET chat_id = ?, status_message_id = NULL WHERE id = ?",
            (group["id"], job.id),
        )
        await _delivery_refused(bot, fake, job, "Forbidden: bot was kicked from the group chat")
        assert not await bot.services.users.is_blocked(ANN.id)
