"""Fetching a user's file from Telegram and deciding whether it can be used."""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
from pathlib import Path
from typing import Protocol

import httpx
from telegram import Bot

from bot.errors import (
    CorruptMedia,
    FileTooBig,
    MediaError,
    MediaTooLong,
    SpeechBroken,
    SpeechError,
    SpeechServiceFailed,
    SpeechTextTooLong,
    SpeechTooLong,
    SpeechUnavailable,
    TextTooLong,
    TextTooLongForVoice,
    TextTooLongSpoken,
    TextUnspeakable,
    VoiceServiceFailed,
)
from bot.media import inspect
from bot.media.ffmpeg import removing_on_error
from bot.models import InputFile, MediaKind
from bot.speech.cache import spoken_path
from bot.telegram import files as telegram_files

log = logging.getLogger(__name__)

#: File extensions by what Telegram delivered, so files on disk are recognisable when
#: debugging. Anything else (audio, documents) is ".bin": a declared MIME type or file name
#: is the user's word, and an extension such as .m3u8 would make ffmpeg read a playlist.
#: ffmpeg identifies the format from the content, within bot.media.ffmpeg.INPUT_FORMATS.
_EXTENSIONS = {
    "photo": ".jpg",
    "video": ".mp4",
    "video_note": ".mp4",
    "animation": ".mp4",
    "voice": ".ogg",
}
#: What Telegram's file ids are made of; anything else is replaced, never used as a path.
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


class Speaker(Protocol):
    """Turns text into speech (bot.speech.router.Speech: the built-in engine or a
    provider's, by voice id)."""

    async def speak(
        self,
        text: str,
        language: str,
        out: Path,
        *,
        voice_id: str | None = None,
        max_seconds: float | None = None,
    ) -> float: ...

    def speaking(self, voice_id: str | None) -> str | None:
        """The voice that really speaks for ``voice_id`` (None: the language's own, when
        its engine is off)."""
        ...


class MediaService:
    def __init__(
        self,
        bot: Bot,
        http: httpx.AsyncClient,
        *,
        inputs: Path,
        download_limit: int,
        max_voice_seconds: float,
        speaker: Speaker,
        max_text_chars: int,
    ) -> None:
        self._bot = bot
        self._http = http
        self._inputs = inputs
        self._speaker = speaker
        self.download_limit = download_limit
        self.max_voice_seconds = max_voice_seconds
        self.max_text_chars = max_text_chars

    def check_text(self, text: str) -> None:
        """Refuse, before speaking it, a typed text over the limit.

        Raises:
            TextTooLong: more than MAX_TEXT_CHARS characters.
        """
        if len(text) > self.max_text_chars:
            raise TextTooLong(limit=self.max_text_chars, length=len(text))

    async def ingest_text(
        self, text: str, language: str, voice_id: str | None = None
    ) -> InputFile:
        """Speak a typed text in ``language`` (the user's Telegram language) with ``voice_id``
        (a built-in voice, or a provider's), and check the speech as a recording. The same
        words in the same language and voice are spoken once (a provider paid once) and kept
        like any input file.

        Raises:
            MediaError: too long (as text, or once spoken), or nothing to say.
        """
        self.check_text(text)
        # Filed under the voice that really speaks: a provider voice whose engine is off is
        # read by the built-in one, which must not be kept as that provider's.
        voice_id = self._speaker.speaking(voice_id)
        # A provider's paid speech lands here too when no one waits for it (bot.speech.cache).
        path = spoken_path(self._inputs, text, language, voice_id)
        if path.exists():
            path.touch()  # the same words again: used again, spared by the retention sweep
            try:
                return await self._checked_speech(path)
            except CorruptMedia:
                # A cached file left broken (a crash mid-write): speak it again, once.
                log.warning("Speaking %s again: the cached file is unreadable", path.name)
                path.unlink(missing_ok=True)
        await self._speak(text, language, voice_id, path)
        return await self._checked_speech(path)

    async def _speak(self, text: str, language: str, voice_id: str | None, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own: two users sending the same words at once never share (and
        # truncate) one temporary file; the first finished wins, the other is dropped.
        part = path.with_name(f"{path.name}.{secrets.token_hex(6)}.part")
        try:
            with removing_on_error(part):  # any failure or a cancel: no half-written file
                await self._speaker.speak(
                    text, language, part, voice_id=voice_id, max_seconds=self.max_voice_seconds
                )
        except SpeechTooLong as exc:
            raise TextTooLongSpoken(
                limit=int(exc.limit),
                duration=f"{math.ceil(exc.seconds)}{'+' if exc.at_least else ''}",
            ) from exc
        except SpeechTextTooLong as exc:
            raise TextTooLongForVoice(
                str(exc), limit=exc.limit, length=exc.length, service=exc.service
            ) from exc
        except SpeechServiceFailed as exc:
            # The provider's fault: the user may try again, or choose another voice.
            log.warning("A provider's voice could not speak: %s", exc)
            raise VoiceServiceFailed(str(exc), service=exc.service) from exc
        except SpeechUnavailable as exc:
            # The operator's problem, not the user's words: said as a failed check.
            log.warning("The built-in voice cannot speak: %s", exc)
            raise SpeechBroken(str(exc)) from exc
        except SpeechError as exc:
            raise TextUnspeakable(str(exc)) from exc
        telegram_files.move_into_place(part, path)

    async def _checked_speech(self, path: Path) -> InputFile:
        try:
            probe = await inspect.inspect_voice(path, max_seconds=self.max_voice_seconds)
        except MediaTooLong as exc:
            raise TextTooLongSpoken(str(exc), **exc.params) from exc
        except CorruptMedia:
            raise
        except MediaError as exc:  # silent: symbols or emoji only
            raise TextUnspeakable(str(exc)) from exc
        return InputFile(file_id="", source="text", path=str(path), probe=probe)

    def check_size(self, file: InputFile) -> None:
        """Refuse, before any download, a file Telegram will not hand over.

        Raises:
            FileTooBig: the declared size is over the Bot API download limit.
        """
        if file.file_size is not None and file.file_size > self.download_limit:
            raise FileTooBig(limit_mb=self.download_limit // 1_000_000)

    async def ingest_face(self, file: InputFile, kind: MediaKind) -> InputFile:
        """Download and probe a photo or video of a face.

        Raises:
            MediaError: with the reason to show the user.
        """
        path = await self._fetch(file)
        probe = await inspect.inspect_face(path, kind)
        return file.model_copy(update={"path": str(path), "probe": probe})

    async def ingest_voice(self, file: InputFile) -> InputFile:
        """Download and probe a voice recording.

        Raises:
            MediaError: with the reason to show the user.
        """
        path = await self._fetch(file)
        probe = await inspect.inspect_voice(path, max_seconds=self.max_voice_seconds)
        return file.model_copy(update={"path": str(path), "probe": probe})

    async def _fetch(self, file: InputFile) -> Path:
        self.check_size(file)
        dest = self._inputs / local_name(file)
        if dest.exists():
            # Used again: the retention sweep spares files touched recently.
            dest.touch()
            return dest
        return await telegram_files.download(
            self._bot, self._http, file.file_id, dest, limit=self.download_limit
        )


def local_name(file: InputFile) -> str:
    """The name a user's file is saved under: Telegram's id for it and an extension of ours.

    file_unique_id is the same for the same file across bots and time, so a user who sends
    the same photo twice downloads it once.
    """
    name = file.file_unique_id or file.file_id
    if _UNSAFE_NAME_CHARS.search(name) or not name:
        name = hashlib.sha256(name.encode()).hexdigest()[:32]
    return name + _EXTENSIONS.get(file.source, ".bin")
