"""mp4info.read on a hostile file (a provider's answer) gives None, never an exception: an
exception there used to leave the job "sending…" for ever."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from bot.media import mp4info
from tests import media as make


def _box(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _video_track(tkhd: bytes) -> bytes:
    hdlr = _box(b"hdlr", bytes(8) + b"vide" + bytes(12))
    return _box(b"trak", _box(b"tkhd", tkhd) + _box(b"mdia", hdlr))


@pytest.mark.parametrize(
    "moov",
    [
        _box(b"mvhd"),  # empty movie header
        _box(b"mvhd", b"\x01"),  # version 1, nothing after it
        _box(b"mvhd", bytes(100)) + _video_track(b""),  # empty track header
        _box(b"mvhd", bytes(100)) + _video_track(b"\x01" + bytes(10)),  # cut track header
        _box(b"mvhd", bytes(100)) + _box(b"trak", _box(b"mdia", _box(b"hdlr"))),
    ],
)
def test_empty_or_cut_headers_give_none(tmp_path: Path, moov: bytes) -> None:
    path = tmp_path / "hostile.mp4"
    path.write_bytes(_box(b"ftyp", b"isom") + _box(b"moov", moov))
    assert mp4info.read(path) is None


def test_no_corruption_of_a_real_header_raises(tmp_path: Path) -> None:
    """Every byte of a real ``moov`` changed in turn, plus random damage: None or a result."""
    data = make.make_video(tmp_path / "v.mp4", seconds=1.0).read_bytes()
    start = data.index(b"moov") - 4
    size = struct.unpack_from(">I", data, start)[0]
    path = tmp_path / "bad.mp4"
    rand = random.Random(6)
    damages = [(offset, value) for offset in range(start, start + size) for value in (0, 0xFF)]
    damages += [(rand.randrange(start, start + size), rand.randrange(256)) for _ in range(500)]
    for offset, value in damages:
        bad = bytearray(data)
        bad[offset] = value
        path.write_bytes(bad)
        mp4info.read(path)  # must not raise
