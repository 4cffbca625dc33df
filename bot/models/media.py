"""Media types: what a file the user sent is, and what ffmpeg found in it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

#: Of a voice's length, what is forgiven before a limit or a price rounds it up: containers
#: pad a few hundredths (a 3 s voice note probes as 3.02 s), which must not count as a second.
PADDING_SECONDS = 0.25


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
