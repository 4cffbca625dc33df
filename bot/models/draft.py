"""The conversation in progress, as stored between updates."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from bot.models.media import AspectRatio, InputFile, MediaKind, VoiceKind
from bot.models.order import (
    AudioVoice,
    AvatarFace,
    FaceKind,
    FileFace,
    Order,
    TextVoice,
    Voice,
)


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

    @property
    def face_kind(self) -> FaceKind | None:
        """What the face is, once one was chosen or sent."""
        if self.avatar is not None:
            return FaceKind.AVATAR
        return None if self.media_kind is None else FaceKind(self.media_kind.value)

    @classmethod
    def of_order(cls, order: Order, *, source: str, **fields: object) -> Draft:
        """A draft holding ``order``'s face, voice and ratio (to retry it, or make it at
        another provider); ``source`` says where its files came from."""
        face, voice = order.face, order.voice
        held: dict[str, object] = {"ratio": order.ratio, "voice_kind": voice.kind}
        if isinstance(face, FileFace):
            held["media_kind"] = face.media_kind
            held["media"] = InputFile(file_id="", source=source, path=face.path, probe=face.probe)
        else:
            held["avatar"] = face
        if isinstance(voice, TextVoice):
            held["voice"] = InputFile(
                file_id="", source="text", path=voice.path, probe=voice.probe
            )
            held |= {
                "voice_text": voice.text,
                "voice_id": voice.voice_id,
                "language": voice.language,
            }
        else:
            held["voice"] = InputFile(
                file_id="", source=source, path=voice.path, probe=voice.probe
            )
        return cls.model_validate({**held, **fields})

    def order(self) -> Order:
        """The order this draft makes: its face, voice and ratio, all set and checked.

        Raises:
            ValueError: something is missing or not checked yet (a bug in the caller).
        """
        if self.ratio is None:
            raise ValueError("no ratio chosen")
        return Order(face=self._face(), voice=self._voice(), ratio=self.ratio)

    def _face(self) -> AvatarFace | FileFace:
        if self.avatar is not None:
            return self.avatar
        media = self.media
        if media is None or media.path is None or media.probe is None or self.media_kind is None:
            raise ValueError("no checked face")
        kind = FaceKind(self.media_kind.value)
        return FileFace(kind=kind, path=media.path, probe=media.probe)

    def _voice(self) -> Voice:
        voice = self.voice
        if voice is None or voice.path is None or voice.probe is None:
            raise ValueError("no checked voice")
        if self.voice_text is None:
            return AudioVoice(path=voice.path, probe=voice.probe)
        return TextVoice(
            text=self.voice_text,
            language=self.language or self.locale,
            voice_id=self.voice_id,
            path=voice.path,
            probe=voice.probe,
        )
