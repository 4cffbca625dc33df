"""Magic Hour's ``upload_url`` comes from an API answer: it passes the same URL check as a
result download before anything is PUT to it (ALLOW_PRIVATE_URLS honoured)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import Running
from bot.models import JobStatus
from tests import media as make
from tests.conftest import Harness, Media, free_port
from tests.fakes import magichour
from tests.fakes.magichour import FakeMagicHour
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button, edited, to_ratio

ANN = User(111, "Ann", language_code="en")


@pytest.fixture
async def mh(tmp_path: Path) -> AsyncIterator[tuple[FakeMagicHour, dict[str, str]]]:
    fake = FakeMagicHour(output=make.make_video(tmp_path / "out.mp4", width=480, height=854))
    async with magichour.running(fake) as url:
        env = {
            "PROVIDERS": "magichour,preview",
            "MAGICHOUR_API_KEY": fake.api_key,
            "MAGICHOUR_WEBHOOK_SECRET": fake.webhook_secret,
            "MAGICHOUR_API_URL": url,
            "PROVIDER_RETRY_BASE_SECONDS": "0.01",
        }
        yield fake, env


async def _generate(fake: FakeTelegram, media: Media) -> None:
    ratios = await to_ratio(fake, media, ANN)
    mark = fake.mark()
    fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
    choice = await edited(fake, ANN.id, "Pick who makes the video", mark)
    mark = fake.mark()
    fake.press(ANN, choice.result, button(fake, choice.result, "Magic Hour"))
    confirm = await edited(fake, ANN.id, "Ready to make your video", mark)
    fake.press(ANN, confirm.result, button(fake, confirm.result, "Generate"))


def _says(words: str) -> Callable[[Call], bool]:
    return lambda call: words in str(call.params.get("text", ""))


async def _final_status(bot: Running) -> JobStatus:
    async with asyncio.timeout(20):
        while True:
            jobs = await bot.services.jobs.recent(ANN.id)
            if jobs and jobs[0].status in (JobStatus.FAILED, JobStatus.QUEUED, JobStatus.RUNNING):
                return jobs[0].status
            await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("upload_base", "allow_private", "expected"),
    [
        ("https://127.0.0.1:{port}", "false", JobStatus.FAILED),  # loopback over https
        ("http://{host}", "false", JobStatus.FAILED),  # not https
        ("http://{host}", "true", JobStatus.QUEUED),  # tests against local fakes
    ],
)
async def test_a_private_upload_url_fails_the_job_and_nothing_is_put(
    harness: Harness,
    media: Media,
    mh: tuple[FakeMagicHour, dict[str, str]],
    upload_base: str,
    allow_private: str,
    expected: JobStatus,
) -> None:
    fake_mh, env = mh
    host = env["MAGICHOUR_API_URL"].removeprefix("http://")
    fake_mh.base_url = upload_base.format(port=free_port(), host=host)
    async with harness.bot(**env, ALLOW_PRIVATE_URLS=allow_private) as bot:
        await _generate(harness.fake, media)
        status = await _final_status(bot)
        put = [upload for upload in fake_mh.uploads.values() if upload.path is not None]
        if expected is JobStatus.FAILED:
            assert status is JobStatus.FAILED
            assert put == []
            await harness.fake.wait_for("editMessageText", _says("refused its upload address"))
        else:
            assert status in (JobStatus.QUEUED, JobStatus.RUNNING)
            assert len(put) == 2
