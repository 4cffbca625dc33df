"""One entry for every voice: the built-in engine and the providers' (bot.speech.engine).

:class:`Speech` sends each request to the engine a voice id names. An id whose engine is off
(the provider was turned off, or the id is forged) is spoken by the language's own built-in
voice, and the log says so: a typed text is never refused for a setting the user cannot see.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from bot.config import Settings
from bot.providers import Provider
from bot.providers.creatify import CreatifyProvider
from bot.providers.magichour import MagicHourProvider
from bot.speech.creatify import CreatifySpeech
from bot.speech.engine import LOCAL, SpeechEngine, VoiceInfo, engine_of, family
from bot.speech.local import LocalSpeech
from bot.speech.magichour import MagicHourSpeech
from bot.speech.remote import Pace

log = logging.getLogger(__name__)

#: Built-in voices that are writing systems, not ways of speaking.
_NOT_ACCENTS = ("shavian",)


class Speech:
    """Speaks with the engine a voice id names; lists every enabled engine's voices."""

    def __init__(self, local: LocalSpeech, engines: Mapping[str, SpeechEngine]) -> None:
        self._local = local
        self._engines = dict(engines)
        self._warned: set[str] = set()

    @property
    def engines(self) -> list[str]:
        """The provider engines on, in menu order."""
        return list(self._engines)

    async def voices(self, language: str) -> list[VoiceInfo]:
        """The voices for ``language``: the built-in ones first, then each provider's.

        Raises:
            SpeechUnavailable: the built-in engine cannot run.
        """
        wanted = family(language)
        local = [
            voice
            for voice in await self._local.voices()
            if family(voice.language) == wanted
            and not any(word in voice.name.lower() for word in _NOT_ACCENTS)
        ]
        # The providers' lists are in memory (each engine reads its own in the background).
        listed = [await engine.voices(language) for engine in self._engines.values()]
        return local + [voice for found in listed for voice in found]

    async def voice(self, language: str, voice_id: str | None) -> VoiceInfo:
        """The voice :meth:`speak` uses for these arguments (to name it on a button).

        Raises:
            SpeechUnavailable: the built-in engine cannot run.
        """
        if voice_id is not None and engine_of(voice_id) != LOCAL:
            found = await self._offered(voice_id)
            if found is not None:
                return found
            voice_id = None
        return await self._local.voice(language, voice_id)

    async def offers(self, voice_id: str) -> bool:
        """Whether ``voice_id`` is spoken by its own voice now (its engine on and the voice
        still offered); built-in ids always are (an unknown one means the language's own)."""
        return engine_of(voice_id) == LOCAL or await self._offered(voice_id) is not None

    async def speak(
        self,
        text: str,
        language: str,
        out: Path,
        *,
        voice_id: str | None = None,
        max_seconds: float | None = None,
    ) -> float:
        """Speak ``text`` into a WAV file at ``out`` with the engine ``voice_id`` names (see
        :meth:`LocalSpeech.speak` and :meth:`SpeechEngine.speak` for the errors)."""
        voice_id = self.speaking(voice_id)
        if voice_id is not None and engine_of(voice_id) != LOCAL:
            engine = self._engines[engine_of(voice_id)]
            return await engine.speak(
                text, language, out, voice_id=voice_id, max_seconds=max_seconds
            )
        return await self._local.speak(
            text, language, out, voice_id=voice_id, max_seconds=max_seconds
        )

    def speaking(self, voice_id: str | None) -> str | None:
        """The voice that really speaks for ``voice_id``: itself, or None (the language's
        own built-in voice) when its engine is off (said once in the log)."""
        if (
            voice_id is None
            or engine_of(voice_id) == LOCAL
            or engine_of(voice_id) in self._engines
        ):
            return voice_id
        self._warn(voice_id)
        return None

    async def sample(self, voice: VoiceInfo, text: str, out: Path) -> bool:
        """A short recording of ``voice`` at ``out``: ``text`` spoken by a built-in voice,
        a provider's own free sample otherwise; False when there is none free.

        Raises:
            SpeechError: the built-in engine could not speak it.
        """
        if voice.engine == LOCAL:
            await self._local.speak(text, voice.language, out, voice_id=voice.voice_id)
            return True
        engine = self._engines.get(voice.engine)
        return engine is not None and await engine.sample(voice, out)

    async def start(self) -> None:
        """Start the engines' background work (their voice lists); returns at once."""
        for engine in self._engines.values():
            await engine.start()

    async def close(self) -> None:
        for engine in self._engines.values():
            await engine.close()
        await self._local.close()

    async def _offered(self, voice_id: str) -> VoiceInfo | None:
        engine = self._engines.get(engine_of(voice_id))
        if engine is None:
            self._warn(voice_id)
            return None
        return await engine.voice(voice_id)

    def _warn(self, voice_id: str) -> None:
        name = engine_of(voice_id)
        if name not in self._warned:
            self._warned.add(name)
            log.warning(
                "Voice %s belongs to %s, which is off: the language's own voice speaks "
                "instead (logged once per engine)",
                voice_id[:80],
                name[:40],
            )


def provider_engines(
    settings: Settings,
    providers: Mapping[str, Provider],
    *,
    inputs: Path,
    pace: Pace | None = None,
) -> dict[str, SpeechEngine]:
    """The providers' voices on with these settings: Creatify's whenever Creatify is on, and
    Magic Hour's when it is on and MAGICHOUR_VOICES names some. ``inputs``: the folder of
    the typed text cache (bot.media.intake's), where their paid speech is kept."""
    pace = pace or Pace()
    work = settings.data_dir / "speech"
    allow_private = settings.allow_private_urls
    engines: dict[str, SpeechEngine] = {}
    creatify = providers.get("creatify")
    if isinstance(creatify, CreatifyProvider):
        engines["creatify"] = CreatifySpeech(
            creatify, allow_private=allow_private, work=work, inputs=inputs, pace=pace
        )
    magichour = providers.get("magichour")
    if isinstance(magichour, MagicHourProvider) and settings.magichour_voices:
        engines["magichour"] = MagicHourSpeech(
            magichour,
            settings.magichour_voices,
            allow_private=allow_private,
            work=work,
            inputs=inputs,
            pace=pace,
        )
    elif settings.magichour_voices:
        log.warning("MAGICHOUR_VOICES is set, but Magic Hour is off: its voices are not offered")
    return engines
