"""The built-in voice (eSpeak NG through ctypes): real speech, plain reading of hostile text,
one worker thread, and an event loop that keeps running while it speaks."""

from __future__ import annotations

import array
import asyncio
import itertools
import math
import threading
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import SpeechError, SpeechTooLong, SpeechUnavailable
from bot.media.inspect import inspect_voice
from bot.speech import LocalSpeech, clean_text
from bot.speech.espeak import Espeak

ENGLISH = "Hello, I am the robot voice of this bot. Type a text and I will say it."
PORTUGUESE = "Olá, eu sou a voz robótica deste bot. Digite um texto e eu o falo."
#: About 1,500 characters (MAX_TEXT_CHARS): a long paragraph of ordinary words.
LONG_ENGLISH = (
    "The quick brown fox jumps over the lazy dog, and then it runs into the forest. " * 19
)[:1500]
#: Loudness of ordinary speech is far above this (RMS of 16-bit samples; full scale 32767).
MIN_RMS = 500


@pytest.fixture
async def speech() -> AsyncIterator[LocalSpeech]:
    async with LocalSpeech() as engine:
        yield engine


def read_wav(path: Path) -> tuple[wave._wave_params, array.array[int]]:
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        samples = array.array("h", wav.readframes(params.nframes))
    return params, samples


def rms(samples: array.array[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@pytest.mark.parametrize(
    ("text", "language", "low", "high"),
    [(ENGLISH, "en", 3.0, 9.0), (PORTUGUESE, "pt_BR", 3.0, 9.0)],
)
async def test_speech_is_a_plausible_audible_wav(
    speech: LocalSpeech, tmp_path: Path, text: str, language: str, low: float, high: float
) -> None:
    out = tmp_path / "voice.wav"
    seconds = await speech.speak(text, language, out)
    assert low < seconds < high  # about 12-14 words: 4-5 s at 175 words a minute
    params, samples = read_wav(out)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 22050)
    assert params.nframes / params.framerate == pytest.approx(seconds)
    assert rms(samples) > MIN_RMS
    # The bot's own check of a recording accepts it as a voice of that length.
    probe = await inspect_voice(out, max_seconds=60)
    assert probe.duration == pytest.approx(seconds, abs=0.05)


async def test_longer_text_gives_longer_speech(speech: LocalSpeech, tmp_path: Path) -> None:
    lengths = [
        await speech.speak(LONG_ENGLISH[:size], "en", tmp_path / f"{size}.wav")
        for size in (100, 500, 1500)
    ]
    assert lengths[0] < lengths[1] < lengths[2]
    assert lengths[2] > 2.5 * lengths[0]


@pytest.mark.parametrize(
    ("language", "voice_id"),
    [
        ("en", "gmw/en-US"),
        ("EN", "gmw/en-US"),
        ("en-GB", "gmw/en"),
        ("pt_BR", "roa/pt-BR"),
        ("pt-br", "roa/pt-BR"),
        ("pt", "roa/pt-BR"),
        ("pt-PT", "roa/pt"),
        ("de", "gmw/de"),
        ("de-AT", "gmw/de"),
    ],
)
async def test_language_picks_the_voice(speech: LocalSpeech, language: str, voice_id: str) -> None:
    assert (await speech.voice(language)).voice_id == voice_id
    # A voice chosen by the user wins over the language.
    assert (await speech.voice(language, "roa/fr")).voice_id == "roa/fr"


async def test_speech_uses_the_picked_voice(speech: LocalSpeech, tmp_path: Path) -> None:
    """Brazilian and European Portuguese say the same sentence at clearly different lengths
    (4.4 s and 4.1 s here); the same voice again differs by a few milliseconds (eSpeak's
    wave generator carries a little state from one call to the next)."""
    brazil = await speech.speak(PORTUGUESE, "pt_BR", tmp_path / "a.wav")
    chosen = await speech.speak(PORTUGUESE, "en", tmp_path / "b.wav", voice_id="roa/pt-BR")
    portugal = await speech.speak(PORTUGUESE, "pt-PT", tmp_path / "c.wav")
    assert chosen == pytest.approx(brazil, abs=0.05)
    assert abs(portugal - brazil) > 0.2


@pytest.mark.parametrize("language", ["xx", "", "../../etc/passwd", "en\x00pt", "🙂", "a" * 5000])
async def test_unknown_language_or_voice_falls_back_to_english(
    speech: LocalSpeech, tmp_path: Path, language: str
) -> None:
    assert not await speech.supports(language)
    picked = await speech.voice(language, voice_id="../no/such")
    assert (picked.voice_id, picked.language) == ("gmw/en-US", "en-us")
    english = await speech.speak(ENGLISH, "en", tmp_path / "en.wav")
    other = await speech.speak(ENGLISH, language, tmp_path / "other.wav", voice_id="../no/such")
    assert other == pytest.approx(english, abs=0.05)


async def test_voices_and_supports(speech: LocalSpeech) -> None:
    voices = await speech.voices()
    by_id = {voice.voice_id: voice for voice in voices}
    assert len(by_id) == len(voices) > 50
    assert by_id["roa/pt-BR"].language == "pt-br"
    assert by_id["roa/pt-BR"].name == "Portuguese (Brazil)"
    assert by_id["gmw/en-US"].language == "en-us"
    assert [voice.name for voice in voices] == sorted(voice.name for voice in voices)
    for language in ("en", "pt_BR", "pt", "es", "fr", "de"):
        assert await speech.supports(language), language


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n", "\x00\x01\x1b", "\u200b\u202e\u2060"])
async def test_nothing_to_say_is_refused(speech: LocalSpeech, tmp_path: Path, text: str) -> None:
    with pytest.raises(SpeechError, match="no text"):
        await speech.speak(text, "en", tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("text", ["...", "\ue000\U0010ffff"])
async def test_text_without_speech_is_refused(
    speech: LocalSpeech, tmp_path: Path, text: str
) -> None:
    with pytest.raises(SpeechError) as raised:
        await speech.speak(text, "en", tmp_path / "x.wav")
    assert type(raised.value) is SpeechError
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize(
    "text",
    [
        "hello\x00world\x1b[31m red\x7f\x85 text",  # NUL cuts a C string; escapes; C1
        "hi \ud800 there \udfff",  # lone surrogates cannot even be encoded to UTF-8
        "שלום עולם مرحبا بالعالم \u202eevil\u202c text",  # right to left, bidi override
        "🙂🔥👍🏽👨‍👩‍👧 ok",  # emoji, skin tone, joined family
        "e" + "\u0301" * 5000,  # one letter drowned in combining accents
        "\n" * 5000 + "hi there",
        "a" * 10_000,  # one ten-thousand-letter word
        "9" * 3000,  # a number beyond any number name
        "1" + "0" * 400 + " -99999999999999999999 1e308 ５６７",
        "&amp; &lt;speak&gt; &#0; %s %n {0} \\x00",
    ],
)
async def test_hostile_text_is_spoken_without_harm(
    speech: LocalSpeech, tmp_path: Path, text: str
) -> None:
    seconds = await speech.speak(text, "en", tmp_path / "x.wav")
    _, samples = read_wav(tmp_path / "x.wav")
    assert len(samples) == pytest.approx(seconds * 22050)
    assert seconds > 0.1


async def test_control_characters_are_read_as_spaces(speech: LocalSpeech, tmp_path: Path) -> None:
    cut = await speech.speak("hello\x00world\x07again", "en", tmp_path / "a.wav")
    assert cut == pytest.approx(
        await speech.speak("hello world again", "en", tmp_path / "b.wav"), abs=0.05
    )
    assert clean_text(" a\x00b\u202ec\u200dd\r\n ") == "a bcd"
    assert clean_text("５６７ ﬁ") == "567 fi"


async def test_markup_is_read_not_obeyed(speech: LocalSpeech, tmp_path: Path) -> None:
    """With SSML on, the break would add 20 s of silence; with phoneme input on, [[h@l'oU]]
    would be the word "hello" (0.45 s, measured) instead of its letters read out."""
    hello = await speech.speak("hello", "en", tmp_path / "hello.wav")
    assert await speech.speak('hello <break time="20s"/> world', "en", tmp_path / "b.wav") < 8
    assert await speech.speak("[[h@l'oU]]", "en", tmp_path / "p.wav") > 2 * hello
    assert await speech.speak("<speak>hello</speak>", "en", tmp_path / "s.wav") > 2.5 * hello


async def test_ten_thousand_characters_are_spoken(speech: LocalSpeech, tmp_path: Path) -> None:
    text = ((LONG_ENGLISH + " ") * 7)[:10_000]
    # About 11 minutes of speech: past the default hard limit, which fails it cleanly...
    with pytest.raises(SpeechTooLong) as raised:
        await speech.speak(text, "en", tmp_path / "long.wav")
    assert raised.value.at_least
    # ...and spoken whole when the limit allows it.
    roomy = LocalSpeech(hard_limit_seconds=1200)
    assert await roomy.speak(text, "en", tmp_path / "long.wav") > 300


async def test_max_seconds_refuses_with_the_true_length(
    speech: LocalSpeech, tmp_path: Path
) -> None:
    with pytest.raises(SpeechTooLong) as raised:
        await speech.speak(LONG_ENGLISH * 4, "en", tmp_path / "x.wav", max_seconds=60)
    assert raised.value.limit == 60
    # 6,000 characters: about 6.5 minutes, measured though only 60 s of it were kept.
    assert 300 < raised.value.seconds < 500
    assert not raised.value.at_least
    assert not (tmp_path / "x.wav").exists()
    short = await speech.speak(LONG_ENGLISH[:300], "en", tmp_path / "y.wav", max_seconds=60)
    assert 10 < short < 60


async def test_the_hard_limit_holds_whatever_the_caller_asks(tmp_path: Path) -> None:
    capped = LocalSpeech(hard_limit_seconds=3)
    started = time.monotonic()
    with pytest.raises(SpeechTooLong) as raised:
        await capped.speak(LONG_ENGLISH * 6, "en", tmp_path / "y.wav", max_seconds=1000)
    assert time.monotonic() - started < 1  # stopped after 3 s of speech, not 9 minutes
    assert raised.value.at_least
    assert raised.value.limit == 3
    assert 3 <= raised.value.seconds < 4


async def test_concurrent_requests_queue_on_one_thread(
    speech: LocalSpeech, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[int] = set()
    running = 0
    most = 0
    synth = Espeak.synth

    def spy(self: Espeak, text: str, *, keep: int, count: int) -> tuple[bytearray, int]:
        nonlocal running, most
        threads.add(threading.get_ident())
        running += 1
        most = max(most, running)
        try:
            time.sleep(0.005)  # widen the window two overlapping calls would share
            return synth(self, text, keep=keep, count=count)
        finally:
            running -= 1

    monkeypatch.setattr(Espeak, "synth", spy)
    other = LocalSpeech()  # a second engine in the process shares the same worker
    texts = [f"{ENGLISH} Number {n}." for n in range(10)]
    results = await asyncio.gather(
        *(
            (speech if n % 2 else other).speak(text, "en", tmp_path / f"{n}.wav")
            for n, text in enumerate(texts)
        )
    )
    assert all(seconds > 3 for seconds in results)
    assert most == 1
    assert len(threads) == 1
    assert threading.get_ident() not in threads
    for n, seconds in enumerate(results):  # each file holds its own request's speech
        params, _ = read_wav(tmp_path / f"{n}.wav")
        assert params.nframes / params.framerate == pytest.approx(seconds)


async def test_the_event_loop_keeps_running_while_speaking(
    speech: LocalSpeech, tmp_path: Path
) -> None:
    await speech.speak("warm up", "en", tmp_path / "w.wav")  # loading is not what is measured
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = time.monotonic()
    await speech.speak(LONG_ENGLISH, "en", tmp_path / "long.wav")
    ended = time.monotonic()
    task.cancel()
    during = [tick for tick in ticks if started < tick < ended]
    # Blocking the loop for the whole synthesis would leave no tick in between at all.
    assert len(during) >= 10, (len(during), ended - started)
    gaps = [b - a for a, b in itertools.pairwise(during)]
    assert max(gaps, default=0) < (ended - started) / 2


async def test_missing_library_or_data_is_a_clear_error(tmp_path: Path) -> None:
    import espeakng_loader

    real_library = Path(espeakng_loader.get_library_path())
    real_data = Path(espeakng_loader.get_data_path())
    no_data = LocalSpeech(library=real_library, data=tmp_path)
    with pytest.raises(SpeechUnavailable, match="data missing"):
        await no_data.speak("hello", "en", tmp_path / "x.wav")
    with pytest.raises(SpeechUnavailable):  # again, from memory: no retry per message
        await no_data.voices()
    not_a_library = tmp_path / "libespeak-ng.so"
    not_a_library.write_bytes(b"\x7fELF not really")
    with pytest.raises(SpeechUnavailable, match="cannot load"):
        await LocalSpeech(library=not_a_library, data=real_data).speak(
            "hello", "en", tmp_path / "x.wav"
        )
    with pytest.raises(SpeechUnavailable, match="cannot load"):
        await LocalSpeech(library=tmp_path / "absent.so", data=real_data).supports("en")


async def test_closed_engine_refuses(tmp_path: Path) -> None:
    engine = LocalSpeech()
    await engine.close()
    with pytest.raises(SpeechUnavailable, match="closed"):
        await engine.speak("hello", "en", tmp_path / "x.wav")
    # Other engines in the process still work: the library was not freed under them.
    async with LocalSpeech() as other:
        assert await other.speak("hello there", "en", tmp_path / "y.wav") > 0.3
