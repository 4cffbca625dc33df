"""The polling fallback: asks providers about jobs whose webhook has not come (or never
will, without PUBLIC_URL), and gives up on jobs past their deadline.

Restart-safe by construction: the schedule lives in the jobs table (``next_poll_at``), not
in memory. Work is done in rounds: every due job is asked at once (a bounded number in
flight), then the new schedule is written in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import ProviderError, ProviderRejected, ProviderUnavailable
from bot.health import ProviderHealth
from bot.models import Job, JobStatus, RemoteJob
from bot.providers import Provider, RemoteProvider
from bot.tasks import Busy
from storage import JobRepository
from storage.db import now

if TYPE_CHECKING:  # the service uses this module's PollPolicy
    from bot.jobs.service import JobService

log = logging.getLogger(__name__)

#: Jobs read per round.
BATCH = 500
#: Polls in flight at once: a quarter of a provider's request slots (providers.http), so a
#: webhook confirmation never queues behind a round of polls (bench/inflight_jobs.py).
CONCURRENCY = 4
#: Shortest pause between rounds: due jobs gather into one round instead of one round each.
MIN_PAUSE_SECONDS = 0.5
#: Longest a poll waits for webhook confirmations and deliveries to finish first.
YIELD_SECONDS = 2.0
#: Longest wait between polls of a job whose provider keeps failing.
MAX_BACKOFF_SECONDS = 600
#: With webhooks on, each job is still polled, this many times less often.
WEBHOOK_POLL_FACTOR = 6

#: (job id, next poll time, consecutive failures)
Schedule = tuple[int, datetime, int]


@dataclass(frozen=True)
class PollPolicy:
    """How often one job is polled."""

    #: POLL_INTERVAL_SECONDS.
    base_seconds: float
    #: Whether providers post webhooks (the bot has a PUBLIC_URL).
    webhooks: bool

    def interval(self, provider: RemoteProvider) -> float:
        """Seconds between polls of one job: slower when webhooks carry the news (providers
        retry undelivered webhooks themselves; polling is then only the safety net)."""
        interval = self.base_seconds * provider.poll_factor
        return interval * WEBHOOK_POLL_FACTOR if self.webhooks else interval


class Poller:
    def __init__(
        self,
        *,
        repo: JobRepository,
        jobs: JobService,
        providers: Mapping[str, Provider],
        health: ProviderHealth,
        policy: PollPolicy,
        busy: Busy,
    ) -> None:
        self._repo = repo
        self._jobs = jobs
        self._providers = providers
        self._health = health
        self._policy = policy
        self._busy = busy
        self._idle = policy.base_seconds

    async def poll_once(self, at: datetime | None = None) -> int:
        """Poll every job that is due. Returns how many were looked at."""
        at = at or now()
        due = await self._repo.due_for_poll(at, BATCH)
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(job: Job) -> Schedule | None:
            async with limit:
                await self._busy.quiet(YIELD_SECONDS)
                try:
                    return await self._poll(job, at)
                except Exception as exc:
                    # One job's trouble (a bug, a database hiccup) never costs the others
                    # their new poll times: it is looked at again later, like a failed poll.
                    failures = job.poll_failures + 1
                    wait = backoff(self._policy.base_seconds, failures, None)
                    log.error(
                        "Job %d: polling it failed (%s); next in %.0fs",
                        job.id,
                        type(exc).__name__,
                        wait,
                    )
                    return (job.id, at + timedelta(seconds=wait), failures)

        schedule = await asyncio.gather(*(one(job) for job in due))
        await self._repo.reschedule([entry for entry in schedule if entry is not None])
        return len(due)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set, sleeping until the next job is due."""
        while not stop.is_set():
            try:
                polled = await self.poll_once()
            except Exception as exc:  # the schedule could not be read or written
                log.error("Polling round failed (%s); trying again", type(exc).__name__)
                polled = 0
            wait = 0.0 if polled >= BATCH else await self._until_next()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(MIN_PAUSE_SECONDS, wait))

    async def _until_next(self) -> float:
        upcoming = await self._repo.next_poll_time()
        if upcoming is None:
            return self._idle
        return max(0.0, min(self._idle, (upcoming - now()).total_seconds()))

    async def _poll(self, job: Job, at: datetime) -> Schedule | None:
        """Ask about one job; returns its new schedule (None when it has ended)."""
        if expired(job, at):
            if unclaimed(job):
                await self._jobs.give_up_unclaimed(job)
            else:
                await self._jobs.settle(
                    self._jobs.failure(job, "error.expired", status=JobStatus.EXPIRED)
                )
            return None
        provider = self._providers.get(job.provider)
        if not isinstance(provider, RemoteProvider) or job.provider_job_id is None:
            # Nothing to ask (mid-submit, or a local job): look again at the deadline.
            return (job.id, job.deadline_at or at + timedelta(hours=1), job.poll_failures)
        interval = self._policy.interval(provider)
        try:
            remote = await provider.fetch(job.provider_job_id)
        except ProviderRejected as exc:
            # The provider says the job does not exist (404) or cannot be read: it is lost.
            log.warning("Job %d: %s cannot read it: %s", job.id, job.provider, exc)
            await self._jobs.settle(self._jobs.event(job, _failed(job.provider_job_id, exc)))
            return None
        except ProviderError as exc:
            await self._health.failed(exc)
            failures = job.poll_failures + 1
            hint = exc.retry_after if isinstance(exc, ProviderUnavailable) else None
            wait = backoff(interval, failures, hint)
            log.info("Job %d: poll failed (%s); next in %.1fs", job.id, exc, wait)
            return (job.id, at + timedelta(seconds=wait), failures)
        await self._health.succeeded(provider.name)
        await self._jobs.settle(self._jobs.event(job, remote), job)
        return (job.id, at + timedelta(seconds=interval), 0)


def backoff(interval: float, failures: int, retry_after: float | None) -> float:
    """Seconds until the next poll after ``failures`` failed polls in a row: doubling from
    ``interval``, at least the provider's ``retry_after``, never over MAX_BACKOFF_SECONDS
    (an endless or unreadable hint means the longest wait, never an overflow)."""
    wait = interval * 2.0 ** min(failures, 32)
    if retry_after is not None:
        wait = max(wait, MAX_BACKOFF_SECONDS if math.isnan(retry_after) else retry_after)
    return min(MAX_BACKOFF_SECONDS, wait)


def _failed(provider_job_id: str, exc: ProviderError) -> RemoteJob:
    return RemoteJob(provider_job_id=provider_job_id, status=JobStatus.FAILED, error=exc.reason)


def expired(job: Job, at: datetime) -> bool:
    """Whether ``job`` has passed its overall deadline."""
    return job.deadline_at is not None and at >= job.deadline_at


def unclaimed(job: Job) -> bool:
    """Whether ``job``'s create was sent (or may have been) without an answer naming it: it
    waits for a webhook to claim it, and nothing else can find it."""
    return (
        job.status is JobStatus.SUBMITTING
        and job.submit_started_at is not None
        and job.provider_job_id is None
    )
