"""Provider news as ProviderEvents, with failure reasons as codes (put into words only when
shown)."""

from __future__ import annotations

import logging

from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderRejected,
)
from bot.jobs.reasons import PROVIDER_REJECTED, shown_reason
from bot.models import Job, JobStatus, ProviderEvent, Reason, RemoteJob

log = logging.getLogger(__name__)


class JobEvents:
    """Builds the events that end or update a job. A failure's reason is stored as data (a
    :class:`Reason`); it becomes words only when shown (:func:`bot.jobs.reasons.reason_text`),
    which also fills ``{provider}`` from the job, so no label is stored."""

    def event(self, job: Job, remote: RemoteJob) -> ProviderEvent:
        """A provider's report as a ProviderEvent, with a failure's reason as data."""
        reason = None
        if remote.status is JobStatus.FAILED:
            reason = _rejected(remote.error)
        elif remote.status is JobStatus.CANCELED:
            reason = Reason(code="error.provider_canceled")
        return ProviderEvent(
            job_id=job.id,
            status=remote.status,
            progress=remote.progress,
            output_url=remote.output_url,
            reason=reason,
            credits=remote.credits,
        )

    def submit_failure(self, job: Job, exc: ProviderError) -> ProviderEvent:
        log.warning("Job %d: %s refused the submit: %s", job.id, job.provider, exc)
        if isinstance(exc, ProviderAuthError | ProviderOutOfCredits):
            return self.failure(job, "error.provider_unavailable")
        if isinstance(exc, ProviderRejected):
            return ProviderEvent(
                job_id=job.id, status=JobStatus.FAILED, reason=_rejected(exc.reason)
            )
        return self.failure(job, "error.provider_busy")

    def failure(
        self,
        job: Job,
        key: str,
        *,
        status: JobStatus = JobStatus.FAILED,
        **params: str | int | float,
    ) -> ProviderEvent:
        """An event ending ``job`` with the reason ``key`` (a locale key) and its ``params``."""
        return ProviderEvent(job_id=job.id, status=status, reason=Reason(code=key, params=params))


def _rejected(said: str | None) -> Reason:
    """A provider's "no", with its own reason (cleaned) when it gave one; without, the words
    say it gave none."""
    shown = shown_reason(said)
    return Reason(code=PROVIDER_REJECTED, params={} if shown is None else {"reason": shown})
