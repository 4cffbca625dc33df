"""Ordering a video from a fake remote provider, for tests that look at the job afterwards
(not at how the status message first appears)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.app import Running
from bot.jobs.submit import ADOPTION_SECONDS
from bot.models import Job
from tests.conftest import Media
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button, edited, to_ratio
from tests.test_providers_e2e import ANN, LABELS


async def generate(
    bot: Running, fake: FakeTelegram, media: Media, provider: str, user: User = ANN
) -> Job:
    """/new, a photo, a voice, 9:16, ``provider``, [Generate]; returns the job once made."""
    before = {job.id for job in await bot.services.jobs.recent(user.id)}
    ratios = await to_ratio(fake, media, user)
    mark = fake.mark()
    fake.press(user, ratios.result, button(fake, ratios.result, "9:16"))
    confirm = (await fake.wait_for("editMessageText", _asks_provider_or_confirm, since=mark))[0]
    if "Ready to make your video" not in confirm.params["text"]:  # more than one provider
        mark = fake.mark()
        fake.press(user, confirm.result, button(fake, confirm.result, LABELS[provider]))
        confirm = await edited(fake, user.id, "Ready to make your video", mark)
    fake.press(user, confirm.result, button(fake, confirm.result, "Generate"))
    async with asyncio.timeout(20):
        while True:
            jobs = [j for j in await bot.services.jobs.recent(user.id) if j.id not in before]
            if jobs:
                return jobs[0]
            await asyncio.sleep(0.05)


def _asks_provider_or_confirm(call: Call) -> bool:
    text = str(call.params.get("text", ""))
    return call.status == 200 and ("Pick who" in text or "Ready to make your video" in text)


async def job_when(bot: Running, job_id: int, ready: Callable[[Job], bool]) -> Job:
    """The job, once ``ready(job)`` holds (20 s at most)."""
    async with asyncio.timeout(20):
        while True:
            job = await bot.services.jobs.get(job_id)
            if job is not None and ready(job):
                return job
            await asyncio.sleep(0.05)


def waiting_to_be_claimed(job: Job) -> bool:
    """The create got no answer: the job waits for its webhook within the adoption window."""
    return (
        job.submit_started_at is not None
        and job.deadline_at is not None
        and (job.deadline_at - job.submit_started_at).total_seconds() <= ADOPTION_SECONDS
    )
