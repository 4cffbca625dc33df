"""Delivery faults end to end: a video is never sent twice, never lost, never left "sending…".

The real bot runs against the fake Telegram server (and, for remote results, the fake
lipsync.studio); faults are injected there: an answer held back past the upload's read timeout,
a restart in the middle of an upload, Telegram errors the bot has no special case for, and a
"video" that is an HTML page.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.app import Running
from bot.delivery import sender
from bot.models import Job, JobStatus
from bot.telegram import files
from tests.conftest import Harness, Media, free_port, to_chat
from tests.fakes import lipsync_studio
from tests.fakes.lipsync_studio import FakeLipsyncStudio
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button, edited, said, to_ratio

ANN = User(111, "Ann", language_code="en")
BOB = User(222, "Bob", language_code="en")
#: Words of the message that carries the [Get my video] button.
UNCONFIRMED = "did not confirm"


async def _generate(fake: FakeTelegram, media: Media) -> None:
    """/new, photo, voice, 9:16, [Generate] (one provider enabled, so no provider step)."""
    ratios = await to_ratio(fake, media, ANN)
    mark = fake.mark()
    fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
    confirm = await edited(fake, ANN.id, "Ready to make your video", mark)
    fake.press(ANN, confirm.result, button(fake, confirm.result, "Generate"))


async def _job(bot: Running) -> Job:
    jobs = await bot.services.jobs.recent(ANN.id)
    assert len(jobs) == 1
    return jobs[0]


async def _until(bot: Running, *statuses: JobStatus) -> Job:
    async with asyncio.timeout(30):
        while True:
            jobs = await bot.services.jobs.recent(ANN.id)
            if jobs and jobs[0].status in statuses:
                return jobs[0]
            await asyncio.sleep(0.05)


def _texts(fake: FakeTelegram, contains: str) -> list[Call]:
    """Messages and edits to Ann whose text contains ``contains``."""
    return [
        call
        for call in fake.calls
        if call.method in ("sendMessage", "editMessageText") and to_chat(ANN.id, contains)(call)
    ]


@pytest.fixture
def short_upload_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploads give up waiting for Telegram's answer after half a second."""
    monkeypatch.setattr(files, "UPLOAD_TIMEOUT", httpx.Timeout(10.0, read=0.5))


async def test_an_unanswered_upload_is_not_repeated_and_the_button_sends_it_once(
    harness: Harness, media: Media, short_upload_timeout: None
) -> None:
    fake = harness.fake
    fake.answer_delay["sendVideo"] = 3.0  # Telegram posts the video; its answer comes late
    async with harness.bot() as bot:
        await _generate(fake, media)
        offer = await said(fake, ANN.id, UNCONFIRMED, 0)
        await bot.services.tasks.wait_idle()
        assert len(fake.uploads) == 1  # the video is in the chat once, not re-sent
        job = await _job(bot)
        assert job.status is JobStatus.SUCCEEDED
        fake.answer_delay.clear()

        get = button(fake, offer.result, "Get my video")
        mark = fake.mark()
        fake.press(BOB, offer.result, get)  # not his video
        refused = (await fake.wait_for("answerCallbackQuery", since=mark))[0]
        assert "someone else" in refused.params["text"]
        mark = fake.mark()
        fake.press(ANN, offer.result, get)
        fake.press(ANN, offer.result, get, forged=True)  # a double tap
        await fake.wait_for("answerCallbackQuery", count=2, since=mark)
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30)
        await bot.services.tasks.wait_idle()
        job = await _job(bot)
    assert len(fake.uploads) == 2  # the lost answer's upload and the one asked for
    assert job.status is JobStatus.DELIVERED
    assert job.result_file_id == fake.uploads[-1].file_id
    assert len(_texts(fake, UNCONFIRMED)) == 1


async def test_a_restart_during_an_upload_offers_the_button_instead_of_a_second_video(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    fake.answer_delay["sendVideo"] = 120.0  # the process stops before Telegram answers
    async with harness.bot() as bot:
        await _generate(fake, media)
        async with asyncio.timeout(30):
            while not fake.uploads:
                await asyncio.sleep(0.05)
    fake.answer_delay.clear()
    async with harness.bot() as bot:
        await said(fake, ANN.id, UNCONFIRMED, 0)
        await bot.services.tasks.wait_idle()
    async with harness.bot() as bot:  # a further restart has nothing left to say
        await bot.services.tasks.wait_idle()
        job = await _job(bot)
    assert len(fake.uploads) == 1
    assert len(_texts(fake, UNCONFIRMED)) == 1
    assert job.status is JobStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("code", "description"),
    [
        (400, "Bad Request: wrong file identifier/HTTP URL specified"),
        (413, "Request Entity Too Large"),
        # A 5xx is not a refusal: the video may be posted (tests/test_delivery_faults2.py).
    ],
)
async def test_an_unmapped_telegram_error_fails_the_job_with_a_message(
    harness: Harness, media: Media, code: int, description: str
) -> None:
    fake = harness.fake
    fake.fail("sendVideo", code, description)
    async with harness.bot() as bot:
        await _generate(fake, media)
        job = await _until(bot, JobStatus.FAILED, JobStatus.DELIVERED)
        await bot.services.tasks.wait_idle()
    assert job.status is JobStatus.FAILED
    assert _texts(fake, "could not be sent")
    assert len(fake.sent(method="sendVideo")) == 1
    async with harness.bot() as bot:  # and a restart does not try again
        await bot.services.tasks.wait_idle()
    assert len(fake.sent(method="sendVideo")) == 1


async def test_the_upload_video_action_is_shown_while_uploading(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    monkeypatch.setattr(sender, "CHAT_ACTION_SECONDS", 0.2)
    fake.answer_delay["sendVideo"] = 1.0
    async with harness.bot() as bot:
        await _generate(fake, media)
        video = (await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=60))[0]
        await bot.services.tasks.wait_idle()
    actions = [
        call
        for call in fake.sent(ANN.id, "sendChatAction")
        if call.params.get("action") == "upload_video" and call.at <= video.at + 1.0
    ]
    assert len(actions) >= 3  # repeated while the answer is awaited


@pytest.fixture
async def html_provider(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """lipsync.studio whose result link answers 200 with an HTML error page."""
    page = tmp_path / "error.html"
    page.write_text("<html><body><h1>Service temporarily unavailable</h1></body></html>")
    fake = FakeLipsyncStudio(output=page)
    port = free_port()
    async with lipsync_studio.running(fake) as url:
        yield {
            "HTTP_PORT": str(port),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PROVIDERS": "lipsync_studio",
            "LIPSYNC_STUDIO_API_KEY": fake.api_key,
            "LIPSYNC_STUDIO_API_URL": url,
            "ALLOW_PRIVATE_URLS": "true",
            "POLL_INTERVAL_SECONDS": "0.3",
        }


async def test_a_result_that_is_not_a_video_fails_the_job_with_a_message(
    harness: Harness, media: Media, html_provider: dict[str, str]
) -> None:
    fake = harness.fake
    async with harness.bot(**html_provider) as bot:
        await _generate(fake, media)
        job = await _until(bot, JobStatus.FAILED, JobStatus.DELIVERED)
        await bot.services.tasks.wait_idle()
    assert job.status is JobStatus.FAILED
    assert _texts(fake, "not a playable video")
    assert not fake.sent(method="sendVideo")
    async with harness.bot(**html_provider) as bot:
        await bot.services.tasks.wait_idle()
    assert not fake.sent(method="sendVideo")
