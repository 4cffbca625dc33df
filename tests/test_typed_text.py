"""Typed text at the VOICE step, end to end: spoken by the built-in voice (eSpeak NG) in the
user's language, checked like a recording, priced by its spoken length, and refused with a
clear message when too long as text or as speech."""

from __future__ import annotations

import asyncio
import hashlib
import wave
from pathlib import Path

from bot.app import Running
from bot.models import Draft, JobStatus, Step
from tests.conftest import Harness, Media
from tests.fakes.telegram import User
from tests.flows import at_voice_step, button, latest_job_reaching, said

ANN = User(611, "Ann", language_code="en")
ZE = User(612, "Zé", language_code="pt-br")
HELLO = "Hello! This is a test of the built-in voice, speaking a few words."
LONGER = "Hello! This is a test of the built-in voice, speaking rather more words than that."


def spoken_seconds(path: str) -> float:
    with wave.open(path) as audio:
        return audio.getnframes() / audio.getframerate()


async def test_typed_text_becomes_the_voice_and_the_video(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        await at_voice_step(fake, media, ANN)
        mark = fake.mark()
        fake.send_text(ANN, HELLO)
        ratios = await said(fake, ANN.id, "Pick the shape", mark)
        mark = fake.mark()
        fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
        summary = (await fake.wait_for("editMessageText", since=mark))[0]
        text = str(summary.params["text"])
        assert "read by the built-in voice, which sounds robotic" in text
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.step is Step.CONFIRM
        assert draft.voice_text == HELLO
        assert draft.voice is not None
        assert draft.voice.path is not None
        seconds = spoken_seconds(draft.voice.path)
        assert 2 < seconds < 10
        assert f"• Voice: {round(seconds)} s" in text or f"• Voice: {round(seconds) + 1} s" in text
        mark = fake.mark()
        fake.press(ANN, summary.result, button(fake, summary.result, "Generate"))
        job = await latest_job_reaching(bot, ANN, JobStatus.DELIVERED)
    assert job.order.voice.probe.has_audio
    assert job.order.voice.probe.duration is not None
    assert abs(job.order.voice.probe.duration - seconds) < 0.5


async def test_portuguese_text_is_spoken_in_portuguese(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        mark = fake.mark()
        fake.send_command(ZE, "/new")
        fake.send_photo(ZE, media.photo.read_bytes(), width=640, height=480)
        await said(fake, ZE.id, "Agora a voz", mark)
        mark = fake.mark()
        fake.send_text(ZE, "Olá! Este vídeo fala português do Brasil.")
        await said(fake, ZE.id, "Escolha o formato", mark)
        draft = await bot.services.drafts.get(ZE.id, ZE.id)
    assert draft is not None
    assert draft.voice is not None
    assert draft.voice.path is not None
    assert spoken_seconds(draft.voice.path) > 1


async def test_text_too_long_as_text_or_as_speech(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot(MAX_TEXT_CHARS="100", MAX_VOICE_SECONDS="4") as bot:
        await at_voice_step(fake, media, ANN)
        mark = fake.mark()
        fake.send_text(ANN, "word " * 40)
        reply = await said(fake, ANN.id, "That text has 200 characters; the limit is 100", mark)
        assert "Now the voice" in reply.params["text"]
        mark = fake.mark()
        fake.send_text(ANN, LONGER)  # under 100 characters, but more than 4 s to say
        reply = await said(fake, ANN.id, "That text takes", mark)
        assert "the limit is 4 seconds" in reply.params["text"]
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.step is Step.VOICE
        assert draft.voice_text is None
        assert draft.media is not None  # the face is kept
        # A recording after all: accepted as usual.
        mark = fake.mark()
        fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
        await said(fake, ANN.id, "Pick the shape", mark)


async def test_the_same_text_twice_is_spoken_once(
    harness: Harness, media: Media, tmp_path: Path
) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        for _ in range(2):
            await at_voice_step(fake, media, ANN)
            mark = fake.mark()
            fake.send_text(ANN, HELLO)
            await said(fake, ANN.id, "Pick the shape", mark)
        inputs = bot.services.settings.data_dir / "inputs"
    assert len(list(inputs.glob("text-*.wav"))) == 1


async def test_text_is_spoken_in_the_users_telegram_language(
    harness: Harness, media: Media
) -> None:
    """The bot answers a German speaker in English (no German texts yet), but reads their
    German text with the German voice."""
    hans = User(613, "Hans", language_code="de")
    fake = harness.fake
    async with harness.bot() as bot:
        await at_voice_step(fake, media, hans)
        mark = fake.mark()
        fake.send_text(hans, "Guten Tag, wie geht es Ihnen?")
        await said(fake, hans.id, "Pick the shape", mark)
        draft = await bot.services.drafts.get(hans.id, hans.id)
    assert draft is not None
    assert (draft.locale, draft.language) == ("en", "de")
    assert draft.voice is not None
    digest = hashlib.sha256(b"de\0Guten Tag, wie geht es Ihnen?").hexdigest()[:32]
    assert Path(str(draft.voice.path)).name == f"text-{digest}.wav"


async def test_in_a_group_only_a_reply_to_the_voice_prompt_is_said(
    harness: Harness, media: Media
) -> None:
    """A reply to another message of the bot ("nice video!") is group chatter, not the
    text of this user's video."""
    fake = harness.fake
    group = fake.group()
    async with harness.bot() as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new", chat=group)
        media_prompt = (await said(fake, group["id"], "Send a photo", mark)).result
        mark = fake.mark()
        fake.send_photo(ANN, media.photo.read_bytes(), chat=group, reply_to=media_prompt)
        voice_prompt = (await said(fake, group["id"], "Now the voice", mark)).result
        async with asyncio.timeout(5):  # the prompt is remembered right after it is sent
            while (await _draft(bot, group["id"])).prompt_id != voice_prompt["message_id"]:
                await asyncio.sleep(0.02)
        fake.send_text(ANN, "nice!", chat=group, reply_to=media_prompt)
        mark = fake.mark()
        fake.send_text(ANN, HELLO, chat=group, reply_to=voice_prompt)
        await said(fake, group["id"], "Pick the shape", mark)
        draft = await bot.services.drafts.get(group["id"], ANN.id)
    assert draft is not None
    assert draft.voice_text == HELLO
    texts = [c.params.get("text") for c in fake.calls[mark:] if c.method == "sendMessage"]
    assert len(texts) == 1


async def _draft(bot: Running, chat_id: int) -> Draft:
    draft = await bot.services.drafts.get(chat_id, ANN.id)
    assert draft is not None
    return draft
