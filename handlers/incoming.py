"""What a user's message is, as far as the conversation cares."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from telegram import Bot, Message

from bot.models import InputFile, MediaKind


class Kind(Enum):
    FACE = "face"
    VOICE = "voice"
    TEXT = "text"
    OTHER = "other"


@dataclass(frozen=True)
class Incoming:
    kind: Kind
    file: InputFile | None = None
    media_kind: MediaKind | None = None
    #: Seconds, as Telegram reports it (checked before downloading).
    duration: int | None = None
    text: str = ""


def classify(message: Message) -> Incoming:
    """Sort a message into face media, voice, text or something the bot cannot use."""
    if message.photo:
        size = message.photo[-1]
        return _face(MediaKind.PHOTO, "photo", size.file_id, size.file_unique_id, size.file_size)
    for source, media in (
        ("video", message.video),
        ("video_note", message.video_note),
        ("animation", message.animation),
    ):
        if media is not None:
            return _face(
                MediaKind.VIDEO,
                source,
                media.file_id,
                media.file_unique_id,
                media.file_size,
                getattr(media, "mime_type", None),
            )
    for source, audio in (("voice", message.voice), ("audio", message.audio)):
        if audio is not None:
            file = InputFile(
                file_id=audio.file_id,
                file_unique_id=audio.file_unique_id,
                source=source,
                file_size=audio.file_size,
                mime_type=audio.mime_type,
            )
            return Incoming(Kind.VOICE, file=file, duration=_seconds(audio))
    document = message.document
    if document is not None:
        mime = (document.mime_type or "").lower()
        file = InputFile(
            file_id=document.file_id,
            file_unique_id=document.file_unique_id,
            source="document",
            file_size=document.file_size,
            mime_type=mime,
        )
        if mime.startswith("image/"):
            return Incoming(Kind.FACE, file=file, media_kind=MediaKind.PHOTO)
        if mime.startswith("video/"):
            return Incoming(Kind.FACE, file=file, media_kind=MediaKind.VIDEO)
        if mime.startswith("audio/"):
            return Incoming(Kind.VOICE, file=file)
        return Incoming(Kind.OTHER)
    if message.text:
        return Incoming(Kind.TEXT, text=message.text)
    return Incoming(Kind.OTHER)


def replies_to(message: Message, bot: Bot) -> bool:
    """Whether ``message`` answers one of the bot's own messages (how groups talk to it)."""
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot.id


def _face(
    kind: MediaKind,
    source: str,
    file_id: str,
    unique_id: str,
    size: int | None,
    mime_type: str | None = None,
) -> Incoming:
    file = InputFile(
        file_id=file_id,
        file_unique_id=unique_id,
        source=source,
        file_size=size,
        mime_type=mime_type,
    )
    return Incoming(Kind.FACE, file=file, media_kind=kind)


def _seconds(media: object) -> int | None:
    # Read the raw value: PTB's `duration` property warns about its coming timedelta type.
    raw = getattr(media, "_duration", None)
    if raw is None:
        return None
    return int(raw.total_seconds()) if hasattr(raw, "total_seconds") else int(raw)
