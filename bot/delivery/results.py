"""Getting a finished job's video into its chat: download it when a provider made it, upload
it once, and record the outcome (``succeeded`` -> ``delivered`` or ``failed``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import httpx

from bot.delivery.sender import Delivery
from bot.delivery.status import StatusMessages
from bot.errors import ChatUnreachable, DeliveryError, ProviderError, UnsafeURL
from bot.i18n import Translator
from bot.media.outputs import OutputFetchError, download_output
from bot.models import Job, JobStatus
from bot.providers import Provider, RemoteProvider
from bot.tasks import BackgroundTasks, Busy
from storage import JobRepository, UserRepository

log = logging.getLogger(__name__)


class ResultDelivery:
    def __init__(
        self,
        *,
        repo: JobRepository,
        users: UserRepository,
        sender: Delivery,
        status: StatusMessages,
        translator: Translator,
        providers: Mapping[str, Provider],
        tasks: BackgroundTasks,
        busy: Busy,
        http: httpx.AsyncClient,
        outputs: Path,
        allow_private_urls: bool,
    ) -> None:
        self._repo = repo
        self._users = users
        self._sender = sender
        self._status = status
        self._t = translator
        self._providers = providers
        self._tasks = tasks
        self._busy = busy
        self._http = http
        self._outputs = outputs
        self._allow_private_urls = allow_private_urls

    def spawn(self, job_id: int) -> None:
        """Deliver a succeeded job in the background (no-op if that is already under way)."""
        self._tasks.spawn(f"deliver:{job_id}", self._deliver(job_id))

    def output_path(self, job: Job) -> Path:
        """Where a job's finished video is kept."""
        return self._outputs / f"job_{job.id}.mp4"

    async def resend(self, job: Job, chat_id: int) -> None:
        """Send a delivered job's video again, by its Telegram file_id."""
        await self._sender.resend(job, chat_id)

    async def _deliver(self, job_id: int) -> None:
        self._busy.add(+1)
        try:
            await self._deliver_now(job_id)
        finally:
            self._busy.add(-1)

    async def _deliver_now(self, job_id: int) -> None:
        job = await self._repo.get(job_id)
        if job is None or job.status is not JobStatus.SUCCEEDED:
            return
        await self._status.show(job, "progress.sending", final=True)
        if job.output_path is None or not Path(job.output_path).exists():
            fetched = await self._fetch_output(job)
            if fetched is None:
                return
            job = fetched
        try:
            file_id = await self._sender.deliver(job)
        except ChatUnreachable as exc:
            log.info("Job %d: chat %d unreachable (%s)", job.id, job.chat_id, exc)
            await self._users.set_blocked(job.user_id)
            await self._repo.transition(
                job.id, [JobStatus.SUCCEEDED], JobStatus.FAILED, error="chat unreachable"
            )
            return
        except DeliveryError as exc:
            log.warning("Job %d: delivery failed: %s", job.id, exc)
            await self._fail(job, "error.delivery_failed")
            return
        await self._repo.transition(
            job.id, [JobStatus.SUCCEEDED], JobStatus.DELIVERED, result_file_id=file_id
        )
        log.info("Job %d delivered", job.id)
        await self._status.show(job, "progress.delivered", final=True)

    async def _fetch_output(self, job: Job) -> Job | None:
        """Download a remote job's result; on an expired link ask the provider for a new one."""
        out = self.output_path(job)
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
                    await self._fail(job, "error.output_failed")
                    return None
                try:  # result links expire (Magic Hour: 24 h); a fresh read gives a new one
                    remote = await provider.fetch(job.provider_job_id)
                except ProviderError:
                    await self._fail(job, "error.output_failed")
                    return None
                await self._repo.update(job.id, output_url=remote.output_url)
                job = job.model_copy(update={"output_url": remote.output_url})
                continue
            await self._repo.update(job.id, output_path=str(out))
            return job.model_copy(update={"output_path": str(out)})
        return None

    async def _fail(self, job: Job, key: str) -> None:
        reason = self._t.t(job.locale, key)
        if await self._repo.transition(
            job.id, [JobStatus.SUCCEEDED], JobStatus.FAILED, error=reason
        ):
            await self._status.failed(job, reason)
