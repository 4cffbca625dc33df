"""The providers' voices for typed text (issue 8), through the fake Telegram and the fake
Creatify and Magic Hour servers: /voice offers them after the built-in ones, a page at a time;
a Creatify voice is sampled from its free preview, a Magic Hour one is not (it would cost);
typed text is then spoken by the provider (once for the same words), and the draft's voice is
that audio; too long a text for Magic Hour, a failing provider, a forged button, and a choice
whose provider was turned off since."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.app import Running
from bot.media.probe import probe
from bot.models import Step
from bot.providers.creatify import CreatifyProvider
from bot.providers.http import ProviderHTTP
from bot.speech import LocalSpeech
from bot.speech.creatify import CreatifySpeech, accent_language
from bot.speech.remote import Pace
from bot.speech.router import Speech
from bot.voices import ref
from tests import media as make
from tests.conftest import Harness, Media, to_chat
from tests.fakes import creatify, magichour
from tests.fakes.creatify import FakeCreatify
from tests.fakes.magichour import FakeMagicHour
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import at_voice_step, button, said

ANN = User(731, "Ann", language_code="en")
WORDS = "Hello there, this is my text, read by somebody else's voice."
FATIMA = "Fatima, American (Creatify)"
MORGAN = "Morgan Freeman (Magic Hour)"


@dataclass
class Remote:
    cr: FakeCreatify
    mh: FakeMagicHour
    env: dict[str, str]


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[Remote]:
    cr = FakeCreatify()
    mh = FakeMagicHour(output=make.make_video(tmp_path / "out.mp4", seconds=1.0))
    async with creatify.running(cr) as cr_url, magichour.running(mh) as mh_url:
        env = {
            "PROVIDERS": "creatify,magichour,preview",
            "CREATIFY_API_ID": cr.api_id,
            "CREATIFY_API_KEY": cr.api_key,
            "CREATIFY_API_URL": cr_url,
            "MAGICHOUR_API_KEY": mh.api_key,
            "MAGICHOUR_API_URL": mh_url,
            "MAGICHOUR_VOICES": "Morgan Freeman, Barack Obama",
            "ALLOW_PRIVATE_URLS": "true",
            "PROVIDER_RETRY_BASE_SECONDS": "0.01",
        }
        yield Remote(cr, mh, env)


async def open_menu(fake: FakeTelegram, user: User = ANN) -> Call:
    mark = fake.mark()
    fake.send_command(user, "/voice")
    return await said(fake, user.id, "Which voice reads the text you type?", mark)


async def next_page(fake: FakeTelegram, menu: Call, user: User = ANN) -> dict:
    mark = fake.mark()
    fake.press(user, menu.result, button(fake, menu.result, "More voices"))
    edits = await fake.wait_for("editMessageReplyMarkup", to_chat(user.id), since=mark)
    page: dict = edits[0].result
    return page


async def choose(fake: FakeTelegram, label: str, user: User = ANN) -> Call:
    """/voice, the second page, and the voice labelled ``label``; returns the press's answer."""
    menu = await open_menu(fake, user)
    page = await next_page(fake, menu, user)
    mark = fake.mark()
    fake.press(user, page, button(fake, page, label))
    return (await fake.wait_for("answerCallbackQuery", since=mark))[0]


async def type_text(fake: FakeTelegram, media: Media, text: str, expect: str) -> Call:
    await at_voice_step(fake, media, ANN)
    mark = fake.mark()
    fake.send_text(ANN, text)
    return await said(fake, ANN.id, expect, mark)


def text_file(bot: Running, words: str, voice_id: str | None, language: str = "en") -> Path:
    """Where bot.media.intake keeps ``words`` spoken by ``voice_id``."""
    plain = f"{language}\0{words}"
    key = (plain if voice_id is None else f"{language}\0{voice_id}\0{words}").encode()
    name = f"text-{hashlib.sha256(key).hexdigest()[:32]}.wav"
    return bot.services.settings.data_dir / "inputs" / name


async def listed(bot: Running) -> None:
    """Until Creatify's voices are read (in the background, from the start)."""
    async with asyncio.timeout(10):
        while not [v for v in await bot.services.voices.choices("en") if v.engine == "creatify"]:
            await asyncio.sleep(0.02)


async def test_a_creatify_voice_is_offered_sampled_and_reads_the_text(
    harness: Harness, media: Media, remote: Remote
) -> None:
    fake, cr = harness.fake, remote.cr
    async with harness.bot(**remote.env) as bot:
        await listed(bot)
        menu = await open_menu(fake)
        first = [label for label, _ in fake.buttons(menu.result)]
        assert "✓ English (America)" in first
        assert len(first) == 8 + 2  # 8 voices, [More voices], the usual voice
        page = await next_page(fake, menu)
        labels = [label for label, _ in fake.buttons(page)]
        assert labels[:6] == [
            FATIMA,
            "Fatima, British (Creatify)",
            "Marcus, American (Creatify)",
            "Robin, Australian (Creatify)",
            MORGAN,
            "Barack Obama (Magic Hour)",
        ]
        assert not [label for label in labels if "Helena" in label or "Tiago" in label]
        assert "‹ Back" in labels
        mark = fake.mark()
        fake.press(ANN, page, button(fake, page, FATIMA))
        sample = (await fake.wait_for("sendVoice", to_chat(ANN.id), since=mark))[0]
        accent = cr.voices[0].accents[0][0]
        assert await bot.services.voices.chosen_id(ANN.id) == f"creatify:{accent}"
        heard = await probe(Path(str(fake.files[sample.result["voice"]["file_id"]].disk_path)))
        assert heard.duration is not None
        assert 1.5 < heard.duration < 2.5  # the accent's own 2 s preview, not a paid speech
        assert not [c for c in cr.calls if c.path.startswith("/api/text_to_speech")]

        prompt = await type_text(fake, media, WORDS, "Pick the shape")
        assert prompt.status == 200
        (tts,) = [job for job in cr.jobs.values() if job.kind == "tts"]
        assert tts.echo["script"] == WORDS
        assert tts.echo["accent"] == accent
        assert cr.output_downloads == [tts.id]
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.voice is not None
        assert Path(str(draft.voice.path)) == text_file(bot, WORDS, f"creatify:{accent}")
        assert draft.voice.probe is not None
        assert draft.voice.probe.duration == pytest.approx(tts.seconds, abs=0.15)

        # The same words again in a new conversation: the spoken file is used again.
        await type_text(fake, media, WORDS, "Pick the shape")
        assert len([job for job in cr.jobs.values() if job.kind == "tts"]) == 1


async def test_a_magic_hour_voice_has_no_free_sample_and_reads_the_text(
    harness: Harness, media: Media, remote: Remote
) -> None:
    fake, mh = harness.fake, remote.mh
    async with harness.bot(**remote.env) as bot:
        mark = fake.mark()
        answer = await choose(fake, MORGAN)
        assert "no sample" in answer.params["text"]
        assert answer.params.get("show_alert")
        assert await bot.services.voices.chosen_id(ANN.id) == "magichour:Morgan Freeman"
        credits = mh.credits
        await type_text(fake, media, WORDS, "Pick the shape")
        (job,) = mh.audio.jobs.values()
        assert (job.prompt, job.voice_name) == (WORDS, "Morgan Freeman")
        assert mh.credits == credits - math.ceil(len(WORDS) * 0.05)
        assert mh.audio.downloads == [job.id]
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.voice is not None
        assert draft.voice.probe is not None
        assert draft.voice.probe.duration == pytest.approx(len(WORDS) / 15, abs=0.15)
        assert not [c for c in fake.calls[mark:] if c.method == "sendVoice"]


async def test_too_long_a_text_for_magic_hour_is_refused_before_any_call(
    harness: Harness, media: Media, remote: Remote
) -> None:
    fake, mh = harness.fake, remote.mh
    async with harness.bot(**remote.env) as bot:
        await choose(fake, MORGAN)
        text = ("A sentence of a long speech. " * 50)[:1199] + "!"
        refusal = await type_text(fake, media, text, "reads at most 1000 characters")
        assert "1200" in refusal.params["text"]
        assert "Now the voice" in refusal.params["text"]  # and the step again
        assert not mh.audio.jobs
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.step is Step.VOICE


async def test_a_failing_provider_voice_is_a_clear_refusal_and_the_step_again(
    harness: Harness, media: Media, remote: Remote
) -> None:
    fake, cr, mh = harness.fake, remote.cr, remote.mh
    async with harness.bot(**remote.env) as bot:
        await listed(bot)
        await choose(fake, FATIMA)
        cr.fail_next_jobs(1, reason="TTS engine crashed")
        refusal = await type_text(fake, media, WORDS, "not available right now")
        assert "Creatify" in refusal.params["text"]
        assert "/voice" in refusal.params["text"]
        assert "Now the voice" in refusal.params["text"]
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.step is Step.VOICE
        assert not text_file(bot, WORDS, str(await bot.services.voices.chosen_id(ANN.id))).exists()
        # Sent again, it is spoken (nothing of the failure was kept).
        mark = fake.mark()
        fake.send_text(ANN, WORDS)
        await said(fake, ANN.id, "Pick the shape", mark)

        await choose(fake, MORGAN)
        mh.fail_next("POST /v1/ai-voice-generator", 500)
        refusal = await type_text(fake, media, WORDS, "not available right now")
        assert "Magic Hour" in refusal.params["text"]
        mh.audio.fail_next_jobs(1)
        mark = fake.mark()
        fake.send_text(ANN, WORDS)
        await said(fake, ANN.id, "The Magic Hour voices are not available right now", mark)
        assert not mh.audio.downloads


async def test_a_voice_whose_provider_cannot_pay_points_to_another_voice(
    harness: Harness, media: Media, remote: Remote
) -> None:
    fake, cr = harness.fake, remote.cr
    async with harness.bot(**remote.env) as bot:
        await listed(bot)
        await choose(fake, FATIMA)
        cr.credits = 0  # offered (its list reads fine), but it cannot speak
        refusal = await type_text(fake, media, WORDS, "not available right now")
        text = refusal.params["text"]
        assert "The Creatify voices are not available right now" in text
        assert "another voice with /voice" in text
        assert "Now the voice" in text  # and the step again


async def test_a_paid_speech_is_kept_when_the_user_cancels_meanwhile(
    harness: Harness, media: Media, remote: Remote
) -> None:
    """/cancel while Creatify speaks the text: the job it paid for still lands in the cache,
    so the same words in the next conversation are not paid for again."""
    fake, cr = harness.fake, remote.cr
    async with harness.bot(**remote.env) as bot:
        await listed(bot)
        await choose(fake, FATIMA)
        cr.auto_complete = False
        await at_voice_step(fake, media, ANN)
        mark = fake.mark()
        fake.send_text(ANN, WORDS)
        async with asyncio.timeout(10):
            while not [job for job in cr.jobs.values() if job.kind == "tts"]:
                await asyncio.sleep(0.02)
        fake.send_command(ANN, "/cancel")
        await said(fake, ANN.id, "Canceled", mark)
        (tts,) = [job for job in cr.jobs.values() if job.kind == "tts"]
        cr.complete(tts.id)
        cached = text_file(bot, WORDS, str(await bot.services.voices.chosen_id(ANN.id)))
        async with asyncio.timeout(10):
            while not cached.exists():
                await asyncio.sleep(0.02)
        await type_text(fake, media, WORDS, "Pick the shape")
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.voice is not None
        assert Path(str(draft.voice.path)) == cached
    assert [job.id for job in cr.jobs.values() if job.kind == "tts"] == [tts.id]


async def test_voice_taps_never_wait_for_creatifys_list(
    harness: Harness, media: Media, remote: Remote
) -> None:
    """Creatify takes 5 s to answer its voice list: /voice and the VOICE prompt do not wait
    (they offer what is known: no Creatify voice yet)."""
    fake, cr = harness.fake, remote.cr
    cr.fail_next("GET /api/voices/", 503, delay=5.0, times=50)
    async with harness.bot(**remote.env):
        started = time.monotonic()
        menu = await open_menu(fake)
        page = await next_page(fake, menu)
        labels = [label for label, _ in fake.buttons(page)]
        assert MORGAN in labels
        assert not [label for label in labels if "Creatify" in label]
        await at_voice_step(fake, media, ANN)
        assert time.monotonic() - started < 4.0  # Creatify's answer takes 5 s
        assert cr.requests["GET /api/voices/"] >= 1  # asked, in the background


async def test_a_forged_button_naming_a_voice_not_offered_changes_nothing(
    harness: Harness, remote: Remote
) -> None:
    fake, cr = harness.fake, remote.cr
    brazilian = next(a for v in cr.voices for a, name in v.accents if "Brazilian" in name)
    async with harness.bot(**remote.env) as bot:
        menu = await open_menu(fake)
        mark = fake.mark()
        for voice_id in (
            f"creatify:{brazilian}",  # another language's
            "magichour:Elon Musk",  # a preset the operator did not offer
            "sync:whatever",  # an engine that does not exist
            "creatify:../../etc/passwd",
        ):
            fake.press(ANN, menu.result, f"vc:{ANN.id}:{ref(voice_id)}", forged=True)
        answers = await fake.wait_for("answerCallbackQuery", count=4, since=mark)
        assert all(a.params.get("show_alert") for a in answers)
        assert await bot.services.users.voice_of(ANN.id) is None
    del remote.env["MAGICHOUR_VOICES"]
    async with harness.bot(**remote.env) as bot:
        menu = await open_menu(fake)
        mark = fake.mark()
        fake.press(ANN, menu.result, f"vc:{ANN.id}:{ref('magichour:Morgan Freeman')}", forged=True)
        answer = (await fake.wait_for("answerCallbackQuery", since=mark))[0]
        assert answer.params.get("show_alert")
        assert await bot.services.users.voice_of(ANN.id) is None


async def test_a_voice_of_a_provider_turned_off_falls_back_and_says_so(
    harness: Harness, media: Media, remote: Remote
) -> None:
    fake, cr = harness.fake, remote.cr
    async with harness.bot(**remote.env) as bot:
        await listed(bot)
        await choose(fake, FATIMA)
    async with harness.bot(PROVIDERS="preview") as bot:
        menu = await open_menu(fake)
        text = menu.params["text"]
        assert "not available right now, so English (America) reads your text" in text
        assert "Creatify" not in " ".join(label for label, _ in fake.buttons(menu.result))
        assert await bot.services.voices.chosen_id(ANN.id) is None
        await type_text(fake, media, WORDS, "Pick the shape")
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.voice is not None
        assert Path(str(draft.voice.path)) == text_file(bot, WORDS, None)
    assert not [job for job in cr.jobs.values() if job.kind == "tts"]
    # The choice is kept: back on with Creatify, it reads the text again.
    async with harness.bot(**remote.env) as bot:
        assert str(await bot.services.voices.chosen_id(ANN.id)).startswith("creatify:")


async def test_speech_routes_an_unknown_engine_to_the_languages_own_voice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    speech = Speech(LocalSpeech(), {})
    with caplog.at_level(logging.WARNING):
        seconds = await speech.speak(
            "Hello there", "en", tmp_path / "out.wav", voice_id="creatify:0000"
        )
        await speech.speak("Hello again", "en", tmp_path / "two.wav", voice_id="creatify:1111")
    assert seconds > 0.3
    assert (await speech.voice("en", "creatify:0000")).voice_id == "gmw/en-US"
    warned = [r for r in caplog.records if "which is off" in r.getMessage()]
    assert len(warned) == 1  # once per engine, not per text
    with contextlib.suppress(Exception):
        await speech.close()


async def test_the_same_words_asked_again_meanwhile_make_one_paid_job(tmp_path: Path) -> None:
    """A check cancelled mid-speech (the user sent the text again) leaves the paid job to the
    next asker, and two askers at once share one job."""
    cr = FakeCreatify()
    cr.render_seconds = 0.4
    async with creatify.running(cr) as url, httpx.AsyncClient() as client:
        provider = CreatifyProvider(
            ProviderHTTP("creatify", client), url, cr.api_id, cr.api_key, public=False
        )
        engine = CreatifySpeech(
            provider,
            allow_private=True,
            work=tmp_path / "work",
            inputs=tmp_path / "inputs",
            pace=Pace(first=0.05),
        )
        voice = f"creatify:{cr.voices[0].accents[0][0]}"
        first = asyncio.create_task(engine.speak(WORDS, "en", tmp_path / "1.wav", voice_id=voice))
        async with asyncio.timeout(5):
            while not cr.jobs:
                await asyncio.sleep(0.01)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        again, also = await asyncio.gather(
            engine.speak(WORDS, "en", tmp_path / "2.wav", voice_id=voice),
            engine.speak(WORDS, "en", tmp_path / "3.wav", voice_id=voice),
        )
        await engine.close()
    assert len(cr.jobs) == 1
    assert again == also > 1
    assert (tmp_path / "2.wav").read_bytes() == (tmp_path / "3.wav").read_bytes()
    assert not (tmp_path / "1.wav").exists()
    assert not list((tmp_path / "work").iterdir())  # nothing left behind


@pytest.mark.parametrize(
    ("accent", "language"),
    [
        ("American English accent", "en"),
        ("British English accent", "en"),
        ("Brazilian Portuguese accent", "pt-br"),
        ("European Portuguese", "pt"),
        ("Mexican Spanish accent", "es"),
        ("Australian accent", "en"),
        ("Brazilian accent", "pt-br"),
        ("Neutral", "en"),  # names no language: taken as English, offered to English only
        ("", "en"),
    ],
)
def test_an_accent_name_says_its_language(accent: str, language: str) -> None:
    assert accent_language(accent) == language
