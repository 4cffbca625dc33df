"""Taking a provider's list of avatars in (names cleaned for display by bot.avatars.names,
duplicates and anything past a cap dropped), and keeping it on disk so that a restart shows
it at once.

The shape of each avatar (its id, its preview URLs' scheme) was checked by the provider that
parsed it; what is done here is what every provider's list needs alike. The copy on disk is
ours, and read back through the same cleaning, so a copy written by an older version shows
as a fresh answer would.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.avatars.names import clean_name
from bot.models.avatars import Avatar

log = logging.getLogger(__name__)

_FORMAT = 1


def cleaned(provider: str, answer: object, limit: int) -> tuple[Avatar, ...]:
    """The avatars of ``answer``, at most ``limit``, each marked as ``provider``'s, with its
    name cleaned for display. Pure, and slow for thousands: run off the event loop."""
    if not isinstance(answer, list | tuple):
        return ()
    seen: set[str] = set()
    kept: list[Avatar] = []
    for avatar in answer:
        if len(kept) >= limit:
            break
        if not isinstance(avatar, Avatar) or avatar.avatar_id in seen:
            continue
        seen.add(avatar.avatar_id)
        fallback = f"Avatar {avatar.avatar_id[:8]}"
        update = {"provider": provider, "name": clean_name(avatar.name, fallback)}
        kept.append(avatar.model_copy(update=update))
    return tuple(kept)


def read_kept(path: Path, provider: str, limit: int) -> tuple[float, tuple[Avatar, ...]] | None:
    """The list kept in ``path`` and when it was fetched (wall clock); None when there is
    none, or none that can be read."""
    data = read_json(path)
    try:
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError("unknown format")
        fetched_at = float(data["fetched_at"])
        raw = data["avatars"]
        if not isinstance(raw, list):
            raise ValueError("no list of avatars")
    except (ValueError, TypeError, KeyError) as exc:
        if data is not None:
            log.warning("Ignoring the avatars kept in %s: %s", path, exc)
        return None
    parsed = []
    for item in raw:
        with contextlib.suppress(ValidationError):
            parsed.append(Avatar.model_validate(item))
    avatars = cleaned(provider, parsed, limit)
    return (fetched_at, avatars) if avatars else None


def write_kept(path: Path, fetched_at: float | None, avatars: tuple[Avatar, ...]) -> None:
    """Replace the list kept in ``path`` (see :func:`write_json`)."""
    body: dict[str, Any] = {
        "format": _FORMAT,
        "fetched_at": fetched_at,
        "avatars": [a.model_dump(mode="json") for a in avatars],
    }
    write_json(path, body)


def read_json(path: Path) -> Any:
    """The JSON in ``path``; None when there is no such file, or it cannot be read (logged:
    whatever it held is fetched or made again)."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        log.warning("Ignoring %s: %s", path, exc)
        return None


def write_json(path: Path, data: object) -> None:
    """Replace ``path`` with ``data`` as JSON in one step: a crash leaves the old file or the
    new one, never half of one (written beside it, flushed to disk, then renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    try:
        with part.open("w", encoding="utf-8") as out:
            # ASCII escapes: a lone surrogate in a string is written, not a UnicodeEncodeError.
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        part.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
        raise
