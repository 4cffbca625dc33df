"""Delivery answers whose meaning decides between one upload and two: an offer of [Get my
video] whose answer timed out may be in the chat (its claim stays "offered", no second offer),
an offer Telegram refused is sent again, and an HTML 4xx page from a proxy in front of the API
(a 413) fails the job with a message instead of offering, and failing, the upload for ever."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, TimedOut

from bot.app import Running
from bot.delivery import results
from bot.delivery.sender import Delivery
from bot.models import DeliveryClaim, Job, JobStatus
from tests.conftest import Harness, Media, to_chat
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button, generate, latest_job_reaching, said

ANN = User(111, "Ann", language_code="en")
#: Words of the message that carries the [Get my video] button.
OFFER = "did not confirm"
NOT_SENT = "could not be sent"
PROXY_PAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.fixture
def quick_offer_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "OFFER_RETRY_DELAYS", (0.05, 0.05))


def offers(fake: FakeTelegram) -> list[Call]:
    """[Get my video] messages Telegram took."""
    return [
        call
        for call in fake.sent(ANN.id, "sendMessage")
        if OFFER in str(call.params.get("text")) and call.status == 200
    ]


async def only_job(bot: Running) -> Job:
    jobs = await bot.services.jobs.recent(ANN.id)
    assert len(jobs) == 1
    return jobs[0]


async def test_an_offer_whose_answer_timed_out_is_not_offered_again(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch, quick_offer_retries: None
) -> None:
    """Telegram posted the offer but its answer never came: the claim stays "offered", so a
    press uploads once and no second offer (with a second upload behind it) is sent."""
    fake = harness.fake
    real_offer = Delivery.offer
    timeouts: list[int] = []

    async def posted_then_timed_out(self: Delivery, job: Job) -> None:
        await real_offer(self, job)
        if not timeouts:
            timeouts.append(job.id)
            raise TimedOut("Timed out")

    monkeypatch.setattr(Delivery, "offer", posted_then_timed_out)
    fake.fail("sendVideo", 502, "Bad Gateway", page=PROXY_PAGE)
    async with harness.bot() as bot:
        await generate(fake, media, ANN)
        offer = await said(fake, ANN.id, OFFER, 0)
        await bot.services.tasks.wait_idle()
        assert (await only_job(bot)).delivery is DeliveryClaim.OFFERED
        assert len(offers(fake)) == 1
        mark = fake.mark()
        fake.press(ANN, offer.result, button(fake, offer.result, "Get my video"))
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30)
        await bot.services.tasks.wait_idle()
        job = await only_job(bot)
    assert timeouts
    assert job.status is JobStatus.DELIVERED
    assert len(offers(fake)) == 1
    assert len(fake.sent(method="sendVideo")) == 2


async def test_an_offer_telegram_refused_is_sent_again(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch, quick_offer_retries: None
) -> None:
    """A 400 proves the offer was not posted: it is tried again, and the claim is offered."""
    fake = harness.fake
    real_offer = Delivery.offer
    refusals: list[int] = []

    async def refused_once(self: Delivery, job: Job) -> None:
        if not refusals:
            refusals.append(job.id)
            raise BadRequest("Bad Request: try later")
        await real_offer(self, job)

    monkeypatch.setattr(Delivery, "offer", refused_once)
    fake.fail("sendVideo", 502, "Bad Gateway", page=PROXY_PAGE)
    async with harness.bot() as bot:
        await generate(fake, media, ANN)
        await said(fake, ANN.id, OFFER, 0)
        await bot.services.tasks.wait_idle()
        job = await only_job(bot)
    assert refusals
    assert job.delivery is DeliveryClaim.OFFERED
    assert len(offers(fake)) == 1


async def test_an_html_4xx_page_fails_the_job_with_a_message(
    harness: Harness, media: Media
) -> None:
    """A proxy's 413 page says the upload was refused: no [Get my video] that would only
    upload into the same 413 again."""
    fake = harness.fake
    page = "<html><head><title>413 Request Entity Too Large</title></head></html>"
    fake.fail("sendVideo", 413, "Request Entity Too Large", page=page)
    async with harness.bot() as bot:
        await generate(fake, media, ANN)
        job = await latest_job_reaching(bot, ANN, JobStatus.FAILED, JobStatus.DELIVERED)
        await fake.wait_for("sendMessage", to_chat(ANN.id, NOT_SENT), timeout=30)
        await bot.services.tasks.wait_idle()
    assert job.status is JobStatus.FAILED
    assert not offers(fake)


async def test_an_offer_that_never_arrived_leaves_the_button_on_the_status_line(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch, quick_offer_retries: None
) -> None:
    """The offer's answer timed out and it was not posted after all: the claim stays
    "offered" (it may have been), so the status line carries [Get my video] itself."""
    fake = harness.fake

    async def lost(self: Delivery, job: Job) -> None:
        raise TimedOut("Timed out")

    monkeypatch.setattr(Delivery, "offer", lost)
    fake.fail("sendVideo", 502, "Bad Gateway", page=PROXY_PAGE)
    async with harness.bot() as bot:
        await generate(fake, media, ANN)
        status = await fake.wait_for(
            "editMessageText", lambda c: "tap the button" in str(c.params.get("text"))
        )
        await bot.services.tasks.wait_idle()
        assert offers(fake) == []
        assert (await only_job(bot)).delivery is DeliveryClaim.OFFERED
        line = fake.message(ANN.id, status[0].params["message_id"])
        mark = fake.mark()
        fake.press(ANN, line, button(fake, line, "Get my video"))
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30)
        await bot.services.tasks.wait_idle()
        assert (await only_job(bot)).status is JobStatus.DELIVERED
