"""Typed text turned into a voice file (MediaService.ingest_text): the same words at once
from two users, a cached file left broken, an engine that cannot run, the user's own
language."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import pytest

from bot.errors import SpeechBroken, SpeechUnavailable, TextTooLongSpoken
from bot.media.intake import MediaService
from bot.speech import LocalSpeech
from bot.speech.cache import spoken_path
from bot.speech.router import Speech

WORDS = "Happy birthday, dear friend!"


class BuiltIn:
    """Only the built-in engine is on: every voice id is its own."""

    def speaking(self, voice_id: str | None) -> str | None:
        return voice_id


class SlowSpeaker(BuiltIn):
    """The real voice, with a pause before the file is written (what a busy loop does)."""

    def __init__(self, speech: LocalSpeech) -> None:
        self.speech = speech
        self.calls = 0

    async def speak(
        self,
        text: str,
        language: str,
        out: Path,
        *,
        voice_id: str | None = None,
        max_seconds: float | None = None,
    ) -> float:
        self.calls += 1
        seconds = await self.speech.speak(
            text, language, out, voice_id=voice_id, max_seconds=max_seconds
        )
        await asyncio.sleep(0.05)
        return seconds


class BrokenSpeaker(BuiltIn):
    async def speak(
        self,
        text: str,
        language: str,
        out: Path,
        *,
        voice_id: str | None = None,
        max_seconds: float | None = None,
    ) -> float:
        raise SpeechUnavailable("libespeak-ng.so: cannot open shared object file")


def service(tmp_path: Path, speaker: object, max_voice_seconds: float = 60) -> MediaService:
    return MediaService(
        None,  # type: ignore[arg-type]  # no Telegram file is fetched here
        httpx.AsyncClient(),
        inputs=tmp_path / "inputs",
        download_limit=20_000_000,
        max_voice_seconds=max_voice_seconds,
        speaker=speaker,  # type: ignore[arg-type]
        max_text_chars=1500,
    )


async def test_the_same_words_at_once_from_two_users(tmp_path: Path) -> None:
    async with LocalSpeech() as speech:
        media = service(tmp_path, SlowSpeaker(speech))
        first, second = await asyncio.gather(
            media.ingest_text(WORDS, "en"), media.ingest_text(WORDS, "en")
        )
    assert first.path == second.path
    assert first.probe is not None
    assert first.probe.duration is not None
    assert first.probe.duration > 1
    assert [p.name for p in (tmp_path / "inputs").iterdir()] == [Path(str(first.path)).name]


async def test_a_broken_cached_file_is_spoken_again(tmp_path: Path) -> None:
    async with LocalSpeech() as speech:
        speaker = SlowSpeaker(speech)
        media = service(tmp_path, speaker)
        spoken = await media.ingest_text(WORDS, "en")
        Path(str(spoken.path)).write_bytes(b"RIFF")  # a crash left a stub
        again = await media.ingest_text(WORDS, "en")
    assert speaker.calls == 2
    assert again.probe is not None
    assert again.probe.duration is not None
    assert again.probe.duration > 1


async def test_an_engine_that_cannot_run_is_not_the_users_fault(tmp_path: Path) -> None:
    with pytest.raises(SpeechBroken) as refused:
        await service(tmp_path, BrokenSpeaker()).ingest_text(WORDS, "en")
    assert refused.value.key == "error.check_failed"


async def test_speech_over_the_limit_says_how_long_rounded_up(tmp_path: Path) -> None:
    async with LocalSpeech() as speech:
        media = service(tmp_path, Speech(speech, {}), max_voice_seconds=1)
        with pytest.raises(TextTooLongSpoken) as refused:
            await media.ingest_text(WORDS, "en")
    assert refused.value.params["limit"] == 1
    assert int(str(refused.value.params["duration"]).rstrip("+")) >= 2


async def test_spoken_in_the_users_own_language(tmp_path: Path) -> None:
    async with LocalSpeech() as speech:
        media = service(tmp_path, Speech(speech, {}))
        german = await media.ingest_text("Guten Tag, wie geht es Ihnen?", "de")
    digest = hashlib.sha256(b"de\0Guten Tag, wie geht es Ihnen?").hexdigest()[:32]
    assert Path(str(german.path)).name == f"text-{digest}.wav"


async def test_a_voice_whose_engine_is_off_is_not_cached_as_that_voice(tmp_path: Path) -> None:
    # Creatify was turned off: its voice is read by the built-in one, and that recording is
    # filed as the built-in one's, never served later as Creatify's.
    async with LocalSpeech() as speech:
        media = service(tmp_path, Speech(speech, {}))
        await media.ingest_text(WORDS, "en", "creatify:7a258b67")
    inputs = tmp_path / "inputs"
    assert spoken_path(inputs, WORDS, "en", None).exists()
    assert not spoken_path(inputs, WORDS, "en", "creatify:7a258b67").exists()
