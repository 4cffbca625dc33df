"""A provider's ready-made avatar, as the picker lists it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Gender(StrEnum):
    """How a provider labels an avatar (Creatify: ``m``, ``f``, ``nb``)."""

    FEMALE = "f"
    MALE = "m"
    NONBINARY = "nb"


class Avatar(BaseModel):
    """One avatar in a provider's catalogue. Every field came from the provider: names are
    shown as text only (never as markup), URLs are fetched only through the safe download."""

    model_config = ConfigDict(frozen=True)

    provider: str
    avatar_id: str
    name: str
    gender: Gender | None = None
    #: A still of the avatar, per aspect ratio where the provider has several ("9:16"...).
    preview_images: dict[str, str] = {}
    #: A short clip of the avatar speaking, per aspect ratio.
    preview_videos: dict[str, str] = {}
    #: The user who made it (custom avatars, issue 9); None for the provider's stock.
    owner_id: int | None = None
    #: The group whose members may use it too (a custom avatar its owner shared there).
    shared_chat_id: int | None = None
