"""Creatify's catalogues: stock avatars (``GET /api/personas/``) and voice accents
(``GET /api/voices/``), read defensively: every field's type is checked, ids and URLs too
(URLs are fetched later, and only through the safe download), and an item that fails a check
is skipped, never fatal.

A persona's name is kept as sent, only bounded: bot.avatars cleans avatar names for display,
once, for every provider (bot.avatars.names). Voice names have no such second reader, so
they are cleaned here (``label``).
"""

from __future__ import annotations

import logging
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.models.avatars import Avatar, Gender
from bot.providers.base import identifier
from bot.providers.creatify_jobs import ACCENT_PREFIX, PROVIDER

log = logging.getLogger(__name__)

#: Voice names are shown in chats: long enough for "Ana Clara 12", no essays.
MAX_LABEL = 64
#: A persona's name as sent, bounded: bot.avatars.names cleans it (and reads no more).
MAX_NAME_CHARS = 1024
MAX_URL = 2048


def label(value: object) -> str | None:
    """A name to show: control and format characters (newlines, right-to-left overrides)
    removed, spaces collapsed, clipped; None when nothing is left."""
    if not isinstance(value, str):
        return None
    kept = "".join(_shown(c) for c in value[: MAX_LABEL * 4])
    shown = " ".join(kept.split())[:MAX_LABEL].strip()
    return shown or None


def _shown(char: str) -> str:
    """A control character (newline, tab) becomes a space; format characters (right-to-left
    overrides, zero-width spaces) and unassigned ones are dropped."""
    kind = unicodedata.category(char)
    if kind == "Cc":
        return " "
    return "" if kind[0] == "C" else char


def link(value: object) -> str | None:
    """An http(s) URL without spaces or control characters (fetched later only through the
    safe download, which checks the address), else None."""
    if not isinstance(value, str) or len(value) > MAX_URL or not value.isprintable():
        return None
    if " " in value or not value.startswith(("https://", "http://")):
        return None
    return value


#: Persona preview fields' ratio spellings, and ours.
_VARIANTS = {"9_16": "9:16", "1_1": "1:1", "16_9": "16:9"}


def parse_avatars(items: list[Any], limit: int) -> list[Avatar]:
    """The active, well-formed stock personas of ``GET /api/personas/``, from the first
    ``limit`` items. Pure and slow for a big list (thousands of pydantic models): run off the
    loop.

    The list also holds the account's custom avatars once they are built: each is a real
    person's face, for its owner only (bot.avatars.custom offers it to them), so anything
    whose ``type`` is not ``stock`` (the documented example's [C]; custom ones' value is
    undocumented) is left out, and said in the log."""
    found: list[Avatar] = []
    others: dict[str, int] = {}
    for item in items[:limit]:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind is not None and (not isinstance(kind, str) or kind.strip().lower() != "stock"):
            shown = label(str(kind)) or "?"
            others[shown] = others.get(shown, 0) + 1
            continue
        if (avatar := parse_avatar(item)) is not None:
            found.append(avatar)
    if others:
        log.info("Creatify personas not offered as stock avatars, by type: %s", others)
    return found


def parse_avatar(data: object) -> Avatar | None:
    """One persona of ``GET /api/personas/`` as an Avatar; None when inactive or malformed.
    Its name is the raw ``creator_name``, bounded (see the module docstring)."""
    if not isinstance(data, dict) or data.get("is_active", True) is not True:
        return None
    avatar_id, name = identifier(data.get("id")), data.get("creator_name")
    if avatar_id is None or not isinstance(name, str):
        return None
    gender = data.get("gender")
    images, videos = {}, {}
    for variant, ratio in _VARIANTS.items():
        if image := link(data.get(f"preview_image_{variant}")):
            images[ratio] = image
        if video := link(data.get(f"preview_video_{variant}")):
            videos[ratio] = video
    return Avatar(
        provider=PROVIDER,
        avatar_id=avatar_id,
        name=name[:MAX_NAME_CHARS],
        gender=Gender(gender) if gender in {g.value for g in Gender} else None,
        preview_images=images,
        preview_videos=videos,
    )


class CreatifyVoice(BaseModel):
    """One accent of a Creatify voice: what ``/voice`` could offer for avatars."""

    model_config = ConfigDict(frozen=True)

    accent_id: str
    #: "American English accent"...
    accent_name: str
    #: The voice's own name ("Fatima").
    name: str
    gender: Gender | None = None
    preview_url: str | None = None

    @property
    def voice_id(self) -> str:
        """What ``TextVoice.voice_id`` holds when the user picks this accent."""
        return f"{ACCENT_PREFIX}{self.accent_id}"


#: ``GET /api/voices/`` spells genders out (the voice-clone answer's enum).
_VOICE_GENDERS = {"female": Gender.FEMALE, "male": Gender.MALE, "non_binary": Gender.NONBINARY}


def parse_voices(voices: list[Any], limit: int) -> list[CreatifyVoice]:
    """The accents of ``GET /api/voices/``, flattened, at most ``limit``; malformed voices and
    accents are skipped."""
    found: list[CreatifyVoice] = []
    for voice in voices:
        if not isinstance(voice, dict) or not isinstance(voice.get("accents"), list):
            continue
        name = label(voice.get("name"))
        if name is None:
            continue
        gender = voice.get("gender")
        for item in voice["accents"]:
            if len(found) >= limit:
                return found
            if not isinstance(item, dict):
                continue
            accent_id, accent_name = identifier(item.get("id")), label(item.get("accent_name"))
            if accent_id is None or accent_name is None:
                continue
            found.append(
                CreatifyVoice(
                    accent_id=accent_id,
                    accent_name=accent_name,
                    name=name,
                    gender=_VOICE_GENDERS.get(gender) if isinstance(gender, str) else None,
                    preview_url=link(item.get("preview_url")),
                )
            )
    return found
