"""JobService: runs each job in the background from its database row, settles provider news
once (compare-and-set), delivers once, and picks every unfinished job up after a restart.

Local providers render here. Remote providers get the job submitted here; their results
come back through :meth:`JobService.confirm` (webhooks) or the poller, both of which end in
:meth:`JobService.settle`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from bot.delivery.progress import ProgressBoard
from bot.delivery.sender import Delivery
from bot.errors import (
    ChatUnreachable,
    DeliveryError,
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderRejected,
    ProviderUnavailable,
    RenderError,
    UnsafeURL,
)
from bot.health import ProviderHealth
from bot.i18n import Translator
from bot.jobs.inbox import WebhookInbox
from bot.media.hosting import MediaHost, grace_cutoff
from bot.media.outputs import OutputFetchError, download_output
from bot.models import IN_FLIGHT, Draft, Job, JobStatus, ProviderEvent, RemoteJob
from bot.providers import LocalProvider, Provider, RemoteProvider, WebhookAuth
from bot.tasks import BackgroundTasks, Busy
from storage import JobRepository, UserRepository
from storage.db import now

log = logging.getLogger(__name__)

#: Progress is stored and shown in steps of this many percent.
PROGRESS_STEP = 5
#: With webhooks on, each job is still polled, this many times less often.
WEBHOOK_POLL_FACTOR = 6
#: How long a job whose create got no answer waits for the provider's webhook to claim it.
ADOPTION_SECONDS = 600


class JobService:
    def __init__(
        self,
        *,
        repo: JobRepository,
        users: UserRepository,
        providers: Mapping[str, Provider],
        tasks: BackgroundTasks,
        board: ProgressBoard,
        delivery: Delivery,
        translator: Translator,
        outputs: Path,
        host: MediaHost,
        health: ProviderHealth,
        http: httpx.AsyncClient,
        public_url: str,
        poll_interval: float,
        allow_private_urls: bool,
        webhook_token: Callable[[str, int], str],
    ) -> None:
        self._repo = repo
        self._users = users
        self._providers = providers
        self._tasks = tasks
        self._board = board
        self._delivery = delivery
        self._t = translator
        self._outputs = outputs
        self._host = host
        self._health = health
        self._http = http
        self._public_url = public_url
        self._poll_interval = poll_interval
        self._allow_private_urls = allow_private_urls
        self._webhook_token = webhook_token
        #: Webhook confirmations queued plus deliveries running; the poller yields to them.
        self.busy = Busy()
        self.inbox = WebhookInbox(self.confirm, tasks, self.busy)

    # --- lifecycle -------------------------------------------------------------------------

    async def create(self, draft: Draft, *, chat_type: str, status_message_id: int) -> Job:
        """Turn a confirmed draft into a job and start it in the background.

        Args:
            draft: a draft with media, voice, ratio and provider all set.
            chat_type: the Telegram chat type (``private``, ``group``...).
            status_message_id: the message that will show this job's progress.
        """
        assert draft.media
        assert draft.media.probe
        assert draft.media.path
        assert draft.media_kind
        assert draft.voice
        assert draft.voice.probe
        assert draft.voice.path
        assert draft.ratio
        assert draft.provider
        job = await self._repo.create(
            chat_id=draft.chat_id,
            user_id=draft.user_id,
            chat_type=chat_type,
            locale=draft.locale,
            provider=draft.provider,
            media_kind=draft.media_kind,
            media_path=draft.media.path,
            media_probe=draft.media.probe,
            voice_path=draft.voice.path,
            voice_probe=draft.voice.probe,
            ratio=draft.ratio,
        )
        await self._repo.update(job.id, status_message_id=status_message_id)
        log.info("Job %d created (%s, %s)", job.id, job.provider, job.ratio)
        self.start(job.id)
        return job

    def start(self, job_id: int) -> None:
        """Run the job's next step in the background (no-op if it is already running here)."""
        self._tasks.spawn(f"job:{job_id}", self._run(job_id))

    async def resume(self) -> int:
        """Start every job a previous process left unfinished. Returns how many."""
        remote = [name for name, p in self._providers.items() if isinstance(p, RemoteProvider)]
        jobs = await self._repo.to_resume(remote)
        for job in jobs:
            if job.status is JobStatus.SUCCEEDED:
                self._spawn_delivery(job.id)
            elif job.status is JobStatus.SUBMITTING and job.submit_started_at is not None:
                # The last process died while submitting: the provider may have the job (and
                # charged for it). Submitting again could pay twice, so wait for its webhook
                # to claim it; the poller expires the job at its deadline otherwise.
                log.warning("Job %d was interrupted while submitting; waiting for it", job.id)
            else:
                self.start(job.id)
        if jobs:
            log.info("Resuming %d unfinished job(s)", len(jobs))
        return len(jobs)

    async def get(self, job_id: int) -> Job | None:
        return await self._repo.get(job_id)

    async def recent(self, user_id: int, limit: int = 10) -> list[Job]:
        return await self._repo.recent(user_id, limit)

    async def in_flight_by_provider(self) -> dict[str, int]:
        return await self._repo.in_flight_by_provider()

    async def resend(self, job: Job, chat_id: int) -> None:
        """Send a delivered job's video again, by its Telegram file_id."""
        await self._delivery.resend(job, chat_id)

    async def sweep_hosted(self) -> int:
        """Delete hosted inputs of jobs that ended more than the grace period ago."""
        cutoff = grace_cutoff(now())
        removed = 0
        for job_id in self._host.hosted_job_ids():
            job = await self._repo.get(job_id)
            if job is None or (job.finished_at is not None and job.finished_at < cutoff):
                removed += self._host.remove(job_id)
        return removed

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
            changed = await self._repo.transition(
                job_id,
                IN_FLIGHT,
                JobStatus.SUCCEEDED,
                output_path=event.output_path,
                output_url=event.output_url,
                progress=100,
                **_credits(event),
            )
            if changed:
                self._spawn_delivery(job_id)
            return changed
        if event.status in (JobStatus.FAILED, JobStatus.CANCELED, JobStatus.EXPIRED):
            changed = await self._repo.transition(
                job_id, IN_FLIGHT, event.status, error=event.error, **_credits(event)
            )
            if changed:
                log.info("Job %d %s: %s", job_id, event.status, event.error)
                await self._show_failure(job_id, event.error or "")
            return changed
        if event.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            job = job or await self._repo.get(job_id)
            if job is None or job.status not in IN_FLIGHT:
                return False
            if job.status is event.status and job.progress == event.progress:
                return False  # nothing new: no write, no edit
            changed = await self._repo.transition(
                job_id, IN_FLIGHT, event.status, progress=event.progress
            )
            if changed:
                await self._show_progress(
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
            # Claimed by its webhook after a crash mid-submit: nothing was lost.
            await self._repo.update(job.id, provider_job_id=provider_job_id)
            await self._repo.transition(job.id, [JobStatus.SUBMITTING], JobStatus.QUEUED)
        await self.settle(self.event(job, remote), job)

    def event(self, job: Job, remote: RemoteJob) -> ProviderEvent:
        """A provider's report as a ProviderEvent, with failure reasons in the user's words."""
        error = None
        if remote.status is JobStatus.FAILED:
            error = self._t.t(
                job.locale,
                "error.provider_rejected",
                provider=self._provider_label(job),
                reason=remote.error or self._t.t(job.locale, "error.no_reason"),
            )
        elif remote.status is JobStatus.CANCELED:
            error = self._t.t(
                job.locale, "error.provider_canceled", provider=self._provider_label(job)
            )
        return ProviderEvent(
            job_id=job.id,
            status=remote.status,
            progress=remote.progress,
            output_url=remote.output_url,
            error=error,
            credits=remote.credits,
        )

    def poll_interval(self, provider: RemoteProvider) -> float:
        """Seconds between polls of one job: slower when webhooks carry the news (providers
        retry undelivered webhooks themselves; polling is then only the safety net)."""
        interval = self._poll_interval * provider.poll_factor
        # Every remote provider gets webhooks when the bot has a public URL (webhook_url()).
        return interval * WEBHOOK_POLL_FACTOR if self._public_url else interval

    def webhook_url(self, provider: RemoteProvider, job_id: int) -> str | None:
        """Where ``provider`` should post news of ``job_id``, or None without PUBLIC_URL."""
        if not self._public_url:
            return None
        if provider.webhook_auth is WebhookAuth.URL_TOKEN:
            token = self._webhook_token(provider.name, job_id)
            return f"{self._public_url}/hooks/{provider.name}/{job_id}/{token}"
        return f"{self._public_url}/hooks/{provider.name}"

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
                await self._submit(job, provider)
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

        out = self._output_path(job)
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            await provider.render(job.order, out, on_progress)
        except RenderError as exc:
            log.warning("Job %d: %s render failed: %s", job.id, job.provider, exc)
            return self.failure(job, "error.render_failed")
        return ProviderEvent(job_id=job.id, status=JobStatus.SUCCEEDED, output_path=str(out))

    async def _submit(self, job: Job, provider: RemoteProvider) -> None:
        try:
            inputs = await self._host.prepare(job)
        except RenderError as exc:
            log.warning("Job %d: input normalization failed: %s", job.id, exc)
            await self.settle(self.failure(job, "error.render_failed"))
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
                name=f"lipsync-bot #{job.id}",
                webhook_url=self.webhook_url(provider, job.id),
            )
        except ProviderUnavailable as exc:
            if not exc.maybe_done:
                await self.settle(self._submit_failure(job, exc))
                return
            # The provider may have the job (and charge for it) though we never heard: keep
            # it claimable by its webhook for a while rather than fail it and lose it.
            window = started + timedelta(seconds=ADOPTION_SECONDS)
            log.warning("Job %d: %s may have it (%s); waiting to hear", job.id, provider.name, exc)
            await self._repo.update(job.id, deadline_at=window, next_poll_at=window)
            return
        except ProviderError as exc:
            await self.settle(self._submit_failure(job, exc))
            await self._health.failed(exc)
            return
        await self._health.succeeded(provider.name)
        log.info("Job %d submitted to %s as %s", job.id, provider.name, remote.provider_job_id)
        await self._repo.update(
            job.id,
            provider_job_id=remote.provider_job_id,
            credits=remote.credits,
            next_poll_at=now() + timedelta(seconds=self.poll_interval(provider)),
        )
        if await self._repo.transition(job.id, [JobStatus.SUBMITTING], JobStatus.QUEUED):
            await self._show_progress(job.model_copy(update={"status": JobStatus.QUEUED}))
        if remote.status is not JobStatus.QUEUED:
            await self.settle(self.event(job, remote))

    def _submit_failure(self, job: Job, exc: ProviderError) -> ProviderEvent:
        log.warning("Job %d: %s refused the submit: %s", job.id, job.provider, exc)
        if isinstance(exc, ProviderAuthError | ProviderOutOfCredits):
            return self.failure(job, "error.provider_unavailable")
        if isinstance(exc, ProviderRejected):
            return self.failure(job, "error.provider_rejected", reason=exc.reason)
        return self.failure(job, "error.provider_busy")

    # --- delivery --------------------------------------------------------------------------

    def _spawn_delivery(self, job_id: int) -> None:
        self._tasks.spawn(f"deliver:{job_id}", self._deliver(job_id))

    async def _deliver(self, job_id: int) -> None:
        self.busy.add(+1)
        try:
            await self._deliver_now(job_id)
        finally:
            self.busy.add(-1)

    async def _deliver_now(self, job_id: int) -> None:
        job = await self._repo.get(job_id)
        if job is None or job.status is not JobStatus.SUCCEEDED:
            return
        await self._status(job, "progress.sending", final=True)
        if job.output_path is None or not Path(job.output_path).exists():
            fetched = await self._fetch_output(job)
            if fetched is None:
                return
            job = fetched
        try:
            file_id = await self._delivery.deliver(job)
        except ChatUnreachable as exc:
            log.info("Job %d: chat %d unreachable (%s)", job.id, job.chat_id, exc)
            await self._users.set_blocked(job.user_id)
            await self._repo.transition(
                job.id, [JobStatus.SUCCEEDED], JobStatus.FAILED, error="chat unreachable"
            )
            return
        except DeliveryError as exc:
            log.warning("Job %d: delivery failed: %s", job.id, exc)
            await self._fail_succeeded(job, "error.delivery_failed")
            return
        await self._repo.transition(
            job.id, [JobStatus.SUCCEEDED], JobStatus.DELIVERED, result_file_id=file_id
        )
        log.info("Job %d delivered", job.id)
        await self._status(job, "progress.delivered", final=True)

    async def _fetch_output(self, job: Job) -> Job | None:
        """Download a remote job's result; on an expired link ask the provider for a new one."""
        out = self._output_path(job)
        for attempt in (1, 2):
            url = job.output_url
            try:
                if url is None:
                    raise OutputFetchError("no result URL")
                await download_output(self._http, url, out, allow_private=self._allow_private_urls)
            except (OutputFetchError, UnsafeURL) as exc:
                log.warning("Job %d: result download failed: %s", job.id, exc)
                provider = self._providers.get(job.provider)
                if (
                    attempt == 2
                    or not isinstance(provider, RemoteProvider)
                    or not job.provider_job_id
                ):
                    await self._fail_succeeded(job, "error.output_failed")
                    return None
                try:  # result links expire (Magic Hour: 24 h); a fresh read gives a new one
                    remote = await provider.fetch(job.provider_job_id)
                except ProviderError:
                    await self._fail_succeeded(job, "error.output_failed")
                    return None
                await self._repo.update(job.id, output_url=remote.output_url)
                job = job.model_copy(update={"output_url": remote.output_url})
                continue
            await self._repo.update(job.id, output_path=str(out))
            return job.model_copy(update={"output_path": str(out)})
        return None

    async def _fail_succeeded(self, job: Job, key: str) -> None:
        reason = self._t.t(job.locale, key)
        if await self._repo.transition(
            job.id, [JobStatus.SUCCEEDED], JobStatus.FAILED, error=reason
        ):
            await self._show_failure(job.id, reason)

    # --- helpers ---------------------------------------------------------------------------

    async def _find(self, provider: str, hint: RemoteJob, job_id: int | None) -> Job | None:
        if job_id is not None:
            job = await self._repo.get(job_id)
            return job if job is not None and job.provider == provider else None
        job = await self._repo.by_provider_job(provider, hint.provider_job_id)
        if job is None and hint.name and hint.name.startswith("lipsync-bot #"):
            # A job whose submit answer was lost in a crash: claimed by the name we gave it.
            claimed = await self._repo.get(int(hint.name.removeprefix("lipsync-bot #")))
            if (
                claimed is not None
                and claimed.provider == provider
                and not claimed.provider_job_id
            ):
                return claimed
        return job

    def _output_path(self, job: Job) -> Path:
        return self._outputs / f"job_{job.id}.mp4"

    def _provider_label(self, job: Job) -> str:
        return self._t.t(job.locale, f"provider.{job.provider}")

    def failure(
        self, job: Job, key: str, *, status: JobStatus = JobStatus.FAILED, **params: object
    ) -> ProviderEvent:
        """An event ending ``job`` with the message ``key`` in the user's language (the
        ``{provider}`` placeholder is filled with the provider's label)."""
        params.setdefault("provider", self._provider_label(job))
        return ProviderEvent(
            job_id=job.id, status=status, error=self._t.t(job.locale, key, **params)
        )

    async def _show_progress(self, job: Job) -> None:
        if job.status is JobStatus.QUEUED:
            await self._status(job, "progress.queued")
        elif job.progress:
            await self._status(job, "progress.rendering", percent=job.progress)
        else:
            await self._status(job, "progress.rendering_started")

    async def _show_failure(self, job_id: int, reason: str) -> None:
        job = await self._repo.get(job_id)
        if job is not None:
            await self._status(job, "progress.failed", final=True, reason=reason)

    async def _status(self, job: Job, key: str, *, final: bool = False, **params: object) -> None:
        if job.status_message_id is None:
            return
        text = self._t.t(job.locale, key, job_id=job.id, **params)
        await self._board.show(job.chat_id, job.status_message_id, text, final=final)


def _credits(event: ProviderEvent) -> dict[str, float]:
    """The credits field to store, when the event tells (a silent event keeps what we had)."""
    return {} if event.credits is None else {"credits": event.credits}


def expired(job: Job, at: datetime) -> bool:
    """Whether ``job`` has passed its overall deadline."""
    return job.deadline_at is not None and at >= job.deadline_at
