"""The ffmpeg layer against the real bundled ffmpeg, on small generated files."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.errors import CorruptMedia, MediaTooLong, RenderError, SilentAudio, UnsupportedMedia
from bot.media.ffmpeg import run_ffmpeg
from bot.media.inspect import inspect_face, inspect_voice
from bot.media.probe import decoded_size, max_volume_db, parse_probe, probe
from bot.media.render import fit_to_size, render_preview, to_jpeg, to_mp3
from bot.models import AspectRatio, AudioVoice, FaceKind, FileFace, MediaKind, Order
from tests import media

# --------------------------------------------------------------------------- shared media


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every input file the tests read, made once: ffmpeg start-up dominates their cost."""
    d = tmp_path_factory.mktemp("media")
    video = media.make_video(d / "video.mp4")
    voice = media.make_voice_ogg(d / "voice.ogg")
    return {
        "jpg": media.make_photo(d / "photo.jpg"),
        "png": media.make_photo(d / "photo.png", 641, 481, fmt="png"),
        "tiny": media.make_photo(d / "tiny.jpg", 48, 200),
        "exif": media.make_photo(d / "exif.jpg", 640, 480, orientation=6),
        "video": video,
        "mute_video": media.make_video(d / "mute.mp4", seconds=1, audio=False),
        "rotated": media.make_video(d / "rotated.mp4", seconds=1, rotate=90),
        "voice": voice,
        "silent_ogg": media.make_voice_ogg(d / "silent.ogg", silent=True),
        "blip": media.make_voice_ogg(d / "blip.ogg", seconds=0.2),
        "mp3": media.make_mp3(d / "voice.mp3", seconds=4),
        "silent_mp3": media.make_mp3(d / "silent.mp3", silent=True),
        "corrupt_video": media.make_corrupt(d / "corrupt.mp4", like=video),
        "corrupt_voice": media.make_corrupt(d / "corrupt.ogg", like=voice),
    }


async def _order(kind: MediaKind, face: Path, voice: Path, ratio: AspectRatio) -> Order:
    return Order(
        face=FileFace(kind=FaceKind(kind.value), path=str(face), probe=await probe(face)),
        voice=AudioVoice(path=str(voice), probe=await probe(voice)),
        ratio=ratio,
    )


def _ffmpeg_children() -> set[int]:
    """Pids of ffmpeg processes whose parent is this test process (zombies included)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == os.getpid() and comm.startswith("ffmpeg"):
            found.add(int(entry.name))
    return found


async def _wait_for_child() -> int:
    for _ in range(200):
        if children := _ffmpeg_children():
            return children.pop()
        await asyncio.sleep(0.01)
    raise AssertionError("ffmpeg never started")


# A source that never ends on its own, read in real time: a stand-in for a long render.
ENDLESS = ["-re", "-f", "lavfi", "-i", "testsrc=s=160x120:r=10", "-f", "null", "-"]

# --------------------------------------------------------------------------- probe


@pytest.mark.parametrize(("name", "size"), [("jpg", (640, 480)), ("png", (641, 481))])
async def test_probe_photo(files: dict[str, Path], name: str, size: tuple[int, int]) -> None:
    info = await probe(files[name])
    assert (info.width, info.height) == size
    assert info.has_video
    assert info.is_image
    assert not info.has_audio


async def test_probe_video(files: dict[str, Path]) -> None:
    info = await probe(files["video"])
    assert (info.width, info.height) == (640, 360)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.has_video
    assert info.has_audio
    assert not info.is_image
    assert not (await probe(files["mute_video"])).has_audio


async def test_probe_rotated_video_swaps_width_and_height(files: dict[str, Path]) -> None:
    info = await probe(files["rotated"])
    assert (info.width, info.height) == (360, 640)


async def test_probe_photo_applies_exif_orientation(files: dict[str, Path]) -> None:
    # ffmpeg -i still says 640x480; the decoder rotates the frame, and so must the probe.
    info = await probe(files["exif"])
    assert (info.width, info.height) == (480, 640)
    assert info.is_image


@pytest.mark.parametrize(("name", "seconds"), [("voice", 3.0), ("mp3", 4.0)])
async def test_probe_audio(files: dict[str, Path], name: str, seconds: float) -> None:
    info = await probe(files[name])
    assert info.duration == pytest.approx(seconds, abs=0.1)
    assert info.has_audio
    assert not info.has_video
    assert info.width is None


async def test_probe_corrupt_file(files: dict[str, Path]) -> None:
    with pytest.raises(CorruptMedia):
        await probe(files["corrupt_voice"])


async def test_probe_missing_file_is_our_bug_not_corrupt_media(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await probe(tmp_path / "nope.mp4")


# --------------------------------------------------------------------------- parse_probe

JPEG = """\
Input #0, image2, from 'photo.jpg':
  Duration: 00:00:00.04, start: 0.000000, bitrate: 3371 kb/s
  Stream #0:0: Video: mjpeg (Baseline), yuvj444p(pc, bt470bg/unknown/unknown), 640x480 \
[SAR 1:1 DAR 4:3], 25 fps, 25 tbr, 25 tbn
At least one output file must be specified
"""

# An iPhone clip as older ffmpeg printed it: HEVC 1920x1080 with a -90 degree display matrix.
IPHONE = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'IMG_0001.MOV':
  Metadata:
    major_brand     : qt
    com.apple.quicktime.location.ISO6709: +52.5200+013.4050+035.000/
  Duration: 01:02:05.20, start: 0.000000, bitrate: 8234 kb/s
  Stream #0:0[0x1](und): Video: hevc (Main) (hvc1 / 0x31637668), yuv420p(tv, bt709), \
1920x1080, 8000 kb/s, 29.98 fps, 30 tbr, 600 tbn (default)
    Metadata:
      handler_name    : Core Media Video
    Side data:
      displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 94 kb/s
"""

# An MP3 with cover art: the picture is not a face, and the title is not an error.
COVER_MP3 = """\
Input #0, mp3, from 'cover.mp3':
  Metadata:
    title           : Invalid data found when processing input
  Duration: 00:00:03.00, start: 0.025056, bitrate: 188 kb/s
  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, mono, fltp, 128 kb/s, start 0.025057
  Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 640x480 \
[SAR 1:1 DAR 4:3], 90k tbr, 90k tbn, start 0.025056 (attached pic)
    Metadata:
      comment         : Other
At least one output file must be specified
"""

# A "rotate" tag is only a tag in ffmpeg 7+; players and ffmpeg's filters ignore it.
ROTATE_TAG = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'tagged.mp4':
  Duration: 00:00:01.00, start: 0.000000, bitrate: 276 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), \
640x360 [SAR 1:1 DAR 16:9], 265 kb/s, 25 fps, 25 tbr, 12800 tbn (default)
    Metadata:
      rotate          : 90
"""

WEBP = """\
Input #0, webp_pipe, from 'sticker.webp':
  Duration: N/A, bitrate: N/A
  Stream #0:0: Video: webp, yuv420p(tv, bt470bg/unknown/unknown), 512x512, 25 fps, 25 tbr
"""

TRUNCATED = """\
[in#0 @ 0x560bbae58040] moov atom not found
[in#0 @ 0x560bbae57cc0] Error opening input: Invalid data found when processing input
Error opening input file trunc.mp4.
Error opening input files: Invalid data found when processing input
"""

BROKEN_OGG = """\
[in#0 @ 0x5606dd90d040] CRC mismatch!
    Last message repeated 1 times
[in#0 @ 0x5606dd90ccc0] Error opening input: End of file
Error opening input file c.ogg.
Error opening input files: End of file
"""

NO_STREAMS = """\
Input #0, mpegts, from 'empty.ts':
  Duration: N/A, bitrate: N/A
At least one output file must be specified
"""


def test_parse_probe_jpeg() -> None:
    info = parse_probe(JPEG)
    assert (info.width, info.height, info.duration) == (640, 480, 0.04)
    assert info.is_image


def test_parse_probe_rotated_hevc_with_long_duration() -> None:
    info = parse_probe(IPHONE)
    assert (info.width, info.height) == (1080, 1920)
    assert info.duration == pytest.approx(3725.2)
    assert info.has_audio
    assert not info.is_image


def test_parse_probe_ignores_cover_art() -> None:
    info = parse_probe(COVER_MP3)
    assert not info.has_video
    assert info.width is None
    assert info.has_audio


def test_parse_probe_ignores_rotate_tag() -> None:
    assert (parse_probe(ROTATE_TAG).width, parse_probe(ROTATE_TAG).height) == (640, 360)


def test_parse_probe_webp_without_duration() -> None:
    info = parse_probe(WEBP)
    assert info.duration is None
    assert info.is_image
    assert (info.width, info.height) == (512, 512)


def test_decoded_size_reads_the_output_section() -> None:
    decoded = """\
  Stream #0:0: Video: mjpeg (Baseline), yuvj420p(pc), 640x480 [SAR 1:1 DAR 4:3], 25 fps
Output #0, null, to 'pipe:':
  Stream #0:0: Video: wrapped_avframe, yuvj420p(pc, progressive), 480x640 [SAR 1:1 DAR 3:4]
"""
    assert decoded_size(decoded) == (480, 640)
    assert decoded_size(JPEG) is None


@pytest.mark.parametrize("stderr", [TRUNCATED, BROKEN_OGG, NO_STREAMS, ""])
def test_parse_probe_corrupt(stderr: str) -> None:
    with pytest.raises(CorruptMedia):
        parse_probe(stderr)


# --------------------------------------------------------------------------- inspect


@pytest.mark.parametrize(
    ("name", "kind"),
    [("jpg", MediaKind.PHOTO), ("png", MediaKind.PHOTO), ("video", MediaKind.VIDEO)],
)
async def test_inspect_face_accepts(files: dict[str, Path], name: str, kind: MediaKind) -> None:
    assert (await inspect_face(files[name], kind)).has_video


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("jpg", MediaKind.VIDEO),  # a still sent as a video
        ("video", MediaKind.PHOTO),
        ("tiny", MediaKind.PHOTO),  # 48 px wide
        ("voice", MediaKind.PHOTO),  # no picture at all
    ],
)
async def test_inspect_face_rejects(files: dict[str, Path], name: str, kind: MediaKind) -> None:
    with pytest.raises(UnsupportedMedia):
        await inspect_face(files[name], kind)


async def test_inspect_face_decodes_truncated_video(files: dict[str, Path]) -> None:
    # make_video writes the index first (faststart), so the damaged copy still probes fine.
    assert (await probe(files["corrupt_video"])).has_video
    with pytest.raises(CorruptMedia):
        await inspect_face(files["corrupt_video"], MediaKind.VIDEO)


async def test_inspect_voice_accepts(files: dict[str, Path]) -> None:
    info = await inspect_voice(files["voice"], max_seconds=60)
    assert info.duration == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize("name", ["silent_ogg", "silent_mp3", "blip"])
async def test_inspect_voice_silent(files: dict[str, Path], name: str) -> None:
    with pytest.raises(SilentAudio):
        await inspect_voice(files[name], max_seconds=60)


async def test_inspect_voice_too_long(files: dict[str, Path]) -> None:
    with pytest.raises(MediaTooLong) as caught:
        await inspect_voice(files["mp3"], max_seconds=2.5)
    assert caught.value.params == {"limit": 2, "duration": 4}


async def test_inspect_voice_needs_audio(files: dict[str, Path]) -> None:
    with pytest.raises(UnsupportedMedia):
        await inspect_voice(files["mute_video"], max_seconds=60)


async def test_inspect_voice_corrupt(files: dict[str, Path]) -> None:
    with pytest.raises(CorruptMedia):
        await inspect_voice(files["corrupt_voice"], max_seconds=60)


async def test_max_volume_db(files: dict[str, Path]) -> None:
    assert -10 < await max_volume_db(files["mp3"]) <= 0
    assert await max_volume_db(files["silent_mp3"]) == -91.0
    with pytest.raises(CorruptMedia):
        await max_volume_db(files["corrupt_video"])


# --------------------------------------------------------------------------- rendering


async def test_render_photo_portrait_with_progress(files: dict[str, Path], tmp_path: Path) -> None:
    # Long enough to take several progress periods even on a fast, idle machine (a 3 s
    # voice sometimes rendered between two reports: one fraction only).
    voice = media.make_mp3(tmp_path / "long.mp3", seconds=15)
    order = await _order(MediaKind.PHOTO, files["jpg"], voice, AspectRatio.PORTRAIT)
    fractions: list[float] = []

    async def on_progress(fraction: float) -> None:
        fractions.append(fraction)

    out = tmp_path / "out.mp4"
    await render_preview(order, out, on_progress=on_progress)

    info = await probe(out)
    assert (info.width, info.height) == (720, 1280)
    assert info.has_audio
    assert info.duration == pytest.approx(order.seconds, abs=0.1)
    assert len(fractions) >= 2
    assert fractions == sorted(set(fractions))
    assert fractions[0] >= 0
    assert fractions[-1] == pytest.approx(1.0, abs=0.01)


async def test_render_short_video_loops_to_voice_length(
    files: dict[str, Path], tmp_path: Path
) -> None:
    order = await _order(MediaKind.VIDEO, files["video"], files["mp3"], AspectRatio.LANDSCAPE)
    assert order.face_file is not None
    assert (order.face_file.probe.duration, order.seconds) == pytest.approx((2, 4), abs=0.1)
    fractions: list[float] = []
    out = tmp_path / "out.mp4"

    await render_preview(order, out, on_progress=fractions.append)

    info = await probe(out)
    assert (info.width, info.height) == (1280, 720)
    assert info.has_audio
    # Without the loop the 2 s video would end the output early (-shortest).
    assert info.duration == pytest.approx(4.0, abs=0.1)
    assert fractions[-1] == pytest.approx(1.0, abs=0.01)


async def test_render_failure_removes_output(files: dict[str, Path], tmp_path: Path) -> None:
    order = await _order(MediaKind.VIDEO, files["video"], files["voice"], AspectRatio.SQUARE)
    voice = AudioVoice(path=str(files["corrupt_voice"]), probe=order.voice.probe)
    broken = order.model_copy(update={"voice": voice})
    out = tmp_path / "out.mp4"
    with pytest.raises(RenderError):
        await render_preview(broken, out)
    assert not out.exists()


async def test_fit_to_size(tmp_path: Path) -> None:
    # Noise is the worst case for the rate control; 640x360 keeps the re-encode quick.
    big = media.make_big_video(tmp_path / "big.mp4", 12, 3, width=640, height=360)
    assert big.stat().st_size > 10 * media.MB
    out = tmp_path / "small.mp4"

    await fit_to_size(big, out, max_bytes=4 * media.MB, duration=3)

    assert out.stat().st_size <= 4 * media.MB
    info = await probe(out)
    assert info.has_audio
    assert info.duration == pytest.approx(3, abs=0.1)


async def test_fit_to_size_refuses_tiny_budget(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="kbit/s"):
        await fit_to_size(files["video"], tmp_path / "x.mp4", max_bytes=200_000, duration=60)


async def test_converters(files: dict[str, Path], tmp_path: Path) -> None:
    await to_mp3(files["voice"], tmp_path / "voice.mp3")
    assert (await probe(tmp_path / "voice.mp3")).has_audio
    await to_jpeg(files["png"], tmp_path / "photo.jpg")  # odd-sized on purpose
    info = await probe(tmp_path / "photo.jpg")
    assert (info.width, info.height, info.is_image) == (641, 481, True)


# --------------------------------------------------------------------------- the process


async def test_run_ffmpeg_error_has_stderr_tail(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="No such file") as caught:
        await run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"], timeout=10)
    assert len(str(caught.value).splitlines()) <= 31


async def test_cancel_kills_ffmpeg() -> None:
    task = asyncio.create_task(run_ffmpeg(ENDLESS, timeout=60))
    pid = await _wait_for_child()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert not Path(f"/proc/{pid}").exists()


async def test_timeout_kills_ffmpeg() -> None:
    task = asyncio.create_task(run_ffmpeg(ENDLESS, timeout=0.5))
    pid = await _wait_for_child()
    with pytest.raises(RenderError, match="longer than"):
        await task
    assert not Path(f"/proc/{pid}").exists()


async def test_failing_progress_callback_kills_ffmpeg() -> None:
    def explode(fraction: float) -> None:
        raise ValueError(fraction)

    task = asyncio.create_task(run_ffmpeg(ENDLESS, timeout=60, duration=60, on_progress=explode))
    pid = await _wait_for_child()
    with pytest.raises(ValueError, match="0"):
        await task
    assert not Path(f"/proc/{pid}").exists()
