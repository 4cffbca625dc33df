"""What a job's status message says at each point of its life, in the user's language."""

from __future__ import annotations

from bot.delivery.progress import ProgressBoard
from bot.i18n import Translator
from bot.models import Job, JobStatus


class StatusMessages:
    """Puts a job's state into its status message (through the coalescing board)."""

    def __init__(self, board: ProgressBoard, translator: Translator) -> None:
        self._board = board
        self._t = translator

    async def progress(self, job: Job) -> None:
        """Queued, or rendering (with the percentage when the provider tells)."""
        if job.status is JobStatus.QUEUED:
            await self.show(job, "progress.queued")
        elif job.progress:
            await self.show(job, "progress.rendering", percent=job.progress)
        else:
            await self.show(job, "progress.rendering_started")

    async def failed(self, job: Job, reason: str) -> None:
        await self.show(job, "progress.failed", final=True, reason=reason)

    async def show(self, job: Job, key: str, *, final: bool = False, **params: object) -> None:
        if job.status_message_id is None:
            return
        text = self._t.t(job.locale, key, job_id=job.id, **params)
        await self._board.show(job.chat_id, job.status_message_id, text, final=final)
