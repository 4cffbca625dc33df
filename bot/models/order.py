"""The order: what a user asked for, as data (design §3), and what a provider can take.

A face is a photo, a video or a provider's avatar; a voice is a recording or a typed text.
A typed text is always spoken at the VOICE step (by the local engine or a provider's voice),
so its length, price and quota are known before [Generate]; a provider that takes text
natively gets the text, the others get the spoken file. The order is stored as one JSON
column, so a new kind of face or voice needs no new columns.

A dialogue (two people talking, design §1) is an order with a :class:`Dialogue`: the order's
face and voice are the first (left) speaker's, the dialogue holds the second's voice, the
second avatar (when the face is two avatars rather than one photo of both) and how the two
take turns. Orders stored before dialogues existed load with none.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.models.avatars import Gender
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
    #: As its provider labels it, if it does: a voice to read its text is matched to it.
    gender: Gender | None = None


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


class Turns(StrEnum):
    """How the two speakers of a dialogue take turns."""

    #: The first (left) speaker, then the second (right).
    ONE_AFTER_THE_OTHER = "one_after_the_other"
    #: Both at once.
    AT_THE_SAME_TIME = "at_the_same_time"


def dialogue_seconds(first: float, second: float, turns: Turns | None) -> float:
    """Length of a dialogue: the sum of the voices one after the other, the longer at the
    same time (``turns`` not chosen yet: the sum, the most it can be)."""
    return max(first, second) if turns is Turns.AT_THE_SAME_TIME else first + second


class Dialogue(BaseModel):
    """The second speaker of a two-speaker order, and how the two take turns."""

    model_config = ConfigDict(frozen=True)

    #: The second (right) speaker's voice.
    voice: Voice
    #: The second speaker's avatar; None when the face is one photo of both speakers.
    avatar: AvatarFace | None = None
    turns: Turns


class Order(BaseModel):
    """Everything a provider needs to render one video."""

    model_config = ConfigDict(frozen=True)

    #: The face; in a dialogue, the photo of both speakers or the first speaker's avatar.
    face: Face
    #: The voice; in a dialogue, the first (left) speaker's.
    voice: Voice
    ratio: AspectRatio
    dialogue: Dialogue | None = None

    @property
    def seconds(self) -> float:
        """Length of the video: the voice's, as recorded or spoken; a dialogue's by its
        turns (what quota and most providers bill)."""
        first = self.voice.probe.duration or 0.0
        if self.dialogue is None:
            return first
        second = self.dialogue.voice.probe.duration or 0.0
        return dialogue_seconds(first, second, self.dialogue.turns)

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

    @property
    def voices(self) -> list[Voice]:
        """The voices, the first speaker's first."""
        return [self.voice] if self.dialogue is None else [self.voice, self.dialogue.voice]

    def files(self) -> list[Path]:
        """Every file of the user's the order refers to (what retention must keep)."""
        face = self.face_file
        voices = [Path(voice.path) for voice in self.voices]
        return [Path(face.path), *voices] if face else voices


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
    #: The longest voice the provider takes (None: no limit of its own)...
    max_seconds: float | None = None
    #: ...or, for a face listed here, that face's (Creatify: Aurora's 60 s are for photos).
    face_max_seconds: dict[FaceKind, float] = {}
    #: The longest text it takes natively.
    max_text_chars: int | None = None
    #: Free and offline: users are told it does not move lips.
    is_preview: bool = False
    #: Two-speaker videos: the faces it makes them of (a photo of both people; two of its
    #: avatars), none when it makes none...
    dialogue_faces: frozenset[FaceKind] = frozenset()
    #: ...how the two may take turns...
    dialogue_turns: frozenset[Turns] = frozenset()
    #: ...and whether their voices may be recordings (Creatify's scenes take text only).
    dialogue_audio: bool = True

    def accepts(self, face: FaceKind, voice: VoiceKind, seconds: float = 0.0) -> bool:
        """Whether this provider can render this face with this voice of ``seconds``; typed
        text is a recording once spoken."""
        takes_voice = self.audio or (voice is VoiceKind.TEXT and self.native_text)
        return face in self.faces and takes_voice and self._fits(face, seconds)

    def accepts_dialogue(
        self,
        face: FaceKind,
        voices: Collection[VoiceKind] = (),
        turns: Turns | None = None,
        seconds: float = 0.0,
    ) -> bool:
        """Whether this provider makes a dialogue of this face with these voices, taking
        ``turns`` (None: either way it offers) and lasting ``seconds``."""
        recordings = self.audio and self.dialogue_audio
        takes_voices = all(
            recordings or (voice is VoiceKind.TEXT and self.native_text) for voice in voices
        )
        takes_turns = bool(self.dialogue_turns) and (turns is None or turns in self.dialogue_turns)
        fits = self._fits(face, seconds)
        return face in self.dialogue_faces and takes_voices and takes_turns and fits

    def limit(self, face: FaceKind) -> float | None:
        """The longest video of ``face`` it makes (None: no limit of its own)."""
        return self.face_max_seconds.get(face, self.max_seconds)

    def _fits(self, face: FaceKind, seconds: float) -> bool:
        limit = self.limit(face)
        return limit is None or seconds <= limit

    def makes(self, order: Order) -> bool:
        """Whether this provider can make ``order`` as it is (its face, every voice, a
        dialogue's turns, its length and ratio): what another provider must do to be offered
        after a failure. Whose avatar it is, is the caller's to check."""
        kinds = [voice.kind for voice in order.voices]
        if order.dialogue is None:
            able = self.accepts(order.face_kind, kinds[0], order.seconds)
        else:
            turns = order.dialogue.turns
            able = self.accepts_dialogue(order.face_kind, kinds, turns, order.seconds)
        return able and order.ratio in self.ratios
