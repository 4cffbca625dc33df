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

What may wait on what: a still's first download and upload are done once, under a lock per
still, so users who tap it meanwhile wait for its file id rather than fetch it again; a
still whose file id is known is sent with no lock (one chat's flood wait must not hold up the
others). Downloads of stills have their own two slots (STILLS), apart from the result
downloads users wait for, and a user has one still loading at a time (``one_at_a_time``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
from telegram import Bot, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.error import BadRequest

from bot.avatars.lists import read_json, write_json
from bot.errors import UnsafeURL
from bot.media.limits import WorkLimit
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
#: Stills downloaded at once, process-wide: a preview is a nicety, the result downloads
#: (limits.DOWNLOADS) are what users wait for, and neither must hold up the other.
STILLS = WorkLimit(2)
#: How long a still Telegram refused is shown by name alone before it is tried again.
REFUSED_SECONDS = 3600.0
_IMAGES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")

#: A still to send: Telegram's file id for it, or its bytes to upload.
Photo = str | IO[bytes]
#: Sends a still to the chat at hand, with its caption and buttons.
Sender = Callable[[Photo], Awaitable[Message]]


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
        #: Stills Telegram refused to take (an odd size, say), and when: shown by name alone
        #: for a while instead of being downloaded and refused again at every tap.
        self._refused: dict[str, float] = {}
        self._loading: set[int] = set()
        # The file ids are written to disk in the background, one write at a time: a user's
        # turn ends when the still is in their chat, not when a disk has caught up.
        self._saving: asyncio.Task[None] | None = None
        self._unsaved = False

    @contextmanager
    def one_at_a_time(self, user_id: int) -> Iterator[bool]:
        """Whether ``user_id`` may have a still loaded now (False while another of theirs is
        loading: rapid taps would otherwise queue a download each); held for the block."""
        if user_id in self._loading:
            yield False
            return
        self._loading.add(user_id)
        try:
            yield True
        finally:
            self._loading.discard(user_id)

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
        if time.monotonic() - self._refused.get(key, -math.inf) < REFUSED_SECONDS:
            return None
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None

        async def send_photo(photo: Photo) -> Message:
            return await bot.send_photo(
                chat_id, photo, caption=caption, reply_markup=markup, reply_parameters=reply
            )

        sent = await self._by_id(key, avatar, send_photo)
        if sent is not None:
            return sent
        # One download and upload per still, however many users tap it at once.
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._ids:
                return await self._upload(url, key, send_photo)
        # Uploaded by someone else while this waited: by its file id, outside the lock.
        return await self._by_id(key, avatar, send_photo)

    async def _by_id(self, key: str, avatar: Avatar, send_photo: Sender) -> Message | None:
        """The still sent by its file id; None when none is known or Telegram refuses it."""
        known = self._ids.get(key)
        if known is None:
            return None
        try:
            return await send_photo(known)
        except BadRequest as exc:  # a file id of another bot token, say
            log.info("Uploading %s's still again: %s", avatar.avatar_id, exc)
            if self._ids.get(key) == known:  # not one uploaded meanwhile
                del self._ids[key]
            return None

    async def _upload(self, url: str, key: str, send_photo: Sender) -> Message | None:
        path = await self._download(url, key)
        if path is None:
            return None
        try:
            with path.open("rb") as photo:
                sent = await send_photo(photo)
        except BadRequest as exc:  # Telegram will not take this picture: the name will do
            log.warning("Telegram refused an avatar still: %s", exc)
            self._refused[key] = time.monotonic()
            return None
        finally:
            path.unlink(missing_ok=True)
        if sent.photo:
            self._remember(key, sent.photo[-1].file_id)
        return sent

    async def _download(self, url: str, key: str) -> Path | None:
        dest = self._folder / "stills" / f"{key}-{secrets.token_hex(4)}"
        try:
            async with asyncio.timeout(DOWNLOAD_SECONDS):
                await download_output(
                    self._http,
                    url,
                    dest,
                    allow_private=self._allow_private,
                    limit=MAX_BYTES,
                    slots=STILLS,
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

    async def close(self) -> None:
        """Finish writing the file ids (the last ones would be uploaded again otherwise)."""
        if self._saving is not None:
            await self._saving

    def _remember(self, key: str, file_id: str) -> None:
        if len(self._ids) >= MAX_KEPT:
            self._ids.pop(next(iter(self._ids)))  # the oldest: it is uploaded again if needed
        self._ids[key] = file_id
        self._unsaved = True
        if self._saving is None or self._saving.done():
            self._saving = asyncio.create_task(self._save(), name="avatar-stills-save")

    async def _save(self) -> None:
        """Write the file ids until none is left unsaved (ids remembered during a write go
        into the next one, so the last write holds every id)."""
        while self._unsaved:
            self._unsaved = False
            try:
                await asyncio.to_thread(write_json, self._path, dict(self._ids))
            except OSError as exc:  # kept in memory; only after a restart is it uploaded again
                log.warning("Could not keep avatar stills' file ids: %s", exc)
                return

    @property
    def _path(self) -> Path:
        return self._folder / "previews.json"

    def _read(self) -> dict[str, str]:
        data = read_json(self._path)
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(16)
