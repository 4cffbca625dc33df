"""Repositories on a real temporary SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.models import (
    DeliveryClaim,
    Draft,
    InputFile,
    JobStatus,
    NewJob,
    Probe,
    Reason,
    Step,
)
from storage import Database, DraftRepository, JobRepository, UserRepository
from storage.migrations import MIGRATIONS
from tests.job_rows import photo_order


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "sub" / "bot.db")
    await database.migrate()
    yield database
    await database.close()


async def _job(jobs: JobRepository, user_id: int = 7) -> int:
    probe = Probe(duration=3.2, has_audio=True)
    job = await jobs.create(
        NewJob(
            chat_id=user_id,
            user_id=user_id,
            chat_type="private",
            locale="en",
            provider="preview",
            order=photo_order("a.jpg", "v.ogg", face_probe=probe, voice_probe=probe, ratio="9:16"),
        ),
    )
    return job.id


async def test_migrations_are_applied_once(db: Database, tmp_path: Path) -> None:
    assert await db.scalar("PRAGMA user_version") == len(MIGRATIONS)
    assert await db.migrate() == len(MIGRATIONS)
    assert await db.scalar("PRAGMA journal_mode") == "wal"


async def test_transaction_rolls_back(db: Database) -> None:
    async def insert_then_fail() -> None:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO chats (id, type, created_at, updated_at) VALUES (1, 'p', '', '')"
            )
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    assert await db.scalar("SELECT COUNT(*) FROM chats") == 0


async def test_draft_round_trip_keeps_files(db: Database) -> None:
    drafts = DraftRepository(db)
    face = InputFile(file_id="F1", source="photo", path="/x.jpg", probe=Probe(duration=None))
    await drafts.save(Draft(chat_id=1, user_id=2, token="t", step=Step.VOICE, media=face))
    loaded = await drafts.get(1, 2)
    assert loaded is not None
    assert loaded.step is Step.VOICE
    assert loaded.media == face
    assert [d.user_id for d in await drafts.in_steps(Step.VOICE)] == [2]
    assert await drafts.delete(1, 2)
    assert not await drafts.delete(1, 2)


async def test_transition_is_compare_and_set(db: Database) -> None:
    jobs = JobRepository(db)
    job_id = await _job(jobs)
    first, second = await asyncio.gather(
        jobs.transition(job_id, [JobStatus.SUBMITTING], JobStatus.RUNNING),
        jobs.transition(job_id, [JobStatus.SUBMITTING], JobStatus.RUNNING),
    )
    assert sorted([first, second]) == [False, True]
    reason = Reason(code="error.provider_rejected", params={"reason": "No face", "n": 2.5})
    assert await jobs.transition(job_id, [JobStatus.RUNNING], JobStatus.FAILED, reason=reason)
    job = await jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.finished_at is not None
    assert job.reason == reason
    assert job.error is None


async def test_resume_loads_only_jobs_with_work_at_start(db: Database) -> None:
    jobs = JobRepository(db)
    ids = [await _job(jobs) for _ in range(5)]  # all "preview" jobs
    await jobs.transition(ids[1], [JobStatus.SUBMITTING], JobStatus.SUCCEEDED)
    await jobs.transition(ids[2], [JobStatus.SUBMITTING], JobStatus.DELIVERED)
    await jobs.transition(ids[3], [JobStatus.SUBMITTING], JobStatus.FAILED)
    await jobs.transition(ids[4], [JobStatus.SUBMITTING], JobStatus.RUNNING)
    # A local provider's running job must be rendered again; a remote one needs nothing.
    assert [job.id for job in await jobs.to_resume([])] == [ids[0], ids[1], ids[4]]
    assert [job.id for job in await jobs.to_resume(["preview"])] == [ids[0], ids[1]]


async def test_a_delivery_is_claimed_once(db: Database) -> None:
    jobs = JobRepository(db)
    job_id = await _job(jobs)
    uploading, offered = DeliveryClaim.UPLOADING, DeliveryClaim.OFFERED
    assert not await jobs.claim_delivery(job_id, None, uploading)  # not succeeded yet
    await jobs.transition(job_id, [JobStatus.SUBMITTING], JobStatus.SUCCEEDED)
    claims = await asyncio.gather(*(jobs.claim_delivery(job_id, None, uploading) for _ in "ab"))
    assert sorted(claims) == [False, True]
    assert await jobs.claim_delivery(job_id, uploading, offered)
    assert not await jobs.claim_delivery(job_id, uploading, offered)
    job = await jobs.get(job_id)
    assert job is not None
    assert job.delivery is offered


async def test_resume_leaves_offered_videos_to_the_user(db: Database) -> None:
    jobs = JobRepository(db)
    ids = [await _job(jobs) for _ in range(3)]
    for job_id in ids:
        await jobs.transition(job_id, [JobStatus.SUBMITTING], JobStatus.SUCCEEDED)
    await jobs.claim_delivery(ids[1], None, DeliveryClaim.UPLOADING)  # interrupted upload
    await jobs.claim_delivery(ids[2], None, DeliveryClaim.UPLOADING)
    await jobs.claim_delivery(ids[2], DeliveryClaim.UPLOADING, DeliveryClaim.OFFERED)
    assert [job.id for job in await jobs.to_resume([])] == ids[:2]


async def test_recent_is_newest_first_and_per_user(db: Database) -> None:
    jobs = JobRepository(db)
    mine = [await _job(jobs, 7) for _ in range(12)]
    await _job(jobs, 8)
    assert [job.id for job in await jobs.recent(7)] == mine[::-1][:10]


async def test_update_refuses_unknown_columns(db: Database) -> None:
    jobs = JobRepository(db)
    job_id = await _job(jobs)
    with pytest.raises(ValueError, match="status"):
        await jobs.update(job_id, status="delivered")


async def test_users_are_written_only_when_something_changed(db: Database) -> None:
    clock = [0.0]
    users = UserRepository(db, clock=lambda: clock[0])
    facts: dict[str, Any] = {
        "first_name": "Ann",
        "username": "ann",
        "language_code": "en",
        "chat_id": 1,
        "chat_type": "private",
        "chat_title": None,
    }

    async def stamp() -> str:
        return str(await db.scalar("SELECT updated_at FROM users WHERE id = 1"))

    await users.seen(1, **facts)
    first = await stamp()
    await users.seen(1, **facts)
    assert await stamp() == first  # unchanged: no write
    await users.seen(1, **{**facts, "language_code": "pt-br"})
    assert await db.scalar("SELECT language_code FROM users WHERE id = 1") == "pt-br"
    await users.set_blocked(1)
    await users.seen(1, **{**facts, "language_code": "pt-br"})
    assert not await users.is_blocked(1)  # writing again clears the block
    changed = await stamp()
    clock[0] += 601
    await users.seen(1, **{**facts, "language_code": "pt-br"})
    assert await stamp() > changed  # refreshed after REFRESH_SECONDS


async def test_a_restored_draft_never_overwrites_a_newer_one(db: Database) -> None:
    drafts = DraftRepository(db)
    old = Draft(chat_id=1, user_id=2, token="old", step=Step.CONFIRM)
    assert await drafts.save_if_absent(old)
    await drafts.delete(1, 2)  # claimed by [Generate]
    await drafts.save(Draft(chat_id=1, user_id=2, token="new"))  # /new meanwhile
    assert not await drafts.save_if_absent(old)  # the refused order comes back too late
    kept = await drafts.get(1, 2)
    assert kept is not None
    assert kept.token == "new"
