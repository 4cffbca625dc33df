"""Jobs: one row per video, moved between states only by compare-and-set."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import aiosqlite

from bot.models import TERMINAL, DeliveryClaim, Job, JobStatus, NewJob, Order, Reason
from storage.db import Database, Executor, now

_COLUMNS = (
    "status_message_id",
    "provider_job_id",
    "progress",
    "error",
    "reason",
    "started_at",
    "output_path",
    "output_url",
    "result_file_id",
    "credits",
    "submit_started_at",
    "submit_key",
    "deadline_at",
    "next_poll_at",
    "poll_failures",
)


class JobRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        new: NewJob,
        *,
        status: JobStatus = JobStatus.SUBMITTING,
        seconds: int | None = None,
        tx: Executor | None = None,
    ) -> Job:
        """Insert a job (``submitting``, or ``waiting`` in line); returns it."""
        ex = tx or self._db
        stamp = now().isoformat()
        job_id = await ex.insert(
            """
            INSERT INTO jobs (chat_id, user_id, chat_type, locale, provider, status, order_data,
                seconds, created_at, updated_at, started_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                new.chat_id,
                new.user_id,
                new.chat_type,
                new.locale,
                new.provider,
                status,
                new.order.model_dump_json(),
                seconds,
                stamp,
                stamp,
                None if status is JobStatus.WAITING else stamp,
            ),
        )
        job = await self.get(job_id, tx=ex)
        assert job is not None
        return job

    async def get(self, job_id: int, *, tx: Executor | None = None) -> Job | None:
        row = await (tx or self._db).fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _to_job(row)

    async def count_active(self, ex: Executor, user_id: int) -> int:
        """The user's jobs waiting in line, being submitted, queued or rendering (any chat)."""
        value = await ex.scalar(
            """
            SELECT COUNT(*) FROM jobs
            WHERE user_id = ? AND status IN ('waiting', 'submitting', 'queued', 'running')
            """,
            (user_id,),
        )
        return int(value) if isinstance(value, int) else 0

    async def count_in_flight(self, ex: Executor, provider: str) -> int:
        """Jobs ``provider`` is working on (or being handed): what PROVIDER_MAX_ACTIVE_JOBS
        caps."""
        value = await ex.scalar(
            """
            SELECT COUNT(*) FROM jobs
            WHERE provider = ? AND status IN ('submitting', 'queued', 'running')
            """,
            (provider,),
        )
        return int(value) if isinstance(value, int) else 0

    async def first_waiting(self, ex: Executor, provider: str) -> Job | None:
        """The job first in line for ``provider``."""
        row = await ex.fetchone(
            "SELECT * FROM jobs WHERE status = 'waiting' AND provider = ? ORDER BY id LIMIT 1",
            (provider,),
        )
        return None if row is None else _to_job(row)

    async def waiting(self, provider: str | None = None) -> list[Job]:
        """Jobs waiting in line (for one provider, or all), first in line first."""
        sql = "SELECT * FROM jobs WHERE status = 'waiting'"
        params: list[object] = []
        if provider is not None:
            sql += " AND provider = ?"
            params.append(provider)
        rows = await self._db.fetchall(sql + " ORDER BY id", params)
        return [_to_job(row) for row in rows]

    async def place_in_line(self, job: Job) -> int:
        """1 for the next job ``job.provider`` takes, 2 for the one after..."""
        value = await self._db.scalar(
            "SELECT COUNT(*) FROM jobs WHERE status = 'waiting' AND provider = ? AND id <= ?",
            (job.provider, job.id),
        )
        return int(value) if isinstance(value, int) else 0

    async def recent(self, user_id: int, limit: int = 10) -> list[Job]:
        """The user's newest jobs, newest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM jobs WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit)
        )
        return [_to_job(row) for row in rows]

    async def active(self, chat_id: int, user_id: int) -> list[Job]:
        """The user's jobs in this chat that are not finished yet (not even made), oldest
        first, waiting ones included."""
        rows = await self._db.fetchall(
            """
            SELECT * FROM jobs
            WHERE user_id = ? AND chat_id = ?
                AND status IN ('waiting', 'submitting', 'queued', 'running')
            ORDER BY id
            """,
            (user_id, chat_id),
        )
        return [_to_job(row) for row in rows]

    async def to_resume(self, remote_providers: Collection[str]) -> list[Job]:
        """Jobs a restart must act on: not yet submitted, made but not delivered (unless the
        user was offered a [Get my video] button: that waits for the user), or being made by a
        local provider. Jobs a remote provider is working on need nothing at start (their
        webhook or poll brings the news) and are not loaded.
        """
        marks = ",".join("?" * len(remote_providers)) or "''"
        rows = await self._db.fetchall(
            f"""
            SELECT * FROM jobs INDEXED BY jobs_by_status
            WHERE status = 'submitting'
               OR (status = 'succeeded' AND delivery IS NOT 'offered')
               OR (status IN ('queued', 'running') AND provider NOT IN ({marks}))
            ORDER BY id
            """,
            list(remote_providers),
        )
        return [_to_job(row) for row in rows]

    async def by_provider_job(self, provider: str, provider_job_id: str) -> Job | None:
        row = await self._db.fetchone(
            "SELECT * FROM jobs WHERE provider = ? AND provider_job_id = ?",
            (provider, provider_job_id),
        )
        return None if row is None else _to_job(row)

    async def due_for_poll(self, now: datetime, limit: int) -> list[Job]:
        """In-flight jobs whose next poll time has come, most overdue first."""
        rows = await self._db.fetchall(
            """
            SELECT * FROM jobs INDEXED BY jobs_due_for_poll
            WHERE status IN ('submitting', 'queued', 'running') AND next_poll_at <= ?
            ORDER BY next_poll_at LIMIT ?
            """,
            (now.isoformat(), limit),
        )
        return [_to_job(row) for row in rows]

    async def reschedule(self, schedule: list[tuple[int, datetime, int]]) -> None:
        """Set (job id, next poll time, consecutive poll failures) for many jobs at once."""
        if not schedule:
            return
        async with self._db.transaction() as tx:
            await tx.executemany(
                "UPDATE jobs SET next_poll_at = ?, poll_failures = ? WHERE id = ?",
                [(at.isoformat(), failures, job_id) for job_id, at, failures in schedule],
            )

    async def next_poll_time(self) -> datetime | None:
        """When the earliest scheduled poll is due, if any."""
        value = await self._db.scalar(
            """
            SELECT MIN(next_poll_at) FROM jobs INDEXED BY jobs_due_for_poll
            WHERE status IN ('submitting', 'queued', 'running') AND next_poll_at IS NOT NULL
            """
        )
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    async def in_flight_by_provider(self) -> dict[str, int]:
        """How many jobs each provider is working on."""
        rows = await self._db.fetchall(
            """
            SELECT provider, COUNT(*) AS n FROM jobs
            WHERE status IN ('submitting', 'queued', 'running') GROUP BY provider
            """
        )
        return {row["provider"]: row["n"] for row in rows}

    async def transition(
        self,
        job_id: int,
        allowed_from: Collection[JobStatus],
        to: JobStatus,
        *,
        tx: Executor | None = None,
        **fields: Any,
    ) -> bool:
        """Move a job to ``to`` only if it is in one of ``allowed_from`` (compare-and-set).

        Returns:
            Whether this call made the change; False means another path got there first.
        """
        sets, params = _assignments(fields)
        stamp = now().isoformat()
        sets += ["status = ?", "updated_at = ?"]
        params += [to, stamp]
        if to in TERMINAL:
            sets.append("finished_at = ?")
            params.append(stamp)
        marks = ",".join("?" * len(allowed_from))
        changed = await (tx or self._db).execute(
            f"UPDATE jobs SET {', '.join(sets)} WHERE id = ? AND status IN ({marks})",
            [*params, job_id, *allowed_from],
        )
        return changed == 1

    async def claim_delivery(
        self, job_id: int, expected: DeliveryClaim | None, to: DeliveryClaim | None
    ) -> bool:
        """Move a succeeded job's delivery claim from ``expected`` to ``to`` (compare-and-set).

        Returns:
            Whether this call made the change; False means another path got there first, or
            the job is no longer ``succeeded``.
        """
        changed = await self._db.execute(
            """
            UPDATE jobs SET delivery = ?, updated_at = ?
            WHERE id = ? AND status = 'succeeded' AND delivery IS ?
            """,
            (to, now().isoformat(), job_id, expected),
        )
        return changed == 1

    async def update(self, job_id: int, **fields: Any) -> None:
        """Change bookkeeping fields (progress, message ids...) without touching the status."""
        sets, params = _assignments(fields)
        sets.append("updated_at = ?")
        params.append(now().isoformat())
        await self._db.execute(
            f"UPDATE jobs SET {', '.join(sets)} WHERE id = ?", [*params, job_id]
        )


def _assignments(fields: dict[str, Any]) -> tuple[list[str], list[Any]]:
    unknown = set(fields) - set(_COLUMNS)
    if unknown:
        raise ValueError(f"not updatable job fields: {sorted(unknown)}")
    values = [_stored(value) for value in fields.values()]
    return [f"{name} = ?" for name in fields], values


def _stored(value: Any) -> Any:
    """A field value as its column holds it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Reason):
        return value.model_dump_json()
    return value


def _to_job(row: aiosqlite.Row) -> Job:
    data = dict(row)
    data["order"] = Order.model_validate_json(data.pop("order_data"))
    if data.get("reason"):
        data["reason"] = Reason.model_validate_json(data["reason"])
    return Job.model_validate(data)
