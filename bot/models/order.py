"""The order: what a user asked for, as data (design §3), and what a provider can take.

A face is a photo, a video or a provider's avatar; a voice is a recording or a typed text.
A typed text is always spoken at the VOICE step (by the local engine or a provider's voice),
so its length, price and quota are known before [Generate]; a provider that takes text
natively gets the text, the others get the spoken file. The order is stored as one JSON
column, so a new kind of face or voice needs no new columns.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.models.media import AspectRatio, MediaKind, Probe, VoiceKind

#: Between paragraphs: a line with nothing on it but spaces (any line ending).
_BLANK_LINE = re.compile(r"(?:\r?\n|\r)[^\S\r\n]*(?:\r?\n|\r)")


class FaceKind(StrEnum):
    """What the face of an order is."""

    PHOTO = "photo"
    VIDEO = "video"
    AVATAR = "avatar"


class FileFace(BaseModel):
    """A photo or video the user sent, downloaded and probed."""

    model_config = ConfigDict(frozen=True)

    kind: Literal[FaceKind.PHOTO, FaceKind.VIDEO]
    path: str
    probe: Probe

    @property
    def media_kind(self) -> MediaKind:
        return MediaKind(self.kind.value)


class AvatarFace(BaseModel):
    """A ready-made avatar of one provider (Creatify's personas)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal[FaceKind.AVATAR] = FaceKind.AVATAR
    provider: str
    avatar_id: str
    #: Its display name, for summaries and captions.
    name: str


Face = Annotated[FileFace | AvatarFace, Field(discriminator="kind")]


class AudioVoice(BaseModel):
    """A recording the user sent, downloaded and probed."""

    model_config = ConfigDict(frozen=True)

    kind: Literal[VoiceKind.AUDIO] = VoiceKind.AUDIO
    path: str
    probe: Probe


class TextVoice(BaseModel):
    """A typed text, and the recording it was spoken into at the VOICE step."""

    model_config = ConfigDict(frozen=True)

    kind: Literal[VoiceKind.TEXT] = VoiceKind.TEXT
    text: str
    #: The user's Telegram language (``en``, ``pt-br``...): what the text is spoken in.
    language: str
    #: The speaking voice chosen with /voice (None: the language's default).
    voice_id: str | None = None
    #: The text as spoken: what prices the order, and what providers without text get.
    path: str
    probe: Probe

    def paragraphs(self) -> list[str]:
        """The text's paragraphs (blank lines between them): one scene each where a provider
        makes scenes."""
        blocks = (block.strip() for block in _BLANK_LINE.split(self.text))
        return [block for block in blocks if block]


Voice = Annotated[AudioVoice | TextVoice, Field(discriminator="kind")]


class Order(BaseModel):
    """Everything a provider needs to render one video."""

    model_config = ConfigDict(frozen=True)

    face: Face
    voice: Voice
    ratio: AspectRatio

    @property
    def seconds(self) -> float:
        """Length of the video: the voice's, as recorded or spoken."""
        return self.voice.probe.duration or 0.0

    @property
    def face_kind(self) -> FaceKind:
        return self.face.kind

    @property
    def voice_kind(self) -> VoiceKind:
        return self.voice.kind

    @property
    def face_file(self) -> FileFace | None:
        """The face as a file, or None for an avatar."""
        return self.face if isinstance(self.face, FileFace) else None

    @property
    def voice_file(self) -> Path:
        """The voice as a recording (a text's spoken copy)."""
        return Path(self.voice.path)

    def files(self) -> list[Path]:
        """Every file of the user's the order refers to (what retention must keep)."""
        face = self.face_file
        return [Path(face.path), self.voice_file] if face else [self.voice_file]


class Capabilities(BaseModel):
    """What a provider can take, as data: the conversation offers only providers able to
    make the order, and text reaches a provider as text only where it takes it natively."""

    model_config = ConfigDict(frozen=True)

    faces: frozenset[FaceKind]
    #: Whether recordings are taken (typed text's spoken copy included): Creatify takes
    #: them only by URL, so not when the bot is not public.
    audio: bool = True
    #: Whether typed text is sent as text (else its spoken copy is sent as audio).
    native_text: bool = False
    ratios: frozenset[AspectRatio] = frozenset(AspectRatio)
    #: The longest voice the provider takes (None: no limit of its own).
    max_seconds: float | None = None
    #: The longest text it takes natively.
    max_text_chars: int | None = None
    #: Free and offline: users are told it does not move lips.
    is_preview: bool = False

    def accepts(self, face: FaceKind, voice: VoiceKind, seconds: float = 0.0) -> bool:
        """Whether this provider can render this face with this voice of ``seconds``; typed
        text is a recording once spoken."""
        takes_voice = self.audio or (voice is VoiceKind.TEXT and self.native_text)
        fits = self.max_seconds is None or seconds <= self.max_seconds
        return face in self.faces and takes_voice and fits
