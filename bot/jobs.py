"""JobService: runs each job in the background from its database row, settles it once,
delivers it once, and picks every unfinished job up again after a restart."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from bot.delivery import Delivery
from bot.errors import ChatUnreachable, DeliveryError, RenderError
from bot.i18n import Translator
from bot.models import IN_FLIGHT, Draft, Job, JobStatus, ProviderEvent
from bot.progress import ProgressBoard
from bot.providers import LocalProvider, Provider
from bot.tasks import BackgroundTasks
from storage import JobRepository, UserRepository

log = logging.getLogger(__name__)

#: Progress is stored and shown in steps of this many percent.
PROGRESS_STEP = 5


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
    ) -> None:
        self._repo = repo
        self._users = users
        self._providers = providers
        self._tasks = tasks
        self._board = board
        self._delivery = delivery
        self._t = translator
        self._outputs = outputs

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
        """Run the job in the background (no-op if it is already running here)."""
        self._tasks.spawn(f"job:{job_id}", self._run(job_id))

    async def resume(self) -> int:
        """Start every job a previous process left unfinished. Returns how many."""
        jobs = await self._repo.unfinished()
        for job in jobs:
            self.start(job.id)
        if jobs:
            log.info("Resuming %d unfinished job(s)", len(jobs))
        return len(jobs)

    async def get(self, job_id: int) -> Job | None:
        return await self._repo.get(job_id)

    async def recent(self, user_id: int, limit: int = 10) -> list[Job]:
        return await self._repo.recent(user_id, limit)

    async def resend(self, job: Job, chat_id: int) -> None:
        """Send a delivered job's video again, by its Telegram file_id."""
        await self._delivery.resend(job, chat_id)

    async def settle(self, event: ProviderEvent) -> bool:
        """Apply provider news to a job, once: a repeated or late event changes nothing.

        Returns:
            Whether this event changed the job.
        """
        job_id = event.job_id
        if event.status is JobStatus.SUCCEEDED:
            return await self._repo.transition(
                job_id, IN_FLIGHT, JobStatus.SUCCEEDED, output_path=event.output_path, progress=100
            )
        if event.status is JobStatus.FAILED:
            changed = await self._repo.transition(
                job_id, IN_FLIGHT, JobStatus.FAILED, error=event.error
            )
            if changed:
                await self._show_failure(job_id, event.error or "")
            return changed
        if event.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            changed = await self._repo.transition(
                job_id, IN_FLIGHT, event.status, progress=event.progress
            )
            if changed:
                await self._show_progress(job_id)
            return changed
        raise ValueError(f"providers do not report {event.status}")

    async def _run(self, job_id: int) -> None:
        job = await self._repo.get(job_id)
        if job is None:
            return
        if job.status in IN_FLIGHT:
            await self.settle(await self._render(job))
            job = await self._repo.get(job_id)
            assert job is not None
        if job.status is JobStatus.SUCCEEDED:
            await self._deliver(job)

    async def _render(self, job: Job) -> ProviderEvent:
        provider = self._providers.get(job.provider)
        if not isinstance(provider, LocalProvider):
            # The operator removed this provider from PROVIDERS since the job started.
            return ProviderEvent(
                job_id=job.id,
                status=JobStatus.FAILED,
                error=self._t.t(job.locale, "error.provider_gone", provider=job.provider),
            )
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

        out = self._outputs / f"job_{job.id}.mp4"
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            await provider.render(job.order, out, on_progress)
        except RenderError as exc:
            log.warning("Job %d: %s render failed: %s", job.id, job.provider, exc)
            return ProviderEvent(
                job_id=job.id,
                status=JobStatus.FAILED,
                error=self._t.t(job.locale, "error.render_failed"),
            )
        return ProviderEvent(job_id=job.id, status=JobStatus.SUCCEEDED, output_path=str(out))

    async def _deliver(self, job: Job) -> None:
        await self._status(job, "progress.sending", final=True)
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
            if await self._repo.transition(
                job.id, [JobStatus.SUCCEEDED], JobStatus.FAILED, error=str(exc)
            ):
                await self._show_failure(job.id, self._t.t(job.locale, "error.delivery_failed"))
            return
        await self._repo.transition(
            job.id, [JobStatus.SUCCEEDED], JobStatus.DELIVERED, result_file_id=file_id
        )
        log.info("Job %d delivered", job.id)
        await self._status(job, "progress.delivered", final=True)

    async def _show_progress(self, job_id: int) -> None:
        job = await self._repo.get(job_id)
        if job is None:
            return
        if job.status is JobStatus.QUEUED or job.progress is None:
            await self._status(job, "progress.queued")
        else:
            await self._status(job, "progress.rendering", percent=job.progress)

    async def _show_failure(self, job_id: int, reason: str) -> None:
        job = await self._repo.get(job_id)
        if job is not None:
            await self._status(job, "progress.failed", final=True, reason=reason)

    async def _status(self, job: Job, key: str, *, final: bool = False, **params: object) -> None:
        if job.status_message_id is None:
            return
        text = self._t.t(job.locale, key, job_id=job.id, **params)
        await self._board.show(job.chat_id, job.status_message_id, text, final=final)
