"""Running the bundled ffmpeg: probing, loudness, the preview renderer and re-encoders.

The only ffmpeg is the static build shipped by ``imageio-ffmpeg``; there is no ffprobe, so
:func:`probe` parses what ``ffmpeg -i FILE`` prints. Every run goes through :func:`_execute`,
which never blocks the event loop, keeps only bounded output and kills ffmpeg on timeout or
cancellation.
"""

# A ``timeout`` argument, not a caller's asyncio.timeout(), because hitting it must kill ffmpeg
# and surface as RenderError/CorruptMedia with ffmpeg's stderr, not as a bare TimeoutError.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import shlex
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import imageio_ffmpeg

from bot.errors import CorruptMedia, RenderError
from bot.models import MediaKind, Order, Probe

log = logging.getLogger(__name__)

#: Receives the fraction done, 0..1; may be a plain function or a coroutine function.
ProgressCallback = Callable[[float], Awaitable[None] | None]

#: Lines of stderr kept for error messages; ffmpeg puts the reason for a failure at the end.
STDERR_TAIL_LINES = 30
#: A "line" without a newline is cut to this many bytes so a misbehaving run cannot eat memory.
_MAX_LINE_BYTES = 16 * 1024
#: ``ffmpeg -i`` output is short even for files with many streams; more means something odd.
_MAX_PROBE_LINES = 2000
#: How often ffmpeg reports progress; often enough for a status message, cheap to parse.
_PROGRESS_PERIOD = 0.25

OUTPUT_FPS = 25
AUDIO_KBPS = 128
#: Below this a 720p H.264 stream is mush; better to fail than to send it.
MIN_VIDEO_KBPS = 100
#: Share of the size budget given to the streams; the rest covers MP4 overhead and
#: rate-control overshoot.
_SIZE_HEADROOM = 0.95
#: Second attempt's bitrate, relative to the first, when the first came out too big.
_RETRY_FACTOR = 0.8

_H264 = ("-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p")
_AAC = ("-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ar", "48000", "-ac", "2")
# Users' files carry GPS positions and device names; nothing of theirs goes into outputs.
_MP4_OUT = ("-map_metadata", "-1", "-map_chapters", "-1", "-movflags", "+faststart", "-f", "mp4")


class _FfmpegTimeout(Exception):
    """ffmpeg ran longer than its timeout and was killed."""


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg."""
    return str(imageio_ffmpeg.get_ffmpeg_exe())


# --------------------------------------------------------------------------- process plumbing


async def _pump(
    stream: asyncio.StreamReader, sink: Callable[[str], Awaitable[None] | None]
) -> None:
    """Feed each line of ``stream`` to ``sink`` until EOF.

    ffmpeg ends status lines with ``\\r``, so both ``\\r`` and ``\\n`` end a line; reading in
    chunks (not ``readline``) keeps a long unterminated line from raising or growing forever.
    """
    pending = b""
    while chunk := await stream.read(64 * 1024):
        *lines, pending = re.split(rb"[\r\n]", pending + chunk)
        pending = pending[-_MAX_LINE_BYTES:]
        for raw in lines:
            await _deliver(sink, raw)
    await _deliver(sink, pending)


async def _deliver(sink: Callable[[str], Awaitable[None] | None], raw: bytes) -> None:
    line = raw.decode("utf-8", "replace").rstrip()
    if not line:
        return
    result = sink(line)
    if isinstance(result, Awaitable):
        await result


async def _execute(
    argv: Sequence[str],
    *,
    timeout: float,
    on_stderr: Callable[[str], None],
    on_stdout: Callable[[str], Awaitable[None] | None] | None = None,
) -> int:
    """Run ``ffmpeg -hide_banner -nostdin *argv`` and return its exit code.

    Raises:
        _FfmpegTimeout: it ran longer than ``timeout`` seconds (and was killed).
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *argv]
    log.debug("running %s", shlex.join(cmd))
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE if on_stdout else asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    stderr_task = asyncio.create_task(_pump(proc.stderr, on_stderr))
    try:
        async with asyncio.timeout(timeout):
            if on_stdout is not None:
                assert proc.stdout is not None
                await _pump(proc.stdout, on_stdout)
            await stderr_task
            return await proc.wait()
    except TimeoutError as exc:
        raise _FfmpegTimeout(f"ffmpeg ran longer than {timeout:g} s") from exc
    finally:
        # Reached with ffmpeg still running on timeout, on cancellation and when a progress
        # callback raised: an orphaned encoder would hold a CPU core for minutes.
        if not stderr_task.done():
            stderr_task.cancel()
            # wait() (unlike awaiting the task) does not raise the reader's CancelledError,
            # so only a cancellation of this task itself propagates from here.
            await asyncio.wait([stderr_task])
        if proc.returncode is None:
            await _kill(proc)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    log.debug("killing ffmpeg pid %s", proc.pid)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    # communicate() drains what is left in the pipes, so their transports see EOF and close
    # (an unread, paused pipe would stay open and warn when collected), then reaps the pid.
    with contextlib.suppress(OSError, ValueError):
        await proc.communicate()


# --------------------------------------------------------------------------- running ffmpeg


@dataclass
class _Progress:
    """Turns ``-progress`` key=value lines into calls of a progress callback."""

    duration: float | None
    callback: ProgressCallback
    position: float = 0.0
    reported: float = -1.0

    async def feed(self, line: str) -> None:
        key, _, value = line.partition("=")
        # out_time_ms is microseconds too (an old ffmpeg misnomer kept for compatibility).
        if key in ("out_time_us", "out_time_ms") and value.strip().lstrip("-").isdigit():
            self.position = max(0.0, int(value) / 1_000_000)
        elif key == "progress":
            await self._report(1.0 if value == "end" else self._fraction())

    def _fraction(self) -> float:
        if not self.duration or self.duration <= 0:
            return 0.0
        return min(self.position / self.duration, 1.0)

    async def _report(self, fraction: float) -> None:
        # Only forward progress: a status message going backwards looks broken.
        if fraction <= self.reported:
            return
        self.reported = fraction
        result = self.callback(fraction)
        if isinstance(result, Awaitable):
            await result


async def run_ffmpeg(
    args: Sequence[str],
    *,
    timeout: float,
    duration: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Run ``ffmpeg -hide_banner -nostdin -y *args`` to completion.

    Args:
        args: Everything after the global options: inputs, filters, outputs.
        timeout: Seconds before ffmpeg is killed.
        duration: Length of the output in seconds, used to turn ffmpeg's position into a
            fraction for ``on_progress``.
        on_progress: Called (and awaited if it returns an awaitable) with increasing
            fractions 0..1, a few times per second and with 1.0 at the end.

    Raises:
        RenderError: ffmpeg failed or timed out; the message has the end of its stderr.
    """
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    argv = ["-y", "-nostats"]
    on_stdout = None
    if on_progress is not None:
        argv += ["-progress", "pipe:1", "-stats_period", str(_PROGRESS_PERIOD)]
        on_stdout = _Progress(duration, on_progress).feed
    try:
        code = await _execute(
            [*argv, *args], timeout=timeout, on_stderr=tail.append, on_stdout=on_stdout
        )
    except _FfmpegTimeout as exc:
        raise RenderError(f"{exc}\n" + "\n".join(tail)) from exc
    if code != 0:
        raise RenderError(f"ffmpeg exited with status {code}:\n" + "\n".join(tail))


@contextlib.contextmanager
def _removing_on_error(path: Path) -> Iterator[None]:
    """Delete a half-written output if making it failed or was cancelled."""
    try:
        yield
    except BaseException:
        path.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- probing

#: Demuxers that read one picture. Every ``*_pipe`` demuxer is an image reader too.
_IMAGE_FORMATS = frozenset({"image2", "jpeg_pipe", "png_pipe", "webp_pipe", "bmp_pipe"})
#: Codecs that hold stills, but also appear in real videos (MJPEG cameras, animated GIF/WebP),
#: so they only count as an image when there is no duration or a single frame's worth.
_IMAGE_CODECS = frozenset({"mjpeg", "png", "webp", "bmp", "tiff", "gif", "jpegxl", "qoi"})
#: Longest "duration" of a single frame: image2 reports one frame at 25 fps (0.04 s).
_SINGLE_FRAME_SECONDS = 0.1

_CORRUPT_MARKERS = ("Invalid data found when processing input", "Error opening input")
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
        CorruptMedia: ffmpeg could not open the file or found no streams in it.
    """
    # Only ffmpeg's own messages count; indented lines are the file's metadata, whose tags
    # may say anything.
    for line in stderr.splitlines():
        if not line.startswith(" ") and any(m in line for m in _CORRUPT_MARKERS):
            raise CorruptMedia(f"ffmpeg: {line}")
    found = _scan_probe(stderr)
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
        CorruptMedia: ffmpeg cannot read the file.
    """
    if not path.is_file():
        raise FileNotFoundError(path)
    # Exits 1 ("At least one output file must be specified"): there is no output.
    info = parse_probe(await _stderr(["-i", str(path.absolute())], timeout=timeout))
    if info.is_image:
        info = await _apply_exif_orientation(path, info, timeout=timeout)
    return info


async def _stderr(argv: Sequence[str], *, timeout: float) -> str:
    """All of a short ffmpeg run's stderr; a run that overstays means an unreadable file."""
    lines: deque[str] = deque(maxlen=_MAX_PROBE_LINES)
    try:
        await _execute(argv, timeout=timeout, on_stderr=lines.append)
    except _FfmpegTimeout as exc:
        raise CorruptMedia(str(exc)) from exc
    return "\n".join(lines)


async def _apply_exif_orientation(path: Path, info: Probe, *, timeout: float) -> Probe:
    """Correct a still's size for EXIF orientation, which ``-i`` does not show.

    The JPEG decoder turns the EXIF tag into per-frame rotation, so only decoding the frame
    reveals it; for one picture that costs a few tens of milliseconds.
    """
    argv = ["-i", str(path.absolute()), "-map", "0:v:0", "-frames:v", "1", "-f", "null", "-"]
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
        code = await _execute(argv, timeout=timeout, on_stderr=found.feed)
    except _FfmpegTimeout as exc:
        raise CorruptMedia(str(exc)) from exc
    if code != 0 or found.errors:
        log.debug("decode failed (%s): %s", code, "\n".join(found.tail))
        raise CorruptMedia("\n".join(found.errors or found.tail))
    return found


async def check_decodes(path: Path, *, seconds: float | None = None, timeout: float = 60) -> None:
    """Decode a file (or its first ``seconds``) and fail if the decoders report damage.

    A truncated MP4 often has intact headers and probes fine; only decoding shows it.

    Raises:
        CorruptMedia: ffmpeg exited non-zero or logged errors while decoding.
    """
    limit = ["-t", f"{seconds:g}"] if seconds is not None else []
    argv = ["-loglevel", "level+error", "-i", str(path.absolute()), *limit, "-sn", "-dn"]
    await _decode([*argv, "-f", "null", "-"], timeout=timeout)


async def max_volume_db(path: Path, *, timeout: float = 60) -> float:
    """Loudest sample of the first audio stream, in dB (0 is full scale).

    Digital silence gives -91.0 (the floor of 16-bit audio). Decoding the whole stream doubles
    as an integrity check.

    Raises:
        CorruptMedia: the audio could not be decoded cleanly or has no samples.
    """
    argv = ["-loglevel", "level+info", "-i", str(path.absolute()), "-map", "0:a:0", "-vn"]
    found = await _decode([*argv, "-af", "volumedetect", "-f", "null", "-"], timeout=timeout)
    if found.max_volume is None:
        raise CorruptMedia("no audio was decoded")
    return found.max_volume


# --------------------------------------------------------------------------- rendering


def _fill_filter(width: int, height: int, *, still: bool) -> str:
    """Scale to cover ``width`` x ``height`` and crop the overflow, keeping the aspect ratio.

    ``increase`` makes both sides at least the target (never one pixel short), so the crop
    always fits; the crop to the (even) target size is what keeps odd sizes from libx264.
    Limited range because full-range H.264 (what a JPEG would give) looks washed out in
    some phone players.
    """
    fill = (
        f"scale={width}:{height}:force_original_aspect_ratio=increase:out_range=tv,"
        f"crop={width}:{height},setsar=1,format=yuv420p"
    )
    if still:
        # Decode and scale the photo once, then repeat the finished frame: the same output
        # as "-loop 1" on the input, for about 40% less CPU (measured on 10 s at 9:16).
        return f"{fill},loop=loop=-1:size=1,fps={OUTPUT_FPS}"
    return f"fps={OUTPUT_FPS},{fill}"


def _face_input(order: Order, seconds: float) -> list[str]:
    media = str(order.media_path.absolute())
    if order.media_kind is MediaKind.PHOTO:
        # One frame at 25 fps; the loop filter (see _fill_filter) makes it last.
        return ["-framerate", str(OUTPUT_FPS), "-i", media]
    known = order.media_probe.duration
    if known is not None and known >= seconds:
        return ["-i", media]
    # Loop a short clip endlessly; -t on the output cuts it to the voice's length.
    return ["-stream_loop", "-1", "-i", media]


async def render_preview(
    order: Order,
    out: Path,
    *,
    on_progress: ProgressCallback | None = None,
    timeout: float = 600,
) -> None:
    """Render the offline preview: the face (still or looped video) with the voice as audio.

    The output is an MP4 (H.264 high/yuv420p at 25 fps, AAC 128k stereo) of exactly
    ``order.ratio.size``, cropped to fill, as long as the voice.

    Args:
        order: What to render; ``order.voice_probe.duration`` sets the length.
        out: Where to write the MP4; removed again if rendering fails.
        on_progress: Receives the fraction done, see :func:`run_ffmpeg`.
        timeout: Seconds before ffmpeg is killed.

    Raises:
        RenderError: ffmpeg failed, timed out, or the voice has no known length.
    """
    seconds = order.voice_probe.duration
    if not seconds or seconds <= 0:
        raise RenderError(f"job {order.job_id}: the voice has no duration")
    width, height = order.ratio.size
    still = order.media_kind is MediaKind.PHOTO
    tune = ["-tune", "stillimage"] if still else []
    args = [
        *_face_input(order, seconds),
        *("-i", str(order.voice_path.absolute())),
        # The video's own sound is dropped: the voice is the only audio.
        *("-map", "0:v:0", "-map", "1:a:0"),
        *("-vf", _fill_filter(width, height, still=still)),
        *_H264,
        *tune,
        *("-crf", "23"),
        *_AAC,
        # -t makes the looped face stop at the voice's end; -shortest covers a voice whose
        # probed duration was an overestimate.
        *("-t", f"{seconds:.3f}", "-shortest"),
        *_MP4_OUT,
        str(out),
    ]
    log.info(
        "rendering preview for job %s: %s %s, %.1f s",
        order.job_id,
        order.media_kind,
        order.ratio,
        seconds,
    )
    with _removing_on_error(out):
        await run_ffmpeg(args, timeout=timeout, duration=seconds, on_progress=on_progress)


async def fit_to_size(
    src: Path, dst: Path, *, max_bytes: int, duration: float, timeout: float = 900
) -> None:
    """Re-encode an MP4 so it is at most ``max_bytes`` (e.g. under Telegram's upload limit).

    The video bitrate is what the budget leaves after the audio; if the first encode still
    overshoots, one more try at 80% of that bitrate.

    Args:
        src: The too-big MP4.
        dst: Where to write the smaller one (not ``src``).
        max_bytes: Size limit of ``dst``.
        duration: Length of ``src`` in seconds.
        timeout: Seconds for all attempts together.

    Raises:
        RenderError: the budget is too small for a watchable video, ffmpeg failed, or the
            result is still too big.
    """
    if duration <= 0:
        raise RenderError(f"cannot fit {src.name}: duration {duration}")
    kbps = max_bytes * 8 / duration / 1000 * _SIZE_HEADROOM - AUDIO_KBPS
    deadline = asyncio.get_running_loop().time() + timeout
    for attempt in (kbps, kbps * _RETRY_FACTOR):
        if attempt < MIN_VIDEO_KBPS:
            raise RenderError(
                f"{max_bytes} bytes for {duration:.1f} s is only {attempt:.0f} kbit/s"
            )
        remaining = deadline - asyncio.get_running_loop().time()
        with _removing_on_error(dst):
            await run_ffmpeg(_bitrate_args(src, dst, int(attempt)), timeout=max(remaining, 1))
        size = dst.stat().st_size
        log.info(
            "re-encoded %s at %d kbit/s: %d bytes (limit %d)", src.name, attempt, size, max_bytes
        )
        if size <= max_bytes:
            return
    dst.unlink(missing_ok=True)
    raise RenderError(f"{src.name} is still over {max_bytes} bytes after re-encoding")


def _bitrate_args(src: Path, dst: Path, kbps: int) -> list[str]:
    return [
        *("-i", str(src.absolute()), "-map", "0:v:0", "-map", "0:a:0?"),
        *_H264,
        # A half-second VBV buffer keeps single-pass ABR from drifting over the target; with
        # a one-second buffer, hard (noisy) content came out ~15% too big.
        *("-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{kbps // 2}k"),
        *_AAC,
        *_MP4_OUT,
        str(dst),
    ]


async def to_mp3(src: Path, dst: Path, *, timeout: float = 120) -> None:
    """Convert the first audio stream of ``src`` (e.g. a voice note's Opus) to a 192k MP3.

    Raises:
        RenderError: ffmpeg failed.
    """
    args = [
        *("-i", str(src.absolute()), "-map", "0:a:0"),
        *("-c:a", "libmp3lame", "-b:a", "192k", "-map_metadata", "-1", "-f", "mp3", str(dst)),
    ]
    with _removing_on_error(dst):
        await run_ffmpeg(args, timeout=timeout)


async def to_jpeg(
    src: Path, dst: Path, *, size: tuple[int, int] | None = None, timeout: float = 60
) -> None:
    """Convert the first picture of ``src`` (any image, or a video's first frame) to a JPEG.

    Args:
        size: when given, scale and crop to fill exactly this width and height.

    Raises:
        RenderError: ffmpeg failed.
    """
    crop = []
    if size is not None:
        width, height = size
        crop = [
            "-vf",
            f"scale={width}:{height}:force_original_aspect_ratio=increase,"
            f"crop={width}:{height},setsar=1",
        ]
    args = [
        *("-i", str(src.absolute()), "-map", "0:v:0", "-frames:v", "1", *crop),
        # 4:2:0 full-range is what every viewer expects of a JPEG; q 2 is near-lossless.
        *("-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuv420p", "-color_range", "pc"),
        *("-map_metadata", "-1", "-update", "1", "-f", "image2", str(dst)),
    ]
    with _removing_on_error(dst):
        await run_ffmpeg(args, timeout=timeout)


async def to_provider_video(order: Order, out: Path, *, timeout: float = 600) -> None:
    """The face video as a provider should get it: cropped to fill ``order.ratio.size``,
    looped or cut to the voice's length, H.264 without sound (the voice is sent apart).

    Raises:
        RenderError: ffmpeg failed or the voice has no known length.
    """
    seconds = order.voice_probe.duration
    if not seconds or seconds <= 0:
        raise RenderError(f"job {order.job_id}: the voice has no duration")
    width, height = order.ratio.size
    args = [
        *_face_input(order, seconds),
        *("-map", "0:v:0", "-an"),
        *("-vf", _fill_filter(width, height, still=False)),
        *_H264,
        *("-crf", "20"),
        *("-t", f"{seconds:.3f}"),
        *_MP4_OUT,
        str(out),
    ]
    with _removing_on_error(out):
        await run_ffmpeg(args, timeout=timeout, duration=seconds)
