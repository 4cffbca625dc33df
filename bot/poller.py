"""The polling fallback: asks providers about jobs whose webhook has not come (or never
will, without PUBLIC_URL), and gives up on jobs past their deadline.

Restart-safe by construction: the schedule lives in the jobs table (``next_poll_at``), not
in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.errors import ProviderError, ProviderRejected, ProviderUnavailable
from bot.health import ProviderHealth
from bot.i18n import Translator
from bot.jobs import JobService, expired
from bot.models import Job, JobStatus, ProviderEvent, RemoteJob
from bot.providers import Provider, RemoteProvider
from storage import JobRepository
from storage.db import now

log = logging.getLogger(__name__)

#: Jobs read per round, and polled at once.
BATCH = 200
CONCURRENCY = 16
#: Longest wait between polls of a job whose provider keeps failing.
MAX_BACKOFF_SECONDS = 600


class Poller:
    def __init__(
        self,
        *,
        repo: JobRepository,
        jobs: JobService,
        providers: Mapping[str, Provider],
        health: ProviderHealth,
        translator: Translator,
        idle_seconds: float,
    ) -> None:
        self._repo = repo
        self._jobs = jobs
        self._providers = providers
        self._health = health
        self._t = translator
        self._idle = idle_seconds
        self._wake = asyncio.Event()

    async def poll_once(self, at: datetime | None = None) -> int:
        """Poll every job that is due. Returns how many were looked at."""
        at = at or now()
        due = await self._repo.due_for_poll(at, BATCH)
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(job: Job) -> None:
            async with limit:
                await self._poll(job, at)

        await asyncio.gather(*(one(job) for job in due))
        return len(due)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set, sleeping until the next job is due."""
        while not stop.is_set():
            try:
                polled = await self.poll_once()
            except Exception:
                log.exception("Polling round failed")
                polled = 0
            if polled >= BATCH:
                continue  # more are due right now
            wait = await self._until_next()
            self._wake.clear()
            stop_task = asyncio.ensure_future(stop.wait())
            wake_task = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait(
                {stop_task, wake_task}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            stop_task.cancel()
            wake_task.cancel()

    def wake(self) -> None:
        """A job was scheduled earlier than the loop knows (e.g. just submitted)."""
        self._wake.set()

    async def _until_next(self) -> float:
        upcoming = await self._repo.next_poll_time()
        if upcoming is None:
            return self._idle
        return max(0.0, min(self._idle, (upcoming - now()).total_seconds()))

    async def _poll(self, job: Job, at: datetime) -> None:
        if expired(job, at):
            await self._jobs.settle(
                ProviderEvent(
                    job_id=job.id,
                    status=JobStatus.EXPIRED,
                    error=self._t.t(
                        job.locale,
                        "error.expired",
                        provider=self._t.t(job.locale, f"provider.{job.provider}"),
                    ),
                )
            )
            return
        provider = self._providers.get(job.provider)
        if not isinstance(provider, RemoteProvider) or job.provider_job_id is None:
            # Nothing to ask (mid-submit, or a local job): look again at the deadline.
            await self._repo.update(
                job.id, next_poll_at=job.deadline_at or at + timedelta(hours=1)
            )
            return
        interval = self._jobs.poll_interval(provider)
        try:
            remote = await provider.fetch(job.provider_job_id)
        except ProviderRejected as exc:
            # The provider says the job does not exist (404) or cannot be read: it is lost.
            log.warning("Job %d: %s cannot read it: %s", job.id, job.provider, exc)
            await self._jobs.settle(self._jobs.event(job, _failed(job.provider_job_id, exc)))
            return
        except ProviderError as exc:
            await self._health.failed(exc)
            failures = job.poll_failures + 1
            wait = min(MAX_BACKOFF_SECONDS, interval * 2**failures)
            if isinstance(exc, ProviderUnavailable) and exc.retry_after is not None:
                wait = max(wait, exc.retry_after)
            log.info("Job %d: poll failed (%s); next in %.1fs", job.id, exc, wait)
            await self._repo.update(
                job.id, poll_failures=failures, next_poll_at=at + timedelta(seconds=wait)
            )
            return
        await self._health.succeeded(provider.name)
        await self._repo.update(
            job.id, poll_failures=0, next_poll_at=at + timedelta(seconds=interval)
        )
        await self._jobs.settle(self._jobs.event(job, remote))


def _failed(provider_job_id: str, exc: ProviderError) -> RemoteJob:
    return RemoteJob(provider_job_id=provider_job_id, status=JobStatus.FAILED, error=exc.reason)
