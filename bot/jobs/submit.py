"""Submitting a job to a remote provider, once: a create whose answer was lost is never
repeated (it may have been made and paid for) but waits to be claimed by its webhook."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.delivery.status import StatusMessages
from bot.errors import ProviderError, ProviderUnavailable, RenderError
from bot.health import ProviderHealth
from bot.jobs.events import JobEvents
from bot.jobs.names import JobNames
from bot.jobs.poller import PollPolicy
from bot.media.hosting import MediaHost
from bot.models import Job, JobStatus, ProviderEvent
from bot.providers import RemoteProvider, WebhookAuth
from storage import JobRepository
from storage.db import now

log = logging.getLogger(__name__)

#: How long a job whose create got no answer waits for the provider's webhook to claim it.
ADOPTION_SECONDS = 600

#: JobService.settle
Settle = Callable[[ProviderEvent], Awaitable[bool]]


class Submitter:
    def __init__(
        self,
        *,
        repo: JobRepository,
        host: MediaHost,
        health: ProviderHealth,
        polls: PollPolicy,
        status: StatusMessages,
        events: JobEvents,
        names: JobNames,
        settle: Settle,
        public_url: str,
        webhook_token: Callable[[str, int], str],
    ) -> None:
        self._repo = repo
        self._host = host
        self._health = health
        self._polls = polls
        self._status = status
        self._events = events
        self._names = names
        self._settle = settle
        self._public_url = public_url
        self._webhook_token = webhook_token

    def webhook_url(self, provider: RemoteProvider, job_id: int) -> str | None:
        """Where ``provider`` should post news of ``job_id``, or None without PUBLIC_URL."""
        if not self._public_url:
            return None
        if provider.webhook_auth is WebhookAuth.URL_TOKEN:
            token = self._webhook_token(provider.name, job_id)
            return f"{self._public_url}/hooks/{provider.name}/{job_id}/{token}"
        return f"{self._public_url}/hooks/{provider.name}"

    async def submit(self, job: Job, provider: RemoteProvider) -> None:
        try:
            inputs = await self._host.prepare(job)
        except RenderError as exc:
            log.warning("Job %d: input normalization failed: %s", job.id, exc)
            await self._settle(self._events.failure(job, "error.render_failed"))
            return
        started = now()
        deadline = started + timedelta(seconds=provider.deadline_seconds)
        # Marked just before the provider is called: after a crash, "started" means "maybe
        # sent". Until a provider id is known the poller only watches the deadline.
        await self._repo.update(
            job.id, submit_started_at=started, deadline_at=deadline, next_poll_at=deadline
        )
        try:
            remote = await provider.submit(
                job.order,
                inputs,
                name=self._names.name(provider.name, job.id),
                webhook_url=self.webhook_url(provider, job.id),
            )
        except ProviderUnavailable as exc:
            if not exc.maybe_done:
                await self._settle(self._events.submit_failure(job, exc))
                return
            # The provider may have the job (and charge for it) though we never heard: keep
            # it claimable by its webhook for a while rather than fail it and lose it.
            window = started + timedelta(seconds=ADOPTION_SECONDS)
            log.warning("Job %d: %s may have it (%s); waiting to hear", job.id, provider.name, exc)
            await self._repo.update(job.id, deadline_at=window, next_poll_at=window)
            return
        except ProviderError as exc:
            await self._settle(self._events.submit_failure(job, exc))
            await self._health.failed(exc)
            return
        await self._health.succeeded(provider.name)
        log.info("Job %d submitted to %s as %s", job.id, provider.name, remote.provider_job_id)
        await self._repo.update(
            job.id,
            provider_job_id=remote.provider_job_id,
            credits=remote.credits,
            next_poll_at=now() + timedelta(seconds=self._polls.interval(provider)),
        )
        if await self._repo.transition(job.id, [JobStatus.SUBMITTING], JobStatus.QUEUED):
            await self._status.progress(job.model_copy(update={"status": JobStatus.QUEUED}))
        if remote.status is not JobStatus.QUEUED:
            await self._settle(self._events.event(job, remote))

    async def give_up_unclaimed(self, job: Job) -> None:
        """End a job whose create got no answer and that no webhook claimed within the
        adoption window: nothing else can find it (Magic Hour cannot list jobs), so the user
        hears now, and the admins get the name to look for in the provider's dashboard."""
        if await self._settle(self._events.failure(job, "error.create_unconfirmed")):
            name = self._names.name(job.provider, job.id)
            await self._health.create_unconfirmed(job.id, job.provider, name)
