"""Media of the fake Creatify API: recognising inputs, and the real files it serves.

Why real files: the bot downloads persona previews, outputs and TTS audio and probes them with
ffmpeg, so a placeholder byte string would fail where the real service would not. Files are
made once per process with the bundled ffmpeg (``tests.media``), on first use, in a temporary
directory removed at exit; each costs ~0.1 s, so fresh fakes per test share them. Callers in
the event loop use the ``*_file`` coroutines (ffmpeg runs in a thread).
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from tests import media as make

#: Output sizes per aspect ratio; persona previews use the same.
SIZES = {"16x9": (640, 360), "1x1": (480, 480), "9x16": (360, 640)}
#: The spellings of ``SIZES`` keys in persona preview field names (``preview_image_16_9``).
VARIANTS = {"16_9": "16x9", "1_1": "1x1", "9_16": "9x16"}

IMAGE = frozenset({"jpeg", "png", "webp", "gif", "bmp"})
AUDIO = frozenset({"mp3", "wav", "ogg", "flac", "m4a"})
VIDEO = frozenset({"mp4", "mov", "webm", "avi"})
#: Aurora: "'png', 'jpg', 'jpeg', 'webp' formats only" and "'mp3' and 'wav' formats only" [C].
AURORA_IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "webp"})
AURORA_AUDIO_EXTENSIONS = frozenset({"mp3", "wav"})
AURORA_IMAGE = frozenset({"jpeg", "png", "webp"})
AURORA_AUDIO = frozenset({"mp3", "wav"})

_lock = threading.Lock()
_folder: Path | None = None


def sniff(head: bytes) -> str | None:
    """The format of a file from its first 16+ bytes (``jpeg``, ``mp3``, ``mp4`` ...)."""
    box = head[4:8]
    if box == b"ftyp":
        return "m4a" if head[8:12] in (b"M4A ", b"M4B ") else "mp4"
    if box in (b"moov", b"mdat", b"wide", b"free"):
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"RIFF"):
        return {b"WAVE": "wav", b"WEBP": "webp", b"AVI ": "avi"}.get(head[8:12])
    for magic, name in (
        (b"\xff\xd8\xff", "jpeg"),
        (b"\x89PNG", "png"),
        (b"GIF8", "gif"),
        (b"BM", "bmp"),
        (b"ID3", "mp3"),
        (b"OggS", "ogg"),
        (b"fLaC", "flac"),
    ):
        if head.startswith(magic):
            return name
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame
        return "mp3"
    return None


def extension(url: str) -> str:
    """The lowercased extension of the URL's path ("" if none): query strings do not count."""
    last = httpx.URL(url).path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].lower() if "." in last else ""


def _dir() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="fake-creatify-"))
        atexit.register(shutil.rmtree, _folder, ignore_errors=True)
    return _folder


def _made(name: str, maker: Callable[[Path], Path]) -> Path:
    """The file ``name``, made by ``maker(path)`` unless it exists: under a lock, so two
    threads never write the same file, and renamed into place, so nobody serves half of it."""
    path = _dir() / name
    with _lock:
        if not path.exists():
            partial = path.with_name(f"partial-{name}")
            maker(partial)
            partial.rename(path)
    return path


def still(ratio: str) -> Path:
    """A JPEG of the test pattern at the ratio's size (persona previews, thumbnails)."""
    width, height = SIZES[ratio]
    return _made(f"still-{ratio}.jpg", lambda p: make.make_photo(p, width, height))


def video(ratio: str) -> Path:
    """A 2 s H.264/AAC MP4 at the ratio's size (outputs, persona preview videos)."""
    width, height = SIZES[ratio]
    return _made(f"video-{ratio}.mp4", lambda p: make.make_video(p, width=width, height=height))


def speech(tenths: int) -> Path:
    """An MP3 of a speech-like tone lasting ``tenths`` / 10 seconds (TTS, accent previews)."""
    seconds = max(tenths, 1) / 10
    return _made(f"speech-{tenths}.mp3", lambda p: make.make_mp3(p, seconds=seconds))


async def still_file(ratio: str) -> Path:
    return await asyncio.to_thread(still, ratio)


async def video_file(ratio: str) -> Path:
    return await asyncio.to_thread(video, ratio)


async def speech_file(seconds: float) -> Path:
    return await asyncio.to_thread(speech, round(seconds * 10))
