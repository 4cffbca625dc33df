"""Sending again a keyed create (sync.so's) whose answer was lost: the poller finds the job
due (:meth:`Resends.send_again`), and a resend that fails schedules the next one
(:meth:`Resends.resend_later`). Each resend is a Submitter send under the first send's key,
so a generation already made is answered, never made (and paid for) twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from bot.errors import ProviderError, ProviderUnavailable
from bot.jobs.poller import PollPolicy, backoff
from bot.models import Job, JobStatus
from bot.providers import Provider, RemoteProvider
from bot.tasks import BackgroundTasks
from storage import JobRepository
from storage.db import now

#: Resends of keyed creates in flight at once (each may wait minutes on a provider).
RESENDS = 4

#: Submitter.submit
Submit = Callable[[Job, RemoteProvider], Awaitable[None]]


class Resends:
    def __init__(
        self,
        *,
        repo: JobRepository,
        providers: Mapping[str, Provider],
        tasks: BackgroundTasks,
        polls: PollPolicy,
        submit: Submit,
    ) -> None:
        self._repo = repo
        self._providers = providers
        self._tasks = tasks
        self._polls = polls
        self._submit = submit
        self._resends = asyncio.Semaphore(RESENDS)

    async def send_again(self, job: Job, lease_until: datetime) -> None:
        """Send again, in the background, the create of ``job``, whose answer was lost, to a
        provider whose creates carry a key made from the job (the job it made comes back,
        paid once). Its next poll is pushed to ``lease_until`` first (the resend writes its
        own when it ends), so that the poller does not start it again meanwhile; under the
        job's own task name, so it never runs beside another send of the job; at most
        RESENDS at once."""
        provider = self._providers.get(job.provider)
        if not isinstance(provider, RemoteProvider) or not provider.keyed_creates:
            return
        await self._repo.update(job.id, next_poll_at=lease_until)
        self._tasks.spawn(f"job:{job.id}", self._resend(job.id, provider))

    async def _resend(self, job_id: int, provider: RemoteProvider) -> None:
        async with self._resends:
            job = await self._repo.get(job_id)  # as it is now, not as the poller read it
            if job is not None and job.status is JobStatus.SUBMITTING and not job.provider_job_id:
                await self._submit(job, provider)

    async def resend_later(
        self, job: Job, provider: RemoteProvider, exc: ProviderError | None
    ) -> None:
        """The keyed create of ``job`` got no answer (or ``exc`` for an answer): the poller
        sends it again (under the same key, so answered with the job if it was made) once a
        pause has passed, longer after each failure and never before the provider's
        Retry-After; until the deadline of the first send (``job.deadline_at``), when it ends
        as unconfirmed, on time. Paced as polls without webhooks: no webhook can name a job
        whose create went unanswered."""
        failures = job.poll_failures + 1
        interval = self._polls.base_seconds * provider.poll_factor
        hint = exc.retry_after if isinstance(exc, ProviderUnavailable) else None
        due = now() + timedelta(seconds=backoff(interval, failures, hint))
        if job.deadline_at is not None:
            due = min(due, job.deadline_at)
        await self._repo.update(job.id, next_poll_at=due, poll_failures=failures)
