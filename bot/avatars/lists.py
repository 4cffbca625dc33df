"""Taking a provider's list of avatars in: cleaned once (names made short and plain by
bot.avatars.names, ids and preview URLs checked, duplicates and anything past a cap
dropped), and kept on disk so that a restart shows it at once.

The copy on disk is read back through the same cleaning: a file edited by hand, or written by
an older version, cannot bring in what a provider's answer could not.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.avatars.names import clean_name
from bot.models.avatars import Avatar

log = logging.getLogger(__name__)

#: Provider ids are UUIDs; anything printable and short is accepted, nothing else.
_ID = re.compile(r"[\x21-\x7e]{1,128}")
_MAX_URL = 2048
#: Preview URLs kept per avatar (one per aspect ratio).
_MAX_URLS = 16
_FORMAT = 1


def cleaned(provider: str, answer: object, limit: int) -> tuple[Avatar, ...]:
    """The usable avatars of ``answer``, at most ``limit``, each one cleaned and marked as
    ``provider``'s."""
    if not isinstance(answer, list | tuple):
        return ()
    seen: set[str] = set()
    kept: list[Avatar] = []
    for avatar in answer:
        if len(kept) >= limit:
            break
        if not isinstance(avatar, Avatar) or not _ID.fullmatch(avatar.avatar_id):
            continue
        if avatar.avatar_id in seen:
            continue
        seen.add(avatar.avatar_id)
        fallback = f"Avatar {avatar.avatar_id[:8]}"
        kept.append(
            avatar.model_copy(
                update={
                    "provider": provider,
                    "name": clean_name(avatar.name, fallback),
                    "preview_images": _urls(avatar.preview_images),
                    "preview_videos": _urls(avatar.preview_videos),
                }
            )
        )
    return tuple(kept)


def read_kept(path: Path, provider: str, limit: int) -> tuple[float, tuple[Avatar, ...]] | None:
    """The list kept in ``path`` and when it was fetched (wall clock); None when there is
    none, or none that can be read."""
    try:
        data = json.loads(path.read_bytes())
        fetched_at = float(data["fetched_at"])
        raw = data["avatars"]
        if data.get("format") != _FORMAT or not isinstance(raw, list):
            raise ValueError("unknown format")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
        log.warning("Ignoring the avatars kept in %s: %s", path, exc)
        return None
    parsed = []
    for item in raw:
        with contextlib.suppress(ValidationError):
            parsed.append(Avatar.model_validate(item))
    avatars = cleaned(provider, parsed, limit)
    return (fetched_at, avatars) if avatars else None


def write_kept(path: Path, fetched_at: float | None, avatars: tuple[Avatar, ...]) -> None:
    """Replace the list kept in ``path`` in one step: a crash leaves the old file or the new
    one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {
        "format": _FORMAT,
        "fetched_at": fetched_at,
        "avatars": [a.model_dump(mode="json") for a in avatars],
    }
    part = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    try:
        with part.open("w", encoding="utf-8") as out:
            json.dump(body, out, ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _urls(urls: Mapping[str, str]) -> dict[str, str]:
    """Only web URLs of a sane length (they are fetched through the safe download anyway)."""
    return {
        key[:16]: url
        for key, url in list(urls.items())[:_MAX_URLS]
        if url.startswith(("https://", "http://")) and len(url) <= _MAX_URL
    }
