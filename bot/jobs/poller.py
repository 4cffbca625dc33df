"""The polling fallback: asks providers about jobs whose webhook has not come (or never
will, without PUBLIC_URL), and gives up on jobs past their deadline.

Restart-safe by construction: the schedule lives in the jobs table (``next_poll_at``), not
in memory. Work is done in rounds: every due job is asked at once (a bounded number in
flight), then the new schedule is written in one transaction.

Where a provider can read many jobs in one request (``batch_size > 1``), its due jobs are
read ``batch_size`` at a time with ``fetch_many``; each answer then takes the same path as a
single read's. A failed list backs off every job it carried, as a failed read backs off its
one job; a job the list leaves out is read alone (the list may lag, or hold an item the
vendor module cannot read).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Mapping, Sequence
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
#: After a full round (more are due) it paces the provider: BATCH requests per pause, so a
#: round whose jobs were read in lists pauses as much less as it made fewer requests.
MIN_PAUSE_SECONDS = 0.5
#: Longest a poll waits for webhook confirmations and deliveries to finish first.
YIELD_SECONDS = 2.0
#: Longest wait between polls of a job whose provider keeps failing.
MAX_BACKOFF_SECONDS = 600
#: With webhooks on, each job is still polled, this many times less often.
WEBHOOK_POLL_FACTOR = 6
#: How long a resend of a keyed create has before a round may start it again: longer than a
#: create's four tries at a minute's read timeout (one running is never started twice; this
#: is the next time should it end without writing one).
RESEND_LEASE_SECONDS = 300

#: (job id, next poll time, consecutive failures)
Schedule = tuple[int, datetime, int]


@dataclass(frozen=True)
class PollPolicy:
    """How often one job is polled."""

    #: POLL_INTERVAL_SECONDS.
    base_seconds: float
    #: Whether webhooks can reach the bot (it has a PUBLIC_URL).
    webhooks: bool

    def interval(self, provider: RemoteProvider) -> float:
        """Seconds between polls of one job: slower when webhooks carry the news (providers
        retry undelivered webhooks themselves; polling is then only the safety net)."""
        interval = self.base_seconds * provider.poll_factor
        if self.webhooks and provider.posts_webhooks:
            return interval * WEBHOOK_POLL_FACTOR
        return interval


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
        #: Providers whose list reads went wrong already (refused, or naming none of the
        #: jobs asked for): said once, not every round.
        self._list_trouble: set[str] = set()
        #: Reads in the current (or last) round: one per job read alone, one per list.
        self._reads = 0

    async def poll_once(self, at: datetime | None = None) -> int:
        """Poll every job that is due. Returns how many were looked at."""
        at = at or now()
        self._reads = 0
        due = await self._repo.due_for_poll(at, BATCH)
        limit = asyncio.Semaphore(CONCURRENCY)
        alone: list[Job] = []
        listed: dict[str, list[Job]] = {}
        for job in due:
            provider = self._providers.get(job.provider)
            if (
                isinstance(provider, RemoteProvider)
                and job.provider_job_id is not None
                and provider.listed(job.provider_job_id)
                and not expired(job, at)
            ):
                listed.setdefault(job.provider, []).append(job)
            else:
                # Read alone, as always: no batched reads for it (Creatify's v1 and Aurora
                # jobs), or nothing to ask (an expired job is given up, one not yet
                # submitted waits for its deadline).
                alone.append(job)
        work = [self._one(limit, job, at) for job in alone]
        for name, jobs in listed.items():
            provider = self._providers[name]
            assert isinstance(provider, RemoteProvider)
            size = provider.batch_size
            work += [
                self._chunk(limit, provider, jobs[start : start + size], at)
                for start in range(0, len(jobs), size)
            ]
        entries = [entry for part in await asyncio.gather(*work) for entry in part]
        await self._repo.reschedule([entry for entry in entries if entry is not None])
        return len(due)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set, sleeping until the next job is due."""
        while not stop.is_set():
            try:
                polled = await self.poll_once()
            except Exception as exc:  # the schedule could not be read or written
                log.error("Polling round failed (%s); trying again", type(exc).__name__)
                polled = 0
            if polled >= BATCH:
                # More are due: a round of BATCH single reads pauses MIN_PAUSE_SECONDS; one
                # read in lists made a hundredth of the requests, and without this 10,000
                # Creatify jobs would wait 20 pauses per cycle (bench/creatify_polling.py).
                wait = MIN_PAUSE_SECONDS * min(1.0, self._reads / BATCH)
            else:
                wait = max(MIN_PAUSE_SECONDS, await self._until_next())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def _until_next(self) -> float:
        upcoming = await self._repo.next_poll_time()
        if upcoming is None:
            return self._idle
        return max(0.0, min(self._idle, (upcoming - now()).total_seconds()))

    async def _one(
        self, limit: asyncio.Semaphore, job: Job, at: datetime
    ) -> list[Schedule | None]:
        """Poll ``job`` alone, holding one of the round's request slots."""
        async with limit:
            await self._busy.quiet(YIELD_SECONDS)
            self._reads += 1
            return [await self._guarded(job, at, self._poll(job, at))]

    async def _chunk(
        self, limit: asyncio.Semaphore, provider: RemoteProvider, jobs: Sequence[Job], at: datetime
    ) -> list[Schedule | None]:
        """Read ``jobs`` (due, not expired, each with a provider job id) in one request, then
        settle each; returns their new schedules."""
        found: dict[str, RemoteJob] = {}
        async with limit:
            await self._busy.quiet(YIELD_SECONDS)
            self._reads += 1
            try:
                found = await provider.fetch_many([job.provider_job_id or "" for job in jobs])
            except ProviderRejected as exc:
                # A "no" to the whole list (a filter the API does not take, one id it
                # refuses) says nothing about any one job: each is read alone below, where
                # a "not found" loses only that job.
                self._list_failed(provider, f"it refused a list of {len(jobs)} jobs: {exc}")
            except ProviderError as exc:
                await self._health.failed(exc)
                log.info("Polling %d %s jobs failed (%s)", len(jobs), provider.name, exc)
                return [self._retry(job, provider, exc, at) for job in jobs]
            except Exception as exc:  # a bug in the vendor module: as for one job's trouble
                log.error("Polling %d %s jobs failed (%s)", len(jobs), provider.name, exc)
                return [_trouble(job, at, self._policy.base_seconds) for job in jobs]
            else:
                await self._health.succeeded(provider.name)
                if not found:
                    self._list_failed(provider, f"a list of {len(jobs)} jobs named none of them")
        schedule: list[Schedule | None] = []
        unread: list[Job] = []
        for job in jobs:
            remote = found.get(job.provider_job_id or "")
            if remote is None or remote.provider_job_id != job.provider_job_id:
                unread.append(job)
            else:
                schedule.append(
                    await self._guarded(job, at, self._news(job, provider, remote, at))
                )
        for part in await asyncio.gather(*(self._one(limit, job, at) for job in unread)):
            schedule += part
        return schedule

    def _list_failed(self, provider: RemoteProvider, what: str) -> None:
        """Warn (once per provider) that its list reads do not work: every job is then read
        alone, which costs one request per job, as without batched reads."""
        if provider.name not in self._list_trouble:
            self._list_trouble.add(provider.name)
            log.warning("%s: %s; reading those jobs one by one", provider.name, what)

    async def _guarded(
        self, job: Job, at: datetime, work: Awaitable[Schedule | None]
    ) -> Schedule | None:
        """``work``'s schedule for ``job``; if it raises, ``job`` is looked at again later."""
        try:
            return await work
        except Exception as exc:
            # One job's trouble (a bug, a database hiccup) never costs the others their new
            # poll times: it is looked at again later, like a failed poll.
            entry = _trouble(job, at, self._policy.base_seconds)
            wait = (entry[1] - at).total_seconds()
            log.error(
                "Job %d: polling it failed (%s); next in %.0fs", job.id, type(exc).__name__, wait
            )
            return entry

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
        if isinstance(provider, RemoteProvider) and resendable(job, provider):
            # Its keyed create got no answer: send it again, in a task of its own (a resend
            # can take minutes: four tries at a minute's read timeout, and no round waits
            # for it), which writes the job's next time itself; this round writes none.
            # Until then a lease keeps later rounds from starting another.
            await self._jobs.send_again(job, at + timedelta(seconds=RESEND_LEASE_SECONDS))
            return None
        if not isinstance(provider, RemoteProvider) or job.provider_job_id is None:
            # Nothing to ask (mid-submit, or a local job): look again at the deadline.
            return (job.id, job.deadline_at or at + timedelta(hours=1), job.poll_failures)
        try:
            remote = await provider.fetch(job.provider_job_id)
        except ProviderRejected as exc:
            # The provider says the job does not exist (404) or cannot be read: it is lost.
            log.warning("Job %d: %s cannot read it: %s", job.id, job.provider, exc)
            await self._jobs.settle(self._jobs.event(job, _failed(job.provider_job_id, exc)))
            return None
        except ProviderError as exc:
            await self._health.failed(exc)
            entry = self._retry(job, provider, exc, at)
            wait = (entry[1] - at).total_seconds()
            log.info("Job %d: poll failed (%s); next in %.1fs", job.id, exc, wait)
            return entry
        await self._health.succeeded(provider.name)
        return await self._news(job, provider, remote, at)

    async def _news(
        self, job: Job, provider: RemoteProvider, remote: RemoteJob, at: datetime
    ) -> Schedule:
        """Settle what the provider said of ``job``; it is next asked after one interval."""
        await self._jobs.settle(self._jobs.event(job, remote), job)
        return (job.id, at + timedelta(seconds=self._policy.interval(provider)), 0)

    def _retry(
        self, job: Job, provider: RemoteProvider, exc: ProviderError, at: datetime
    ) -> Schedule:
        """``job``'s next poll after a read of it failed: later, the more failures in a row,
        and not before the provider's Retry-After."""
        failures = job.poll_failures + 1
        hint = exc.retry_after if isinstance(exc, ProviderUnavailable) else None
        wait = backoff(self._policy.interval(provider), failures, hint)
        return (job.id, at + timedelta(seconds=wait), failures)


def backoff(interval: float, failures: int, retry_after: float | None) -> float:
    """Seconds until the next poll after ``failures`` failed polls in a row: doubling from
    ``interval``, at least the provider's ``retry_after``, never over MAX_BACKOFF_SECONDS
    (an endless or unreadable hint means the longest wait, never an overflow)."""
    wait = interval * 2.0 ** min(failures, 32)
    if retry_after is not None:
        wait = max(wait, MAX_BACKOFF_SECONDS if math.isnan(retry_after) else retry_after)
    return min(MAX_BACKOFF_SECONDS, wait)


def _trouble(job: Job, at: datetime, base_seconds: float) -> Schedule:
    """``job``'s next poll after polling it raised something unexpected."""
    failures = job.poll_failures + 1
    return (job.id, at + timedelta(seconds=backoff(base_seconds, failures, None)), failures)


def _failed(provider_job_id: str, exc: ProviderError) -> RemoteJob:
    return RemoteJob(provider_job_id=provider_job_id, status=JobStatus.FAILED, error=exc.reason)


def expired(job: Job, at: datetime) -> bool:
    """Whether ``job`` has passed its overall deadline."""
    return job.deadline_at is not None and at >= job.deadline_at


def resendable(job: Job, provider: RemoteProvider) -> bool:
    """Whether ``job``'s create got no answer at a provider whose creates carry a key, so
    that sending it again is safe (it answers the job the first one made, paid once)."""
    return provider.keyed_creates and unclaimed(job)


def unclaimed(job: Job) -> bool:
    """Whether ``job``'s create was sent (or may have been) without an answer naming it: it
    waits for a webhook to claim it, and nothing else can find it."""
    return (
        job.status is JobStatus.SUBMITTING
        and job.submit_started_at is not None
        and job.provider_job_id is None
    )
