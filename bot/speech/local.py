"""The built-in, offline voice: eSpeak NG on one worker thread, behind a small async API.

Every library call (loading, listing voices, speaking) and the WAV write run on one worker
thread, in the order they were asked for: the library is not thread-safe, and the event loop
must never wait on it. Requests queue on that thread, one at a time. The thread and the
loaded library belong to the process, not to a :class:`LocalSpeech`: the library's state is
global, so two engines (two bots in one test process, say) must not load or free it apart.
"""

from __future__ import annotations

import asyncio
import re
import threading
import unicodedata
import wave
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from bot.errors import SpeechError, SpeechTooLong, SpeechUnavailable
from bot.models.avatars import Gender
from bot.speech.engine import VoiceInfo
from bot.speech.espeak import RATE_NORMAL, Espeak, EspeakVoice, check_data

T = TypeVar("T")

#: The voice for a bare language code, where eSpeak NG has several (its plain ``en`` is
#: British and ``pt`` is European; most of our users are American or Brazilian).
PREFERRED = {"en": "en-us", "pt": "pt-br"}
#: What any language the engine does not speak falls back to.
FALLBACK = "en-us"
#: Longest speech ever measured, whatever the caller asks: bounds the CPU of one request
#: (about 1 ms per second of speech) and, with no ``max_seconds``, its memory too (22,050
#: samples/s x 2 bytes: 26 MB at 10 minutes). Callers pass MAX_VOICE_SECONDS as max_seconds.
HARD_LIMIT_SECONDS = 600.0
#: eSpeak's variants (``voices/!v``: pitch and formants) that make a voice of any language
#: another person's: a dialogue's second speaker gets one (a voice id ``<voice>+<variant>``;
#: any other variant named is ignored: eSpeak would silently take an unknown one too).
#: Its plain voices are a man's.
VARIANTS = {Gender.FEMALE: "f3", Gender.MALE: "m3"}
_VARIANT_GENDERS = {variant: gender for gender, variant in VARIANTS.items()}
#: Line breaks and tabs are spacing; every other control character (NUL, ESC, DEL, C1) is
#: replaced by a space, and lone surrogates (invalid UTF-16 halves) too: they cannot be
#: encoded to UTF-8 at all.
_UNSPEAKABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


#: The one worker thread of the process, made on first use.
_worker: ThreadPoolExecutor | None = None
_worker_lock = threading.Lock()
#: Loaded libraries by file, and failed loads by (library, data). Worker thread only.
_engines: dict[Path, Espeak] = {}
_broken: dict[tuple[Path, Path], SpeechUnavailable] = {}


def _the_worker() -> ThreadPoolExecutor:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="espeak")
        return _worker


def _load(library: Path, data: Path) -> Espeak:
    """The process's engine for ``library``, loading it the first time (worker thread only)."""
    check_data(data)
    engine = _engines.get(library)
    if engine is not None:
        if engine.data != data:
            raise SpeechUnavailable(f"{library} is already loaded with the data in {engine.data}")
        return engine
    if (library, data) in _broken:  # a broken install does not mend itself: fail fast
        raise _broken[library, data]
    try:
        engine = Espeak(library, data)
    except SpeechUnavailable as exc:
        _broken[library, data] = exc
        raise
    _engines[library] = engine
    return engine


def clean_text(text: str) -> str:
    """The text as it is given to the engine: compatibility forms made plain (full-width
    digits, ligatures), control characters, invisible format marks (bidi overrides,
    zero-width joiners) and lone surrogates removed, spacing trimmed."""
    text = _UNSPEAKABLE.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.strip()


class LocalSpeech:
    """Speaks text with eSpeak NG, offline. Robotic, but always there.

    The library is loaded on first use, once per process. ``library`` and ``data`` default
    to what the ``espeakng-loader`` wheel ships; ``rate`` is in words per minute (80-450).
    """

    def __init__(
        self,
        *,
        library: Path | None = None,
        data: Path | None = None,
        rate: int = RATE_NORMAL,
        hard_limit_seconds: float = HARD_LIMIT_SECONDS,
    ) -> None:
        self._library = library
        self._data = data
        self._rate = rate
        self._hard_limit = hard_limit_seconds
        self._closed = False

    async def __aenter__(self) -> LocalSpeech:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def voices(self) -> list[VoiceInfo]:
        """Every voice the engine has, by name.

        Raises:
            SpeechUnavailable: the library or its data is missing.
        """
        found = await self._run(lambda engine: engine.voices)
        listed = [_info(voice) for voice in found if voice.languages]
        return sorted(listed, key=lambda voice: voice.name)

    async def supports(self, language: str) -> bool:
        """Whether ``language`` (``en``, ``pt_BR``, ``de``...) has a voice of its own, rather
        than the English fallback.

        Raises:
            SpeechUnavailable: the library or its data is missing.
        """
        return await self._run(lambda engine: voice_for(engine.voices, language) is not None)

    async def voice(self, language: str, voice_id: str | None = None) -> VoiceInfo:
        """The voice :meth:`speak` uses for these arguments (to name it on a button); a
        variant's (see :data:`VARIANTS`) with its gender.

        Raises:
            SpeechUnavailable: the library or its data is missing.
        """
        base, variant = _split(voice_id)
        info = _info(await self._run(lambda engine: _pick(engine, language, base)))
        if variant is None:
            return info
        gender = _VARIANT_GENDERS[variant]
        return VoiceInfo(f"{info.voice_id}+{variant}", info.name, info.language, gender=gender)

    async def speak(
        self,
        text: str,
        language: str,
        out: Path,
        *,
        voice_id: str | None = None,
        max_seconds: float | None = None,
    ) -> float:
        """Speak ``text`` into a 16-bit mono WAV file at ``out`` (its folder must exist).

        The text is read as plain words: ``<tags>`` and ``[[phonemes]]`` are not obeyed.

        Args:
            text: what to say, as the user typed it.
            language: a locale or language tag (``en``, ``pt_BR``, ``pt-br``, ``de``); one
                the engine lacks is spoken in English.
            out: the WAV file to write (replaced if present).
            voice_id: a :attr:`VoiceInfo.voice_id` the user chose; an unknown one is ignored.
            max_seconds: fail if the speech is longer than this (only this much is kept
                in memory; the rest is measured, for the message, up to the hard limit).

        Returns:
            The length of the speech in seconds.

        Raises:
            SpeechError: nothing to say (empty, or no sound comes of it).
            SpeechTooLong: longer than ``max_seconds`` (or than the engine's hard limit);
                it carries the length measured.
            SpeechUnavailable: the library or its data is missing.
        """
        words = clean_text(text)
        if not words:
            raise SpeechError("there is no text to speak")
        hard_limit = self._hard_limit
        limit = min(max_seconds or hard_limit, hard_limit)
        rate = self._rate

        base, variant = _split(voice_id)

        def job(engine: Espeak) -> float:
            identifier = _pick(engine, language, base).identifier
            engine.set_voice(identifier if variant is None else f"{identifier}+{variant}")
            engine.set_rate(rate)  # the library's settings are global: set them every time
            return _synthesize(engine, words, limit, hard_limit, out)

        return await self._run(job)

    async def close(self) -> None:
        """Make later calls fail. The library stays loaded for the process (see the module
        docstring): freeing it under another engine would crash the process."""
        self._closed = True

    async def _run(self, job: Callable[[Espeak], T]) -> T:
        if self._closed:
            raise SpeechUnavailable("the speech engine is closed")
        library, data = self._library, self._data
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            _the_worker(), lambda: job(_load(*_paths(library, data)))
        )


def _paths(library: Path | None, data: Path | None) -> tuple[Path, Path]:
    """The library and data to use: the ones given, else the wheel's."""
    if library is not None and data is not None:
        return library, data
    try:
        import espeakng_loader
    except ImportError as exc:
        raise SpeechUnavailable("the espeakng-loader package is not installed") from exc
    try:
        data = data or Path(espeakng_loader.get_data_path())
    except RuntimeError as exc:  # what the wheel raises when its data folder is gone
        raise SpeechUnavailable(str(exc)) from exc
    return library or Path(espeakng_loader.get_library_path()), data


def voice_for(
    voices: Sequence[EspeakVoice], language: str, voice_id: str | None = None
) -> EspeakVoice | None:
    """The chosen voice if it exists, else the best voice for ``language``, else None."""
    for voice in voices:
        if voice.identifier == voice_id:
            return voice
    tag = language.strip().lower().replace("_", "-")
    for wanted in (tag, tag.split("-")[0]):
        wanted = PREFERRED.get(wanted, wanted)
        # A voice made for the language first, then one that also speaks it.
        for voice in voices:
            if voice.languages[:1] == (wanted,):
                return voice
        for voice in voices:
            if wanted in voice.languages:
                return voice
    return None


def variant_of(voice_id: str, gender: Gender) -> str:
    """The built-in voice ``voice_id`` (any variant of it dropped) as ``gender``'s: a
    woman's variant, or its plain voice for a man's."""
    base = voice_id.partition("+")[0]
    return base if gender is not Gender.FEMALE else f"{base}+{VARIANTS[gender]}"


def _split(voice_id: str | None) -> tuple[str | None, str | None]:
    """A voice id as its voice and its variant, if it names one of :data:`VARIANTS`."""
    if voice_id is None or "+" not in voice_id:
        return voice_id, None
    base, _, variant = voice_id.partition("+")
    return base, variant if variant in _VARIANT_GENDERS else None


def _pick(engine: Espeak, language: str, voice_id: str | None) -> EspeakVoice:
    voice = voice_for(engine.voices, language, voice_id) or voice_for(engine.voices, FALLBACK)
    if voice is None:
        raise SpeechUnavailable(f"no voice for {language!r} nor {FALLBACK!r}")
    return voice


def _info(voice: EspeakVoice) -> VoiceInfo:
    return VoiceInfo(voice.identifier, voice.name, voice.languages[0] if voice.languages else "")


def _synthesize(engine: Espeak, text: str, limit: float, hard_limit: float, out: Path) -> float:
    rate = engine.sample_rate
    pcm, made = engine.synth(text, keep=int(limit * rate) + 1, count=int(hard_limit * rate) + 1)
    if made > limit * rate:
        raise SpeechTooLong(made / rate, limit, at_least=made > hard_limit * rate)
    if pcm.count(0) == len(pcm):  # no samples, or only silence (punctuation alone)
        raise SpeechError("the text gives no speech")
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return made / rate
