"""Width, height and duration of an MP4 from its ``moov`` header, without running ffmpeg.

Delivery needs these three numbers for ``sendVideo``. Starting ffmpeg to learn them cost
~40 ms per video, most of the time between a provider's completion webhook and the start of
the upload (bench/inflight_jobs.py). Anything unexpected returns None and the caller falls
back to ffmpeg.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from bot.models import Probe

#: Containers holding other boxes that lead to the ones we read.
_CONTAINERS = {b"moov", b"trak", b"mdia"}
#: Headers larger than this are not plausible for a short clip: give up, use ffmpeg.
_MAX_HEADER = 32 * 1024 * 1024


def read(path: Path) -> Probe | None:
    """The video's size and length from its header, or None when it cannot be read here.

    Never raises: the file is a provider's answer, and a hostile header must not stop delivery.
    """
    try:
        with path.open("rb") as handle:
            moov = _find_top_level(handle, b"moov", path.stat().st_size)
            if moov is None:
                return None
            return _parse_moov(moov)
    except (OSError, struct.error, ValueError, IndexError):
        return None


def _find_top_level(handle: BinaryIO, wanted: bytes, file_size: int) -> bytes | None:
    offset = 0
    while offset + 8 <= file_size:
        handle.seek(offset)
        size, kind = struct.unpack(">I4s", handle.read(8))
        header = 8
        if size == 1:  # 64-bit size follows
            size = struct.unpack(">Q", handle.read(8))[0]
            header = 16
        elif size == 0:  # box runs to the end of the file
            size = file_size - offset
        if size < header:
            return None
        if kind == wanted:
            if size > _MAX_HEADER:
                return None
            return handle.read(size - header)
        offset += size
    return None


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    found = []
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, offset + 8)[0]
            header = 16
        elif size == 0:
            size = len(data) - offset
        if size < header or offset + size > len(data):
            raise ValueError("truncated box")
        found.append((kind, data[offset + header : offset + size]))
        offset += size
    return found


def _parse_moov(moov: bytes) -> Probe | None:
    duration = None
    width = height = None
    has_video = has_audio = False
    for kind, body in _boxes(moov):
        if kind == b"mvhd":
            duration = _movie_duration(body)
        elif kind == b"trak":
            handler, size = _track(body)
            if handler == b"vide" and size is not None and width is None:
                has_video = True
                width, height = size
            elif handler == b"soun":
                has_audio = True
    if not has_video or duration is None or not width or not height:
        return None
    return Probe(
        duration=duration, width=width, height=height, has_video=True, has_audio=has_audio
    )


def _movie_duration(mvhd: bytes) -> float | None:
    if not mvhd:
        return None
    version = mvhd[0]
    if version == 1:
        timescale, duration = struct.unpack_from(">IQ", mvhd, 20)
    else:
        timescale, duration = struct.unpack_from(">II", mvhd, 12)
    return duration / timescale if timescale else None


def _track(trak: bytes) -> tuple[bytes | None, tuple[int, int] | None]:
    """The track's handler (``vide``, ``soun``) and display size (None when its header is
    empty)."""
    size = None
    handler = None
    for kind, body in _boxes(trak):
        if kind == b"tkhd":
            size = _display_size(body) if body else None
        elif kind == b"mdia":
            for inner_kind, inner in _boxes(body):
                if inner_kind == b"hdlr":
                    handler = inner[8:12]
    return handler, size


def _display_size(tkhd: bytes) -> tuple[int, int]:
    """Width and height as shown: the matrix turns a 90-degree rotated track sideways."""
    matrix_at = 40 if tkhd[0] == 0 else 52
    a, b, _, c, d = struct.unpack_from(">iiiii", tkhd, matrix_at)
    width, height = (value >> 16 for value in struct.unpack_from(">II", tkhd, matrix_at + 36))
    if a == 0 and d == 0 and b != 0 and c != 0:
        return height, width
    return width, height
