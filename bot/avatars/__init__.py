"""Providers' ready-made avatars: the catalogue the picker reads (``catalog``) and their
stills shown as photos (``previews``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.avatars.catalog import PAGE_SIZE, AvatarCatalog, AvatarPage, Filter, Loader, ref_of
from bot.avatars.names import clean_name, label
from bot.avatars.previews import AvatarPreviews, still_of


@dataclass(frozen=True)
class Avatars:
    """What handlers see of avatars (``context.avatars``)."""

    catalog: AvatarCatalog
    previews: AvatarPreviews


__all__ = [
    "PAGE_SIZE",
    "AvatarCatalog",
    "AvatarPage",
    "AvatarPreviews",
    "Avatars",
    "Filter",
    "Loader",
    "clean_name",
    "label",
    "ref_of",
    "still_of",
]
