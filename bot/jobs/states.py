"""Job state changes that move quota, each in one transaction with its ledger rows: a new job
reserves its price, an ending without a video refunds it, a delivery commits it (design §3).

Every change that takes a job out of the provider's hands goes through :meth:`JobStates.move`,
which also tells the waiting line that a place may have opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

from bot.models import IN_FLIGHT, REFUNDED, Job, JobStatus, NewJob
from bot.quotas import Quotas, TooManyActive, price
from storage import JobRepository
from storage.db import Database, Transaction, now
from storage.ledger import LedgerRepository

log = logging.getLogger(__name__)


class JobStates:
    def __init__(
        self,
        *,
        db: Database,
        repo: JobRepository,
        quotas: Quotas,
        max_active_per_user: int,
        max_in_flight_per_provider: int,
    ) -> None:
        self._db = db
        self._repo = repo
        self._quotas = quotas
        self._ledger = LedgerRepository()
        self._max_active = max_active_per_user
        self._max_in_flight = max_in_flight_per_provider
        self._on_freed: Callable[[str], None] = lambda provider: None

    def when_freed(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(provider)`` after a job leaves the provider's hands or the line."""
        self._on_freed = callback

    async def create(self, new: NewJob) -> Job:
        """A new job with its price reserved, in line when the provider is full.

        One transaction decides: the user's (and group's) allowance is locked first, so
        concurrent submits can never overdraw it nor exceed the active-jobs cap.

        Raises:
            TooManyActive: the user already has USER_MAX_ACTIVE_JOBS jobs on the go.
            QuotaExceeded: not enough seconds left.
        """
        seconds = price(new.order.seconds)
        async with self._db.transaction() as tx:
            await self._quotas.lock(tx, new.user_id, new.chat_id, new.chat_type)
            if await self._repo.count_active(tx, new.user_id) >= self._max_active:
                raise TooManyActive(self._max_active)
            await self._lock_provider(tx, new.provider)
            # First come, first served: while others wait, a new job waits behind them.
            full = await self._repo.count_in_flight(tx, new.provider) >= self._max_in_flight
            queue = await self._repo.first_waiting(tx, new.provider) is not None
            job = await self._repo.create(
                new,
                status=JobStatus.WAITING if full or queue else JobStatus.SUBMITTING,
                seconds=seconds,
                tx=tx,
            )
            await self._quotas.reserve(tx, job, seconds)
        return job

    async def move(
        self,
        job_id: int,
        allowed_from: Collection[JobStatus],
        to: JobStatus,
        *,
        video_seconds: float | None = None,
        **fields: Any,
    ) -> bool:
        """Compare-and-set a job to ``to`` with the quota movement it means: a refund when
        it ends without a video, a commit at ``video_seconds`` when it is delivered.

        Returns:
            Whether this call made the change.
        """
        async with self._db.transaction() as tx:
            changed = await self._repo.transition(job_id, allowed_from, to, tx=tx, **fields)
            if changed and to in REFUNDED:
                await self._quotas.refund(tx, job_id, why=str(to))
            elif changed and to is JobStatus.DELIVERED:
                await self._quotas.commit(tx, job_id, video_seconds)
            provider = (
                await tx.scalar("SELECT provider FROM jobs WHERE id = ?", (job_id,))
                if changed and to not in IN_FLIGHT
                else None
            )
        if isinstance(provider, str):
            self._on_freed(provider)
        return changed

    async def admit_next(self, provider: str) -> Job | None:
        """Move the first job waiting for ``provider`` to ``submitting`` if the provider has
        room; returns it (None: full, or nobody waiting)."""
        if await self._repo.first_waiting(self._db, provider) is None:
            return None  # the usual case, answered by a read: no write transaction
        async with self._db.transaction() as tx:
            await self._lock_provider(tx, provider)
            if await self._repo.count_in_flight(tx, provider) >= self._max_in_flight:
                return None
            job = await self._repo.first_waiting(tx, provider)
            if job is None:
                return None
            started = now()
            if not await self._repo.transition(
                job.id, [JobStatus.WAITING], JobStatus.SUBMITTING, tx=tx, started_at=started
            ):
                return None
        log.info("Job %d left the line for %s", job.id, provider)
        return job.model_copy(update={"status": JobStatus.SUBMITTING, "started_at": started})

    async def _lock_provider(self, tx: Transaction, provider: str) -> None:
        """Hold the provider's line until ``tx`` ends, so that two instances never both
        take its last place (SQLite's write lock does this already; PostgreSQL needs the
        row lock)."""
        await self._ledger.lock(tx, f"provider:{provider}", 0)
