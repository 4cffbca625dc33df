"""A user's file must never make ffmpeg read another file (playlists, concat lists)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import Running
from bot.errors import UnsupportedFormat
from bot.media import intake
from bot.media.inspect import inspect_face, inspect_voice
from bot.media.probe import check_decodes, max_volume_db, parse_probe, probe
from bot.models import InputFile, MediaKind, Step
from tests import media as make
from tests.conftest import Media
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import at_voice_step, said

ANN = User(111, "Ann", language_code="en")
BOB = User(333, "Bob", language_code="en")

REFUSAL = "That kind of file is not supported"


def hls(target: str) -> bytes:
    """An HLS playlist whose only segment is ``target``."""
    return (f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n{target}\n#EXT-X-ENDLIST\n").encode()


def ffconcat(target: str) -> bytes:
    return f"ffconcat version 1.0\nfile {target}\n".encode()


# --------------------------------------------------------------------------- probe and inspect


@pytest.fixture(scope="module")
def victim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Somebody else's voice, in the folder where hostile files are put beside it."""
    return make.make_voice_ogg(tmp_path_factory.mktemp("inputs") / "U1.ogg")


def _hostile(victim: Path, name: str, content: bytes) -> Path:
    path = victim.parent / name
    path.write_bytes(content)
    return path


HOSTILE = [
    ("relative.m3u8", lambda v: hls(v.name)),
    ("absolute.m3u8", lambda v: hls(str(v))),
    ("relative.m3u", lambda v: hls(v.name)),
    ("playlist.bin", lambda v: hls(v.name)),
    ("concat.ogg", lambda v: ffconcat(v.name)),
    ("concat.bin", lambda v: ffconcat(v.name)),
    ("concat.txt", lambda v: ffconcat(v.name)),
    # Without #EXT-X tags ffmpeg does not take it for HLS: it must not read as "damaged".
    ("plain.bin", lambda v: f"#EXTM3U\n#EXTINF:3,\n{v.name}\n".encode()),
    ("bom.bin", lambda v: b"\xef\xbb\xbf  " + hls(v.name)),
    ("pls.bin", lambda v: f"[playlist]\nFile1={v.name}\n".encode()),
]


@pytest.mark.parametrize(("name", "content"), HOSTILE)
async def test_probe_refuses_files_that_point_at_other_files(
    victim: Path, name: str, content
) -> None:
    path = _hostile(victim, name, content(victim))
    with pytest.raises(UnsupportedFormat):
        await probe(path)
    with pytest.raises(UnsupportedFormat):
        await inspect_voice(path, max_seconds=60)
    with pytest.raises(UnsupportedFormat):
        await inspect_face(path, MediaKind.VIDEO)


async def test_ordinary_files_named_bin_are_read_by_their_content(tmp_path: Path) -> None:
    mp3 = make.make_mp3(tmp_path / "voice.mp3")
    png = make.make_photo(tmp_path / "face.png", fmt="png")
    audio = await probe(mp3.rename(tmp_path / "a.bin"))
    assert audio.has_audio
    assert audio.duration is not None
    picture = await probe(png.rename(tmp_path / "p.bin"))
    assert picture.is_image
    assert (picture.width, picture.height) == (640, 480)


@pytest.mark.parametrize(("name", "content"), HOSTILE[:2] + HOSTILE[4:5])
async def test_decoders_never_follow_a_playlist(victim: Path, name: str, content) -> None:
    """Even called without a probe first, nothing decodes the other user's voice."""
    path = _hostile(victim, name, content(victim))
    with pytest.raises(UnsupportedFormat):
        await max_volume_db(path)
    with pytest.raises(UnsupportedFormat):
        await check_decodes(path)


@pytest.mark.parametrize("container", ["hls", "concat", "dash", "webm_dash_manifest"])
def test_parse_probe_refuses_indirect_containers(container: str) -> None:
    stderr = (
        f"Input #0, {container}, from '/data/inputs/U2.bin':\n"
        "  Duration: 00:00:03.00, start: 0.000000, bitrate: N/A\n"
        "  Stream #0:0: Audio: opus, 48000 Hz, mono, fltp\n"
    )
    with pytest.raises(UnsupportedFormat):
        parse_probe(stderr)


def test_parse_probe_refuses_a_format_off_the_whitelist() -> None:
    stderr = (
        "[in#0 @ 0x5617] Format not on whitelist 'mov,matroska,ogg'\n"
        "[in#0 @ 0x5616] Error opening input: Invalid argument\n"
        "Error opening input file /data/inputs/U2.bin.\n"
    )
    with pytest.raises(UnsupportedFormat):
        parse_probe(stderr)


@pytest.mark.parametrize(
    ("source", "mime"),
    [
        ("audio", "audio/m3u8"),
        ("document", "audio/x-mpegurl"),
        ("document", "audio/mpegurl"),
        ("audio", "audio/../../etc"),
        ("document", "video/mp4"),
        ("document", "image/jpeg"),
    ],
)
def test_local_names_ignore_what_the_user_declares(source: str, mime: str) -> None:
    file = InputFile(file_id="F1", file_unique_id="AgAD-x_9", source=source, mime_type=mime)
    assert intake.local_name(file) == "AgAD-x_9.bin"


def test_local_names_follow_what_telegram_delivered() -> None:
    voice = InputFile(file_id="F1", file_unique_id="U7", source="voice", mime_type="audio/m3u8")
    photo = InputFile(file_id="F2", file_unique_id="U8", source="photo")
    assert intake.local_name(voice) == "U7.ogg"
    assert intake.local_name(photo) == "U8.jpg"


def test_local_names_never_leave_the_folder() -> None:
    odd = InputFile(file_id="../../x", file_unique_id="../x%d", source="document")
    name = intake.local_name(odd)
    assert "/" not in name
    assert "%" not in name
    assert not name.startswith(".")


# --------------------------------------------------------------------------- end to end


async def _ann_voice(fake: FakeTelegram, bot: Running, media: Media) -> Path:
    await at_voice_step(fake, media, ANN)
    mark = fake.mark()
    fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
    await said(fake, ANN.id, "Pick the shape", mark)
    draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.voice is not None
    assert draft.voice.path is not None
    return Path(draft.voice.path)


@pytest.mark.parametrize(
    ("mime", "name", "content"),
    [
        ("audio/m3u8", "voice.m3u8", lambda v: hls(v.name)),
        ("audio/x-mpegurl", "voice.m3u8", lambda v: hls(v.name)),
        ("audio/mpegurl", "voice.m3u", lambda v: hls(str(v))),
        ("audio/m3u8", "voice.m3u8", lambda v: hls(str(v))),
        ("audio/ogg", "voice.ogg", lambda v: ffconcat(v.name)),
    ],
)
async def test_a_playlist_cannot_borrow_another_users_voice(
    fake: FakeTelegram, bot: Running, media: Media, mime: str, name: str, content
) -> None:
    anns_voice = await _ann_voice(fake, bot, media)
    await at_voice_step(fake, media, BOB)
    mark = fake.mark()
    fake.send_document(BOB, content(anns_voice), name, mime)
    reply = await said(fake, BOB.id, REFUSAL, mark)
    assert "Now the voice" in reply.params["text"]
    draft = await bot.services.drafts.get(BOB.id, BOB.id)
    assert draft is not None
    assert draft.step is Step.VOICE
    assert draft.voice is None
    assert draft.media is not None
    assert draft.media.probe is not None
    # Nothing was rendered for Bob: the conversation never got past the voice.
    assert not fake.sent(method="sendVideo")


async def test_a_playlist_sent_as_audio_is_refused(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    anns_voice = await _ann_voice(fake, bot, media)
    await at_voice_step(fake, media, BOB)
    mark = fake.mark()
    fake.send_audio(
        BOB, hls(anns_voice.name), duration=3, file_name="a.m3u8", mime_type="audio/m3u8"
    )
    await said(fake, BOB.id, REFUSAL, mark)
    draft = await bot.services.drafts.get(BOB.id, BOB.id)
    assert draft is not None
    assert draft.step is Step.VOICE
