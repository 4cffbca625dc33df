"""Users' inputs and results are deleted MEDIA_RETENTION_HOURS after their job ends; files a
live draft, an unfinished job or a recently ended job still uses are kept."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.media.retention import MediaRetention
from bot.models import Draft, InputFile, JobStatus, NewJob, Probe, Step
from storage import Database, DraftRepository, JobRepository
from storage.db import now
from storage.media_refs import MediaReferences
from tests.conftest import Harness, Media, to_chat
from tests.fakes.telegram import User
from tests.flows import button, said
from tests.job_rows import photo_order
from tests.test_lifecycle import _to_confirm

ANN = User(111, "Ann", language_code="en")
HOURS = 24
PROBE = Probe(duration=3.0)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.db")
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


def _file(folder: Path, name: str, *, age_hours: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"x")
    stamp = (now() - timedelta(hours=age_hours)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


async def _job(
    db: Database, media: Path, voice: Path, *, ended: datetime | None, output: Path | None = None
) -> int:
    repo = JobRepository(db)
    job = await repo.create(
        NewJob(
            chat_id=1,
            user_id=1,
            chat_type="private",
            locale="en",
            provider="preview",
            order=photo_order(
                str(media), str(voice), face_probe=PROBE, voice_probe=PROBE, ratio="9:16"
            ),
        ),
    )
    if output is not None:
        await repo.update(job.id, output_path=str(output))
    if ended is not None:
        await repo.transition(job.id, [JobStatus.SUBMITTING], JobStatus.FAILED)
        await db.execute(
            "UPDATE jobs SET finished_at = ? WHERE id = ?", (ended.isoformat(), job.id)
        )
    return job.id


async def test_only_files_no_longer_used_are_deleted(db: Database, tmp_path: Path) -> None:
    inputs, outputs = tmp_path / "inputs", tmp_path / "outputs"
    old = {"age_hours": 100}
    gone = [
        _file(inputs, "old-face.jpg", **old),
        _file(inputs, "old-voice.ogg", **old),
        _file(outputs, "job_1.mp4", **old),
        _file(inputs, "orphan.bin", **old),  # from a conversation that was abandoned
    ]
    shared = _file(inputs, "shared.jpg", **old)
    kept = [
        shared,
        _file(inputs, "recent-voice.ogg", **old),
        _file(inputs, "live-face.jpg", **old),
        _file(inputs, "live-voice.ogg", **old),
        _file(inputs, "again-face.jpg", **old),
        _file(inputs, "AgADpending.jpg", **old),
        _file(outputs, "job_2.mp4", **old),
        _file(inputs, "fresh.ogg", age_hours=1),  # being downloaded for a draft right now
    ]
    long_ago, lately = now() - timedelta(hours=HOURS + 1), now() - timedelta(hours=1)
    await _job(db, gone[0], gone[1], ended=long_ago, output=gone[2])
    await _job(db, shared, kept[1], ended=lately, output=kept[6])
    await _job(db, shared, gone[1], ended=long_ago)  # the shared face is still in use
    await _job(db, kept[2], kept[3], ended=None)  # not ended yet
    drafts = DraftRepository(db)
    again = InputFile(file_id="", source="again", path=str(kept[4]), probe=PROBE)
    await drafts.save(Draft(chat_id=1, user_id=1, token="t1", step=Step.VOICE, media=again))
    checking = InputFile(file_id="F1", file_unique_id="AgADpending", source="photo")
    await drafts.save(
        Draft(chat_id=2, user_id=2, token="t2", step=Step.MEDIA_CHECK, media=checking)
    )
    retention = MediaRetention(
        MediaReferences(db), [inputs, outputs], timedelta(hours=HOURS), batch=2
    )
    assert await retention.sweep(at=now()) == len(gone)
    assert [p.name for p in gone if p.exists()] == []
    assert [p.name for p in kept if not p.exists()] == []
    assert await retention.sweep(at=now()) == 0


async def test_many_files_are_swept_in_batches(db: Database, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    for n in range(1200):
        _file(inputs, f"orphan{n}.bin", age_hours=HOURS + 1)
    retention = MediaRetention(MediaReferences(db), [inputs], timedelta(hours=HOURS), batch=500)
    assert await retention.sweep(at=now()) == 1200
    assert list(inputs.iterdir()) == []


async def test_after_retention_jobs_resends_and_again_asks_for_a_face(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        assert bot.services.settings.media_retention_hours == HOURS  # the default
        confirm = await _to_confirm(fake, media)
        fake.press(ANN, confirm, button(fake, confirm, "Generate"))
        first = (await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=60))[0]
        await bot.services.tasks.wait_idle()
        assert await bot.services.drafts.get(ANN.id, ANN.id) is None  # none keeps the files
        (job,) = await bot.services.jobs.recent(ANN.id)
        assert job.status is JobStatus.DELIVERED
        files = [*job.order.files(), Path(str(job.output_path))]
        assert all(p.exists() for p in files)
        ended = now() - timedelta(hours=HOURS + 1)
        await bot.services.db.execute(
            "UPDATE jobs SET finished_at = ? WHERE id = ?", (ended.isoformat(), job.id)
        )
        for path in files:
            os.utime(path, (ended.timestamp(), ended.timestamp()))
    async with harness.bot():  # the media sweeper runs at start, then every few minutes
        async with asyncio.timeout(10):
            while any(p.exists() for p in files):
                await asyncio.sleep(0.05)
        # /jobs re-sends by Telegram's file_id: no file of ours is needed.
        mark = fake.mark()
        fake.send_command(ANN, "/jobs")
        listing = await said(fake, ANN.id, "Your recent videos", mark)
        mark = fake.mark()
        fake.press(ANN, listing.result, fake.buttons(listing.result)[0][1])
        again = (await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark))[0]
        assert again.params["video"] == first.result["video"]["file_id"]
        assert not again.files
        # [Again] cannot reuse a face that is gone: it starts at the face.
        mark = fake.mark()
        fake.press(ANN, first.result, button(fake, first.result, "Again"))
        await said(fake, ANN.id, "Send a photo", mark)
