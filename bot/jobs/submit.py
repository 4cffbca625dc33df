"""Submitting a job to a remote provider, once: a create whose answer was lost is never
repeated (it may have been made and paid for) but waits to be claimed by its webhook; except
at a provider whose creates carry a key made from the job (``keyed_creates``: sync.so), where
sending it again under the first send's key (stored with the job) answers the job already
made, so it is sent again until answered, or until the first send's deadline: a resend that
fails never ends the job, as the first send may have made it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

from bot.delivery.status import StatusMessages
from bot.errors import ProviderError, RenderError
from bot.health import ProviderHealth
from bot.jobs.events import JobEvents
from bot.jobs.names import JobNames
from bot.jobs.poller import PollPolicy
from bot.media.hosting import MediaHost
from bot.models import Job, JobStatus, ProviderEvent, RemoteJob
from bot.providers import Provider, RemoteProvider, WebhookAuth
from storage import JobRepository
from storage.db import now

log = logging.getLogger(__name__)

#: How long a job whose create got no answer waits for the provider's webhook to claim it.
ADOPTION_SECONDS = 600

#: JobService.settle
Settle = Callable[[ProviderEvent], Awaitable[bool]]
#: Resends.resend_later
ResendLater = Callable[[Job, RemoteProvider, ProviderError | None], Awaitable[None]]


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
        resend_later: ResendLater,
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
        self._resend_later = resend_later
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
        resend = job.submit_started_at is not None
        if resend and not provider.keyed_creates:
            # Maybe sent already, and sending it again could pay twice (a second line: only
            # keyed creates are ever sent again).
            await self.await_claim(job, provider, job.submit_started_at or now())
            return
        if resend and not job.submit_key:
            # Sent by a version that stored no key (before migration 8): the key it went with
            # cannot be known (its links were dated otherwise), and one made now would be
            # another job at the provider, paid again. Nothing can claim it either.
            log.warning("Job %d was sent to %s without a stored key", job.id, provider.name)
            await self.give_up_unclaimed(job, provider)
            return
        # A resend keeps the first send's time and deadline: resends never stretch the wait.
        # The links are dated from that time too (MediaHost), the same at every send.
        started = job.submit_started_at or now()
        deadline = started + timedelta(seconds=provider.deadline_seconds)
        if resend and job.deadline_at is not None:
            deadline = job.deadline_at
        sent = job.model_copy(update={"submit_started_at": started, "deadline_at": deadline})
        try:
            inputs = await self._host.prepare(sent)
        except Exception as exc:
            if resend:  # the first send may have made it: nothing here says otherwise
                log.warning("Job %d: preparing its resend failed (%s)", job.id, exc)
                await self._resend_later(sent, provider, None)
            else:
                await self._not_prepared(job, exc)
            return
        name = self._names.name(provider.name, job.id)
        # A keyed create's key is made once, at the first send, and stored before the create
        # leaves: made again later (from other links, other settings) it could be a second
        # job at the provider, paid again.
        key = job.submit_key or provider.create_key(name, inputs)
        inputs = replace(inputs, key=key, resend=resend)
        # Marked just before the provider is called: after a crash, "started" means "maybe
        # sent". Until a provider id is known the poller only watches the deadline. A
        # compare-and-set: a job canceled meanwhile is never sent (nor paid for).
        if not await self._repo.transition(
            job.id,
            [JobStatus.SUBMITTING],
            JobStatus.SUBMITTING,
            submit_started_at=started,
            submit_key=key,
            deadline_at=deadline,
            next_poll_at=deadline,
        ):
            log.info("Job %d ended before it was sent to %s", job.id, provider.name)
            return
        try:
            remote = await provider.submit(
                job.order,
                inputs,
                name=name,
                webhook_url=self.webhook_url(provider, job.id),
            )
        except ProviderError as exc:
            await self._not_sent(sent, provider, exc, resend=resend)
            return
        await self._health.succeeded(provider.name)
        log.info("Job %d submitted to %s as %s", job.id, provider.name, remote.provider_job_id)
        # The id and the move to queued in one write: a crash in between would leave a job
        # the provider has (and charges for) looking unanswered.
        if await self._repo.transition(
            job.id,
            [JobStatus.SUBMITTING],
            JobStatus.QUEUED,
            provider_job_id=remote.provider_job_id,
            credits=remote.credits,
            next_poll_at=now() + timedelta(seconds=self._polls.interval(provider)),
            poll_failures=0,  # failed resends of a keyed create are no failed polls
        ):
            await self._status.progress(job.model_copy(update={"status": JobStatus.QUEUED}))
        else:
            await self._keep_late_id(job, provider, remote)
        if remote.status is not JobStatus.QUEUED:
            await self._settle(self._events.event(job, remote))

    async def resume_sent(self, job: Job, provider: Provider | None) -> bool:
        """Take up ``job``, found mid-submit after a restart, if its create was sent (or may
        have been). Returns False when it never left: it is to be sent, as a new job is."""
        if job.provider_job_id and isinstance(provider, RemoteProvider):
            # Its create was answered (a process before the one-write submit saved the id
            # first): the provider's job, with its whole deadline, not an unanswered one.
            await self.adopt(job, provider, job.provider_job_id)
        elif job.submit_started_at is not None:
            # The last process died while submitting: the provider may have the job (and
            # charged for it). Submitting again could pay twice, so wait for its webhook
            # to claim it, one adoption window (not the whole deadline) from now; where
            # creates carry a key, the poller sends it again now, under the same key.
            log.warning("Job %d was interrupted while submitting", job.id)
            if isinstance(provider, RemoteProvider) and provider.keyed_creates:
                await self._repo.update(job.id, next_poll_at=now())
            else:
                await self.await_claim(job, provider, now())
        else:
            return False
        return True

    async def _not_prepared(self, job: Job, exc: Exception) -> None:
        """End ``job``, never sent, whose inputs could not be prepared."""
        if isinstance(exc, RenderError):
            log.warning("Job %d: input normalization failed: %s", job.id, exc)
            await self._settle(self._events.failure(job, "error.render_failed"))
            return
        # A full disk, inputs swept away: nothing was sent, so end it here.
        log.error("Job %d: preparing the inputs failed", job.id, exc_info=exc)
        gone = not await asyncio.to_thread(_inputs_exist, job)
        key = "error.inputs_gone" if gone else "error.render_failed"
        await self._settle(self._events.failure(job, key))

    async def _not_sent(
        self, job: Job, provider: RemoteProvider, exc: ProviderError, *, resend: bool
    ) -> None:
        """The create of ``job`` failed with ``exc``. A keyed create is sent again when it
        may have been made, and a resend always is: whatever a resend hears (no answer on
        any try, a key refused for another body after a SYNC_MODEL or PUBLIC_URL change, no
        credits, a refused API key), the first send may have made the job, and charged for
        it; ended and refunded, the user would try again and pay twice. It waits instead,
        until the first send's deadline, when it is given up (the admins told what to look
        for)."""
        # A refusal too may come after a try whose answer was lost (ProviderHTTP.send).
        maybe_done = exc.maybe_done
        if provider.keyed_creates and (maybe_done or resend):
            log.warning(
                "Job %d: %s may have it (%s); sending it again later", job.id, provider.name, exc
            )
            await self._resend_later(job, provider, exc)
        elif maybe_done:
            log.warning("Job %d: %s may have it (%s)", job.id, provider.name, exc)
            assert job.submit_started_at is not None
            await self.await_claim(job, provider, job.submit_started_at)
        else:
            await self._settle(self._events.submit_failure(job, exc))
        await self._health.failed(exc)  # a refused key, no credits: the admins hear

    async def _keep_late_id(self, job: Job, provider: RemoteProvider, remote: RemoteJob) -> None:
        """The create succeeded but the job moved on meanwhile: adopted by its webhook (which
        stored the id), or canceled while the create was on its way (it is never cut off,
        as the provider may have the job already). Keep the id of a canceled one, so it can
        be found in the provider's dashboard and its late news recognized."""
        current = await self._repo.get(job.id)
        if current is None or current.provider_job_id is not None:
            return
        await self._repo.update(
            job.id, provider_job_id=remote.provider_job_id, credits=remote.credits
        )
        log.warning(
            "Job %d was %s while %s made it (as %s): %s may charge for it",
            job.id,
            current.status,
            provider.name,
            remote.provider_job_id,
            provider.name,
        )

    async def await_claim(self, job: Job, provider: Provider | None, since: datetime) -> None:
        """The create of ``job`` was sent ``since`` (or may have been) and got no answer: the
        provider may have the job, and charge for it. Keep it claimable by its webhook for
        one adoption window rather than fail it and lose it; when no webhook can come
        (without PUBLIC_URL, or a signing secret to verify it) it ends at the next poll
        instead (Magic Hour cannot list jobs)."""
        hooks = isinstance(provider, RemoteProvider) and provider.posts_webhooks
        claimable = bool(self._public_url) and hooks
        window = since + timedelta(seconds=ADOPTION_SECONDS) if claimable else now()
        if job.deadline_at is None or job.deadline_at > window:
            await self._repo.update(job.id, deadline_at=window, next_poll_at=window)

    async def adopt(self, job: Job, provider: RemoteProvider, provider_job_id: str) -> bool:
        """``job``, whose create got no answer, was claimed by its webhook: from now on an
        ordinary job, with the provider's whole deadline (from the submit) and polled as usual.

        Returns:
            Whether this call adopted it (False: another path got there first).
        """
        started = job.submit_started_at or now()
        return await self._repo.transition(
            job.id,
            [JobStatus.SUBMITTING],
            JobStatus.QUEUED,
            provider_job_id=provider_job_id,
            deadline_at=started + timedelta(seconds=provider.deadline_seconds),
            next_poll_at=now() + timedelta(seconds=self._polls.interval(provider)),
        )

    async def give_up_unclaimed(self, job: Job, provider: RemoteProvider | None) -> None:
        """End a job whose create got no answer and that no webhook claimed within the
        adoption window: nothing else can find it (Magic Hour cannot list jobs), so the user
        hears now, and the admins get the name to look for in the provider's dashboard."""
        if await self._settle(self._events.failure(job, "error.create_unconfirmed")):
            # A keyed create is shown by its key in the dashboard (sync.so's outputFileName).
            name = self._names.name(job.provider, job.id)
            if provider is not None:
                name = provider.dashboard_name(name)
            await self._health.create_unconfirmed(job.id, job.provider, job.submit_key or name)


def _inputs_exist(job: Job) -> bool:
    return all(path.exists() for path in job.order.files())
