"""Domain types shared by every layer: no I/O, no Telegram, no SQL."""

from bot.models.draft import Draft, Step
from bot.models.jobs import (
    ACTIVE,
    IN_FLIGHT,
    REFUNDED,
    TERMINAL,
    Capabilities,
    DeliveryClaim,
    Job,
    JobStatus,
    Order,
    ProviderEvent,
    Reason,
    RemoteJob,
)
from bot.models.media import (
    PADDING_SECONDS,
    AspectRatio,
    InputFile,
    MediaKind,
    Probe,
    VoiceKind,
)

__all__ = [
    "ACTIVE",
    "IN_FLIGHT",
    "PADDING_SECONDS",
    "REFUNDED",
    "TERMINAL",
    "AspectRatio",
    "Capabilities",
    "DeliveryClaim",
    "Draft",
    "InputFile",
    "Job",
    "JobStatus",
    "MediaKind",
    "Order",
    "Probe",
    "ProviderEvent",
    "Reason",
    "RemoteJob",
    "Step",
    "VoiceKind",
]
