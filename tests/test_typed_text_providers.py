"""Typed text at every provider, end to end (issue 8): the real bot, the fake Telegram server
and the fake providers over 127.0.0.1. On providers without native text the text is spoken
at the VOICE step by the built-in voice, and that speech is what reaches the video (preview),
the upload (Magic Hour) or the hosted link (lipsync.studio); a Brazilian user's text is spoken
in Portuguese and everything is said to them in Portuguese; a text over MAX_TEXT_CHARS is
refused with the limit, keeping the face."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import JobStatus, Step, TextVoice
from bot.speech import LocalSpeech
from tests import media as make
from tests.conftest import Harness, Media, to_chat
from tests.creatify_flows import (
    TEXTS,
    audio_seconds,
    creates,
    creatify_env,
    job_reaching,
    mean_volume_db,
    message,
    pick_avatar,
    press_generate,
    say_text,
    transcript,
)
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import FakeTelegram, User
from tests.test_providers_e2e import LABELS, Remote, serving_remote

ANN = User(871, "Ann", language_code="en")
ZE = User(872, "Zé", language_code="pt-br")
HELLO = "Hello! This video speaks the words I typed, read by the built-in voice."
OLA = "Olá! Este vídeo fala as palavras que eu digitei, em português do Brasil."
#: Digital silence measures -91 dB; speech from eSpeak is around -20 dB.
SPEECH_DB = -40.0


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[Remote]:
    output = make.make_video(tmp_path / "result.mp4", width=480, height=854, seconds=3.0)
    async with serving_remote(output) as both:
        yield both


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


async def at_voice_step(fake: FakeTelegram, media: Media, user: User) -> None:
    """/new and a photo, in the user's language: the conversation waits for the voice."""
    mark = fake.mark()
    fake.send_command(user, "/new")
    fake.send_photo(user, media.photo.read_bytes(), width=640, height=480)
    await message(fake, user, "prompt.voice", mark)


async def test_typed_text_on_preview_is_heard_in_the_video(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot() as bot:  # preview alone
        await at_voice_step(fake, media, ANN)
        summary = await say_text(fake, ANN, HELLO)
        press_generate(fake, ANN, summary)
        video = (await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30))[0]
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        print(transcript(fake, ANN.id))
    assert "built-in voice, which sounds robotic" in str(summary.params["text"])
    assert "preview" in video.params["caption"]
    delivered = fake.uploads[-1].path
    assert mean_volume_db(delivered) > SPEECH_DB
    assert await audio_seconds(delivered) == pytest.approx(job.order.seconds, abs=0.5)
    # The control: a silent voice measures as silence, so the threshold means something.
    assert mean_volume_db(media.silent_voice) < -80


@pytest.mark.parametrize("provider", ["magichour", "lipsync_studio"])
async def test_typed_text_is_spoken_then_sent_to_remote_providers(
    harness: Harness, remote: Remote, media: Media, provider: str
) -> None:
    """Providers without native text get the spoken text as audio: uploaded to Magic Hour,
    hosted for lipsync.studio, which downloads it; either way a real recording of the text's
    spoken length."""
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        await at_voice_step(fake, media, ANN)
        summary = await say_text(fake, ANN, HELLO, provider=LABELS[provider])
        press_generate(fake, ANN, summary)
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        hosted = bot.services.settings.data_dir / "hosted" / str(job.id) / "voice.mp3"
        print(transcript(fake, ANN.id))
    assert isinstance(job.order.voice, TextVoice)
    spoken = job.order.seconds
    assert spoken > 2
    if provider == "magichour":
        [audio] = [u for u in remote.mh.uploads.values() if u.type == "audio"]
        assert audio.path is not None
        received = audio.path
    else:
        [fetched] = [f for f in remote.lss.fetched if f.field == "audio"]
        assert fetched.status == 200
        assert fetched.size == hosted.stat().st_size
        received = hosted
    assert await audio_seconds(received) == pytest.approx(spoken, abs=0.5)
    assert mean_volume_db(received) > SPEECH_DB


async def test_portuguese_text_is_spoken_and_answered_in_portuguese(
    harness: Harness, media: Media, tmp_path: Path
) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        await at_voice_step(fake, media, ZE)
        summary = await say_text(fake, ZE, OLA)
        press_generate(fake, ZE, summary)
        video = (await fake.wait_for("sendVideo", to_chat(ZE.id), timeout=30))[0]
        job = await job_reaching(bot, ZE, JobStatus.DELIVERED)
        print(transcript(fake, ZE.id))
    text = str(summary.params["text"])
    assert text.startswith("Tudo pronto para fazer o seu vídeo")
    assert TEXTS.t("pt_BR", "note.spoken") in text
    assert "Vídeo" in video.params["caption"]
    voice = job.order.voice
    assert isinstance(voice, TextVoice)
    assert (voice.text, voice.language) == (OLA, "pt-br")
    # The speech of the Portuguese voice (as long, to a few samples: eSpeak varies that
    # much from run to run), not of the English one (0.3 s longer for this text).
    async with LocalSpeech() as speech:
        assert (await speech.voice("pt-br")).name == "Portuguese (Brazil)"
        portuguese = await speech.speak(OLA, "pt-br", tmp_path / "pt.wav")
        english = await speech.speak(OLA, "en", tmp_path / "en.wav")
    spoken = wav_seconds(Path(voice.path))
    assert spoken == pytest.approx(portuguese, abs=0.02)
    assert abs(spoken - english) > 0.15


async def test_portuguese_text_to_a_creatify_avatar(
    harness: Harness, creatify: FakeCreatify
) -> None:
    """A Brazilian user's text reaches Creatify as text, the order remembers its language,
    and the picker, the summary and the caption are in Portuguese."""
    persona = next(iter(creatify.personas.values()))
    fake = harness.fake
    async with harness.bot(**creatify_env(creatify)) as bot:
        await pick_avatar(fake, ZE, persona.creator_name)
        summary = await say_text(fake, ZE, OLA)
        press_generate(fake, ZE, summary)
        video = (await fake.wait_for("sendVideo", to_chat(ZE.id), timeout=30))[0]
        job = await job_reaching(bot, ZE, JobStatus.DELIVERED)
        print(transcript(fake, ZE.id))
    text = str(summary.params["text"])
    assert text.startswith("Tudo pronto para fazer o seu vídeo")
    assert "Seu texto é falado por uma voz da própria Creatify." in text
    assert video.params["caption"].startswith("Vídeo")
    assert isinstance(job.order.voice, TextVoice)
    assert job.order.voice.language == "pt-br"
    [create] = creates(creatify, "/api/lipsyncs/")
    assert create.json["text"] == OLA


@pytest.mark.parametrize("user", [ANN, ZE], ids=["en", "pt-br"])
async def test_too_long_text_names_the_limit_and_keeps_the_avatar(
    harness: Harness, creatify: FakeCreatify, user: User
) -> None:
    persona = next(iter(creatify.personas.values()))
    fake = harness.fake
    async with harness.bot(**creatify_env(creatify, MAX_TEXT_CHARS="100")) as bot:
        await pick_avatar(fake, user, persona.creator_name)
        mark = fake.mark()
        fake.send_text(user, "palavra " * 20)  # 160 characters
        refused = await message(fake, user, "error.text_too_long", mark)
        draft = await bot.services.drafts.get(user.id, user.id)
        assert draft is not None
        assert draft.step is Step.VOICE
        assert draft.avatar is not None
        assert draft.avatar.avatar_id == persona.id
        assert draft.voice_text is None
        # A shorter text goes on with the same avatar.
        summary = await say_text(fake, user, OLA)
        print(transcript(fake, user.id))
    locale = "en" if user is ANN else "pt_BR"
    said = str(refused.params["text"])
    assert TEXTS.t(locale, "error.text_too_long", length=160, limit=100) in said
    assert TEXTS.t(locale, "prompt.voice", limit=60) in said
    assert persona.creator_name in str(summary.params["text"])


async def test_a_brazilians_text_reaches_creatify_with_a_portuguese_voice(
    harness: Harness, creatify: FakeCreatify
) -> None:
    """Without a voice chosen with /voice, a Brazilian's text goes to Creatify with one of its
    Brazilian Portuguese accents (``GET /api/voices/``), not bare, which the avatar's own
    English voice would read."""
    portuguese = {
        accent_id
        for voice in creatify.voices
        for accent_id, accent_name in voice.accents
        if "Portuguese" in accent_name
    }
    persona = next(iter(creatify.personas.values()))
    fake = harness.fake
    async with harness.bot(**creatify_env(creatify)):
        await pick_avatar(fake, ZE, persona.creator_name)
        press_generate(fake, ZE, await say_text(fake, ZE, OLA))
        await fake.wait_for("sendVideo", to_chat(ZE.id), timeout=30)
    [create] = creates(creatify, "/api/lipsyncs/")
    assert create.json["text"] == OLA
    assert create.json.get("accent") in portuguese
