"""What handlers need of jobs, and nothing else: start one from a confirmed draft, find a
user's own job, cancel, retry with the same inputs, list, and send a finished video again."""

from __future__ import annotations

from bot.delivery.results import ResultDelivery
from bot.jobs.controls import JobControls
from bot.jobs.service import JobService
from bot.models import Draft, Job, Step


class UserJobs:
    def __init__(self, jobs: JobService, controls: JobControls, results: ResultDelivery) -> None:
        self._jobs = jobs
        self._controls = controls
        self._results = results

    async def create(self, draft: Draft, *, reply_to: int | None, claim: str) -> Job:
        """A job of a confirmed draft; ``claim`` names the press for :meth:`started`."""
        return await self._controls.generate(draft, reply_to=reply_to, claim=claim)

    def started(self, claim: str) -> int | None:
        """The job an earlier press like ``claim`` made (a double tap), if remembered."""
        return self._controls.started(claim)

    async def owned(self, job_id: int, user_id: int) -> Job | None:
        """Job ``job_id`` if it exists and ``user_id`` made it (buttons are owner-only)."""
        job = await self._jobs.get(job_id)
        return job if job is not None and job.user_id == user_id else None

    async def exists(self, job_id: int) -> bool:
        return await self._jobs.get(job_id) is not None

    async def cancel(self, job: Job) -> bool:
        """Stop a job not being sent yet. Returns False when it was too late."""
        return await self._controls.cancel(job)

    async def cancel_active(self, chat_id: int, user_id: int) -> list[int]:
        """/cancel: the user's queued or running jobs in this chat. Returns their ids."""
        return await self._controls.cancel_active(chat_id, user_id)

    def inputs_of(
        self, job: Job, *, step: Step, provider: str | None, new_face: bool = False
    ) -> Draft | None:
        """A draft at ``step`` with ``job``'s inputs (``new_face``: all but its face);
        None when its files are gone."""
        return self._controls.draft_from(job, step=step, provider=provider, new_face=new_face)

    async def recent(self, user_id: int, limit: int) -> list[Job]:
        return await self._jobs.recent(user_id, limit)

    async def resend(self, job: Job, chat_id: int) -> None:
        """Send a delivered video again, by its Telegram file_id (no upload)."""
        await self._jobs.resend(job, chat_id)

    async def request_video(self, job: Job) -> bool:
        """[Get my video]: a fresh delivery claim. False when one was already taken."""
        return await self._results.request(job)
