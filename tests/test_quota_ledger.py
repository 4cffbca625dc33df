"""The quota ledger and JobStates on a real SQLite file: reserves never overdraw, every ending
moves the right seconds, and usage is the ledger's sum."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.jobs.states import JobStates
from bot.models import IN_FLIGHT, JobStatus, NewJob, Probe
from bot.quotas import Period, QuotaDefaults, QuotaExceeded, Quotas, TooManyActive
from storage import Database, JobRepository
from storage.ledger import LedgerRepository, Scope
from tests.job_rows import photo_order

ADMIN = 1


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 1, 23, 59, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.db")
    await database.migrate()
    yield database
    await database.close()


def make_states(
    db: Database,
    clock: Clock,
    *,
    user_daily: int = 30,
    group_daily: int = 100,
    user_monthly: int = 0,
    max_active: int = 1000,
    max_in_flight: int = 1000,
) -> tuple[JobStates, Quotas]:
    quotas = Quotas(
        db,
        LedgerRepository(),
        defaults=QuotaDefaults(user_daily, user_monthly, group_daily, 0),
        admins=frozenset({ADMIN}),
        clock=clock,
    )
    states = JobStates(
        db=db,
        repo=JobRepository(db),
        quotas=quotas,
        max_active_per_user=max_active,
        max_in_flight_per_provider=max_in_flight,
    )
    return states, quotas


async def submit(
    states: JobStates, user_id: int, seconds: float, *, chat_id: int | None = None
) -> int:
    voice = Probe(duration=seconds, has_audio=True)
    job = await states.create(
        NewJob(
            chat_id=user_id if chat_id is None else chat_id,
            user_id=user_id,
            chat_type="private" if chat_id is None else "supergroup",
            locale="en",
            provider="magichour",
            order=photo_order(
                "face.jpg",
                "voice.mp3",
                face_probe=Probe(duration=None, is_image=True),
                voice_probe=voice,
                ratio="9:16",
            ),
        ),
    )
    return job.id


async def used(db: Database, scope: Scope, owner: int) -> int:
    value = await db.scalar(
        "SELECT COALESCE(SUM(seconds), 0) FROM ledger WHERE scope = ? AND owner_id = ?",
        (scope, owner),
    )
    assert isinstance(value, int)
    return value


async def test_hundred_concurrent_submits_with_room_for_three(db: Database) -> None:
    states, _ = make_states(db, Clock(), user_daily=30)
    results = await asyncio.gather(
        *(submit(states, 7, 9.5) for _ in range(100)), return_exceptions=True
    )
    made = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert (len(made), len(refused)) == (3, 97)
    assert await db.scalar("SELECT COUNT(*) FROM jobs") == 3
    assert await used(db, Scope.USER, 7) == 30
    assert refused[0].needed == 10
    assert refused[0].allowance.left == 0


async def test_active_jobs_cap_holds_under_concurrency(db: Database) -> None:
    states, _ = make_states(db, Clock(), user_daily=0, max_active=2)
    results = await asyncio.gather(
        *(submit(states, 7, 1) for _ in range(20)), return_exceptions=True
    )
    assert sum(isinstance(r, int) for r in results) == 2
    assert all(isinstance(r, TooManyActive) for r in results if not isinstance(r, int))


async def test_refund_on_failure_commit_on_delivery(db: Database) -> None:
    states, quotas = make_states(db, Clock(), user_daily=30)
    failed = await submit(states, 7, 10)
    delivered = await submit(states, 7, 10)
    assert await used(db, Scope.USER, 7) == 20
    assert await states.move(failed, IN_FLIGHT, JobStatus.FAILED)
    assert not await states.move(failed, IN_FLIGHT, JobStatus.FAILED)  # once only
    assert await used(db, Scope.USER, 7) == 10
    assert await states.move(delivered, IN_FLIGHT, JobStatus.SUCCEEDED)
    # A shorter video than the voice: the user pays what was delivered, never more.
    assert await states.move(
        delivered, [JobStatus.SUCCEEDED], JobStatus.DELIVERED, video_seconds=7.6
    )
    assert await used(db, Scope.USER, 7) == 8
    kinds = [row[0] for row in await db.fetchall("SELECT kind FROM ledger ORDER BY id")]
    assert kinds == ["reserve", "reserve", "refund", "commit"]
    (allowance,) = await quotas.allowances(7, 7, "private")
    assert (allowance.limit, allowance.used, allowance.left) == (30, 8, 22)


async def test_group_job_draws_on_both_and_pool_can_refuse(db: Database) -> None:
    states, quotas = make_states(db, Clock(), user_daily=100, group_daily=15)
    await submit(states, 7, 10, chat_id=-100)
    with pytest.raises(QuotaExceeded) as refused:
        await submit(states, 8, 10, chat_id=-100)  # user 8 has room; the pool does not
    assert refused.value.allowance.scope == "group"
    assert (await used(db, Scope.USER, 7), await used(db, Scope.GROUP, -100)) == (10, 10)
    await quotas.set_group_limits(-100, daily=100, member_daily=12)
    with pytest.raises(QuotaExceeded) as refused:
        await submit(states, 7, 5, chat_id=-100)  # 7 already used 10 of a 12 s share
    assert refused.value.allowance.scope == "member"
    await submit(states, 8, 5, chat_id=-100)


async def test_day_rollover_and_refund_goes_to_the_day_reserved(db: Database) -> None:
    clock = Clock()
    states, quotas = make_states(db, clock, user_daily=10)
    job = await submit(states, 7, 10)
    with pytest.raises(QuotaExceeded) as refused:
        await submit(states, 7, 1)
    assert refused.value.allowance.resets_at == datetime(2026, 12, 2, tzinfo=UTC)
    clock.at += timedelta(minutes=2)  # past midnight UTC
    second = await submit(states, 7, 10)
    # The first job fails after midnight: its refund restores yesterday, not today.
    await states.move(job, IN_FLIGHT, JobStatus.FAILED)
    (today,) = await quotas.allowances(7, 7, "private")
    assert (today.used, today.left) == (10, 0)
    await states.move(second, IN_FLIGHT, JobStatus.CANCELED)
    (today,) = await quotas.allowances(7, 7, "private")
    assert today.left == 10


async def test_admins_unlimited_unless_they_limit_themselves(db: Database) -> None:
    states, quotas = make_states(db, Clock(), user_daily=5, group_daily=5)
    for _ in range(3):
        await submit(states, ADMIN, 20, chat_id=-100)
    assert await used(db, Scope.USER, ADMIN) == 60  # still counted
    await quotas.set_user_limit(ADMIN, Period.DAY, 70)
    with pytest.raises(QuotaExceeded):
        await submit(states, ADMIN, 20)


async def test_grant_and_monthly_limit(db: Database) -> None:
    states, quotas = make_states(db, Clock(), user_daily=10, user_monthly=15)
    await submit(states, 7, 10)
    with pytest.raises(QuotaExceeded) as refused:
        await submit(states, 7, 10)
    assert refused.value.allowance.period is Period.DAY
    await quotas.grant(7, 20, by=ADMIN)  # extra for today, so for this month too
    await submit(states, 7, 10)
    await submit(states, 7, 5)
    with pytest.raises(QuotaExceeded) as refused:
        await submit(states, 7, 10)  # day: 5 left (10 + 20 - 25); month: 10 left
    assert (refused.value.allowance.period, refused.value.allowance.left) == (Period.DAY, 5)
    await quotas.set_user_limit(7, Period.MONTH, 0)
    with pytest.raises(QuotaExceeded) as refused:
        await submit(states, 7, 1)
    assert refused.value.allowance.period is Period.MONTH


async def test_waiting_line_when_provider_full(db: Database) -> None:
    states, _ = make_states(db, Clock(), user_daily=0, max_in_flight=2)
    ids = [await submit(states, user, 1) for user in (1, 2, 3, 4)]
    rows = await db.fetchall("SELECT id, status FROM jobs ORDER BY id")
    assert [row["status"] for row in rows] == ["submitting", "submitting", "waiting", "waiting"]
    assert await states.admit_next("magichour") is None  # still full
    await states.move(ids[0], IN_FLIGHT, JobStatus.FAILED)
    admitted = await states.admit_next("magichour")
    assert admitted is not None
    assert admitted.id == ids[2]
    assert await states.admit_next("magichour") is None
