"""Reading an MP4's header agrees with ffmpeg, and gives up (None) rather than guess."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.media import mp4info
from bot.media import probe as probing
from tests import media as make


@pytest.mark.parametrize(
    ("width", "height", "seconds", "audio", "rotate"),
    [(640, 360, 2.0, True, None), (480, 854, 1.5, False, None), (640, 360, 1.0, True, 90)],
)
async def test_header_agrees_with_ffmpeg(
    tmp_path: Path, width: int, height: int, seconds: float, audio: bool, rotate: int | None
) -> None:
    video = make.make_video(
        tmp_path / "v.mp4",
        width=width,
        height=height,
        seconds=seconds,
        audio=audio,
        rotate=rotate,
    )
    fast = mp4info.read(video)
    slow = await probing.probe(video)
    assert fast is not None
    assert (fast.width, fast.height) == (slow.width, slow.height)
    assert fast.duration == pytest.approx(slow.duration, abs=0.05)
    assert fast.has_audio is slow.has_audio


def test_not_an_mp4_gives_none(tmp_path: Path) -> None:
    photo = make.make_photo(tmp_path / "p.jpg")
    assert mp4info.read(photo) is None
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x00\x00\x08moov" + b"\xff" * 40)
    assert mp4info.read(tmp_path / "junk.mp4") is None
    assert mp4info.read(tmp_path / "missing.mp4") is None


def test_truncated_file_gives_none(tmp_path: Path) -> None:
    video = make.make_video(tmp_path / "v.mp4", seconds=1.0)
    data = video.read_bytes()
    moov = data.index(b"moov")
    (tmp_path / "cut.mp4").write_bytes(data[: moov + 40])
    assert mp4info.read(tmp_path / "cut.mp4") is None
