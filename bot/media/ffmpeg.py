"""Running the bundled ffmpeg without blocking the event loop.

The only ffmpeg is the static build shipped by ``imageio-ffmpeg`` (there is no ffprobe).
Every run goes through :func:`execute`, which keeps only bounded output and kills ffmpeg on
timeout or cancellation. What is run lives beside: :mod:`bot.media.probe` (reading files) and
:mod:`bot.media.render` (making them).
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
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from bot.errors import RenderError

log = logging.getLogger(__name__)

#: Receives the fraction done, 0..1; may be a plain function or a coroutine function.
ProgressCallback = Callable[[float], Awaitable[None] | None]

#: Lines of stderr kept for error messages; ffmpeg puts the reason for a failure at the end.
STDERR_TAIL_LINES = 30
#: A "line" without a newline is cut to this many bytes so a misbehaving run cannot eat memory.
_MAX_LINE_BYTES = 16 * 1024
#: ``ffmpeg -i`` output is short even for files with many streams; more means something odd.
MAX_PROBE_LINES = 2000
#: How often ffmpeg reports progress; often enough for a status message, cheap to parse.
_PROGRESS_PERIOD = 0.25


#: The only demuxers ffmpeg may use on a file we did not make ourselves: ordinary containers
#: and single pictures. Playlists (hls, dash), concat lists and the like are left out because
#: they name other files, which ffmpeg would read: another user's voice, or anything on disk.
#: Names as ``ffmpeg -demuxers`` lists them; "mov" covers mp4/m4a/3gp, "matroska" covers webm.
INPUT_FORMATS = (
    "mov,matroska,ogg,mp3,wav,flac,aac,amr,amrnb,amrwb,"
    "image2,jpeg_pipe,png_pipe,webp_pipe,bmp_pipe,tiff_pipe,gif,gif_pipe"
)


def input_args(path: Path) -> list[str]:
    """``-i path`` with the demuxer pinned to :data:`INPUT_FORMATS` and only local files.

    Every input the bot did not generate itself goes through this: what a file says about
    itself must not make ffmpeg open anything else (its own name is ours, see
    bot.media.intake.local_name).
    """
    return [
        *("-format_whitelist", INPUT_FORMATS, "-protocol_whitelist", "file"),
        *("-i", str(path.absolute())),
    ]


class FfmpegTimeout(Exception):
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


async def execute(
    argv: Sequence[str],
    *,
    timeout: float,
    on_stderr: Callable[[str], None],
    on_stdout: Callable[[str], Awaitable[None] | None] | None = None,
) -> int:
    """Run ``ffmpeg -hide_banner -nostdin *argv`` and return its exit code.

    Raises:
        FfmpegTimeout: it ran longer than ``timeout`` seconds (and was killed).
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
        raise FfmpegTimeout(f"ffmpeg ran longer than {timeout:g} s") from exc
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
        code = await execute(
            [*argv, *args], timeout=timeout, on_stderr=tail.append, on_stdout=on_stdout
        )
    except FfmpegTimeout as exc:
        raise RenderError(f"{exc}\n" + "\n".join(tail)) from exc
    if code != 0:
        raise RenderError(f"ffmpeg exited with status {code}:\n" + "\n".join(tail))


@contextlib.contextmanager
def removing_on_error(path: Path) -> Iterator[None]:
    """Delete a half-written output if making it failed or was cancelled."""
    try:
        yield
    except BaseException:
        path.unlink(missing_ok=True)
        raise
