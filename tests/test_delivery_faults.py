"""Delivery faults end to end: a video is never sent twice, never lost, never left "sending…".

The real bot runs against the fake Telegram server (and, for remote results, the fake
lipsync.studio); faults are injected there: an answer held back past the upload's read timeout,
a restart in the middle of an upload, Telegram errors the bot has no special case for, and a
"video" that is an HTML page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.delivery import sender
from bot.models import JobStatus
from bot.telegram import files
from tests.conftest import Harness, Media, to_chat
from tests.delivery_fault_steps import (
    ANN,
    NOT_SENT,
    UNCONFIRMED,
    fails_with_a_message_and_stays_failed,
    only_job,
    order,
    order_with_a_late_upload_answer,
    studio_returning,
    texts_to_ann,
)
from tests.fakes.telegram import User
from tests.flows import button, said

BOB = User(222, "Bob", language_code="en")


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
        await order(fake, media)
        offer = await said(fake, ANN.id, UNCONFIRMED, 0)
        await bot.services.tasks.wait_idle()
        assert len(fake.uploads) == 1  # the video is in the chat once, not re-sent
        job = await only_job(bot)
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
        job = await only_job(bot)
    assert len(fake.uploads) == 2  # the lost answer's upload and the one asked for
    assert job.status is JobStatus.DELIVERED
    assert job.result_file_id == fake.uploads[-1].file_id
    assert len(texts_to_ann(fake, UNCONFIRMED)) == 1


async def test_a_restart_during_an_upload_offers_the_button_instead_of_a_second_video(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot():  # the process stops before Telegram answers
        await order_with_a_late_upload_answer(fake, media, late=120.0)
    fake.answer_delay.clear()
    async with harness.bot() as bot:
        await said(fake, ANN.id, UNCONFIRMED, 0)
        await bot.services.tasks.wait_idle()
    async with harness.bot() as bot:  # a further restart has nothing left to say
        await bot.services.tasks.wait_idle()
        job = await only_job(bot)
    assert len(fake.uploads) == 1
    assert len(texts_to_ann(fake, UNCONFIRMED)) == 1
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
    harness.fake.fail("sendVideo", code, description)
    await fails_with_a_message_and_stays_failed(harness, {}, media, NOT_SENT)
    assert len(harness.fake.sent(method="sendVideo")) == 1  # not tried again


async def test_the_upload_video_action_is_shown_while_uploading(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    monkeypatch.setattr(sender, "CHAT_ACTION_SECONDS", 0.2)
    fake.answer_delay["sendVideo"] = 1.0
    async with harness.bot() as bot:
        await order(fake, media)
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
    async with studio_returning(page) as (_, env):
        yield env


async def test_a_result_that_is_not_a_video_fails_the_job_with_a_message(
    harness: Harness, media: Media, html_provider: dict[str, str]
) -> None:
    await fails_with_a_message_and_stays_failed(
        harness, html_provider, media, "not a playable video"
    )
    assert not harness.fake.sent(method="sendVideo")
