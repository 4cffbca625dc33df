"""Creatify's voices: its accents (``GET /api/voices/``, through the Creatify provider) read
typed text with ``POST /api/text_to_speech/`` (1 credit per 30 s), polled at
``GET /api/text_to_speech/{id}/`` until its ``output`` audio is there (providers.md 1.7, 1.8).

Which language an accent speaks is read from its name ("American English accent",
"Brazilian Portuguese accent"): the first word naming a language decides (:data:`LANGUAGES`),
else one naming a people whose language is plain (:data:`PEOPLES`: "American", "British"...).
An accent whose name says neither is taken as English: Creatify's catalogue is English first,
so that is by far the likeliest, and it is then offered to English readers only, never read
out in a language its name does not promise.

The list is read in the background (at start, then every hour; after a failure again sooner,
with growing pauses), and a failed or empty read keeps the last good list: /voice, the VOICE
prompt and a typed text only ever read it from memory, never waiting on Creatify. Until a
first read succeeds no Creatify voice is offered, and a choice made earlier is trusted.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

from bot.errors import SpeechServiceFailed, SpeechTextTooLong, UnknownStatus
from bot.models import JobStatus
from bot.providers import creatify_jobs as wire
from bot.providers.base import identifier
from bot.providers.creatify import CreatifyProvider, CreatifyVoice
from bot.speech.engine import VoiceInfo, family, own_id, qualified
from bot.speech.remote import Pace, RemoteSpeech
from bot.tasks import stop

log = logging.getLogger(__name__)

NAME = "creatify"
#: ``script`` is at most 8000 characters [C].
MAX_SCRIPT = wire.MAX_TEXT_CHARS
#: The voice list changes rarely (new voices, clones): read again after this long...
CATALOGUE_SECONDS = 3600.0
#: ...and after a failed read, after this long, doubling up to CATALOGUE_SECONDS.
RETRY_SECONDS = 60.0
#: Longest a read of the list may take (in the background: no one waits on it).
LIST_TIMEOUT = 60.0
#: Voices offered for one language at most (/voice shows them 8 a page).
MAX_OFFERED = 200

LANGUAGES = {
    "english": "en",
    "portuguese": "pt",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "dutch": "nl",
    "polish": "pl",
    "russian": "ru",
    "ukrainian": "uk",
    "turkish": "tr",
    "arabic": "ar",
    "hindi": "hi",
    "japanese": "ja",
    "korean": "ko",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "zh",
    "indonesian": "id",
    "vietnamese": "vi",
    "thai": "th",
    "swedish": "sv",
    "norwegian": "nb",
    "danish": "da",
    "finnish": "fi",
    "greek": "el",
    "czech": "cs",
    "romanian": "ro",
    "hungarian": "hu",
    "hebrew": "he",
    "filipino": "fil",
    "tagalog": "fil",
    "malay": "ms",
}
PEOPLES = {
    "american": "en",
    "british": "en",
    "australian": "en",
    "scottish": "en",
    "irish": "en",
    "brazilian": "pt-br",
    "mexican": "es",
}
_WORDS = re.compile(r"[^\W\d_]+")


def accent_language(accent_name: str) -> str:
    """The language tag an accent speaks, from its name (see the module docstring)."""
    words = [word.lower() for word in _WORDS.findall(accent_name)]
    for word in words:
        if word in LANGUAGES:
            language = LANGUAGES[word]
            return "pt-br" if language == "pt" and "brazilian" in words else language
    for word in words:
        if word in PEOPLES:
            return PEOPLES[word]
    return "en"


def voice_info(voice: CreatifyVoice) -> VoiceInfo:
    """ "Fatima, American (Creatify)": the voice's name, what its accent adds beyond the
    language ("American English accent" -> "American"), and whose it is."""
    spare = {"accent", *LANGUAGES}
    extra = " ".join(w for w in voice.accent_name.split() if w.lower().strip(",.()") not in spare)
    shown = f"{voice.name}, {extra}" if extra else voice.name
    return VoiceInfo(
        voice_id=qualified(NAME, voice.accent_id),
        name=f"{shown} (Creatify)",
        language=accent_language(voice.accent_name),
        engine=NAME,
        sample_url=voice.preview_url,
        gender=voice.gender,
    )


class CreatifySpeech(RemoteSpeech):
    name = NAME
    label = "Creatify"

    def __init__(
        self,
        provider: CreatifyProvider,
        *,
        allow_private: bool,
        work: Path,
        inputs: Path,
        pace: Pace,
    ) -> None:
        super().__init__(
            provider.http.client, allow_private=allow_private, work=work, inputs=inputs, pace=pace
        )
        self._provider = provider
        #: Every accent by qualified id, replaced whole by a good read; None until one.
        self._catalogue: dict[str, VoiceInfo] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def listed(self) -> bool:
        """Whether the list was read (since the start)."""
        return self._catalogue is not None

    async def voices(self, language: str) -> list[VoiceInfo]:
        wanted = family(language)
        found = [v for v in (self._catalogue or {}).values() if family(v.language) == wanted]
        return sorted(found, key=lambda voice: voice.name.casefold())[:MAX_OFFERED]

    async def voice(self, voice_id: str) -> VoiceInfo | None:
        catalogue = self._catalogue
        if catalogue is None:
            # Not read yet: the choice was checked when it was made, so it is trusted
            # (Creatify itself refuses an accent it no longer has).
            if identifier(own_id(voice_id)) is None:
                return None
            return VoiceInfo(voice_id, "Creatify", "en", engine=NAME)
        return catalogue.get(voice_id)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._refreshing(), name="creatify-voices")

    async def close(self) -> None:
        await stop(self._task)
        self._task = None
        await super().close()

    async def refresh(self) -> bool:
        """Read the list now; True when a new one was taken in (else the last good is kept)."""
        try:
            async with asyncio.timeout(LIST_TIMEOUT):
                accents = await self._provider.voices()
        except Exception as exc:  # whatever Creatify does, the refreshes go on
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return self._failed(why)
        if not accents:
            return self._failed("no voices listed")
        infos = (voice_info(accent) for accent in accents)
        self._catalogue = {info.voice_id: info for info in infos}
        log.info("Creatify lists %d voice accents", len(self._catalogue))
        return True

    def check(self, words: str) -> None:
        if len(words) > MAX_SCRIPT:
            raise SpeechTextTooLong(self.label, MAX_SCRIPT, len(words))

    async def synthesize(self, words: str, voice_id: str) -> str:
        accent = wire.accent(voice_id)
        if accent is None:
            raise SpeechServiceFailed(self.label, f"not an accent id: {voice_id!r}")
        body = {"script": words, "accent": accent}
        created = await self._provider.call("POST", "/api/text_to_speech/", body, idempotent=False)
        tts_id = identifier(created.get("id")) if isinstance(created, dict) else None
        if tts_id is None:
            raise SpeechServiceFailed(self.label, "text_to_speech answered without an id")
        log.info("Creatify is speaking %d characters (job %s)", len(words), tts_id)
        path = self._provider.job_path("/api/text_to_speech/", tts_id) + "/"
        try:
            done = self._audio(created)
        except UnknownStatus:  # the job exists and is paid for: its reads will tell
            done = None
        if done is not None:
            return done

        async def read() -> str | None:
            return self._audio(await self._provider.call("GET", path))

        return await self.poll(read)

    def _audio(self, data: object) -> str | None:
        """The audio's URL once done; None while working.

        Raises:
            SpeechServiceFailed: the job failed or was rejected.
            UnknownStatus: a status word we do not know (polled again).
        """
        job = wire.parse_job(data, None, self._provider.status_of)
        if job is None:
            return None
        if job.status is JobStatus.FAILED:
            raise SpeechServiceFailed(self.label, job.error or "text_to_speech failed")
        return job.output_url if job.status is JobStatus.SUCCEEDED else None

    async def _refreshing(self) -> None:
        failures = 0
        while True:
            failures = 0 if await self.refresh() else failures + 1
            pause = CATALOGUE_SECONDS
            if failures:
                pause = min(RETRY_SECONDS * 2 ** min(failures - 1, 16), CATALOGUE_SECONDS)
            await asyncio.sleep(pause)

    def _failed(self, why: str) -> bool:
        kept = f"keeping {len(self._catalogue)}" if self._catalogue else "none to offer"
        log.warning("Creatify's voices could not be read (%s); %s", why, kept)
        return False
