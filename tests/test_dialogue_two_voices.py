"""A photo of two people, each speaker's text typed (issue 9: "each spoken with its own
voice"), end to end with the fake lipsync.studio: the second speaker's prompt names the voice
that will read it, a woman's variant of the built-in voice the first has; the summary names
both (and says once that both are robotic); the same words typed twice are spoken twice,
differently; lipsync.studio gets the two recordings."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import JobStatus, TextVoice
from tests import media as make
from tests.conftest import Harness, Media
from tests.creatify_flows import job_reaching, press_generate
from tests.dialogue_flows import Studio, labels, said, serving_studio, tap, text
from tests.fakes.telegram import User

ANN = User(971, "Ann", language_code="en")
LUIZA = User(972, "Luiza", language_code="pt-br")
WORDS = {"en": "Hello there, how are you today?", "pt_BR": "Olá, tudo bem com você hoje?"}


@pytest.fixture(scope="session")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dialogue-voices")
    return make.make_video(folder / "result.mp4", width=480, height=854, seconds=2.0)


@pytest.fixture
async def studio(output: Path) -> AsyncIterator[Studio]:
    async with serving_studio(output) as served:
        yield served


def digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("user", "locale", "first", "second"),
    [
        (ANN, "en", "English (America)", "English (America), a woman's voice"),
        (LUIZA, "pt_BR", "Portuguese (Brazil)", "Portuguese (Brazil), voz feminina"),
    ],
)
async def test_two_typed_texts_are_read_by_two_voices(
    harness: Harness,
    studio: Studio,
    media: Media,
    user: User,
    locale: str,
    first: str,
    second: str,
) -> None:
    fake = harness.fake
    words = WORDS[locale]
    async with harness.bot(**studio.env) as bot:
        mark = fake.mark()
        fake.send_command(user, "/new")
        prompt = await said(fake, user, "prompt.media", mark)
        await tap(fake, user, prompt, text(user, "dialogue.button"), "dialogue.media_photo")
        mark = fake.mark()
        fake.send_photo(user, media.photo.read_bytes(), width=640, height=480)
        asked = await said(fake, user, "dialogue.first", mark)
        assert labels(asked) == [text(user, "voice.button", name=first)]
        mark = fake.mark()
        fake.send_text(user, words)
        asked = await said(fake, user, "dialogue.second", mark)
        assert labels(asked) == [text(user, "voice.button", name=second)]
        mark = fake.mark()
        fake.send_text(user, words)  # the same words: still two voices
        turns = await said(fake, user, "dialogue.turns", mark)
        label = text(user, "button.at_the_same_time")
        ratios = await tap(fake, user, turns, label, "prompt.ratio")
        summary = await tap(fake, user, ratios, "9:16", "prompt.confirm_dialogue")
        shown = str(summary.params["text"])
        press_generate(fake, user, summary)
        job = await job_reaching(bot, user, JobStatus.DELIVERED, timeout=30)
    assert text(user, "dialogue.typed_by", name=first) in shown
    assert text(user, "dialogue.typed_by", name=second) in shown
    assert text(user, "note.spoken_two") in shown  # both robotic, said once
    left, dialogue = job.order.voice, job.order.dialogue
    assert dialogue is not None
    right = dialogue.voice
    assert isinstance(left, TextVoice)
    assert isinstance(right, TextVoice)
    assert left.text == right.text == words
    assert left.voice_id is None  # the language's own
    assert right.voice_id is not None
    assert right.voice_id.endswith("+f3")
    assert digest(left.path) != digest(right.path)  # spoken differently, not just filed apart
    fetched = {f.field for f in studio.fake.fetched}
    assert {"left_audio", "right_audio"} <= fetched
