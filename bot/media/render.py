"""Making media with ffmpeg: the preview render, provider inputs, and re-encoding to fit."""

# ruff: noqa: ASYNC109 - see bot.media.ffmpeg: a timeout must kill ffmpeg, not just stop waiting

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.errors import RenderError
from bot.media import limits
from bot.media.ffmpeg import ProgressCallback, input_args, removing_on_error, run_ffmpeg
from bot.models import FaceKind, FileFace, Order

log = logging.getLogger(__name__)

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


def _face_input(face: FileFace, seconds: float) -> list[str]:
    media = input_args(Path(face.path))
    if face.kind is FaceKind.PHOTO:
        # One frame at 25 fps; the loop filter (see _fill_filter) makes it last.
        return ["-framerate", str(OUTPUT_FPS), *media]
    known = face.probe.duration
    if known is not None and known >= seconds:
        return media
    # Loop a short clip endlessly; -t on the output cuts it to the voice's length.
    return ["-stream_loop", "-1", *media]


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
        order: What to render (its face a file); ``order.seconds`` sets the length.
        out: Where to write the MP4; removed again if rendering fails.
        on_progress: Receives the fraction done, see :func:`run_ffmpeg`.
        timeout: Seconds before ffmpeg is killed.

    Raises:
        RenderError: ffmpeg failed, timed out, or the voice has no known length.
    """
    face, seconds = _file_face(order), _seconds(order)
    width, height = order.ratio.size
    still = face.kind is FaceKind.PHOTO
    tune = ["-tune", "stillimage"] if still else []
    args = [
        *_face_input(face, seconds),
        *input_args(order.voice_file),
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
    log.info("rendering a preview: %s %s, %.1f s", face.kind, order.ratio, seconds)
    await _encode(args, out, timeout=timeout, duration=seconds, on_progress=on_progress)


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
    # One slot for both attempts, taken before the clock starts: queueing is not encoding.
    async with limits.ENCODES.slot():
        deadline = asyncio.get_running_loop().time() + timeout
        for attempt in (kbps, kbps * _RETRY_FACTOR):
            if attempt < MIN_VIDEO_KBPS:
                raise RenderError(
                    f"{max_bytes} bytes for {duration:.1f} s is only {attempt:.0f} kbit/s"
                )
            remaining = deadline - asyncio.get_running_loop().time()
            with removing_on_error(dst):
                await run_ffmpeg(_bitrate_args(src, dst, int(attempt)), timeout=max(remaining, 1))
            size = dst.stat().st_size
            log.info(
                "re-encoded %s at %d kbit/s: %d bytes (limit %d)",
                src.name,
                attempt,
                size,
                max_bytes,
            )
            if size <= max_bytes:
                return
    dst.unlink(missing_ok=True)
    raise RenderError(f"{src.name} is still over {max_bytes} bytes after re-encoding")


def _bitrate_args(src: Path, dst: Path, kbps: int) -> list[str]:
    return [
        *input_args(src),
        *("-map", "0:v:0", "-map", "0:a:0?"),
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
        *input_args(src),
        *("-map", "0:a:0"),
        *("-c:a", "libmp3lame", "-b:a", "192k", "-map_metadata", "-1", "-f", "mp3", str(dst)),
    ]
    await _encode(args, dst, timeout=timeout)


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
        *input_args(src),
        *("-map", "0:v:0", "-frames:v", "1", *crop),
        # 4:2:0 full-range is what every viewer expects of a JPEG; q 2 is near-lossless.
        *("-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuv420p", "-color_range", "pc"),
        *("-map_metadata", "-1", "-update", "1", "-f", "image2", str(dst)),
    ]
    await _encode(args, dst, timeout=timeout)


async def to_provider_video(order: Order, out: Path, *, timeout: float = 600) -> None:
    """The face video as a provider should get it: cropped to fill ``order.ratio.size``,
    looped or cut to the voice's length, H.264 without sound (the voice is sent apart).

    Raises:
        RenderError: ffmpeg failed or the voice has no known length.
    """
    face, seconds = _file_face(order), _seconds(order)
    width, height = order.ratio.size
    args = [
        *_face_input(face, seconds),
        *("-map", "0:v:0", "-an"),
        *("-vf", _fill_filter(width, height, still=False)),
        *_H264,
        *("-crf", "20"),
        *("-t", f"{seconds:.3f}"),
        *_MP4_OUT,
        str(out),
    ]
    await _encode(args, out, timeout=timeout, duration=seconds)


def _file_face(order: Order) -> FileFace:
    if order.face_file is None:
        raise RenderError("the face is an avatar, not a file")
    return order.face_file


def _seconds(order: Order) -> float:
    if order.seconds <= 0:
        raise RenderError("the voice has no duration")
    return order.seconds


async def _encode(
    args: list[str],
    out: Path,
    *,
    timeout: float,
    duration: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> None:
    """One ffmpeg run writing ``out``, within the process-wide encode limit.

    ``timeout`` starts once a slot is free: queueing behind other encodes is not encoding.
    """
    async with limits.ENCODES.slot():
        with removing_on_error(out):
            await run_ffmpeg(args, timeout=timeout, duration=duration, on_progress=on_progress)
