"""What the delivery-fault tests (tests/test_delivery_faults*.py) share: Ann's order, her
job, the texts she was sent, a lipsync.studio whose result is a given file, and the check
that a job failed with a message and stays failed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from bot.app import Running
from bot.models import Job, JobStatus
from tests.conftest import Harness, Media, free_port, to_chat
from tests.fakes import lipsync_studio
from tests.fakes.lipsync_studio import FakeLipsyncStudio
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import generate, latest_job_reaching

ANN = User(111, "Ann", language_code="en")
#: Words of the message that carries the [Get my video] button (the status line says "did not
#: confirm it", so these are longer).
UNCONFIRMED = "did not confirm that video"
NOT_SENT = "could not be sent"


async def order(fake: FakeTelegram, media: Media) -> None:
    """Ann's /new, photo, voice, 9:16, [Generate] (one provider enabled: no provider step)."""
    await generate(fake, media, ANN)


async def order_with_a_late_upload_answer(
    fake: FakeTelegram, media: Media, late: float = 3.0
) -> None:
    """Ann's order, once the video is posted; Telegram answers the upload ``late`` s later."""
    fake.answer_delay["sendVideo"] = late
    await order(fake, media)
    async with asyncio.timeout(30):
        while not fake.uploads:
            await asyncio.sleep(0.02)


async def only_job(bot: Running) -> Job:
    jobs = await bot.services.jobs.recent(ANN.id)
    assert len(jobs) == 1
    return jobs[0]


async def finished_job(bot: Running) -> Job:
    """Ann's job once it has failed or been delivered."""
    return await latest_job_reaching(bot, ANN, JobStatus.FAILED, JobStatus.DELIVERED)


def texts_to_ann(fake: FakeTelegram, contains: str) -> list[Call]:
    """Messages and edits to Ann whose text contains ``contains``."""
    return [
        call
        for call in fake.calls
        if call.method in ("sendMessage", "editMessageText") and to_chat(ANN.id, contains)(call)
    ]


def status_texts(fake: FakeTelegram) -> list[str]:
    return [str(call.params.get("text")) for call in fake.sent(ANN.id, "editMessageText")]


@contextlib.asynccontextmanager
async def studio_returning(
    result: Path,
) -> AsyncIterator[tuple[FakeLipsyncStudio, dict[str, str]]]:
    """lipsync.studio (the only provider) whose every result link serves ``result``, and the
    settings that point the bot at it."""
    fake = FakeLipsyncStudio(output=result)
    port = free_port()
    async with lipsync_studio.running(fake) as url:
        yield (
            fake,
            {
                "HTTP_PORT": str(port),
                "PUBLIC_URL": f"http://127.0.0.1:{port}",
                "PROVIDERS": "lipsync_studio",
                "LIPSYNC_STUDIO_API_KEY": fake.api_key,
                "LIPSYNC_STUDIO_API_URL": url,
                "ALLOW_PRIVATE_URLS": "true",
                "POLL_INTERVAL_SECONDS": "0.3",
            },
        )


async def ordered_until_finished(harness: Harness, env: dict[str, str], media: Media) -> Job:
    """A bot with ``env`` takes Ann's order; her job once it has failed or been delivered and
    the bot has nothing left to do."""
    async with harness.bot(**env) as bot:
        await order(harness.fake, media)
        job = await finished_job(bot)
        await bot.services.tasks.wait_idle()
    return job


async def fails_with_a_message_and_stays_failed(
    harness: Harness, env: dict[str, str], media: Media, words: str
) -> None:
    """Ann's order fails, she is told ``words``, the status line does not stay at "sending",
    and a restart leaves the job failed without another upload."""
    fake = harness.fake
    job = await ordered_until_finished(harness, env, media)
    assert job.status is JobStatus.FAILED
    assert texts_to_ann(fake, words)
    assert not any("sending" in text for text in status_texts(fake)[-1:])
    uploads = len(fake.sent(method="sendVideo"))
    async with harness.bot(**env) as bot:  # a restart has nothing left to do
        await bot.services.tasks.wait_idle()
        assert (await only_job(bot)).status is JobStatus.FAILED
    assert len(fake.sent(method="sendVideo")) == uploads
