"""Provider news as ProviderEvents, with failure reasons in the user's own language."""

from __future__ import annotations

import logging

from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderRejected,
)
from bot.i18n import Translator
from bot.jobs.reasons import shown_reason
from bot.models import Job, JobStatus, ProviderEvent, RemoteJob

log = logging.getLogger(__name__)


class JobEvents:
    def __init__(self, translator: Translator) -> None:
        self._t = translator

    def event(self, job: Job, remote: RemoteJob) -> ProviderEvent:
        """A provider's report as a ProviderEvent, with failure reasons in the user's words."""
        error = None
        if remote.status is JobStatus.FAILED:
            error = self._t.t(
                job.locale,
                "error.provider_rejected",
                provider=self._provider_label(job),
                reason=shown_reason(remote.error) or self._t.t(job.locale, "error.no_reason"),
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

    def submit_failure(self, job: Job, exc: ProviderError) -> ProviderEvent:
        log.warning("Job %d: %s refused the submit: %s", job.id, job.provider, exc)
        if isinstance(exc, ProviderAuthError | ProviderOutOfCredits):
            return self.failure(job, "error.provider_unavailable")
        if isinstance(exc, ProviderRejected):
            reason = shown_reason(exc.reason) or self._t.t(job.locale, "error.no_reason")
            return self.failure(job, "error.provider_rejected", reason=reason)
        return self.failure(job, "error.provider_busy")

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
