"""A photo of two people talking, end to end (issue 9): the real bot, the fake Telegram server
and the fake lipsync.studio over 127.0.0.1. [Dialogue] at the MEDIA step, a photo, the left
speaker's voice note and the right speaker's typed text, the turns, the summary naming both
speakers with the price in each mode, the video; the provider refusing a photo with fewer than
two faces and [Other photo] keeping the voices; a restart in the middle of the dialogue's
steps; a group's /dialogue; a video refused as a dialogue's face; Portuguese."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import AudioVoice, JobStatus, Step, TextVoice, Turns
from bot.quotas import price
from tests import media as make
from tests.conftest import Harness, Media, to_chat
from tests.creatify_flows import job_reaching, press_generate, seconds_used, transcript
from tests.dialogue_flows import (
    Studio,
    labels,
    photo_dialogue,
    said,
    serving_studio,
    start,
    tap,
    text,
    to_second_voice,
)
from tests.fakes.telegram import User
from tests.flows import button

ANN = User(941, "Ann", language_code="en")
LUIZA = User(942, "Luiza", language_code="pt-br")
RIGHT = "Hello from the right side of the picture."


@pytest.fixture(scope="session")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dialogue")
    return make.make_video(folder / "result.mp4", width=480, height=854, seconds=3.0)


@pytest.fixture
async def studio(output: Path) -> AsyncIterator[Studio]:
    async with serving_studio(output) as served:
        yield served


@pytest.mark.parametrize(
    ("turns", "order"),
    [("at_the_same_time", "meanwhile"), ("one_after_the_other", "left_right")],
)
async def test_a_photo_of_two_with_a_voice_note_and_typed_text(
    harness: Harness, studio: Studio, media: Media, turns: str, order: str
) -> None:
    """Delivered; lipsync.studio got the photo and both voices (fetched from the bot's
    links) with the order; the quota reserved the longer voice at once, their sum in turn."""
    fake, lss = harness.fake, studio.fake
    lss.auto_complete = False  # held, to read the reservation
    async with harness.bot(**studio.env) as bot:
        summary = await photo_dialogue(fake, media, ANN, RIGHT, turns)
        said_text = str(summary.params["text"])
        assert "First speaker (on the left): a recording" in said_text
        assert "Second speaker (on the right): typed text" in said_text
        assert f"Turns: {text(ANN, f'dialogue.{turns}')}" in said_text
        assert "Made by: lipsync.studio" in said_text  # the only provider able: no PROVIDER
        mark = fake.mark()
        press_generate(fake, ANN, summary)
        job = await job_reaching(bot, ANN, JobStatus.QUEUED, JobStatus.RUNNING)
        reserved = await seconds_used(bot, ANN)
        assert job.provider_job_id is not None
        lss.complete(job.provider_job_id)
        video = (await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30))[0]
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        print(transcript(fake, ANN.id))
    dialogue = job.order.dialogue
    assert dialogue is not None
    assert dialogue.turns is Turns(turns)
    assert isinstance(job.order.voice, AudioVoice)
    assert isinstance(dialogue.voice, TextVoice)
    assert dialogue.voice.text == RIGHT
    left = job.order.voice.probe.duration or 0
    right = dialogue.voice.probe.duration or 0
    length = max(left, right) if turns == "at_the_same_time" else left + right
    assert reserved == price(length)
    assert f"Length: {price(length)} s" in said_text
    [create] = [c for c in lss.calls if c.method == "POST"]
    assert create.path == "/api/v1/lipsync-image-multi"
    form = create.json["formState"]
    assert form["order"] == order
    base = f"{studio.env['PUBLIC_URL']}/media/{job.id}/"
    assert form["image"].startswith(base + "face.jpg?")
    assert form["left_audio"].startswith(base + "voice.mp3?")
    assert form["right_audio"].startswith(base + "voice2.mp3?")
    fetched = {f.field: (f.status, f.url) for f in lss.fetched}
    assert fetched == {
        "image": (200, form["image"]),
        "left_audio": (200, form["left_audio"]),
        "right_audio": (200, form["right_audio"]),
    }
    assert "lipsync.studio" in video.params["caption"]


async def test_dialogue_and_one_speaker_at_the_media_step(
    harness: Harness, studio: Studio, media: Media
) -> None:
    """[Dialogue] turns the MEDIA prompt into the dialogue's, [One speaker] back; a video is
    no dialogue's face (no provider makes one of it), and the refusal asks again."""
    fake = harness.fake
    async with harness.bot(**studio.env) as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        prompt = await said(fake, ANN, "prompt.media", mark)
        assert labels(prompt) == ["Dialogue (two people)"]
        two = await tap(fake, ANN, prompt, "Dialogue", "dialogue.media_photo")
        assert labels(two) == ["One speaker"]
        one = await tap(fake, ANN, two, "One speaker", "prompt.media")
        assert labels(one) == ["Dialogue (two people)"]
        assert not (await bot.services.drafts.get(ANN.id, ANN.id)).dialogue  # type: ignore[union-attr]
        two = await tap(fake, ANN, one, "Dialogue", "dialogue.media_photo")
        mark = fake.mark()
        fake.send_video(ANN, media.video.read_bytes(), duration=2, width=640, height=360)
        refusal = await said(fake, ANN, "error.dialogue_photo_only", mark)
        assert start(ANN, "dialogue.media_photo") in refusal.params["text"]
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert (draft.step, draft.dialogue, draft.media) == (Step.MEDIA, True, None)


async def test_a_photo_with_fewer_than_two_faces_and_another_photo(
    harness: Harness, studio: Studio, media: Media
) -> None:
    """lipsync.studio refuses the photo: the failure says why and offers [Other photo], which
    asks only for a photo; the new one leads straight to the summary, the voices and the
    turns kept, and the video is made. The refused job's quota is refunded."""
    fake, lss = harness.fake, studio.fake
    lss.faces_seen = 1
    async with harness.bot(**studio.env) as bot:
        summary = await photo_dialogue(fake, media, ANN, RIGHT, "at_the_same_time")
        mark = fake.mark()
        press_generate(fake, ANN, summary)
        failure = await said(fake, ANN, "failure.text", mark)
        failed = await job_reaching(bot, ANN, JobStatus.FAILED)
        told = str(failure.params["text"])
        # The provider's reason as it gave it, inside no brackets of ours.
        assert (
            "lipsync.studio could not make this video — Fewer than two faces were detected"
            " in the image (found 1).\n\n"
        ) in told
        # What to do: another photo, the voices kept. No [Other provider]: the preview, the
        # only other one on, makes no dialogue.
        assert "Tap Other photo and send a new one with both faces" in told
        assert "voices" in told
        assert "another provider" not in told
        assert labels(failure) == ["Try again", "Other photo", "New video"]
        assert await seconds_used(bot, ANN) == 0  # refunded
        lss.faces_seen = 2
        mark = fake.mark()
        fake.press(ANN, failure.result, button(fake, failure.result, "Other photo"))
        await said(fake, ANN, "dialogue.other_photo", mark)
        mark = fake.mark()
        fake.send_photo(ANN, media.photo.read_bytes(), width=800, height=600)
        again = await said(fake, ANN, "prompt.confirm_dialogue", mark)
        assert "Turns: at the same time" in str(again.params["text"])
        mark = fake.mark()
        press_generate(fake, ANN, again)
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30)
        made = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        print(transcript(fake, ANN.id))
    assert made.id != failed.id
    assert made.provider == failed.provider == "lipsync_studio"
    assert made.order.dialogue == failed.order.dialogue  # the right voice and the turns
    assert made.order.voice == failed.order.voice
    assert made.order.ratio == failed.order.ratio
    assert made.order.face != failed.order.face
    creates = [c.json["formState"] for c in lss.calls if c.method == "POST"]
    assert [form["order"] for form in creates] == ["meanwhile", "meanwhile"]


async def test_a_restart_in_the_middle_of_the_dialogue(
    harness: Harness, studio: Studio, media: Media
) -> None:
    """The draft is stored: a restart at the second voice, and another at the turns, each
    resume where the user was, with everything already sent."""
    fake = harness.fake
    async with harness.bot(**studio.env):
        await to_second_voice(fake, media, ANN)
    async with harness.bot(**studio.env):
        mark = fake.mark()
        fake.send_text(ANN, RIGHT)
        asked = await said(fake, ANN, "dialogue.turns", mark)
    async with harness.bot(**studio.env) as bot:
        ratios = await tap(fake, ANN, asked, "One after the other", "prompt.ratio")
        summary = await tap(fake, ANN, ratios, "1:1", "prompt.confirm_dialogue")
        press_generate(fake, ANN, summary)
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED, timeout=60)
    assert job.order.dialogue is not None
    assert job.order.dialogue.turns is Turns.ONE_AFTER_THE_OTHER
    assert isinstance(job.order.voice, AudioVoice)
    assert job.order.ratio == "1:1"


async def test_a_dialogue_in_a_group_with_its_command(
    harness: Harness, studio: Studio, media: Media
) -> None:
    """In a group, /dialogue starts one (the MEDIA prompt has no buttons there); each prompt
    forces a reply, with the step's own placeholder."""
    fake = harness.fake
    group = fake.group()
    async with harness.bot(**studio.env):
        mark = fake.mark()
        fake.send_command(ANN, "/dialogue", chat=group)
        prompt = await fake.wait_for("sendMessage", to_chat(group["id"]), since=mark)
        assert str(prompt[0].params["text"]).startswith(start(ANN, "dialogue.media_photo"))
        assert prompt[0].params["reply_markup"]["force_reply"] is True
        mark = fake.mark()
        fake.send_photo(ANN, media.photo.read_bytes(), reply_to=prompt[0].result, chat=group)
        first = await fake.wait_for(
            "sendMessage", to_chat(group["id"], "First speaker"), since=mark
        )
        mark = fake.mark()
        fake.send_voice(
            ANN, media.voice.read_bytes(), duration=3, reply_to=first[0].result, chat=group
        )
        second = await fake.wait_for(
            "sendMessage", to_chat(group["id"], "Second speaker"), since=mark
        )
    markup = second[0].params["reply_markup"]
    assert markup["input_field_placeholder"] == text(ANN, "placeholder.voice2")


async def test_the_dialogue_in_portuguese(harness: Harness, studio: Studio, media: Media) -> None:
    fake = harness.fake
    async with harness.bot(**studio.env) as bot:
        summary = await photo_dialogue(fake, media, LUIZA, "Olá da direita.", "at_the_same_time")
        shown = str(summary.params["text"])
        press_generate(fake, LUIZA, summary)
        await job_reaching(bot, LUIZA, JobStatus.DELIVERED, timeout=60)
        seen = transcript(fake, LUIZA.id)
        print(seen)
    assert "Tudo pronto para fazer o seu vídeo de duas pessoas conversando" in shown
    assert "Primeira pessoa (à esquerda): uma gravação" in shown
    assert "Segunda pessoa (à direita): texto digitado" in shown
    assert "Falas: ao mesmo tempo" in shown
    for words in ("Diálogo (duas pessoas)", "Duas pessoas conversando", "Como as duas vão falar?"):
        assert words in seen
    assert "[Uma depois da outra] [Ao mesmo tempo]" in seen
