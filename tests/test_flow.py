"""The whole conversation, end to end: the real bot, the fake Telegram server, real ffmpeg."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import Running
from bot.media import probe as probing
from bot.models import JobStatus
from tests.conftest import Media, to_chat
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button, edited, said

ANN = User(111, "Ann", language_code="en")


async def make_video(
    fake: FakeTelegram, user: User, *, face: Call | None = None, send_face, send_voice, ratio: str
) -> Call:
    """Drive /new -> face -> voice -> ratio -> Generate; returns the sendVideo call."""
    mark = fake.mark()
    fake.send_command(user, "/new")
    await said(fake, user.id, "Send a photo or a video of a face", mark)
    mark = fake.mark()
    send_face()
    await said(fake, user.id, "Now the voice", mark)
    mark = fake.mark()
    send_voice()
    ratio_prompt = await said(fake, user.id, "Pick the shape", mark)
    assert [text for text, _ in fake.buttons(ratio_prompt.result)] == ["9:16", "1:1", "16:9"]
    mark = fake.mark()
    fake.press(user, ratio_prompt.result, button(fake, ratio_prompt.result, ratio))
    # One provider only (preview): the PROVIDER step is skipped straight to CONFIRM.
    confirm = await edited(fake, user.id, "Ready to make your video", mark)
    assert "Preview does not move the lips" in confirm.result["text"]
    mark = fake.mark()
    fake.press(user, confirm.result, button(fake, confirm.result, "Generate"))
    videos = await fake.wait_for("sendVideo", to_chat(user.id), since=mark, timeout=60)
    return videos[0]


async def test_photo_and_voice_note_make_a_portrait_video(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    sent = await make_video(
        fake,
        ANN,
        send_face=lambda: fake.send_photo(ANN, media.photo.read_bytes(), width=640, height=480),
        send_voice=lambda: fake.send_voice(ANN, media.voice.read_bytes(), duration=3),
        ratio="9:16",
    )
    upload = fake.uploads[-1]
    probe = await probing.probe(upload.path)
    assert (probe.width, probe.height) == (720, 1280)
    assert probe.has_audio
    assert probe.has_video
    assert probe.duration == pytest.approx(3.0, abs=0.25)
    assert sent.params["supports_streaming"] is True
    assert (sent.params["width"], sent.params["height"]) == (720, 1280)
    assert "preview" in sent.params["caption"]
    assert [text for text, _ in fake.buttons(sent.result)] == ["Again", "New video"]
    jobs = await bot.services.jobs.recent(ANN.id)
    assert [job.status for job in jobs] == [JobStatus.DELIVERED]
    assert jobs[0].result_file_id == sent.result["video"]["file_id"]


async def test_video_and_mp3_make_a_landscape_video(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    await make_video(
        fake,
        ANN,
        send_face=lambda: fake.send_video(
            ANN, media.video.read_bytes(), duration=2, width=640, height=360
        ),
        send_voice=lambda: fake.send_audio(ANN, media.mp3.read_bytes(), duration=4),
        ratio="16:9",
    )
    probe = await probing.probe(fake.uploads[-1].path)
    assert (probe.width, probe.height) == (1280, 720)
    assert probe.has_audio
    # The 2 s video is looped under the 4 s voice.
    assert probe.duration == pytest.approx(4.0, abs=0.25)


@pytest.mark.parametrize("kind", ["video_note", "image_document", "video_document"])
async def test_other_face_inputs_are_accepted(
    fake: FakeTelegram, bot: Running, media: Media, kind: str
) -> None:
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    if kind == "video_note":
        fake.send_video_note(ANN, media.video.read_bytes(), duration=2)
    elif kind == "image_document":
        fake.send_document(ANN, media.photo.read_bytes(), "me.jpg", "image/jpeg")
    else:
        fake.send_document(ANN, media.video.read_bytes(), "me.mp4", "video/mp4")
    await said(fake, ANN.id, "Now the voice", mark)
    draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.media is not None
    assert draft.media.probe is not None


async def test_audio_document_is_a_voice(fake: FakeTelegram, bot: Running, media: Media) -> None:
    mark = fake.mark()
    fake.send_photo(ANN, media.photo.read_bytes())  # a photo alone starts in private chats
    await said(fake, ANN.id, "Now the voice", mark)
    mark = fake.mark()
    fake.send_document(ANN, media.mp3.read_bytes(), "line.mp3", "audio/mpeg")
    await said(fake, ANN.id, "Pick the shape", mark)


async def test_lipsync_as_a_reply_to_a_photo_in_a_group(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    group = fake.group()
    fake.privacy_mode = False  # the photo is an ordinary group message
    photo = fake.send_photo(ANN, media.photo.read_bytes(), chat=group)
    mark = fake.mark()
    fake.send_command(ANN, "/lipsync", chat=group, reply_to=photo["message"])
    reply = await said(fake, group["id"], "Now the voice", mark)
    assert reply.params["reply_markup"]["force_reply"] is True


async def test_a_slow_download_does_not_hold_up_other_chats(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    bob = User(222, "Bob")
    fake.download_rate = 100_000  # a 1 MB file would take ten seconds
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    fake.send_video(ANN, b"\0" * 1_000_000, duration=5, width=640, height=360)
    await fake.wait_for("getFile", since=mark)
    started = asyncio.get_running_loop().time()
    mark = fake.mark()
    fake.send_command(bob, "/start")
    await said(fake, bob.id, "Hi Bob", mark)
    assert asyncio.get_running_loop().time() - started < 1.0
    # Ann's own chat is still served while her file downloads in the background.
    mark = fake.mark()
    fake.send_text(ANN, "hello?")
    await said(fake, ANN.id, "still checking", mark)
