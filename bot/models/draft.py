"""The conversation in progress, as stored between updates."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from bot.models.media import AspectRatio, InputFile, MediaKind, VoiceKind


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
