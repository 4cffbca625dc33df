"""JobService: runs each job in the background from its database row, settles provider news
once (compare-and-set), delivers once, and picks every unfinished job up after a restart.

Local providers render here. Remote providers get the job submitted here; their results
come back through :meth:`JobService.confirm` (webhooks) or the poller, both of which end in
:meth:`JobService.settle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bot.delivery.results import ResultDelivery
from bot.delivery.status import StatusMessages
from bot.errors import ProviderError, RenderError
from bot.health import ProviderHealth
from bot.jobs import submit
from bot.jobs.events import JobEvents
from bot.jobs.inbox import WebhookInbox
from bot.jobs.line import WaitingLine
from bot.jobs.names import JobNames
from bot.jobs.poller import PollPolicy
from bot.jobs.resend import Resends
from bot.jobs.states import JobStates
from bot.media.hosting import MediaHost
from bot.models import IN_FLIGHT, Draft, Job, JobStatus, NewJob, ProviderEvent, RemoteJob
from bot.providers import LocalProvider, Provider, RemoteProvider
from bot.tasks import BackgroundTasks, Busy
from storage import JobRepository

log = logging.getLogger(__name__)

#: Progress is stored and shown in steps of this many percent.
PROGRESS_STEP = 5


class JobService:
    def __init__(
        self,
        *,
        repo: JobRepository,
        providers: Mapping[str, Provider],
        tasks: BackgroundTasks,
        busy: Busy,
        status: StatusMessages,
        results: ResultDelivery,
        states: JobStates,
        host: MediaHost,
        health: ProviderHealth,
        polls: PollPolicy,
        public_url: str,
        webhook_token: Callable[[str, int], str],
    ) -> None:
        self._repo = repo
        self._states = states
        self._providers = providers
        self._tasks = tasks
        self._status = status
        self._results = results
        self._health = health
        self._names = JobNames(webhook_token)
        self._events = JobEvents()
        self._inbox = WebhookInbox(self.confirm, tasks, busy)
        self._resends = Resends(
            repo=repo,
            providers=providers,
            tasks=tasks,
            polls=polls,
            submit=lambda job, provider: self._submitter.submit(job, provider),
        )
        self._submitter = submit.Submitter(
            repo=repo,
            host=host,
            health=health,
            polls=polls,
            status=status,
            events=self._events,
            names=self._names,
            settle=self.settle,
            resend_later=self._resends.resend_later,
            public_url=public_url,
            webhook_token=webhook_token,
        )
        self._line = WaitingLine(
            states=states,
            repo=repo,
            tasks=tasks,
            start=self.start,
            show_place=status.waiting,
            show_progress=status.progress,
        )

    # --- lifecycle -------------------------------------------------------------------------

    async def create(self, draft: Draft, *, chat_type: str, reply_to: int | None) -> Job:
        """Turn a confirmed draft into a job (its price reserved), send its status message
        and start it in the background, or put it in line when its provider is full.

        Args:
            draft: a draft with media, voice, ratio and provider all set.
            chat_type: the Telegram chat type (``private``, ``group``...).
            reply_to: the message the status message answers (the order's summary).

        Raises:
            TooManyActive: the user has USER_MAX_ACTIVE_JOBS jobs on the go already.
            QuotaExceeded: not enough seconds left (nothing was made).
        """
        assert draft.provider
        order = draft.order()
        # Before the job row: a sweep that read the jobs before it existed still sees the
        # files as in use (and the draft holding them is deleted only after this returns).
        await touch_inputs([str(path) for path in order.files()])
        new = NewJob(
            chat_id=draft.chat_id,
            user_id=draft.user_id,
            chat_type=chat_type,
            locale=draft.locale,
            provider=draft.provider,
            order=order,
        )
        job = await self._states.create(new)
        # Sent before the job starts, so its first progress has a message to edit.
        place = await self._line.place(job) if job.status is JobStatus.WAITING else None
        place = max(1, place) if place is not None else None  # 0: admitted just now
        status_message_id = await self._status.announce(job, reply_to=reply_to, place=place)
        if status_message_id is not None:
            await self._repo.update(job.id, status_message_id=status_message_id)
        log.info("Job %d created (%s, %s, %s)", job.id, job.provider, job.ratio, job.status)
        if job.status is not JobStatus.WAITING:
            self.start(job.id)
            return job
        current = await self._repo.get(job.id)
        if current is not None and current.status is not JobStatus.WAITING:
            # Admitted before its status message existed: that message still says "waiting".
            await self._status.progress(current)
        self._line.kick(job.provider)  # a place may have opened meanwhile
        return job

    def start(self, job_id: int) -> None:
        """Run the job's next step in the background (no-op if it is already running here)."""
        self._tasks.spawn(f"job:{job_id}", self._run(job_id))

    def stop(self, job_id: int) -> None:
        """Stop the job's work here (a local render: ffmpeg is killed). Only for a job whose
        state already says it ended: its task is not resumed."""
        self._tasks.cancel(f"job:{job_id}")

    async def resume(self) -> int:
        """Start every job a previous process left unfinished. Returns how many."""
        remote = [name for name, p in self._providers.items() if isinstance(p, RemoteProvider)]
        jobs = await self._repo.to_resume(remote)
        for job in jobs:
            provider = self._providers.get(job.provider)
            mid_submit = job.status is JobStatus.SUBMITTING
            if job.status is JobStatus.SUCCEEDED:
                self._results.spawn(job.id)
            elif not (mid_submit and await self._submitter.resume_sent(job, provider)):
                self.start(job.id)
        await self._line.resume()
        if jobs:
            log.info("Resuming %d unfinished job(s)", len(jobs))
        return len(jobs)

    async def move_lines(self) -> None:
        """Admit waiting jobs wherever a provider has room (a periodic safety net: every
        ending already does this, but a pass can fail, e.g. on a busy database)."""
        await self._line.resume()

    async def get(self, job_id: int) -> Job | None:
        return await self._repo.get(job_id)

    async def recent(self, user_id: int, limit: int = 10) -> list[Job]:
        return await self._repo.recent(user_id, limit)

    async def in_flight_by_provider(self) -> dict[str, int]:
        return await self._repo.in_flight_by_provider()

    async def resend(self, job: Job, chat_id: int) -> None:
        """Send a delivered job's video again, by its Telegram file_id."""
        await self._results.resend(job, chat_id)

    def accept_webhook(self, provider_name: str, hint: RemoteJob, job_id: int | None) -> None:
        """A verified webhook: confirm it with the provider in the background.

        Args:
            provider_name: whose webhook it was.
            hint: what the webhook body claims.
            job_id: our job id when the webhook URL names it (per-job URLs).
        """
        self._inbox.put(provider_name, hint, job_id)

    # --- the one results path --------------------------------------------------------------

    async def settle(self, event: ProviderEvent, job: Job | None = None) -> bool:
        """Apply provider news to a job, once: a repeated or late event changes nothing.

        Args:
            event: the news.
            job: the job as the caller last read it, to save a read (any staleness is
                harmless: every change is a compare-and-set).

        Returns:
            Whether this event changed the job.
        """
        job_id = event.job_id
        if event.status is JobStatus.SUCCEEDED:
            changed = await self._states.move(
                job_id,
                IN_FLIGHT,
                JobStatus.SUCCEEDED,
                output_path=event.output_path,
                output_url=event.output_url,
                progress=100,
                **_credits(event),
            )
            if changed:
                self._results.spawn(job_id)
            return changed
        if event.status in (JobStatus.FAILED, JobStatus.CANCELED, JobStatus.EXPIRED):
            changed = await self._states.move(
                job_id, IN_FLIGHT, event.status, reason=event.reason, **_credits(event)
            )
            if changed:
                log.info("Job %d %s: %s", job_id, event.status, event.reason)
                await self._show_failure(job_id)
            return changed
        if event.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            job = job or await self._repo.get(job_id)
            if job is None or job.status not in IN_FLIGHT:
                return False
            if job.status is event.status and job.progress == event.progress:
                # Nothing new to store; the elapsed time shown may still move on (the board
                # sends nothing when the text is unchanged).
                await self._status.progress(job)
                return False
            changed = await self._repo.transition(
                job_id, IN_FLIGHT, event.status, progress=event.progress
            )
            if changed:
                await self._status.progress(
                    job.model_copy(update={"status": event.status, "progress": event.progress})
                )
            return changed
        raise ValueError(f"providers do not report {event.status}")

    async def confirm(self, provider_name: str, hint: RemoteJob, job_id: int | None) -> None:
        """A verified webhook said something about a job: read the job back from the provider
        (the webhook is only a hint) and settle what the provider says.

        Args:
            provider_name: whose webhook it was.
            hint: what the webhook body claims.
            job_id: our job id when the webhook URL names it (per-job URLs).
        """
        provider = self._providers.get(provider_name)
        if not isinstance(provider, RemoteProvider):
            return
        job = await self._find(provider_name, hint, job_id)
        if job is None or job.status not in IN_FLIGHT:
            return  # unknown, or already settled: a duplicate or late webhook
        provider_job_id = job.provider_job_id or hint.provider_job_id
        try:
            remote = await provider.fetch(provider_job_id)
        except ProviderError as exc:
            log.info("Job %d: could not confirm a webhook (%s); the poller will", job.id, exc)
            await self._health.failed(exc)
            return
        await self._health.succeeded(provider_name)
        if job.provider_job_id is None:
            # Claimed by its webhook after a lost create answer: nothing was lost.
            await self._submitter.adopt(job, provider, provider_job_id)
        await self.settle(self.event(job, remote), job)

    def event(self, job: Job, remote: RemoteJob) -> ProviderEvent:
        """A provider's report as a ProviderEvent, with a failure's reason as data."""
        return self._events.event(job, remote)

    def failure(
        self,
        job: Job,
        key: str,
        *,
        status: JobStatus = JobStatus.FAILED,
        **params: str | int | float,
    ) -> ProviderEvent:
        """An event ending ``job`` with the reason ``key`` (a locale key, put into words in
        the user's language when shown) and its ``params``."""
        return self._events.failure(job, key, status=status, **params)

    def webhook_url(self, provider: RemoteProvider, job_id: int) -> str | None:
        """Where ``provider`` should post news of ``job_id``, or None without PUBLIC_URL."""
        return self._submitter.webhook_url(provider, job_id)

    async def give_up_unclaimed(self, job: Job) -> None:
        """End a job whose create got no answer and that no webhook claimed in time."""
        provider = self._providers.get(job.provider)
        remote = provider if isinstance(provider, RemoteProvider) else None
        await self._submitter.give_up_unclaimed(job, remote)

    async def send_again(self, job: Job, lease_until: datetime) -> None:
        """Send the lost create of ``job`` again (see :meth:`Resends.send_again`)."""
        await self._resends.send_again(job, lease_until)

    # --- running a job ---------------------------------------------------------------------

    async def _run(self, job_id: int) -> None:
        job = await self._repo.get(job_id)
        if job is None or job.status not in IN_FLIGHT:
            return
        provider = self._providers.get(job.provider)
        if isinstance(provider, LocalProvider):
            await self.settle(await self._render(job, provider))
        elif isinstance(provider, RemoteProvider):
            if job.status is JobStatus.SUBMITTING:
                await self._submitter.submit(job, provider)
        else:
            # The operator removed this provider from PROVIDERS since the job started.
            await self.settle(self.failure(job, "error.provider_gone"))

    async def _render(self, job: Job, provider: LocalProvider) -> ProviderEvent:
        await self.settle(ProviderEvent(job_id=job.id, status=JobStatus.RUNNING, progress=0))
        shown = 0

        async def on_progress(fraction: float) -> None:
            nonlocal shown
            percent = min(99, int(fraction * 100) // PROGRESS_STEP * PROGRESS_STEP)
            if percent > shown:
                shown = percent
                await self.settle(
                    ProviderEvent(job_id=job.id, status=JobStatus.RUNNING, progress=percent)
                )

        out = self._results.output_path(job)
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            await provider.render(job.order, out, on_progress)
        except RenderError as exc:
            log.warning("Job %d: %s render failed: %s", job.id, job.provider, exc)
            return self.failure(job, "error.render_failed")
        except Exception:
            # A bug or a full disk: end the job (refunded) rather than leave it "rendering",
            # holding the user's quota and a place with the provider until a restart.
            log.exception("Job %d: %s render crashed", job.id, job.provider)
            return self.failure(job, "error.render_failed")
        return ProviderEvent(job_id=job.id, status=JobStatus.SUCCEEDED, output_path=str(out))

    # --- helpers ---------------------------------------------------------------------------

    async def _find(self, provider: str, hint: RemoteJob, job_id: int | None) -> Job | None:
        if job_id is not None:
            job = await self._repo.get(job_id)
            return job if job is not None and job.provider == provider else None
        job = await self._repo.by_provider_job(provider, hint.provider_job_id)
        if job is not None:
            return job
        # A job whose create answer was lost: claimed by the name only this bot gives.
        claimed_id = self._names.claimed(provider, hint.name)
        claimed = None if claimed_id is None else await self._repo.get(claimed_id)
        if claimed is not None and claimed.provider == provider and not claimed.provider_job_id:
            return claimed
        return None

    async def _show_failure(self, job_id: int) -> None:
        job = await self._repo.get(job_id)  # read back: it carries the reason just stored
        if job is not None:
            await self._status.failed(job)


def _credits(event: ProviderEvent) -> dict[str, Any]:
    """The credits field to store, when the event tells (a silent event keeps what we had)."""
    return {} if event.credits is None else {"credits": event.credits}


async def touch_inputs(paths: list[str]) -> None:
    """Mark a new job's input files as just used: the retention sweep never deletes a file
    touched within the retention, even when it read the jobs before this one existed and the
    drafts after its draft was gone."""

    def touch() -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)

    await asyncio.to_thread(touch)
