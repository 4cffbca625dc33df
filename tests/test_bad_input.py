"""Every kind of bad input gets its own clear message and the same step again."""

from __future__ import annotations

from bot.app import Running
from bot.models import Step
from tests.conftest import Media
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import at_voice_step, said

ANN = User(111, "Ann", language_code="en")
BIA = User(222, "Bia", language_code="pt-br")


async def test_sticker_at_media_step(fake: FakeTelegram, bot: Running) -> None:
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    fake.send_sticker(ANN)
    reply = await said(fake, ANN.id, "I need a photo or a video of a face first", mark)
    assert reply.params["text"].endswith("Send a photo or a video of a face.")


async def test_voice_before_face(fake: FakeTelegram, bot: Running, media: Media) -> None:
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
    await said(fake, ANN.id, "I need the face first", mark)


async def test_pdf_document_is_not_a_face(fake: FakeTelegram, bot: Running) -> None:
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    fake.send_document(ANN, b"%PDF-1.4 nothing", "cv.pdf", "application/pdf")
    await said(fake, ANN.id, "I need a photo or a video of a face first", mark)


async def test_30_mb_video_is_refused_before_download(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    fake.send_video(
        ANN, media.video.read_bytes(), duration=20, width=640, height=360, file_size=30_000_000
    )
    reply = await said(fake, ANN.id, "too big", mark)
    assert "20 MB" in reply.params["text"]
    assert not fake.sent(method="getFile")
    draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.MEDIA


async def test_corrupt_video_then_a_good_photo(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    fake.send_video(ANN, media.corrupt_video.read_bytes(), duration=2, width=640, height=360)
    await said(fake, ANN.id, "seems to be damaged", mark)
    mark = fake.mark()
    fake.send_photo(ANN, media.photo.read_bytes())
    await said(fake, ANN.id, "Now the voice", mark)


async def test_ten_minute_audio_is_refused_without_download(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    await at_voice_step(fake, media, ANN)
    downloads = len(fake.sent(method="getFile"))
    mark = fake.mark()
    fake.send_audio(ANN, media.mp3.read_bytes(), duration=600)
    reply = await said(fake, ANN.id, "600 seconds long; the limit is 60 seconds", mark)
    assert "Now the voice" in reply.params["text"]
    assert len(fake.sent(method="getFile")) == downloads


async def test_audio_longer_than_it_claims_is_caught_by_the_probe(harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot(MAX_VOICE_SECONDS="5"):
        await at_voice_step(fake, media, ANN)
        mark = fake.mark()
        # Telegram's metadata says 3 s; the file is 7 s long.
        fake.send_audio(ANN, media.long_mp3.read_bytes(), duration=3)
        await said(fake, ANN.id, "7 seconds long; the limit is 5 seconds", mark)


async def test_silent_voice(fake: FakeTelegram, bot: Running, media: Media) -> None:
    await at_voice_step(fake, media, ANN)
    mark = fake.mark()
    fake.send_voice(ANN, media.silent_voice.read_bytes(), duration=3)
    await said(fake, ANN.id, "That recording is silent", mark)
    draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.VOICE
    assert draft.media is not None
    assert draft.media.probe is not None


async def test_six_thousand_characters_of_text_are_refused(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    await at_voice_step(fake, media, ANN)
    mark = fake.mark()
    fake.send_text(ANN, "Hello there! " * 460)  # about 6,000 characters
    reply = await said(fake, ANN.id, "That text has 5980 characters; the limit is 1500", mark)
    assert "Now the voice" in reply.params["text"]


async def test_messages_while_buttons_are_expected(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    await at_voice_step(fake, media, ANN)
    mark = fake.mark()
    fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
    await said(fake, ANN.id, "Pick the shape", mark)
    mark = fake.mark()
    fake.send_text(ANN, "16:9 please")
    reply = await said(fake, ANN.id, "Please answer with the buttons", mark)
    assert [text for text, _ in fake.buttons(reply.result)] == ["9:16", "1:1", "16:9"]


async def test_old_button_is_recognised(fake: FakeTelegram, bot: Running, media: Media) -> None:
    await at_voice_step(fake, media, ANN)
    mark = fake.mark()
    fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
    old = (await said(fake, ANN.id, "Pick the shape", mark)).result
    mark = fake.mark()
    fake.send_command(ANN, "/new")  # a new conversation makes the old buttons stale
    await said(fake, ANN.id, "Send a photo", mark)
    mark = fake.mark()
    fake.press(ANN, old, fake.buttons(old)[0][1])
    answer = (await fake.wait_for("answerCallbackQuery", since=mark))[0]
    assert "earlier conversation" in answer.params["text"]
    draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.MEDIA
    assert draft.ratio is None


async def test_messages_are_localized(fake: FakeTelegram, bot: Running) -> None:
    mark = fake.mark()
    fake.send_command(BIA, "/new")
    fake.send_sticker(BIA)
    await said(fake, BIA.id, "Primeiro preciso de uma foto", mark)


async def test_no_stack_trace_reaches_the_user(
    fake: FakeTelegram, bot: Running, media: Media, monkeypatch
) -> None:
    async def broken(*args, **kwargs):
        raise RuntimeError("database on fire: /secret/path")

    monkeypatch.setattr(bot.services.drafts, "get", broken)
    mark = fake.mark()
    fake.send_photo(ANN, media.photo.read_bytes())
    reply = await said(fake, ANN.id, "something went wrong on my side", mark)
    assert "fire" not in reply.params["text"]
