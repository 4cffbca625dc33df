"""Reading media with ffmpeg: what a file contains, whether it decodes, how loud it is.

There is no ffprobe in the pip-installed ffmpeg, so :func:`probe` parses what
``ffmpeg -i FILE`` prints.
"""

# ruff: noqa: ASYNC109 - see bot.media.ffmpeg: a timeout must kill ffmpeg, not just stop waiting

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import CorruptMedia, UnsupportedFormat
from bot.media.ffmpeg import (
    MAX_PROBE_LINES,
    STDERR_TAIL_LINES,
    FfmpegTimeout,
    execute,
    input_args,
)
from bot.models import Probe

log = logging.getLogger(__name__)


#: Demuxers that read one picture. Every ``*_pipe`` demuxer is an image reader too.
_IMAGE_FORMATS = frozenset({"image2", "jpeg_pipe", "png_pipe", "webp_pipe", "bmp_pipe"})
#: Codecs that hold stills, but also appear in real videos (MJPEG cameras, animated GIF/WebP),
#: so they only count as an image when there is no duration or a single frame's worth.
_IMAGE_CODECS = frozenset({"mjpeg", "png", "webp", "bmp", "tiff", "gif", "jpegxl", "qoi"})
#: Longest "duration" of a single frame: image2 reports one frame at 25 fps (0.04 s).
_SINGLE_FRAME_SECONDS = 0.1

_CORRUPT_MARKERS = ("Invalid data found when processing input", "Error opening input")
#: ffmpeg recognised the file as a kind it was not allowed to open (see input_args), or as a
#: playlist it only declined for its name; either way not damaged, just not acceptable.
_REFUSED_MARKERS = ("Format not on whitelist", "Not detecting m3u8/hls")
#: Containers that name other files to read. The demuxer whitelist already keeps ffmpeg from
#: opening them; refusing them here too keeps a wider whitelist from ever reopening the hole.
_INDIRECT_FORMATS = frozenset(
    {"hls", "applehttp", "concat", "dash", "webm_dash_manifest", "ffmetadata", "sdp", "rtsp"}
)
_INPUT_RE = re.compile(r"^Input #0, ([\w,]+), from ")
_DURATION_RE = re.compile(r"^\s+Duration: (?:N/A|(\d+):(\d\d):(\d\d(?:\.\d+)?))")
_STREAM_RE = re.compile(r"^\s+Stream #0:\d+\S*: (\w+): (.*)$")
# Sizes are "640x360" between separators; the lookarounds skip hex tags like "0x31637661".
_SIZE_RE = re.compile(r"(?<![\w.])([1-9]\d{0,5})x([1-9]\d{0,5})(?![\w.])")
# This build (ffmpeg 7+) reports rotation only as side data ("Display Matrix: rotation of
# -90.00 degrees"); older builds said "displaymatrix:". A plain "rotate" metadata tag is
# NOT rotation any more (ffmpeg neither writes nor honours it), so it is deliberately ignored.
_ROTATION_RE = re.compile(r"^\s+display ?matrix: rotation of (-?\d+(?:\.\d+)?) degrees", re.I)


@dataclass
class _Stream:
    kind: str
    codec: str
    width: int | None = None
    height: int | None = None
    rotation: float = 0.0
    attached_pic: bool = False


@dataclass
class _ProbeText:
    """The pieces of ``ffmpeg -i`` output that :func:`parse_probe` cares about."""

    container: str | None = None
    duration: float | None = None
    streams: list[_Stream] = field(default_factory=list)


def _scan_probe(stderr: str) -> _ProbeText:
    found = _ProbeText()
    for line in stderr.splitlines():
        if match := _INPUT_RE.match(line):
            found.container = match[1]
        elif match := _DURATION_RE.match(line):
            if match[1] is not None:
                found.duration = int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])
        elif match := _STREAM_RE.match(line):
            found.streams.append(_parse_stream(match[1], match[2]))
        elif (match := _ROTATION_RE.match(line)) and found.streams:
            # Side data is indented under the stream it belongs to: the last one seen.
            found.streams[-1].rotation = float(match[1])
    return found


def _parse_stream(kind: str, description: str) -> _Stream:
    stream = _Stream(kind=kind, codec=re.split(r"[\s,]", description, maxsplit=1)[0])
    if size := _SIZE_RE.search(description):
        stream.width, stream.height = int(size[1]), int(size[2])
    # Cover art in MP3/M4A shows up as a video stream; it is not a picture of anyone.
    stream.attached_pic = "(attached pic)" in description
    return stream


def parse_probe(stderr: str) -> Probe:
    """Read what ``ffmpeg -hide_banner -i FILE`` printed into a :class:`Probe`.

    Sizes are as displayed: a phone video stored 1920x1080 with a 90 degree display matrix
    is reported as 1080x1920, which is also what ffmpeg's filters see (it auto-rotates).

    Raises:
        UnsupportedFormat: the file is a playlist, a concat list or another refused format.
        CorruptMedia: ffmpeg could not open the file or found no streams in it.
    """
    # Only ffmpeg's own messages count; indented lines are the file's metadata, whose tags
    # may say anything.
    ffmpeg_says = [line for line in stderr.splitlines() if not line.startswith(" ")]
    for line in ffmpeg_says:
        _refuse_format(line)
    for line in ffmpeg_says:
        if any(m in line for m in _CORRUPT_MARKERS):
            raise CorruptMedia(f"ffmpeg: {line}")
    found = _scan_probe(stderr)
    if set((found.container or "").split(",")) & _INDIRECT_FORMATS:
        raise UnsupportedFormat(f"container {found.container}")
    if found.container is None or not found.streams:
        raise CorruptMedia("ffmpeg found no streams")
    video = next((s for s in found.streams if s.kind == "Video" and not s.attached_pic), None)
    width, height = (video.width, video.height) if video else (None, None)
    if video and round(video.rotation) % 180 == 90:
        width, height = height, width
    return Probe(
        duration=found.duration,
        width=width,
        height=height,
        has_video=video is not None,
        has_audio=any(s.kind == "Audio" for s in found.streams),
        is_image=video is not None and _is_image(found, video),
    )


#: How text playlists and lists of files begin (after any byte-order mark and blank space).
#: ffmpeg does not always recognise them (an m3u without #EXT-X tags reads as damaged), but
#: they are never media: say so instead of calling them damaged.
_PLAYLIST_STARTS = (b"#extm3u", b"ffconcat", b"[playlist]", b"<mpd", b"<?xml", b"<smil")


def _refuse_playlist_text(path: Path) -> None:
    """Raise UnsupportedFormat if the file starts like a playlist or a list of files."""
    with path.open("rb") as handle:
        head = handle.read(256)
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if head.startswith(_PLAYLIST_STARTS):
        raise UnsupportedFormat(f"{path.name}: starts like a playlist")


def _refuse_format(line: str) -> None:
    """Raise UnsupportedFormat if this ffmpeg message says it refused the file's format."""
    if any(m in line for m in _REFUSED_MARKERS):
        raise UnsupportedFormat(f"ffmpeg: {line}")


def _is_image(found: _ProbeText, video: _Stream) -> bool:
    container = found.container or ""
    if container in _IMAGE_FORMATS or container.endswith("_pipe"):
        return True
    single_frame = found.duration is None or found.duration <= _SINGLE_FRAME_SECONDS
    return video.codec in _IMAGE_CODECS and single_frame


async def probe(path: Path, *, timeout: float = 30) -> Probe:
    """Find out what is in a media file.

    Width and height are as displayed: rotation from a video's display matrix or a JPEG's
    EXIF orientation is applied, as ffmpeg's decoder applies it when rendering.

    Args:
        path: The file; it must exist.
        timeout: Seconds before giving up (reading headers takes milliseconds, so a slow
            probe means a hostile or broken file).

    Raises:
        FileNotFoundError: ``path`` does not exist (a bug of ours, not the user's file).
        UnsupportedFormat: a playlist, a concat list, or a format we do not read.
        CorruptMedia: ffmpeg cannot read the file.
    """
    if not path.is_file():
        raise FileNotFoundError(path)
    _refuse_playlist_text(path)
    # Exits 1 ("At least one output file must be specified"): there is no output.
    info = parse_probe(await _stderr(input_args(path), timeout=timeout))
    if info.is_image:
        info = await _apply_exif_orientation(path, info, timeout=timeout)
    return info


async def _stderr(argv: Sequence[str], *, timeout: float) -> str:
    """All of a short ffmpeg run's stderr; a run that overstays means an unreadable file."""
    lines: deque[str] = deque(maxlen=MAX_PROBE_LINES)
    try:
        await execute(argv, timeout=timeout, on_stderr=lines.append)
    except FfmpegTimeout as exc:
        raise CorruptMedia(str(exc)) from exc
    return "\n".join(lines)


async def _apply_exif_orientation(path: Path, info: Probe, *, timeout: float) -> Probe:
    """Correct a still's size for EXIF orientation, which ``-i`` does not show.

    The JPEG decoder turns the EXIF tag into per-frame rotation, so only decoding the frame
    reveals it; for one picture that costs a few tens of milliseconds.
    """
    argv = [*input_args(path), "-map", "0:v:0", "-frames:v", "1", "-f", "null", "-"]
    size = decoded_size(await _stderr(argv, timeout=timeout))
    if size is None or size == (info.width, info.height):
        return info
    return info.model_copy(update={"width": size[0], "height": size[1]})


def decoded_size(stderr: str) -> tuple[int, int] | None:
    """Size of the first video stream in the ``Output #0`` section of an ffmpeg run's stderr.

    That is the size after ffmpeg auto-rotated the decoded frames; None if there is no such
    stream (the decode failed before the output was set up).
    """
    in_output = False
    for line in stderr.splitlines():
        if line.startswith("Output #0"):
            in_output = True
        elif in_output and (match := _STREAM_RE.match(line)) and match[1] == "Video":
            size = _SIZE_RE.search(match[2])
            return (int(size[1]), int(size[2])) if size else None
    return None


# --------------------------------------------------------------------------- decoding checks

_LEVEL_RE = re.compile(r"\[(error|fatal|panic)\] (.*)")
_MAX_VOLUME_RE = re.compile(r"\] (?:\[info\] )?max_volume: (-?inf|-?\d+(?:\.\d+)?) dB")
#: Error-level messages the H.264 decoder prints for files that still play fine, typically
#: a clip cut between keyframes; counting them would reject ordinary phone videos.
_BENIGN_ERRORS = (
    "mmco: unref short failure",
    "co located POCs unavailable",
    "number of reference frames",
    "illegal short term buffer state",
)


@dataclass
class _DecodeLog:
    """Collects ffmpeg's error-level lines (and max_volume) from a ``-loglevel level+...`` run."""

    errors: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))
    max_volume: float | None = None

    def feed(self, line: str) -> None:
        self.tail.append(line)
        if (match := _LEVEL_RE.search(line)) and not any(b in line for b in _BENIGN_ERRORS):
            self.errors.append(match[2])
        elif match := _MAX_VOLUME_RE.search(line):
            # volumedetect logs once per filter-graph configuration; the last one is the
            # one that saw the audio (an earlier one reports n_samples: 0).
            self.max_volume = float(match[1])


async def _decode(argv: Sequence[str], *, timeout: float) -> _DecodeLog:
    """Run a decode-only ffmpeg and raise CorruptMedia if it failed or complained."""
    found = _DecodeLog()
    try:
        code = await execute(argv, timeout=timeout, on_stderr=found.feed)
    except FfmpegTimeout as exc:
        raise CorruptMedia(str(exc)) from exc
    for line in found.errors:
        _refuse_format(line)
    if code != 0 or found.errors:
        log.debug("decode failed (%s): %s", code, "\n".join(found.tail))
        raise CorruptMedia("\n".join(found.errors or found.tail))
    return found


async def check_decodes(path: Path, *, seconds: float | None = None, timeout: float = 60) -> None:
    """Decode a file (or its first ``seconds``) and fail if the decoders report damage.

    A truncated MP4 often has intact headers and probes fine; only decoding shows it.

    Raises:
        UnsupportedFormat: a playlist, a concat list, or a format we do not read.
        CorruptMedia: ffmpeg exited non-zero or logged errors while decoding.
    """
    limit = ["-t", f"{seconds:g}"] if seconds is not None else []
    argv = ["-loglevel", "level+error", *input_args(path), *limit, "-sn", "-dn"]
    await _decode([*argv, "-f", "null", "-"], timeout=timeout)


async def max_volume_db(path: Path, *, timeout: float = 60) -> float:
    """Loudest sample of the first audio stream, in dB (0 is full scale).

    Digital silence gives -91.0 (the floor of 16-bit audio). Decoding the whole stream doubles
    as an integrity check.

    Raises:
        UnsupportedFormat: a playlist, a concat list, or a format we do not read.
        CorruptMedia: the audio could not be decoded cleanly or has no samples.
    """
    argv = ["-loglevel", "level+info", *input_args(path), "-map", "0:a:0", "-vn"]
    found = await _decode([*argv, "-af", "volumedetect", "-f", "null", "-"], timeout=timeout)
    if found.max_volume is None:
        raise CorruptMedia("no audio was decoded")
    return found.max_volume
