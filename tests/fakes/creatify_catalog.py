"""Stock avatars ("personas") and voices of the fake Creatify API (providers.md 1.8).

Ids are deterministic (uuid5 of the seed index), so two fakes seeded alike agree and a test can
name an avatar before the fake exists. Media URLs point at the fake itself (``/_media/...``),
which serves real JPEGs, MP4s and MP3s (tests/fakes/creatify_media.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
_NAMESPACE = uuid.UUID("6f1d8c52-3b0e-4a5e-9a57-0c6a1d2b7e11")

GENDERS = ("m", "f", "nb")
AGE_RANGES = ("child", "teen", "adult", "senior")
#: (creator_name, gender, age_range) of the stock personas, cycled by ``stock_personas``.
STOCK = (
    ("Jessica", "f", "adult"),
    ("Marcus", "m", "adult"),
    ("Ana Clara", "f", "adult"),
    ("Rafael", "m", "senior"),
    ("Sam", "nb", "adult"),
    ("Priya", "f", "teen"),
    ("Kenji", "m", "adult"),
    ("Olivia", "f", "senior"),
    ("Diego", "m", "teen"),
    ("Amara", "f", "adult"),
)
LOCATIONS = ("indoor", "outdoor")
STYLES = ("presenter", "selfie", "other")
SCENES = ("office", "studio", "street", "kitchen")


def stable_id(kind: str, n: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}-{n}"))


@dataclass(slots=True)
class Persona:
    """One avatar; ``persona_object`` turns it into the API's Persona object."""

    id: str
    creator_name: str
    gender: str
    age_range: str = "adult"
    location: str = "indoor"
    style: str = "presenter"
    video_scene: str = "office"
    keywords: str = "friendly,professional"
    suitable_industries: str = "e-commerce,saas"
    type: str = "stock"  # [I]: values undocumented; custom avatars say "custom"
    is_active: bool = True
    process_status: str = "done"
    failed_reason: str = ""
    created_at: str = "2024-05-02T10:11:12.000000Z"


@dataclass(slots=True)
class Voice:
    """One voice with its accents ``(accent id, accent_name)``."""

    name: str
    gender: str  # male | female | non_binary (the voice clone answer's enum [C])
    accents: list[tuple[str, str]] = field(default_factory=list)


def stock_personas(count: int) -> list[Persona]:
    """``count`` stock personas with realistic names, genders, ages and styles; past the
    first ten the names get a number ("Jessica 2")."""
    made = []
    for n in range(count):
        name, gender, age = STOCK[n % len(STOCK)]
        if n >= len(STOCK):
            name = f"{name} {n // len(STOCK) + 1}"
        made.append(
            Persona(
                id=stable_id("persona", n),
                creator_name=name,
                gender=gender,
                age_range=age,
                location=LOCATIONS[n % len(LOCATIONS)],
                style=STYLES[n % len(STYLES)],
                video_scene=SCENES[n % len(SCENES)],
            )
        )
    return made


def stock_voices() -> list[Voice]:
    """English and Brazilian Portuguese voices (the bot's two languages), one of each gender."""
    table = (
        ("Fatima", "female", ("American English accent", "British English accent")),
        ("Marcus", "male", ("American English accent",)),
        ("Helena", "female", ("Brazilian Portuguese accent",)),
        ("Tiago", "male", ("Brazilian Portuguese accent",)),
        ("Robin", "non_binary", ("Australian English accent",)),
    )
    voices, n = [], 0
    for name, gender, accents in table:
        voice = Voice(name, gender)
        for accent in accents:
            voice.accents.append((stable_id("accent", n), accent))
            n += 1
        voices.append(voice)
    return voices


def persona_object(persona: Persona, base: str) -> Json:
    """The Persona object of providers.md 1.8; every preview is served by the fake."""
    media = f"{base}/_media/persona/{persona.id}"
    previews: Json = {}
    for variant in ("16_9", "1_1", "9_16"):
        previews[f"preview_image_{variant}"] = f"{media}/{variant}.jpg"
        previews[f"preview_video_{variant}"] = f"{media}/{variant}.mp4"
    return {
        "id": persona.id,
        "created_at": persona.created_at,
        "updated_at": persona.created_at,
        "gender": persona.gender,
        "creator_name": persona.creator_name,
        "suitable_industries": persona.suitable_industries,
        **previews,
        "landscape_preview_video": f"{media}/16_9.mp4",
        "squared_preview_video": f"{media}/1_1.mp4",
        "portrait_preview_video": f"{media}/9_16.mp4",
        "is_active": persona.is_active,
        "process_status": persona.process_status,
        "failed_reason": persona.failed_reason,
        "type": persona.type,
        "age_range": persona.age_range,
        "location": persona.location,
        "style": persona.style,
        "video_scene": persona.video_scene,
        "keywords": persona.keywords,
    }


def voice_objects(voices: Iterable[Voice], base: str) -> list[Json]:
    """The ``GET /api/voices/`` answer; accent previews are served by the fake."""
    return [
        {
            "name": voice.name,
            "gender": voice.gender,
            "accents": [
                {
                    "id": accent_id,
                    "accent_name": accent_name,
                    "preview_url": f"{base}/_media/accent/{accent_id}.mp3",
                }
                for accent_id, accent_name in voice.accents
            ],
        }
        for voice in voices
    ]
