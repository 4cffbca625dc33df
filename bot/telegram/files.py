"""Moving big files to and from Telegram without holding them in memory.

PTB's own helpers read a whole upload into memory (``InputFile`` reads the file object), which
for a 50 MB video costs 50+ MB of RSS per delivery. Here both directions stream through the
shared httpx client in chunks. The URLs contain the bot token: nothing here logs them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
from pathlib import Path
from typing import Any

import httpx
from telegram import Bot, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

from bot.errors import ChatUnreachable, DeliveryError, DownloadFailed, FileTooBig
from bot.media.streaming import BodyTooLarge, save_body
from bot.telegram.ratelimit import pacer_of

log = logging.getLogger(__name__)

#: Uploads retried this many times after a 429 or a failure to connect.
UPLOAD_ATTEMPTS = 4
#: Errors raised before any byte of the request left: the upload surely did not happen.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Connect, send the file, then wait for Telegram's answer (it has the whole video to read).
UPLOAD_TIMEOUT = httpx.Timeout(30.0, write=300.0, read=120.0)


class UploadUnconfirmed(DeliveryError):
    """The upload may have reached Telegram but no answer came back (a read or write timeout,
    a dropped connection): sending it again could post the video twice."""


async def download(
    bot: Bot, http: httpx.AsyncClient, file_id: str, dest: Path, *, limit: int
) -> Path:
    """Fetch a user's file to ``dest``.

    Raises:
        FileTooBig: Telegram refuses to hand it over (over 20 MB on the cloud API) or it is
            larger than ``limit``.
        DownloadFailed: Telegram or the network failed.
    """
    try:
        tg_file = await bot.get_file(file_id)
    except BadRequest as exc:
        if "too big" in exc.message.lower():
            raise FileTooBig(limit_mb=limit // 1_000_000) from None
        raise DownloadFailed(str(exc)) from None
    if not tg_file.file_path:
        raise DownloadFailed("getFile returned no file_path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own: two users may send the same file (same file_unique_id) at once.
    partial = dest.with_name(f"{dest.name}.{secrets.token_hex(6)}.part")
    source = Path(tg_file.file_path)
    if bot.local_mode and source.is_absolute():
        # A local Bot API server hands out a path on a shared disk instead of a URL.
        try:
            await asyncio.to_thread(shutil.copyfile, source, partial)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise DownloadFailed(type(exc).__name__) from None
    else:
        await _stream_to(http, tg_file.file_path, partial, limit=limit)
    move_into_place(partial, dest)
    return dest


def move_into_place(partial: Path, dest: Path) -> None:
    """Rename a finished file (a download, spoken text) to ``dest``; a copy that got there
    first is kept (it is the same file, and it may already be in use)."""
    if dest.exists():
        partial.unlink(missing_ok=True)
    else:
        partial.replace(dest)


async def _stream_to(http: httpx.AsyncClient, url: str, out: Path, *, limit: int) -> None:
    try:
        async with http.stream("GET", url) as response:
            if response.status_code != httpx.codes.OK:
                raise DownloadFailed(f"file download answered {response.status_code}")
            await save_body(response, out, limit=limit)
    except BaseException as exc:
        out.unlink(missing_ok=True)
        if isinstance(exc, BodyTooLarge):
            raise FileTooBig(limit_mb=limit // 1_000_000) from None
        if isinstance(exc, httpx.HTTPError):
            # str() of an httpx error can contain the URL, and so the token.
            raise DownloadFailed(type(exc).__name__) from None
        raise


async def send_video(
    bot: Bot,
    http: httpx.AsyncClient,
    *,
    chat_id: int,
    path: Path,
    duration: int,
    width: int,
    height: int,
    caption: str,
    reply_markup: InlineKeyboardMarkup | None = None,
    reply_to: int | None = None,
) -> Message:
    """Upload ``path`` as a streamable video and return the sent message.

    Only what surely did not reach Telegram is retried: a failure to connect, and a 429 (after
    its ``retry_after``).

    Raises:
        ChatUnreachable: the user blocked the bot or the chat is gone.
        UploadUnconfirmed: the video may have been posted; Telegram's answer never came, or
            was a 5xx, or a 2xx that is not the API's JSON.
        DeliveryError: Telegram refused the upload for another reason, or could not be
            reached at all.
    """
    if bot.local_mode:
        return await _send_local(
            bot,
            chat_id=chat_id,
            path=path,
            duration=duration,
            width=width,
            height=height,
            caption=caption,
            reply_markup=reply_markup,
            reply_to=reply_to,
        )
    fields: dict[str, Any] = {
        "chat_id": chat_id,
        "duration": duration,
        "width": width,
        "height": height,
        "caption": caption,
        "supports_streaming": "true",
    }
    if reply_markup is not None:
        fields["reply_markup"] = json.dumps(reply_markup.to_dict())
    if reply_to is not None:
        fields["reply_parameters"] = json.dumps(
            {"message_id": reply_to, "allow_sending_without_reply": True}
        )
    url = f"{bot.base_url}/sendVideo"
    # This upload bypasses PTB's request layer, so it takes its chat's turn from the same
    # pacer, and a 429 here holds back that chat's other messages too (and no other chat).
    pacer = pacer_of(bot)
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        await pacer.wait_turn(chat_id)
        try:
            with path.open("rb") as handle:
                response = await http.post(
                    url,
                    data={key: str(value) for key, value in fields.items()},
                    files={"video": (path.name, handle, "video/mp4")},
                    timeout=UPLOAD_TIMEOUT,
                )
        except _NOT_SENT as exc:
            if attempt == UPLOAD_ATTEMPTS:
                raise DeliveryError(f"Telegram unreachable ({type(exc).__name__})") from None
            await asyncio.sleep(2**attempt)
            continue
        except httpx.HTTPError as exc:
            raise UploadUnconfirmed(type(exc).__name__) from None
        body = _json(response)
        if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR or (
            body is None and response.is_success
        ):
            # A proxy's 502 can come after Telegram posted the video, and a 2xx page that is
            # not the API's JSON says nothing about it either: not known to have failed.
            raise UploadUnconfirmed(f"HTTP {response.status_code}")
        if body is None:
            # A proxy's 4xx page (a 413 for a body too large): refused before Telegram, and
            # it would be refused again on every [Get my video].
            raise DeliveryError(f"HTTP {response.status_code}")
        if body.get("ok"):
            message = Message.de_json(body["result"], bot)
            assert message is not None
            return message
        description = str(body.get("description", response.status_code))
        retry_after = (body.get("parameters") or {}).get("retry_after")
        if retry_after is not None and attempt < UPLOAD_ATTEMPTS:
            log.info(
                "Telegram asked to wait %ss before uploading to chat %s", retry_after, chat_id
            )
            pacer.hold(chat_id, float(retry_after))  # the next wait_turn waits it out
            continue
        if response.status_code == httpx.codes.FORBIDDEN or "chat not found" in description:
            raise ChatUnreachable(description)
        raise DeliveryError(description)
    raise DeliveryError("upload retries exhausted")


async def _send_local(
    bot: Bot,
    *,
    chat_id: int,
    path: Path,
    duration: int,
    width: int,
    height: int,
    caption: str,
    reply_markup: InlineKeyboardMarkup | None,
    reply_to: int | None,
) -> Message:
    """A local Bot API server reads the file from disk itself; PTB sends a file:// URI."""
    try:
        return await bot.send_video(
            chat_id,
            video=path,
            duration=duration,
            width=width,
            height=height,
            caption=caption,
            supports_streaming=True,
            reply_markup=reply_markup,
            reply_parameters=(
                ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to is not None
                else None
            ),
        )
    except Forbidden as exc:
        raise ChatUnreachable(exc.message) from None
    except BadRequest as exc:
        if "chat not found" in exc.message.lower():
            raise ChatUnreachable(exc.message) from None
        raise DeliveryError(exc.message) from None
    except NetworkError as exc:  # TimedOut included: PTB cannot tell whether it was sent
        raise UploadUnconfirmed(type(exc).__name__) from None
    except TelegramError as exc:
        raise DeliveryError(exc.message) from None


def _json(response: httpx.Response) -> dict[str, Any] | None:
    """The Bot API's answer object, or None when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
