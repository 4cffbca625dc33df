"""The conversation in progress, as stored between updates.

A dialogue's draft holds its second speaker beside the first: ``avatar2`` and the ``voice2*``
fields mirror ``avatar`` and ``voice*`` (see :func:`second_speaker`), and ``turns`` says how
the two take turns. Drafts stored before dialogues existed load as single-speaker ones.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from bot.models.media import AspectRatio, InputFile, MediaKind, VoiceKind
from bot.models.order import (
    AudioVoice,
    AvatarFace,
    Dialogue,
    FaceKind,
    FileFace,
    Order,
    TextVoice,
    Turns,
    Voice,
    dialogue_seconds,
)

#: A speaker's voice fields; the second speaker's are the same with a ``2`` after ``voice``.
VOICE_FIELDS = ("voice", "voice_kind", "voice_text", "voice_id")


def second_speaker(fields: dict[str, object], second: bool = True) -> dict[str, object]:
    """``fields`` of the first speaker's voice (``voice``, ``voice_text``...) renamed as the
    second's (``voice2``, ``voice2_text``...) when ``second``; other names stay."""
    if not second:
        return fields
    return {
        (name.replace("voice", "voice2", 1) if name in VOICE_FIELDS else name): value
        for name, value in fields.items()
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
    #: A dialogue's second speaker's voice (VOICE is then the first's).
    VOICE2 = "voice2"
    VOICE2_CHECK = "voice2_check"
    #: A dialogue's speakers one after the other or at the same time.
    TURNS = "turns"
    RATIO = "ratio"
    PROVIDER = "provider"
    CONFIRM = "confirm"


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
    #: A provider's avatar chosen as the face instead of a file (``media`` is then None).
    avatar: AvatarFace | None = None
    voice_kind: VoiceKind | None = None
    voice: InputFile | None = None
    #: The typed text the voice is spoken from (``voice.source`` is then "text").
    voice_text: str | None = None
    #: The speaking voice chosen (with /voice) when the text was typed; None: the default.
    voice_id: str | None = None
    #: Two people talking (design §1, Dialogue): the face is one photo of both, or
    #: ``avatar`` and ``avatar2``; the voice fields are the first (left) speaker's.
    dialogue: bool = False
    #: The second speaker's avatar, when the face is two avatars.
    avatar2: AvatarFace | None = None
    #: The second (right) speaker's voice, as the first's fields above.
    voice2_kind: VoiceKind | None = None
    voice2: InputFile | None = None
    voice2_text: str | None = None
    voice2_id: str | None = None
    turns: Turns | None = None
    ratio: AspectRatio | None = None
    provider: str | None = None
    #: Providers not to offer: the one that just failed these inputs ([Other provider]).
    avoid: list[str] = []
    #: A face sent after the MEDIA step, waiting for [Use this face instead].
    offered_media: InputFile | None = None
    offered_media_kind: MediaKind | None = None
    #: A dialogue asking for its avatars again, its voices kept (one picked earlier is no
    #: longer offered): its MEDIA prompt takes avatars, not [Other photo]'s photo only.
    faces_again: bool = False
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

    @property
    def face_kind(self) -> FaceKind | None:
        """What the face is, once one was chosen or sent."""
        if self.avatar is not None:
            return FaceKind.AVATAR
        return None if self.media_kind is None else FaceKind(self.media_kind.value)

    @property
    def voice_kinds(self) -> list[VoiceKind] | None:
        """The kinds of every voice the draft needs (the second speaker's too, in a
        dialogue); None while one is missing."""
        kinds = [self.voice_kind, self.voice2_kind] if self.dialogue else [self.voice_kind]
        return None if None in kinds else [kind for kind in kinds if kind is not None]

    @property
    def seconds(self) -> float:
        """Length of the video as checked so far: the voice's, or a dialogue's by its
        turns (see :func:`dialogue_seconds`); 0 for a voice not checked yet."""
        first = _duration(self.voice)
        if not self.dialogue:
            return first
        return dialogue_seconds(first, _duration(self.voice2), self.turns)

    @classmethod
    def of_order(cls, order: Order, *, source: str, **fields: object) -> Draft:
        """A draft holding ``order``'s face, voice and ratio (and a dialogue's second
        speaker and turns: the order whole), to retry it or make it at another provider;
        ``source`` says where its files came from."""
        face = order.face
        held: dict[str, object] = {"ratio": order.ratio, **_held_voice(order.voice, source)}
        if isinstance(face, FileFace):
            held["media_kind"] = face.media_kind
            held["media"] = InputFile(file_id="", source=source, path=face.path, probe=face.probe)
        else:
            held["avatar"] = face
        dialogue = order.dialogue
        if dialogue is not None:
            second = second_speaker(_held_voice(dialogue.voice, source))
            # One language per draft: the first speaker's text's, else the second's.
            language = second.pop("language", None)
            held.setdefault("language", language)
            held |= {"dialogue": True, "avatar2": dialogue.avatar, "turns": dialogue.turns}
            held |= second
        return cls.model_validate({**held, **fields})

    def order(self) -> Order:
        """The order this draft makes: its face, voice and ratio, all set and checked.

        Raises:
            ValueError: something is missing or not checked yet (a bug in the caller).
        """
        if self.ratio is None:
            raise ValueError("no ratio chosen")
        dialogue = None
        if self.dialogue:
            if self.turns is None:
                raise ValueError("no turns chosen")
            if self.avatar is not None and self.avatar2 is None:
                raise ValueError("no second avatar")
            dialogue = Dialogue(
                voice=self._voice(second=True), avatar=self.avatar2, turns=self.turns
            )
        return Order(face=self._face(), voice=self._voice(), ratio=self.ratio, dialogue=dialogue)

    def _face(self) -> AvatarFace | FileFace:
        if self.avatar is not None:
            return self.avatar
        media = self.media
        if media is None or media.path is None or media.probe is None or self.media_kind is None:
            raise ValueError("no checked face")
        kind = FaceKind(self.media_kind.value)
        return FileFace(kind=kind, path=media.path, probe=media.probe)

    def _voice(self, *, second: bool = False) -> Voice:
        voice, text = (self.voice2, self.voice2_text) if second else (self.voice, self.voice_text)
        if voice is None or voice.path is None or voice.probe is None:
            raise ValueError("no checked voice")
        if text is None:
            return AudioVoice(path=voice.path, probe=voice.probe)
        return TextVoice(
            text=text,
            language=self.language or self.locale,
            voice_id=self.voice2_id if second else self.voice_id,
            path=voice.path,
            probe=voice.probe,
        )


def _held_voice(voice: Voice, source: str) -> dict[str, object]:
    """The first speaker's voice fields of a draft holding ``voice``."""
    if isinstance(voice, TextVoice):
        held = InputFile(file_id="", source="text", path=voice.path, probe=voice.probe)
        return {
            "voice": held,
            "voice_kind": voice.kind,
            "voice_text": voice.text,
            "voice_id": voice.voice_id,
            "language": voice.language,
        }
    held = InputFile(file_id="", source=source, path=voice.path, probe=voice.probe)
    return {"voice": held, "voice_kind": voice.kind}


def _duration(voice: InputFile | None) -> float:
    if voice is None or voice.probe is None:
        return 0.0
    return voice.probe.duration or 0.0
