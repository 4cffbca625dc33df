"""Domain types shared by every layer: no I/O, no Telegram, no SQL."""

from bot.models.avatars import Avatar, Gender
from bot.models.draft import Draft, Step
from bot.models.jobs import (
    ACTIVE,
    IN_FLIGHT,
    REFUNDED,
    TERMINAL,
    DeliveryClaim,
    Job,
    JobStatus,
    NewJob,
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
from bot.models.order import (
    AudioVoice,
    AvatarFace,
    Capabilities,
    Face,
    FaceKind,
    FileFace,
    Order,
    TextVoice,
    Voice,
)

__all__ = [
    "ACTIVE",
    "IN_FLIGHT",
    "PADDING_SECONDS",
    "REFUNDED",
    "TERMINAL",
    "AspectRatio",
    "AudioVoice",
    "Avatar",
    "AvatarFace",
    "Capabilities",
    "DeliveryClaim",
    "Draft",
    "Face",
    "FaceKind",
    "FileFace",
    "Gender",
    "InputFile",
    "Job",
    "JobStatus",
    "MediaKind",
    "NewJob",
    "Order",
    "Probe",
    "ProviderEvent",
    "Reason",
    "RemoteJob",
    "Step",
    "TextVoice",
    "Voice",
    "VoiceKind",
]
