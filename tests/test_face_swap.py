"""A new photo or video at a later step offers [Use this face instead]; pressing it swaps the
face and keeps the voice and the choices already made."""

from __future__ import annotations

from bot.app import Running
from bot.models import AspectRatio, MediaKind, Step
from tests.conftest import Media
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import at_voice_step, button, edited, said, to_ratio

ANN = User(111, "Ann", language_code="en")
BOB = User(222, "Bob", language_code="en")
USE_FACE = "Use this face instead"


def _send_video(fake: FakeTelegram, media: Media, user: User = ANN) -> None:
    fake.send_video(user, media.video.read_bytes(), duration=2, width=640, height=360)


async def _offer(fake: FakeTelegram, media: Media, user: User = ANN) -> Call:
    mark = fake.mark()
    _send_video(fake, media, user)
    offer = await said(fake, user.id, "new face", mark)
    assert USE_FACE in [text for text, _ in fake.buttons(offer.result)]
    return offer


async def test_new_face_at_the_voice_step_can_replace_the_old_one(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    await at_voice_step(fake, media, ANN)
    offer = await _offer(fake, media)
    assert "I already have the face" not in offer.params["text"]
    assert "Now the voice" in offer.params["text"]  # the step still waits for the voice
    mark = fake.mark()
    fake.press(ANN, offer.result, button(fake, offer.result, USE_FACE))
    done = await said(fake, ANN.id, "Now the voice", mark)
    assert "New face" in done.params["text"]
    draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.VOICE
    assert draft.media_kind is MediaKind.VIDEO
    assert draft.media is not None
    assert draft.media.probe is not None  # downloaded and probed like at the MEDIA step
    assert draft.offered_media is None


async def test_new_face_at_confirm_keeps_voice_and_choices(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    ratios = await to_ratio(fake, media, ANN)
    mark = fake.mark()
    fake.press(ANN, ratios.result, button(fake, ratios.result, "16:9"))
    await edited(fake, ANN.id, "Face: a photo", mark)
    before = await bot.services.drafts.get(ANN.id, ANN.id)
    assert before is not None
    offer = await _offer(fake, media)
    assert "Generate" in [text for text, _ in fake.buttons(offer.result)]
    mark = fake.mark()
    fake.press(ANN, offer.result, button(fake, offer.result, USE_FACE))
    confirm = await said(fake, ANN.id, "Ready to make your video", mark)
    assert "Face: a video" in confirm.params["text"]
    after = await bot.services.drafts.get(ANN.id, ANN.id)
    assert after is not None
    assert after.step is Step.CONFIRM
    assert after.ratio is AspectRatio.LANDSCAPE
    assert after.voice == before.voice
    assert after.provider == before.provider


async def test_a_face_that_fails_its_checks_keeps_the_old_one(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    await to_ratio(fake, media, ANN)
    mark = fake.mark()
    fake.send_video(ANN, media.corrupt_video.read_bytes(), duration=2, width=640, height=360)
    offer = await said(fake, ANN.id, "new face", mark)
    mark = fake.mark()
    fake.press(ANN, offer.result, button(fake, offer.result, USE_FACE))
    refusal = await said(fake, ANN.id, "seems to be damaged", mark)
    assert "Pick the shape" in refusal.params["text"]
    draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.RATIO
    assert draft.media_kind is MediaKind.PHOTO
    assert draft.media is not None
    assert draft.media.path is not None


async def test_too_big_a_face_is_refused_without_an_offer(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    await at_voice_step(fake, media, ANN)
    mark = fake.mark()
    fake.send_video(
        ANN, media.video.read_bytes(), duration=20, width=640, height=360, file_size=30_000_000
    )
    refusal = await said(fake, ANN.id, "too big", mark)
    # The VOICE step's own [Voice: ...] only: no [Use this face instead].
    assert [label for label, _ in fake.buttons(refusal.result)] == ["Voice: English (America)"]


async def test_stale_and_foreign_offers_are_recognised(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    await at_voice_step(fake, media, ANN)
    offer = await _offer(fake, media)
    data = button(fake, offer.result, USE_FACE)
    mark = fake.mark()
    fake.press(BOB, offer.result, data)
    answer = (await fake.wait_for("answerCallbackQuery", since=mark))[0]
    assert "someone else" in answer.params["text"]
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    await said(fake, ANN.id, "Send a photo", mark)
    mark = fake.mark()
    fake.press(ANN, offer.result, data)
    answer = (await fake.wait_for("answerCallbackQuery", since=mark))[0]
    assert "earlier conversation" in answer.params["text"]
    draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.MEDIA
    assert draft.media is None
