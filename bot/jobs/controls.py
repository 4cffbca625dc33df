"""What a user can do to their own jobs: start one from a confirmed draft, cancel it, and
after a failure try again or take the same inputs to another provider."""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from pathlib import Path

from bot.delivery.status import StatusMessages
from bot.jobs.service import JobService
from bot.jobs.states import JobStates
from bot.models import ACTIVE, Draft, Job, JobStatus, Step
from storage import JobRepository

log = logging.getLogger(__name__)

#: Presses remembered for "Already started": a double tap comes within seconds, so the newest
#: few thousand are plenty (and a restart forgetting them only costs the friendlier answer).
STARTS_REMEMBERED = 4096


class JobControls:
    def __init__(
        self,
        *,
        repo: JobRepository,
        states: JobStates,
        jobs: JobService,
        status: StatusMessages,
    ) -> None:
        self._repo = repo
        self._states = states
        self._jobs = jobs
        self._status = status
        self._starts: OrderedDict[str, int] = OrderedDict()

    async def generate(self, draft: Draft, *, reply_to: int | None, claim: str) -> Job:
        """Make a job of a confirmed draft (its status message replies to ``reply_to``).

        Args:
            draft: media, voice, ratio and provider all set.
            reply_to: the message the status message answers (the order's summary).
            claim: what the press was (a draft token, a failed job): a second press of the
                same finds the job in :meth:`started`.
        """
        job = await self._jobs.create(draft, chat_type=draft.chat_type, reply_to=reply_to)
        self._starts[claim] = job.id
        while len(self._starts) > STARTS_REMEMBERED:
            self._starts.popitem(last=False)
        return job

    def started(self, claim: str) -> int | None:
        """The job a press like ``claim`` already made, if this process remembers one."""
        return self._starts.get(claim)

    async def cancel(self, job: Job) -> bool:
        """Stop a job that is not being sent yet; its result, should one still come (a late
        webhook, poll or render), is never delivered: every change is a compare-and-set.

        Returns:
            False when it was too late (being sent, or already ended).
        """
        # Waiting in line too; the reservation is refunded with the same write.
        if not await self._states.move(job.id, ACTIVE, JobStatus.CANCELED):
            return False
        log.info("Job %d canceled by its user", job.id)
        # Its work here stops too (a local render's ffmpeg is killed, a remote job still
        # preparing its inputs is never sent), but never a create already on its way: cut
        # off, the provider would make and charge for a job whose id the bot never records.
        # The row, read after the cancel, can no longer get a submit mark.
        current = await self._repo.get(job.id)
        if current is not None and current.submit_started_at is None:
            self._jobs.stop(job.id)
        await self._status.canceled(job)
        return True

    async def cancel_active(self, chat_id: int, user_id: int) -> list[int]:
        """/cancel: stop the user's queued or running jobs in this chat. Returns their ids."""
        canceled = []
        for job in await self._repo.active(chat_id, user_id):
            if await self.cancel(job):
                canceled.append(job.id)
        return canceled

    def draft_from(
        self, job: Job, *, step: Step, provider: str | None, new_face: bool = False
    ) -> Draft | None:
        """A draft holding ``job``'s inputs, at ``step``; None when its files are gone.
        ``new_face``: all but the face ([Other photo]), which the draft asks for again."""
        face = job.order.face_file
        kept = [p for p in job.order.files() if not (new_face and face and p == Path(face.path))]
        if not all(path.exists() for path in kept):
            return None
        draft = Draft.of_order(
            job.order,
            source="retry",
            chat_id=job.chat_id,
            user_id=job.user_id,
            token=secrets.token_urlsafe(6),
            chat_type=job.chat_type,
            step=step,
            provider=provider,
            avoid=[job.provider] if provider is None else [],
            locale=job.locale,
        )
        if new_face:
            return draft.model_copy(update={"media": None, "media_kind": None})
        return draft
