"""A provider's paid speech is never lost, and its voice list never makes anyone wait
(bot.speech.remote, bot.speech.creatify), against the fake Creatify over 127.0.0.1:

- a job whose asker went away (/cancel, /new, another text) or stopped waiting (the 180 s
  bound) goes on in the background, within its own bound, and its audio lands in the typed
  text cache (bot.speech.cache), so the same words sent again are not paid for twice;
- the voice list is read in the background, at start and then every hour; a failed read keeps
  the last good list; reads are from memory only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.errors import VoiceServiceFailed
from bot.media.intake import MediaService
from bot.providers.creatify import CreatifyProvider
from bot.providers.http import ProviderHTTP
from bot.speech import LocalSpeech
from bot.speech.cache import spoken_path
from bot.speech.creatify import CreatifySpeech
from bot.speech.remote import Pace
from bot.speech.router import Speech
from tests.fakes import creatify
from tests.fakes.creatify import FakeCreatify
from tests.fakes.creatify_catalog import Voice

#: How the fake counts reads of a speech job.
POLL = "GET /api/text_to_speech/{id}/"
WORDS = "Hello there, these words were paid for once and are kept."


@dataclass
class Rig:
    cr: FakeCreatify
    engine: CreatifySpeech
    inputs: Path
    work: Path
    voice: str

    def tts_jobs(self) -> list[str]:
        return [job.id for job in self.cr.jobs.values() if job.kind == "tts"]


def rig_of(
    tmp_path: Path, pace: Pace
) -> Callable[[], contextlib.AbstractAsyncContextManager[Rig]]:
    @contextlib.asynccontextmanager
    async def made() -> AsyncIterator[Rig]:
        cr = FakeCreatify()
        async with creatify.running(cr) as url, httpx.AsyncClient() as client:
            provider = CreatifyProvider(
                ProviderHTTP("creatify", client), url, cr.api_id, cr.api_key, public=False
            )
            engine = CreatifySpeech(
                provider,
                allow_private=True,
                work=tmp_path / "work",
                inputs=tmp_path / "inputs",
                pace=pace,
            )
            voice = f"creatify:{cr.accent_ids()[0]}"
            try:
                yield Rig(cr, engine, tmp_path / "inputs", tmp_path / "work", voice)
            finally:
                await engine.close()

    return made


def intake(rig: Rig, tmp_path: Path) -> MediaService:
    return MediaService(
        None,  # type: ignore[arg-type]  # no Telegram file is fetched here
        httpx.AsyncClient(),
        inputs=rig.inputs,
        download_limit=20_000_000,
        max_voice_seconds=60,
        speaker=Speech(LocalSpeech(), {"creatify": rig.engine}),
        max_text_chars=1500,
    )


async def until(ready: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not ready():
            await asyncio.sleep(0.02)


async def test_a_speech_whose_asker_went_away_lands_in_the_cache(tmp_path: Path) -> None:
    """/cancel, /new or a corrected text cancel the check that asked: the paid job goes on,
    and the same words sent later are read from the cache, not paid for again."""
    async with rig_of(tmp_path, Pace(first=0.05))() as rig:
        rig.cr.auto_complete = False
        media = intake(rig, tmp_path)
        asked = asyncio.create_task(media.ingest_text(WORDS, "en", rig.voice))
        await until(lambda: bool(rig.tts_jobs()))
        asked.cancel()  # the user went away
        with contextlib.suppress(asyncio.CancelledError):
            await asked
        (job,) = rig.tts_jobs()
        rig.cr.complete(job)
        cached = spoken_path(rig.inputs, WORDS, "en", rig.voice)
        await until(cached.exists)
        again = await media.ingest_text(WORDS, "en", rig.voice)
        assert Path(str(again.path)) == cached
        assert again.probe is not None
        assert again.probe.duration is not None
        assert again.probe.duration > 1
        assert rig.tts_jobs() == [job]
        await until(lambda: not list(rig.work.iterdir()))  # nothing left behind


async def test_a_speech_past_the_wait_is_still_awaited_and_kept(tmp_path: Path) -> None:
    """The asker is told after ``pace.timeout``; the job is polled on, and its audio kept."""
    async with rig_of(tmp_path, Pace(first=0.05, longest=0.1, timeout=0.4, give_up=30))() as rig:
        rig.cr.auto_complete = False
        media = intake(rig, tmp_path)
        with pytest.raises(VoiceServiceFailed):
            await media.ingest_text(WORDS, "en", rig.voice)
        (job,) = rig.tts_jobs()
        polled = rig.cr.requests[POLL]
        await asyncio.sleep(0.3)
        assert rig.cr.requests[POLL] > polled  # still polled
        rig.cr.complete(job)
        cached = spoken_path(rig.inputs, WORDS, "en", rig.voice)
        await until(cached.exists)
        again = await media.ingest_text(WORDS, "en", rig.voice)
        assert Path(str(again.path)) == cached
        assert rig.tts_jobs() == [job]


async def test_the_same_words_asked_again_while_awaited_join_the_job(tmp_path: Path) -> None:
    async with rig_of(tmp_path, Pace(first=0.05, longest=0.1, timeout=0.3, give_up=30))() as rig:
        rig.cr.auto_complete = False
        media = intake(rig, tmp_path)
        with pytest.raises(VoiceServiceFailed):
            await media.ingest_text(WORDS, "en", rig.voice)
        (job,) = rig.tts_jobs()
        rig.engine.pace = Pace(first=0.05, longest=0.1, timeout=10, give_up=30)  # a slow box
        again = asyncio.create_task(media.ingest_text(WORDS, "en", rig.voice))
        await asyncio.sleep(0.1)
        rig.cr.complete(job)
        spoken = await again
        assert spoken.probe is not None
        assert rig.tts_jobs() == [job]


async def test_a_job_that_never_ends_is_given_up(tmp_path: Path) -> None:
    async with rig_of(tmp_path, Pace(first=0.05, longest=0.05, timeout=0.1, give_up=0.5))() as rig:
        rig.cr.auto_complete = False
        media = intake(rig, tmp_path)
        with pytest.raises(VoiceServiceFailed):
            await media.ingest_text(WORDS, "en", rig.voice)
        assert len(rig.tts_jobs()) == 1
        await asyncio.sleep(0.8)
        polled = rig.cr.requests[POLL]
        await asyncio.sleep(0.3)
        assert rig.cr.requests[POLL] == polled  # no longer polled
        assert not spoken_path(rig.inputs, WORDS, "en", rig.voice).exists()
        assert not list(rig.work.iterdir())


async def test_the_voice_list_is_read_in_the_background_and_kept_on_failure(
    tmp_path: Path,
) -> None:
    async with rig_of(tmp_path, Pace())() as rig:
        engine, cr = rig.engine, rig.cr
        assert await engine.voices("en") == []  # never read: no voices yet, and no wait
        assert cr.requests["GET /api/voices/"] == 0
        await engine.start()
        await until(lambda: cr.requests["GET /api/voices/"] == 1)
        await until(lambda: bool(engine.listed))
        names = [voice.name for voice in await engine.voices("en")]
        assert "Fatima, American (Creatify)" in names
        cr.fail_next("GET /api/voices/", 404)
        assert not await engine.refresh()
        assert [voice.name for voice in await engine.voices("en")] == names  # the last good
        cr.voices.append(Voice("Zoe", "female", [(cr.accent_ids()[0][:-4] + "beef", "Irish")]))
        assert await engine.refresh()
        assert "Zoe, Irish (Creatify)" in [voice.name for voice in await engine.voices("en")]
        # A read held up by Creatify holds up no one.
        cr.fail_next("GET /api/voices/", 404, delay=3.0)
        refreshing = asyncio.create_task(engine.refresh())
        await until(lambda: cr.requests["GET /api/voices/"] == 4)
        async with asyncio.timeout(0.2):
            assert await engine.voices("en")
            assert await engine.voice(rig.voice) is not None
        refreshing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refreshing
