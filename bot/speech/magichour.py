"""Magic Hour's voice generator: ``POST /v1/ai-voice-generator`` with ``style.prompt`` (at most
1,000 characters) and ``style.voice_name``, polled at ``GET /v1/audio-projects/{id}`` until
``downloads[0].url`` is there (providers.md 2.7). Calls go through the Magic Hour provider, so
its key, retries and error mapping are the ones jobs use.

There is no list of voices to ask for: the voice names are a closed set of 1,264 presets
(public figures and characters) in Magic Hour's SDK. The operator picks a few in
``MAGICHOUR_VOICES``; none means this engine is off. They are offered to English readers
only: the presets are English speakers, and reading other languages is not promised. Speech
costs credits by the character (0.05 or 0.1 each, the docs disagree), so no sample is made.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from pathlib import Path

from bot.errors import SpeechServiceFailed, SpeechTextTooLong
from bot.models import JobStatus
from bot.providers.base import identifier, text
from bot.providers.magichour import MagicHourProvider
from bot.speech.engine import VoiceInfo, family, own_id, qualified
from bot.speech.remote import Pace, RemoteSpeech

log = logging.getLogger(__name__)

NAME = "magichour"
MAX_PROMPT = 1000
#: The language the presets speak (see the module docstring).
LANGUAGE = "en"


class MagicHourSpeech(RemoteSpeech):
    name = NAME
    label = "Magic Hour"

    def __init__(
        self,
        provider: MagicHourProvider,
        names: Sequence[str],
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
        self._voices = {
            qualified(NAME, name): VoiceInfo(
                qualified(NAME, name), f"{name} (Magic Hour)", LANGUAGE, engine=NAME
            )
            for name in names
        }

    async def voices(self, language: str) -> list[VoiceInfo]:
        return list(self._voices.values()) if family(language) == LANGUAGE else []

    async def voice(self, voice_id: str) -> VoiceInfo | None:
        return self._voices.get(voice_id)

    def check(self, words: str) -> None:
        if len(words) > MAX_PROMPT:
            raise SpeechTextTooLong(self.label, MAX_PROMPT, len(words))

    async def synthesize(self, words: str, voice_id: str) -> str:
        if voice_id not in self._voices:
            raise SpeechServiceFailed(self.label, f"not one of MAGICHOUR_VOICES: {voice_id!r}")
        body = {
            "name": f"lipsync-bot voice {secrets.token_hex(4)}",
            "style": {"prompt": words, "voice_name": own_id(voice_id)},
        }
        created = await self._provider.call(
            "POST", "/v1/ai-voice-generator", body, idempotent=False
        )
        project = identifier(created.get("id")) if isinstance(created, dict) else None
        if project is None:
            raise SpeechServiceFailed(self.label, "ai-voice-generator answered without an id")
        charged = created.get("credits_charged") if isinstance(created, dict) else None
        log.info(
            "Magic Hour is speaking %d characters (project %s, %s credits)",
            len(words),
            project,
            charged,
        )
        path = self._provider.job_path("/v1/audio-projects/", project)

        async def read() -> str | None:
            return self._audio(await self._provider.call("GET", path))

        return await self.poll(read)

    def _audio(self, data: object) -> str | None:
        """The audio's URL once the project is complete; None while it works.

        Raises:
            SpeechServiceFailed: the project ended in error or was canceled.
            UnknownStatus: a status word we do not know (polled again).
        """
        if not isinstance(data, dict):
            return None
        status = self._provider.status_of(data.get("status"))
        if status in (JobStatus.FAILED, JobStatus.CANCELED):
            error = data.get("error")
            reason = text(error.get("message")) if isinstance(error, dict) else text(error)
            raise SpeechServiceFailed(self.label, reason or f"the audio project is {status}")
        if status is not JobStatus.SUCCEEDED:
            return None
        downloads = data.get("downloads")
        first = downloads[0] if isinstance(downloads, list) and downloads else None
        return text(first.get("url")) if isinstance(first, dict) else None
