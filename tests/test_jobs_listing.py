"""/jobs tells a video waiting on [Get my video] apart from one being sent."""

from __future__ import annotations

from bot.app import Running
from bot.models import DeliveryClaim, JobStatus
from storage import JobRepository
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import said
from tests.job_rows import job_row

ANN = User(111, "Ann", language_code="en")


async def test_a_video_offered_with_a_button_says_so_in_jobs(
    fake: FakeTelegram, bot: Running
) -> None:
    repo = JobRepository(bot.services.db)
    job = await job_row(bot, ANN.id, "preview")
    assert await repo.transition(job.id, [JobStatus.SUBMITTING], JobStatus.SUCCEEDED)
    assert await repo.claim_delivery(job.id, None, DeliveryClaim.OFFERED)
    mark = fake.mark()
    fake.send_command(ANN, "/jobs")
    listing = await said(fake, ANN.id, f"#{job.id}", mark)
    assert "tap Get my video" in listing.params["text"]
    assert "sending" not in listing.params["text"]


async def test_jobs_writes_the_day_the_readers_way(fake: FakeTelegram, bot: Running) -> None:
    bia = User(222, "Bia", language_code="pt-br")
    job = await job_row(bot, bia.id, "preview")
    day = job.created_at.strftime("%d/%m/%Y %H:%M")
    mark = fake.mark()
    fake.send_command(bia, "/jobs")
    listing = await said(fake, bia.id, f"#{job.id}", mark)
    assert f"#{job.id} · {day} UTC" in listing.params["text"]
