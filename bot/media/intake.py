"""Fetching a user's file from Telegram and deciding whether it can be used."""

from __future__ import annotations

from pathlib import Path

import httpx
from telegram import Bot

from bot.errors import FileTooBig
from bot.media import inspect
from bot.models import InputFile, MediaKind
from bot.telegram import files as telegram_files

#: File extensions by what the user sent, so files on disk are recognisable when debugging;
#: ffmpeg identifies the format from the content either way.
_EXTENSIONS = {"photo": ".jpg", "video": ".mp4", "video_note": ".mp4", "voice": ".ogg"}


class MediaService:
    def __init__(
        self,
        bot: Bot,
        http: httpx.AsyncClient,
        *,
        inputs: Path,
        download_limit: int,
        max_voice_seconds: float,
    ) -> None:
        self._bot = bot
        self._http = http
        self._inputs = inputs
        self.download_limit = download_limit
        self.max_voice_seconds = max_voice_seconds

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
        # file_unique_id is the same for the same file across bots and time: a user who sends
        # the same photo twice downloads it once.
        name = file.file_unique_id or file.file_id
        dest = self._inputs / f"{name}{self._extension(file)}"
        if dest.exists():
            return dest
        return await telegram_files.download(
            self._bot, self._http, file.file_id, dest, limit=self.download_limit
        )

    @staticmethod
    def _extension(file: InputFile) -> str:
        if file.source in _EXTENSIONS:
            return _EXTENSIONS[file.source]
        subtype = (file.mime_type or "").partition("/")[2]
        return f".{subtype}" if subtype.isalnum() else ".bin"
