"""Job types: a job's row, its states, and news about it from its provider."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.models.media import AspectRatio
from bot.models.order import Order


class JobStatus(StrEnum):
    """Where a job is in its life; persisted as text in the jobs table."""

    #: Created from a confirmed draft, waiting in line: the provider has as many jobs as
    #: PROVIDER_MAX_ACTIVE_JOBS allows.
    WAITING = "waiting"
    #: Being handed to the provider.
    SUBMITTING = "submitting"
    #: Accepted by the provider, waiting for a worker.
    QUEUED = "queued"
    #: The provider is rendering.
    RUNNING = "running"
    #: The provider produced a video; it is on our disk but not yet in the chat.
    SUCCEEDED = "succeeded"
    #: The video is in the chat.
    DELIVERED = "delivered"
    #: The provider or the delivery failed for good.
    FAILED = "failed"
    #: The user canceled before the provider finished.
    CANCELED = "canceled"
    #: The overall deadline passed without a result.
    EXPIRED = "expired"


class DeliveryClaim(StrEnum):
    """How far sending a succeeded job's video has got; moved by compare-and-set, so one
    upload is started per claim, and an upload whose outcome is unknown is never repeated
    without the user asking."""

    #: An upload was started: until Telegram answers, the video may or may not be in the chat.
    UPLOADING = "uploading"
    #: The upload's outcome stayed unknown; the user was offered a [Get my video] button.
    OFFERED = "offered"


#: States a job never leaves.
TERMINAL = frozenset(
    {JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.EXPIRED}
)
#: States in which the provider side still has work to do.
IN_FLIGHT = frozenset({JobStatus.SUBMITTING, JobStatus.QUEUED, JobStatus.RUNNING})
#: States a user's job can still be canceled in, and that count against USER_MAX_ACTIVE_JOBS.
ACTIVE = IN_FLIGHT | {JobStatus.WAITING}
#: Endings whose reservation is refunded (the user got no video).
REFUNDED = frozenset({JobStatus.FAILED, JobStatus.CANCELED, JobStatus.EXPIRED})


class Reason(BaseModel):
    """Why a job ended, as data: a locale key and its parameters, put into words only when a
    message is sent (so usage, /stats and refunds can read it). ``provider`` is filled with
    the job's provider label when the words are made."""

    model_config = ConfigDict(frozen=True)

    code: str
    params: dict[str, str | int | float] = {}


class NewJob(BaseModel):
    """A job about to be made: who asked, where, at which provider, for what."""

    model_config = ConfigDict(frozen=True)

    chat_id: int
    user_id: int
    chat_type: str
    locale: str
    provider: str
    order: Order


class Job(BaseModel):
    """A row of the jobs table."""

    id: int
    chat_id: int
    user_id: int
    chat_type: str
    locale: str
    provider: str
    status: JobStatus
    #: What the user asked for (one JSON column).
    order: Order
    provider_job_id: str | None = None
    progress: int | None = None
    #: Why it ended (failed, canceled, expired). Jobs from before reasons were data have
    #: their words in ``error`` instead.
    reason: Reason | None = None
    error: str | None = None
    #: Seconds of quota reserved at [Generate] (None: made before quotas were counted).
    seconds: int | None = None
    #: When it went to its provider: made, or admitted from the line (None: before lines).
    started_at: datetime | None = None
    status_message_id: int | None = None
    output_path: str | None = None
    output_url: str | None = None
    result_file_id: str | None = None
    #: None until the video's upload is claimed (succeeded jobs only).
    delivery: DeliveryClaim | None = None
    credits: float | None = None
    submit_started_at: datetime | None = None
    #: A keyed create's Idempotency-Key (sync.so's), fixed at its first send and sent with
    #: every resend; its name in the provider's dashboard too. None at other providers.
    submit_key: str | None = None
    deadline_at: datetime | None = None
    next_poll_at: datetime | None = None
    poll_failures: int = 0
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @property
    def ratio(self) -> AspectRatio:
        return self.order.ratio

    @property
    def duration(self) -> float:
        """Seconds of video this job makes: the length of the voice."""
        return self.order.seconds


class RemoteJob(BaseModel):
    """A provider's job as the provider reports it, in our vocabulary."""

    model_config = ConfigDict(frozen=True)

    provider_job_id: str
    #: QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELED.
    status: JobStatus
    progress: int | None = None
    #: Where the finished video can be downloaded (succeeded only).
    output_url: str | None = None
    #: The provider's reason, in its own words (failed only).
    error: str | None = None
    #: What the provider says it charged, in its own credits.
    credits: float | None = None
    #: The name we gave the job at submit, when the provider echoes it.
    name: str | None = None


class ProviderEvent(BaseModel):
    """News about a job from its provider; webhooks and polls both produce one of these."""

    model_config = ConfigDict(frozen=True)

    job_id: int
    status: JobStatus
    #: Percent done, when the provider says.
    progress: int | None = None
    #: The finished video on our disk (local providers).
    output_path: str | None = None
    #: Where to download the finished video (remote providers).
    output_url: str | None = None
    #: Why it ended (failed, canceled, expired), as data: put into words when shown.
    reason: Reason | None = None
    credits: float | None = None
