"""An avatar's still, shown as a Telegram photo when it is picked.

Why the bot downloads the still and uploads it, rather than handing Telegram the provider's
URL: sending a URL would leak nothing (the URL is the provider's, public, and carries no
secret of ours), but it leaves the preview to Telegram's fetcher, which answers a slow host,
a redirect it dislikes or an odd format with one opaque "failed to get HTTP URL content",
and cannot fetch at all from a test fake or a local Bot API server's network. Downloading
goes through the bot's one safe path (bot.media.outputs: https only unless
ALLOW_PRIVATE_URLS, public addresses only, pinned against DNS rebinding, capped in size),
then the bytes are checked to be an image before they are uploaded. Each still travels once:
Telegram's file id for it is kept (on disk, ``previews.json``), and every later preview of
that avatar is sent by id, with no download and no upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
from pathlib import Path

import httpx
from telegram import Bot, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.error import BadRequest

from bot.errors import UnsafeURL
from bot.media.outputs import OutputFetchError, download_output
from bot.models.avatars import Avatar

log = logging.getLogger(__name__)

#: The still preferred, by aspect ratio: portrait suits a phone best.
PREFERRED = ("9:16", "9x16", "9_16", "1:1", "1x1", "1_1", "16:9", "16x9", "16_9")
#: Largest still accepted (Telegram takes photos up to 10 MB; a still is a few hundred KB).
MAX_BYTES = 5 * 1024 * 1024
#: Longest a preview may take to download: past that the user gets the name alone.
DOWNLOAD_SECONDS = 20.0
#: File ids kept at most (one per avatar's still).
MAX_KEPT = 20_000
_IMAGES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def still_of(avatar: Avatar) -> str | None:
    """The URL of the still to show for ``avatar``, if it has one."""
    images = avatar.preview_images
    for ratio in PREFERRED:
        if ratio in images:
            return images[ratio]
    return next(iter(images.values()), None)


class AvatarPreviews:
    """Sends avatars' stills, each downloaded and uploaded at most once."""

    def __init__(self, http: httpx.AsyncClient, folder: Path, *, allow_private: bool) -> None:
        self._http = http
        self._folder = folder
        self._allow_private = allow_private
        self._ids: dict[str, str] = self._read()
        self._locks: dict[str, asyncio.Lock] = {}
        # Two stills remembered at once: the later snapshot of the ids must land last.
        self._writing = asyncio.Lock()

    async def send(
        self,
        bot: Bot,
        chat_id: int,
        avatar: Avatar,
        caption: str,
        markup: InlineKeyboardMarkup,
        reply_to: int | None,
    ) -> Message | None:
        """Send ``avatar``'s still as a photo with ``caption`` (plain text) and ``markup``;
        None when it has no still or the still could not be had (the caller then shows the
        name alone). Telegram errors other than a stale file id are raised."""
        url = still_of(avatar)
        if url is None:
            return None
        key = _key(url)
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        # One download per still, however many users tap it at once.
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            known = self._ids.get(key)
            if known is not None:
                try:
                    return await bot.send_photo(
                        chat_id,
                        known,
                        caption=caption,
                        reply_markup=markup,
                        reply_parameters=reply,
                    )
                except BadRequest as exc:  # a file id of another bot token, say
                    log.info("Uploading %s's still again: %s", avatar.avatar_id, exc)
                    self._ids.pop(key, None)
            path = await self._download(url, key)
            if path is None:
                return None
            try:
                with path.open("rb") as photo:
                    sent = await bot.send_photo(
                        chat_id,
                        photo,
                        caption=caption,
                        reply_markup=markup,
                        reply_parameters=reply,
                    )
            finally:
                path.unlink(missing_ok=True)
            if sent.photo:
                await self._remember(key, sent.photo[-1].file_id)
            return sent

    async def _download(self, url: str, key: str) -> Path | None:
        dest = self._folder / "stills" / f"{key}-{secrets.token_hex(4)}"
        try:
            async with asyncio.timeout(DOWNLOAD_SECONDS):
                await download_output(
                    self._http, url, dest, allow_private=self._allow_private, limit=MAX_BYTES
                )
            head = await asyncio.to_thread(_head, dest)
        except (UnsafeURL, OutputFetchError, TimeoutError, OSError) as exc:
            log.warning("Could not download an avatar still: %s", exc)
            dest.unlink(missing_ok=True)
            return None
        if not (head.startswith(_IMAGES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")):
            log.warning("An avatar still is not a JPEG, PNG or WebP image; not shown")
            dest.unlink(missing_ok=True)
            return None
        return dest

    async def _remember(self, key: str, file_id: str) -> None:
        if len(self._ids) >= MAX_KEPT:
            self._ids.pop(next(iter(self._ids)))  # the oldest: it is uploaded again if needed
        self._ids[key] = file_id
        try:
            async with self._writing:
                await asyncio.to_thread(self._write, dict(self._ids))
        except OSError as exc:  # kept in memory; only after a restart is it uploaded again
            log.warning("Could not keep avatar stills' file ids: %s", exc)

    @property
    def _path(self) -> Path:
        return self._folder / "previews.json"

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self._path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as exc:
            log.warning("Ignoring %s: %s", self._path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}

    def _write(self, ids: dict[str, str]) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        part = self._path.with_name(f"previews.json.{secrets.token_hex(4)}.part")
        try:
            with part.open("w", encoding="utf-8") as out:
                json.dump(ids, out)
                out.flush()
                os.fsync(out.fileno())
            part.replace(self._path)
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)
            raise


def _key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(16)
