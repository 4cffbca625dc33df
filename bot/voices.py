"""Which built-in voice reads a user's typed text (/voice): the voices of their language
(accents: American, British, Scottish English...), the one they chose (remembered per
user), and a short sample of each."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from bot.errors import RenderError, SpeechError
from bot.media.ffmpeg import input_args, run_ffmpeg
from bot.speech import LocalSpeech, VoiceInfo
from storage import UserRepository

log = logging.getLogger(__name__)

#: Buttons /voice offers at most (one language has a handful of accents).
MAX_CHOICES = 8
#: Voices that are writing systems, not ways of speaking.
_NOT_ACCENTS = ("shavian",)


class Voices:
    def __init__(self, speech: LocalSpeech, users: UserRepository, samples: Path) -> None:
        self._speech = speech
        self._users = users
        self._samples = samples

    async def choices(self, language: str) -> list[VoiceInfo]:
        """The voices that speak ``language`` (``en``, ``pt-br``, ``de``...), by name."""
        family = language.replace("_", "-").lower().split("-")[0]
        return [
            voice
            for voice in await self._speech.voices()
            if voice.language.split("-")[0] == family
            and not any(word in voice.name.lower() for word in _NOT_ACCENTS)
        ][:MAX_CHOICES]

    async def current(self, user_id: int, language: str) -> VoiceInfo:
        """The voice that reads this user's text now."""
        return await self._speech.voice(language, await self._users.voice_of(user_id))

    async def chosen_id(self, user_id: int) -> str | None:
        return await self._users.voice_of(user_id)

    async def choose(self, user_id: int, language: str, voice_id: str) -> VoiceInfo | None:
        """Remember ``voice_id`` for the user; None (nothing changed) when it is not one of
        :meth:`choices` (a forged or outdated button)."""
        voice = next((v for v in await self.choices(language) if v.voice_id == voice_id), None)
        if voice is not None:
            await self._users.set_voice(user_id, voice.voice_id)
        return voice

    async def forget(self, user_id: int) -> None:
        """Back to the voice of the user's language."""
        await self._users.set_voice(user_id, None)

    async def sample(self, voice: VoiceInfo, text: str) -> Path | None:
        """``text`` read by ``voice`` as an OGG Opus voice note (the caller deletes it);
        None when it could not be made (a sample is a courtesy)."""
        self._samples.mkdir(parents=True, exist_ok=True)
        stem = self._samples / f"sample-{secrets.token_hex(6)}"
        wav, ogg = stem.with_suffix(".wav"), stem.with_suffix(".ogg")
        try:
            await self._speech.speak(text, voice.language, wav, voice_id=voice.voice_id)
            args = [*input_args(wav), "-c:a", "libopus", "-b:a", "32k", str(ogg)]
            await run_ffmpeg(args, timeout=30)
        except (SpeechError, RenderError) as exc:
            log.warning("Could not make a sample of %s: %s", voice.voice_id, exc)
            ogg.unlink(missing_ok=True)
            return None
        finally:
            wav.unlink(missing_ok=True)
        return ogg
