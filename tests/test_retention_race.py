"""The retention sweep racing a job's creation: a draft whose input files are older than the
retention becomes a job (and the draft is deleted) while a sweep runs. The sweep read the jobs
before the job existed and the drafts after the draft was gone, so only the files themselves
can say they are in use again: JobService.create touches them, and the sweep re-checks a
file's age right before deleting it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from bot.jobs.service import touch_inputs
from bot.media.retention import MediaRetention
from storage.db import now
from tests.conftest import Harness, Media
from tests.fakes.telegram import User
from tests.flows import button, edited, said, to_ratio

ANN = User(111, "Ann", language_code="en")
HOURS = 24


def _aged(path: Path, hours: float) -> None:
    stamp = (now() - timedelta(hours=hours)).timestamp()
    os.utime(path, (stamp, stamp))


class RacingReferences:
    """No job refers to the files (read before the job was made), and no draft does (read
    after it was deleted); ``meanwhile`` runs between the two reads."""

    def __init__(self, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self._meanwhile = meanwhile

    async def job_files(self, ended_after: datetime, batch: int) -> AsyncIterator[list[str]]:
        yield []

    async def draft_files(self, batch: int) -> AsyncIterator[list[dict[str, str | None]]]:
        await self._meanwhile()
        yield []


async def test_a_draft_made_a_job_during_a_sweep_keeps_its_inputs(tmp_path: Path) -> None:
    folder = tmp_path / "inputs"
    folder.mkdir()
    face, voice = folder / "face.jpg", folder / "voice.mp3"
    for path in (face, voice):
        path.write_bytes(b"x")
        _aged(path, HOURS + 1)

    async def made_a_job() -> None:
        await touch_inputs([str(face), str(voice)])

    sweep = MediaRetention(RacingReferences(made_a_job), [folder], timedelta(hours=HOURS))
    assert await sweep.sweep(at=now()) == 0
    assert face.exists()
    assert voice.exists()


async def test_making_a_job_touches_its_input_files(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        ratios = await to_ratio(fake, media, ANN)
        mark = fake.mark()
        fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
        confirm = await edited(fake, ANN.id, "Ready to make your video", mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft
        assert draft.media
        assert draft.voice
        assert draft.media.path
        assert draft.voice.path
        inputs = [Path(draft.media.path), Path(draft.voice.path)]
        for path in inputs:
            _aged(path, HOURS + 1)
        mark = fake.mark()
        fake.press(ANN, confirm.result, button(fake, confirm.result, "Generate"))
        await said(fake, ANN.id, "queued", mark)
        fresh = (now() - timedelta(minutes=5)).timestamp()
        assert all(path.stat().st_mtime > fresh for path in inputs)
        await bot.services.tasks.wait_idle()
