"""Delivery: streaming upload, re-encoding to fit the upload limit, progress coalescing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from telegram import Bot

from bot.delivery.progress import ProgressBoard
from bot.delivery.sender import Delivery
from bot.errors import DeliveryError
from bot.i18n import Translator
from bot.media import probe as probing
from bot.media import render
from bot.models import Job, JobStatus, NewJob, Probe
from storage import Database, JobRepository
from tests import media as make
from tests.conftest import TOKEN, Harness
from tests.fakes.telegram import FakeTelegram, User
from tests.job_rows import photo_order

ANN = User(111, "Ann")
MiB = 1024 * 1024


async def _succeeded_job(tmp_path: Path, output: Path):
    db = await Database.open(tmp_path / "jobs.db")
    await db.migrate()
    jobs = JobRepository(db)
    probe = Probe(duration=4.0, has_audio=True)
    job = await jobs.create(
        NewJob(
            chat_id=ANN.id,
            user_id=ANN.id,
            chat_type="private",
            locale="en",
            provider="preview",
            order=photo_order(
                "face.jpg", "voice.ogg", face_probe=probe, voice_probe=probe, ratio="16:9"
            ),
        ),
    )
    await jobs.transition(
        job.id, [JobStatus.SUBMITTING], JobStatus.SUCCEEDED, output_path=str(output)
    )
    loaded = await jobs.get(job.id)
    await db.close()
    return loaded


async def _send(delivery: Delivery, job: Job) -> str | None:
    """Check, fit and upload the job's video, as a delivery does."""
    return await delivery.upload(job, await delivery.prepare(job))


@pytest.fixture
async def tg_bot(harness: Harness):
    bot = Bot(
        TOKEN, base_url=f"{harness.base_url}/bot", base_file_url=f"{harness.base_url}/file/bot"
    )
    async with bot:
        harness.fake.send_text(ANN, "hello")  # the user opens the chat first
        yield bot


async def test_too_big_output_is_reencoded_under_the_limit(
    harness: Harness, tg_bot: Bot, tmp_path: Path
) -> None:
    big = make.make_big_video(tmp_path / "out.mp4", megabytes=10, seconds=4, width=640, height=360)
    job = await _succeeded_job(tmp_path, big)
    async with httpx.AsyncClient() as http:
        delivery = Delivery(tg_bot, http, Translator.load(), upload_limit=4 * MiB)
        file_id = await _send(delivery, job)
    upload = harness.fake.uploads[-1]
    assert upload.file_id == file_id
    assert big.stat().st_size > 4 * MiB >= upload.size
    probe = await probing.probe(upload.path)
    assert probe.has_audio
    assert probe.duration == pytest.approx(4.0, abs=0.3)


async def test_upload_refused_by_telegram_is_a_delivery_error(
    harness: Harness, tg_bot: Bot, tmp_path: Path
) -> None:
    video = make.make_video(tmp_path / "out.mp4", seconds=1.0)
    job = await _succeeded_job(tmp_path, video)
    harness.fake.upload_limit = 1000  # Telegram answers 413 for this "too big" upload
    async with httpx.AsyncClient() as http:
        delivery = Delivery(tg_bot, http, Translator.load(), upload_limit=50 * MiB)
        with pytest.raises(DeliveryError, match="Request Entity Too Large"):
            await _send(delivery, job)


async def test_upload_waits_out_flood_control(
    harness: Harness, tg_bot: Bot, tmp_path: Path
) -> None:
    video = make.make_video(tmp_path / "out.mp4", seconds=1.0)
    job = await _succeeded_job(tmp_path, video)
    harness.fake.fail("sendVideo", 429, "Too Many Requests: retry after 1", retry_after=1)
    async with httpx.AsyncClient() as http:
        delivery = Delivery(tg_bot, http, Translator.load(), upload_limit=50 * MiB)
        await _send(delivery, job)
    statuses = [call.status for call in harness.fake.sent(method="sendVideo")]
    assert statuses == [429, 200]


async def test_progress_edits_are_coalesced(harness: Harness, tg_bot: Bot) -> None:
    fake: FakeTelegram = harness.fake
    message = await tg_bot.send_message(ANN.id, "Video #1: queued…")
    board = ProgressBoard(tg_bot, private_interval=0.5, group_interval=1.0)
    mark = fake.mark()
    for percent in range(0, 100, 10):  # ten updates in a burst
        await board.show(ANN.id, message.message_id, f"rendering {percent}%")
    await board.show(ANN.id, message.message_id, "sending…", final=True)
    edits = [c for c in fake.calls[mark:] if c.method == "editMessageText"]
    assert [c.params["text"] for c in edits] == ["rendering 0%", "sending…"]
    assert edits[1].at - edits[0].at >= 0.45
    assert fake.message(ANN.id, message.message_id)["text"] == "sending…"


async def test_unchanged_progress_is_not_sent_again(harness: Harness, tg_bot: Bot) -> None:
    fake = harness.fake
    message = await tg_bot.send_message(ANN.id, "x")
    board = ProgressBoard(tg_bot, private_interval=0, group_interval=0)
    mark = fake.mark()
    for _ in range(3):
        await board.show(ANN.id, message.message_id, "rendering 5%")
    await asyncio.sleep(0)
    assert len([c for c in fake.calls[mark:] if c.method == "editMessageText"]) == 1


class _Crash(BaseException):
    """The process dies here: nothing after it runs, no cleanup either."""


async def test_a_reencode_cut_short_by_a_crash_is_not_uploaded(
    harness: Harness, tg_bot: Bot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = make.make_big_video(tmp_path / "out.mp4", megabytes=10, seconds=4, width=640, height=360)
    job = await _succeeded_job(tmp_path, big)
    fit_to_size = render.fit_to_size

    async def dies_half_way(src: Path, dst: Path, **kwargs: object) -> None:
        dst.write_bytes(big.read_bytes()[: 2 * MiB])
        raise _Crash

    async with httpx.AsyncClient() as http:
        delivery = Delivery(tg_bot, http, Translator.load(), upload_limit=4 * MiB)
        monkeypatch.setattr(render, "fit_to_size", dies_half_way)
        with pytest.raises(_Crash):
            await _send(delivery, job)
        monkeypatch.setattr(render, "fit_to_size", fit_to_size)  # the next start
        await _send(delivery, job)
    upload = harness.fake.uploads[-1]
    await probing.check_decodes(upload.path)
    assert (await probing.probe(upload.path)).duration == pytest.approx(4.0, abs=0.3)
