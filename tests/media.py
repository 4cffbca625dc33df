"""Real media files for tests, made with the same bundled ffmpeg the bot uses.

Synchronous on purpose: tests call these while setting up, before any event loop matters.
Every function returns the path it wrote.
"""

from __future__ import annotations

import random
import struct
import subprocess
from pathlib import Path

from bot.media.ffmpeg import ffmpeg_exe

#: Megabytes as Telegram counts them for its 50 MB bot upload limit.
MB = 1024 * 1024
#: Audio bitrate of make_big_video, subtracted from its byte budget.
_BIG_AUDIO_KBPS = 64


def ffmpeg(*args: str | Path) -> None:
    """Run ffmpeg synchronously; raise with its stderr if it fails."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {done.stderr[-2000:]}")


def make_photo(
    path: Path,
    width: int = 640,
    height: int = 480,
    fmt: str = "jpg",
    *,
    orientation: int | None = None,
) -> Path:
    """A still of ffmpeg's colourful test pattern; ``fmt`` is jpg, png or webp.

    ``orientation`` (jpg only) adds an EXIF orientation tag, like a phone camera's: 6 means
    "rotate 90 degrees clockwise to display", so the picture is shown ``height`` x ``width``.
    """
    codec = {"jpg": "mjpeg", "jpeg": "mjpeg", "png": "png", "webp": "libwebp"}[fmt]
    # testsrc2 only makes even sizes, so scale afterwards to allow any size.
    source = f"testsrc2=s=640x480,scale={width}:{height},setsar=1"
    pix = ["-pix_fmt", "yuv420p", "-color_range", "pc"] if codec == "mjpeg" else []
    ffmpeg(
        *("-f", "lavfi", "-i", source, "-frames:v", "1", "-c:v", codec, *pix),
        *("-update", "1", "-f", "image2", path),
    )
    if orientation is not None:
        _add_exif_orientation(path, orientation)
    return path


def _add_exif_orientation(path: Path, orientation: int) -> None:
    # A minimal APP1 segment right after SOI: "Exif", a little-endian TIFF header and one
    # IFD entry, Orientation (0x0112) of type SHORT, then no next IFD.
    ifd = struct.pack("<HHHIHH", 1, 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    app1 = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    data = path.read_bytes()
    if data[:2] != b"\xff\xd8":
        raise ValueError(f"{path} is not a JPEG")
    segment = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    path.write_bytes(data[:2] + segment + data[2:])


def make_video(
    path: Path,
    *,
    width: int = 640,
    height: int = 360,
    seconds: float = 2.0,
    audio: bool = True,
    rotate: int | None = None,
) -> Path:
    """A small H.264 (+ AAC) MP4 of a moving test pattern, index at the front.

    ``rotate`` stores a display matrix of that many degrees counter-clockwise, like a phone
    filming upright; the pixels stay ``width`` x ``height``.
    """
    target = path.with_name(f"{path.stem}.unrotated.mp4") if rotate is not None else path
    video = ["-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r=25"]
    sound = ["-f", "lavfi", "-i", "sine=f=330:sample_rate=44100"] if audio else []
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    codecs += ["-c:a", "aac", "-b:a", "64k"] if audio else []
    # Index first, like phone and Telegram videos: a truncated copy then still probes fine.
    mp4 = ["-movflags", "+faststart", "-f", "mp4"]
    ffmpeg(*video, *sound, "-t", f"{seconds:g}", *codecs, *mp4, target)
    if rotate is not None:
        # Encoding with -display_rotation would rotate the pixels instead (autorotate), and
        # the old "-metadata:s:v rotate=90" is only a dead tag in this ffmpeg: remux instead.
        ffmpeg("-display_rotation", str(rotate), "-i", target, "-c", "copy", *mp4, path)
        target.unlink()
    return path


def _voice_source(seconds: float, silent: bool, rate: int) -> str:
    if silent:
        return f"anullsrc=r={rate}:cl=mono,atrim=duration={seconds:g}"
    # A pitch-wobbling tone with a syllable-like amplitude envelope: loud like speech.
    tone = "sin(2*PI*(180+40*sin(2*PI*0.7*t))*t)*(0.55+0.45*sin(2*PI*4*t))"
    return f"aevalsrc=0.6*{tone}:s={rate}:d={seconds:g}"


def make_voice_ogg(path: Path, seconds: float = 3.0, silent: bool = False) -> Path:
    """An Opus-in-OGG mono 48 kHz voice note, like Telegram's, of a tone or of silence."""
    ffmpeg(
        *("-f", "lavfi", "-i", _voice_source(seconds, silent, 48000)),
        *("-c:a", "libopus", "-b:a", "32k", "-application", "voip", "-f", "ogg", path),
    )
    return path


def make_mp3(path: Path, seconds: float = 3.0, silent: bool = False) -> Path:
    """A mono 44.1 kHz MP3 of a tone or of silence."""
    ffmpeg(
        *("-f", "lavfi", "-i", _voice_source(seconds, silent, 44100)),
        *("-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3", path),
    )
    return path


def make_corrupt(path: Path, like: Path) -> Path:
    """The first 30% of the real file ``like`` followed by (reproducible) garbage."""
    data = like.read_bytes()
    keep = data[: int(len(data) * 0.3)]
    path.write_bytes(keep + random.Random(len(data)).randbytes(max(4096, len(data) // 10)))
    return path


def make_big_video(
    path: Path, megabytes: float, seconds: float, *, width: int = 1280, height: int = 720
) -> Path:
    """An H.264 + AAC MP4 of about ``megabytes`` MiB (within ~5%) lasting ``seconds``.

    Noise does not compress, so a constant-bitrate encode of it has a predictable size.
    Only one second is encoded (noise is slow to make); it is then looped by stream copy,
    which takes no time. One correction pass absorbs the encoder's rate error.
    """
    total_kbps = megabytes * MB * 8 / seconds / 1000
    kbps = total_kbps - _BIG_AUDIO_KBPS
    segment = path.with_name(f"{path.stem}.segment.mp4")
    for _ in range(2):
        _noise_second(segment, int(kbps), width, height)
        actual_kbps = segment.stat().st_size * 8 / 1000
        if abs(actual_kbps - total_kbps) < 0.05 * total_kbps:
            break
        kbps *= total_kbps / actual_kbps
    looped = ("-stream_loop", "-1", "-i", segment, "-t", f"{seconds:g}", "-c", "copy")
    ffmpeg(*looped, "-f", "mp4", path)
    segment.unlink()
    return path


def _noise_second(path: Path, kbps: int, width: int, height: int) -> None:
    rate = f"{kbps}k"
    noise = f"nullsrc=s={width}x{height}:r=25,geq=lum='random(1)*255':cb=128:cr=128"
    ffmpeg(
        *("-f", "lavfi", "-i", noise),
        *("-f", "lavfi", "-i", "sine=f=440:sample_rate=44100"),
        *("-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        # CBR with filler data: the stream is exactly this rate, whatever the content.
        *("-b:v", rate, "-minrate", rate, "-maxrate", rate, "-bufsize", f"{kbps // 2}k"),
        *("-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-b:a", f"{_BIG_AUDIO_KBPS}k"),
        *("-f", "mp4", path),
    )
