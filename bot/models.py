"""Domain types shared by every layer: no I/O, no Telegram, no SQL."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict


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


#: Of a voice's length, what is forgiven before a limit or a price rounds it up: containers
#: pad a few hundredths (a 3 s voice note probes as 3.02 s), which must not count as a second.
PADDING_SECONDS = 0.25

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


class MediaKind(StrEnum):
    """What the MEDIA step received."""

    PHOTO = "photo"
    VIDEO = "video"


class VoiceKind(StrEnum):
    """What the VOICE step received."""

    AUDIO = "audio"
    TEXT = "text"


class AspectRatio(StrEnum):
    """The output shapes a user can pick; the values are also the button labels."""

    PORTRAIT = "9:16"
    SQUARE = "1:1"
    LANDSCAPE = "16:9"

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the rendered output."""
        return _SIZES[self]


_SIZES = {
    AspectRatio.PORTRAIT: (720, 1280),
    AspectRatio.SQUARE: (720, 720),
    AspectRatio.LANDSCAPE: (1280, 720),
}


class Step(StrEnum):
    """Conversation steps, persisted with the draft so a restart resumes at the same place.

    The ``*_CHECK`` steps mean a file was accepted and is being downloaded and probed in the
    background; the conversation moves on when that finishes.
    """

    MEDIA = "media"
    MEDIA_CHECK = "media_check"
    VOICE = "voice"
    VOICE_CHECK = "voice_check"
    RATIO = "ratio"
    PROVIDER = "provider"
    CONFIRM = "confirm"


class Probe(BaseModel):
    """What ffmpeg found in a file."""

    model_config = ConfigDict(frozen=True)

    duration: float | None
    width: int | None = None
    height: int | None = None
    has_video: bool = False
    has_audio: bool = False
    #: True for still images (single frame, image codec).
    is_image: bool = False


class InputFile(BaseModel):
    """One file the user sent, as remembered in the draft."""

    file_id: str
    file_unique_id: str = ""
    #: What the user sent it as: photo, video, video_note, voice, audio, document.
    source: str
    file_size: int | None = None
    mime_type: str | None = None
    #: Set once downloaded and probed.
    path: str | None = None
    probe: Probe | None = None


class Draft(BaseModel):
    """A conversation in progress for one (chat, user)."""

    chat_id: int
    user_id: int
    #: Random per conversation; buttons carry it so old ones are recognised.
    token: str
    chat_type: str = "private"
    step: Step = Step.MEDIA
    media_kind: MediaKind | None = None
    media: InputFile | None = None
    voice_kind: VoiceKind | None = None
    voice: InputFile | None = None
    #: The typed text the voice is spoken from (``voice.source`` is then "text").
    voice_text: str | None = None
    ratio: AspectRatio | None = None
    provider: str | None = None
    #: Providers not to offer: the one that just failed these inputs ([Other provider]).
    avoid: list[str] = []
    #: A face sent after the MEDIA step, waiting for [Use this face instead].
    offered_media: InputFile | None = None
    offered_media_kind: MediaKind | None = None
    #: The user's latest message in this conversation; in groups prompts reply to it.
    reply_to: int | None = None
    #: In groups, the conversation's latest prompt: typed text is an answer only when it
    #: replies to this (a reply to any other message of the bot is group chatter).
    prompt_id: int | None = None
    locale: str = "en"
    #: The user's Telegram language as sent (``de``, ``pt-br``...): what typed text is spoken
    #: in, even where the bot's own words fall back to English.
    language: str | None = None
    updated_at: datetime | None = None


class Order(BaseModel):
    """Everything a provider needs to render one video."""

    model_config = ConfigDict(frozen=True)

    job_id: int
    media_kind: MediaKind
    media_path: Path
    media_probe: Probe
    voice_path: Path
    voice_probe: Probe
    ratio: AspectRatio


class Job(BaseModel):
    """A row of the jobs table."""

    id: int
    chat_id: int
    user_id: int
    chat_type: str
    locale: str
    provider: str
    status: JobStatus
    media_kind: MediaKind
    media_path: str
    media_probe: Probe
    voice_path: str
    voice_probe: Probe
    ratio: AspectRatio
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
    deadline_at: datetime | None = None
    next_poll_at: datetime | None = None
    poll_failures: int = 0
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @property
    def order(self) -> Order:
        """The provider-facing view of this job."""
        return Order(
            job_id=self.id,
            media_kind=self.media_kind,
            media_path=Path(self.media_path),
            media_probe=self.media_probe,
            voice_path=Path(self.voice_path),
            voice_probe=self.voice_probe,
            ratio=self.ratio,
        )

    @property
    def duration(self) -> float:
        """Seconds of video this job makes: the length of the voice."""
        return self.voice_probe.duration or 0.0


class Capabilities(BaseModel):
    """What a provider can take, as data the conversation uses to offer it."""

    model_config = ConfigDict(frozen=True)

    media: frozenset[MediaKind]
    voice: frozenset[VoiceKind]
    #: Free and offline: users are told it does not move lips.
    is_preview: bool = False

    def accepts(self, media: MediaKind, voice: VoiceKind) -> bool:
        """Whether this provider can render this media with this voice."""
        return media in self.media and voice in self.voice


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
