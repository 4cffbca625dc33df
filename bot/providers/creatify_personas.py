"""Creatify's custom avatars ("personas", providers.md 1.9): the upload, reading a persona's
state, and the account's slots. :class:`~bot.providers.creatify.CreatifyProvider` sends;
this module builds the request and reads the answers, defensively (every answer is
untrusted: a field of the wrong type reads as absent).

- Create: ``POST /api/personas_v2/``, multipart: ``lipsync_input`` (the training video: the
  person speaking), ``consent_video`` (the person agreeing to be made an avatar: the field
  the BYOA guide names [C]; optional in the API reference, required in the newer guide),
  ``creator_name`` (at most 255), ``gender`` (m|f|nb), ``video_scene`` and ``webhook_url``
  (at most 200). The files are streamed from disk 64 KB at a time, each read in a worker
  thread (two files of up to 20 MB: never read on the event loop, nor whole into memory).
  Creates are not idempotent: a lost answer may have made the avatar.
- ``video_scene`` "describes the background setting" and is free text: we cannot know a
  user's background, so every avatar says :data:`VIDEO_SCENE` [I].
- State: ``GET /api/personas/{id}/``. The guide says ``is_active`` false is "under review"
  and true "approved and ready for use" [C]; ``process_status`` values are undocumented
  beyond ``pending``: ``failed``/``rejected``/``error`` are read as failures [I] (with
  ``failed_reason``), anything else while inactive as still building.
- Slots: ``GET /api/personas_v2/count/`` -> ``{"max_count", "current_count"}`` [C].
- Creatify documents no way to delete a persona: deleting one of ours is local only.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO

import httpx

from bot.errors import ProviderUnavailable
from bot.models.avatars import Avatar, Gender
from bot.providers.base import identifier
from bot.providers.creatify_catalog import parse_avatar
from bot.providers.creatify_jobs import MAX_REASON, PROVIDER
from bot.untrusted import clean_text

CREATE_PATH = "/api/personas_v2/"
SLOTS_PATH = "/api/personas_v2/count/"
PERSONA_PATH = "/api/personas/"
#: The background every avatar is described with [I] (see the module docstring).
VIDEO_SCENE = "other"
MAX_CREATOR_NAME = 255
#: Creatify takes webhook URLs of at most 200 characters [C].
MAX_WEBHOOK_URL = 200
#: The two video types Creatify takes [C], by the file's suffix.
CONTENT_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}
_FAILED = frozenset({"failed", "rejected", "error"})
#: Bytes of a video read (in a worker thread) per chunk of the upload.
CHUNK = 64 * 1024


class PersonaStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class PersonaState:
    """A custom avatar as Creatify reports it."""

    status: PersonaStatus
    #: Creatify's own words (failed only), one line, bounded.
    reason: str | None = None
    #: The persona as the picker would list it (ready only: its stills).
    avatar: Avatar | None = None


def content_type(path: Path) -> str | None:
    """What a video is sent as, by its suffix; None for a file Creatify would not take."""
    return CONTENT_TYPES.get(path.suffix.lower())


def form(name: str, gender: Gender, webhook_url: str | None) -> dict[str, str]:
    """The text fields of the create. ``creator_name`` identifies the real person at
    Creatify, "not for display": the avatar's name as its owner gave it."""
    fields = {
        "creator_name": name[:MAX_CREATOR_NAME] or "Avatar",
        "gender": gender.value,
        "video_scene": VIDEO_SCENE,
    }
    if webhook_url:
        fields["webhook_url"] = webhook_url
    return fields


class Upload:
    """The multipart body of one create, built afresh for each try (ProviderHTTP builds the
    request again when it retries one that provably never left): the text fields, then the
    files, each opened and read in a worker thread, 64 KB at a time. :meth:`close` closes
    what a try left open (one cut short)."""

    def __init__(self, training: Path, consent: Path | None) -> None:
        self._parts = {"lipsync_input": training}
        if consent is not None:
            self._parts["consent_video"] = consent
        self._open: list[IO[bytes]] = []

    def body(self, fields: dict[str, str]) -> tuple[dict[str, str], AsyncIterator[bytes]]:
        """The headers (type with its boundary, and length) and the stream of one try.

        Raises:
            OSError: a file cannot be read (its size is taken now, for Content-Length).
        """
        self.close()
        boundary = secrets.token_hex(16)
        pieces: list[bytes | tuple[Path, int]] = []
        for name, value in fields.items():
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            pieces.append(head.encode() + value.encode() + b"\r\n")
        for name, path in self._parts.items():
            kind = content_type(path) or "video/mp4"
            filename = f"{name}{path.suffix.lower() or '.mp4'}"
            head = (
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="{name}"; filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
            )
            pieces += [head.encode(), (path, path.stat().st_size), b"\r\n"]
        pieces.append(f"--{boundary}--\r\n".encode())
        length = sum(p[1] if isinstance(p, tuple) else len(p) for p in pieces)
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(length),
        }
        return headers, self._stream(pieces)

    async def _stream(self, pieces: list[bytes | tuple[Path, int]]) -> AsyncIterator[bytes]:
        for piece in pieces:
            if isinstance(piece, bytes):
                yield piece
                continue
            path, size = piece
            handle = await asyncio.to_thread(path.open, "rb")
            self._open.append(handle)
            left = size
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK, left))
                if not chunk:  # shorter than its Content-Length said: never a silent cut
                    raise OSError(f"{path.name} got shorter while it was sent")
                left -= len(chunk)
                yield chunk
            self._open.remove(handle)
            handle.close()

    def close(self) -> None:
        for handle in self._open:
            with contextlib.suppress(OSError):
                handle.close()
        self._open.clear()


def upload_request(
    url: str, headers: dict[str, str], fields: dict[str, str], upload: Upload
) -> Callable[[], httpx.Request]:
    """Builds the multipart create, streamed (see :class:`Upload`)."""

    def build() -> httpx.Request:
        body_headers, stream = upload.body(fields)
        return httpx.Request("POST", url, headers={**headers, **body_headers}, content=stream)

    return build


def created_id(data: object) -> str:
    """The new persona's id from the create's answer.

    Raises:
        ProviderUnavailable: (maybe_done) accepted without a usable id: it may exist.
    """
    persona_id = identifier(data.get("id")) if isinstance(data, dict) else None
    if persona_id is None:
        raise ProviderUnavailable(PROVIDER, "create answered without an id", maybe_done=True)
    return persona_id


def parse_persona(data: object) -> PersonaState:
    """``GET /api/personas/{id}/`` read as building, ready or failed.

    Raises:
        ProviderUnavailable: not a persona object (a proxy's page, say): ask again later.
    """
    if not isinstance(data, dict) or identifier(data.get("id")) is None:
        raise ProviderUnavailable(PROVIDER, "persona answer has no id")
    status = data.get("process_status")
    word = status.strip().lower() if isinstance(status, str) else ""
    if word in _FAILED:
        why = data.get("failed_reason")
        reason = clean_text(why, MAX_REASON) if isinstance(why, str) else ""
        return PersonaState(PersonaStatus.FAILED, reason=reason or None)
    if data.get("is_active") is True:
        return PersonaState(PersonaStatus.READY, avatar=parse_avatar(data))
    return PersonaState(PersonaStatus.PENDING)


def parse_slots(data: object) -> tuple[int, int]:
    """``(current_count, max_count)`` of ``GET /api/personas_v2/count/``.

    Raises:
        ProviderUnavailable: either is missing or not a whole number >= 0.
    """
    current = _count(data.get("current_count")) if isinstance(data, dict) else None
    most = _count(data.get("max_count")) if isinstance(data, dict) else None
    if current is None or most is None:
        raise ProviderUnavailable(PROVIDER, "unreadable custom avatar count")
    return current, most


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    return None
