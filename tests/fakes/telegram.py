"""A fake Telegram Bot API server that behaves like the real one, errors and limits included.

Why it exists: the bot talks to Telegram only through python-telegram-bot (PTB), and PTB maps
HTTP statuses and ``parameters`` to exceptions (``RetryAfter``, ``Forbidden``, ``BadRequest``...).
Mocking PTB objects would test our assumptions instead of the wire protocol, so this module serves
the real wire format (form/multipart/JSON in, ``{"ok": ...}`` envelopes out) on 127.0.0.1 and
enforces the documented cloud limits: 20 MB getFile, 50 MB multipart upload, 4096-char messages,
1024-char captions, 64-byte callback data, "message is not modified", getUpdates vs webhook
conflicts and group privacy mode. See /work/shared/telegram.md sections 1.9, 1.10, 2.3-2.5 and 3.

Tests play the Telegram *user* with the builders (``send_text``, ``send_photo``, ``press`` ...),
which push updates exactly as Telegram would: queued for getUpdates, or POSTed to the webhook.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import html
import itertools
import json
import math
import mimetypes
import re
import shutil
import signal
import socket
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any, NoReturn

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

Json = dict[str, Any]
CHUNK = 64 * 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
# PTB sends every form value as a string; these are the ones it JSON-encodes or that are numbers.
# Decoding by name (not by "looks like JSON") keeps a user text such as "[1, 2]" a string.
JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "media",
    }
)
INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "duration",
        "width",
        "height",
        "user_id",
        "reply_to_message_id",
        "message_thread_id",
        "max_connections",
        "cache_time",
        "length",
        "from_chat_id",
    }
)
BOOL_PARAMS = frozenset(
    {
        "drop_pending_updates",
        "show_alert",
        "supports_streaming",
        "disable_notification",
        "protect_content",
        "has_spoiler",
        "allow_sending_without_reply",
        "disable_content_type_detection",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Parameters worth showing when a wait_for times out.
SUMMARY_KEYS = (
    "chat_id",
    "message_id",
    "text",
    "caption",
    "callback_query_id",
    "file_id",
    "offset",
)
# Telegram's default allowed_updates leaves these out (telegram.md section 3).
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class ApiError(Exception):
    """An error answer of the Bot API; the HTTP status equals ``code`` as on the real server."""

    def __init__(
        self,
        code: int,
        description: str,
        parameters: Json | None = None,
        *,
        page: str | None = None,
    ) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters or {}
        self.page = page  # a non-JSON body (a proxy's error page) instead of the API's JSON

    def response(self) -> Response:
        if self.page is not None:
            return Response(self.page, status_code=self.code, media_type="text/html")
        body: Json = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:  # PTB appends "unknown parameters" to the message if present at all
            body["parameters"] = self.parameters
        return JSONResponse(body, status_code=self.code)


@dataclass
class User:
    """A Telegram user played by a test; a private chat with them has ``id == user.id``."""

    id: int
    first_name: str = "Ann"
    language_code: str | None = "en"
    username: str | None = None

    def as_dict(self) -> Json:
        data: Json = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass
class StoredFile:
    """A file Telegram knows. ``content`` None and ``disk_path`` None means zero bytes are served
    (declared-size files for the 20 MB tests and download benchmarks without holding the bytes)."""

    file_id: str
    file_unique_id: str
    file_path: str
    size: int
    content: bytes | None = None
    disk_path: Path | None = None
    media: Json | None = None  # object returned when the file_id is re-sent
    file_name: str | None = None  # as uploaded by the bot

    def as_file(self) -> Json:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


@dataclass
class UploadedFile:
    """One multipart file part; ``path`` is None when it was refused (over ``upload_limit``)."""

    field: str
    filename: str | None
    content_type: str | None
    size: int
    path: Path | None


@dataclass
class Upload:
    """A media file the bot sent us as bytes (multipart) or by URL, kept on disk for asserts."""

    method: str
    chat_id: int
    path: Path
    filename: str | None
    content_type: str | None
    params: Json
    size: int
    file_id: str


@dataclass
class Call:
    """One Bot API request. ``status`` stays None while the request is in flight."""

    method: str
    params: Json
    files: dict[str, UploadedFile]
    at: float
    status: int | None = None
    result: Any = None
    error: str | None = None

    def summary(self) -> str:
        shown = {k: v for k, v in self.params.items() if k in SUMMARY_KEYS}
        outcome = (self.error or "ok") if self.status is not None else "pending"
        return f"{self.method} {shown} {sorted(self.files)} -> {self.status} {outcome}"


@dataclass
class _Failure:
    error: ApiError
    times: int
    chat_id: int | None = None  # None: any chat


class _Pulse:
    """Wakes every current waiter; waiters register synchronously before awaiting, so a check
    followed by ``wait`` never misses a ``fire`` (no busy loops, usable from sync builders)."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def fire(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, seconds: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, max(seconds, 0))


def _utf16_len(text: str) -> int:
    """Telegram counts lengths and entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class _TelegramHtml(HTMLParser):
    """Turns parse_mode=HTML text into (plain text, entities) and refuses what Telegram refuses,
    so a bot that forgets to escape user input (``<``) fails here just like in production."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source, self.length = source, 0
        self.parts: list[str] = []
        self.entities: list[Json] = []
        self.open: list[tuple[str, int, dict[str, str | None]]] = []

    def byte_offset(self, extra: str = "") -> int:
        line, col = self.getpos()
        chars = sum(len(x) + 1 for x in self.source.split("\n")[: line - 1]) + col
        return len(self.source[:chars].encode()) + len(extra.encode())

    def fail(self, detail: str) -> NoReturn:
        raise ApiError(400, f"Bad Request: can't parse entities: {detail}")

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += _utf16_len(text)

    def handle_data(self, data: str) -> None:
        if "<" in data:
            offset = self.byte_offset(data[: data.index("<")])
            self.fail(f'Unsupported start tag "" at byte offset {offset}')
        self.add(data)

    def handle_entityref(self, name: str) -> None:
        self.add(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.add(html.unescape(f"&#{name};"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in HTML_TAGS or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            self.fail(f'Unsupported start tag "{tag}" at byte offset {self.byte_offset()}')
        self.open.append((tag, self.length, attributes))

    def handle_endtag(self, tag: str) -> None:
        if not self.open:
            self.fail(f"Unexpected end tag at byte offset {self.byte_offset()}")
        name, start, attributes = self.open.pop()
        if name != tag:
            self.fail(
                f'Unmatched end tag at byte offset {self.byte_offset()}, expected "</{name}>", '
                f'found "</{tag}>"'
            )
        if self.length > start:
            entity: Json = {"type": HTML_TAGS[tag], "offset": start, "length": self.length - start}
            if tag == "a":
                entity["url"] = attributes.get("href") or ""
            if tag == "tg-emoji":
                entity["custom_emoji_id"] = attributes.get("emoji-id") or ""
            self.entities.append(entity)

    def parse(self) -> tuple[str, list[Json]]:
        self.feed(self.source)
        self.close()
        if self.open:
            self.fail(f'Can\'t find end tag corresponding to start tag "{self.open[-1][0]}"')
        return "".join(self.parts), sorted(self.entities, key=lambda e: e["offset"])


def _format(text: str, parse_mode: Any, entities: Any) -> tuple[str, list[Json]]:
    """Applies parse_mode like Telegram does for HTML; Markdown is kept verbatim (unchecked)."""
    if isinstance(parse_mode, str) and parse_mode.lower() == "html":
        return _TelegramHtml(text).parse()
    return text, list(entities or [])


def _visible_markup(markup: Any) -> Json | None:
    """Telegram echoes only inline keyboards in Message objects, and drops empty ones."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    for row in rows or []:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return {"inline_keyboard": rows} if rows else None


def _coerce(raw: Json) -> Json:
    """Decodes PTB's all-strings form values back into JSON types, by parameter name."""
    params: Json = {}
    for key, value in raw.items():
        if isinstance(value, str) and key in JSON_PARAMS:
            try:
                value = json.loads(value)
            except ValueError:
                what = "reply keyboard markup" if key == "reply_markup" else key
                raise ApiError(400, f"Bad Request: can't parse {what} JSON object") from None
        elif isinstance(value, str) and key in INT_PARAMS:
            with contextlib.suppress(ValueError):
                value = int(value)
        elif isinstance(value, str) and key in BOOL_PARAMS:
            value = value.lower() == "true"
        params[key] = value
    return params


def _copy_to_disk(source: IO[bytes], dest: Path) -> None:
    """Copies in 1 MiB chunks so a 50 MB upload never sits in memory (runs in a thread)."""
    source.seek(0)
    with dest.open("wb") as out:
        shutil.copyfileobj(source, out, 16 * CHUNK)


class FakeTelegram:
    """All state of the fake Bot API; ``app`` is the ASGI app to serve (see ``running``)."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        bot_id: int = 999000,
        first_name: str = "Lipsync",
        username: str = "lipsync_test_bot",
    ) -> None:
        self.token = token
        self.bot_user: Json = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
        }
        # Limits (cloud Bot API defaults); tests may lower them to stay fast.
        self.download_limit = 20_000_000
        self.upload_limit = 50 * 1024 * 1024
        self.url_download_limit = 20_000_000
        self.download_rate: int | None = None  # bytes/s for /file/ downloads; None = unthrottled
        self.max_poll_timeout = 2.0  # caps getUpdates long polls so shutdown stays fast
        self.chat_flood_limit: tuple[int, float] | None = None  # (messages, seconds) per chat
        self.privacy_mode = True  # group messages not meant for the bot are withheld
        self.strict_chats = True  # sending to a chat nobody opened fails as on Telegram
        # Seconds to hold back a method's answer after carrying it out: the reply is lost to
        # the client's read timeout although the message was sent.
        self.answer_delay: dict[str, float] = {}
        # State.
        self.calls: list[Call] = []
        self.uploads: list[Upload] = []
        self.downloads: list[str] = []
        self.files: dict[str, StoredFile] = {}
        self.messages: dict[tuple[int, int], Json] = {}
        self.chats: dict[int, Json] = {}
        self.users: dict[int, User] = {}
        self.members: dict[int, set[int]] = {}
        self.blocked_chats: set[int] = set()
        self.chat_admins: dict[int, set[int]] = {}
        self.chat_owners: dict[int, int] = {}
        self.migrated: dict[int, int] = {}  # group id -> its supergroup's id (see migrate)
        self.commands: dict[tuple[str, str], list[Json]] = {}
        self.callback_answers: dict[str, Json] = {}
        self.withheld: list[Json] = []  # updates privacy mode kept from the bot
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_responses: list[int] = []  # HTTP status per delivery; 0 = connection failed
        self.allowed_updates: list[str] = []
        self.upload_dir = Path(tempfile.mkdtemp(prefix="fake-telegram-"))
        self._pending: deque[Json] = deque()
        self._failures: dict[str, deque[_Failure]] = {}
        self._open_queries: set[str] = set()
        self._flood: dict[int, deque[float]] = {}
        self._webhook_info: Json = {}
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self._webhook_lock: asyncio.Lock | None = None
        self._client: httpx.AsyncClient | None = None
        self._update_pulse, self._call_pulse = _Pulse(), _Pulse()
        self._poll_generation = 0
        self._stopping = False
        self._ids = {"update": itertools.count(900000001), "message": itertools.count(1000)}
        self._ids |= {"file": itertools.count(1), "query": itertools.count(1)}
        self._by_path: dict[str, StoredFile] = {}
        handlers: dict[str, Callable[[Call], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
        }
        for method, (fld, kind, ext, mime) in {
            "sendVideo": ("video", "videos", "mp4", "video/mp4"),
            "sendDocument": ("document", "documents", "bin", "application/octet-stream"),
            "sendAudio": ("audio", "music", "mp3", "audio/mpeg"),
            "sendVoice": ("voice", "voice", "oga", "audio/ogg"),
            "sendPhoto": ("photo", "photos", "jpg", "image/jpeg"),
        }.items():
            handlers[method] = self._media_sender(method, fld, kind, ext, mime)
        self._methods = {name.lower(): (name, fn) for name, fn in handlers.items()}
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
                Route("/__control/{action}", self._control, methods=["GET", "POST"]),
            ]
        )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Removes the upload directory (everything the bot uploaded)."""
        shutil.rmtree(self.upload_dir, ignore_errors=True)

    async def aclose(self) -> None:
        """Finishes webhook deliveries, closes the HTTP client, then ``close()``."""
        await self.drain_webhooks()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self.close()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10.0)
        return self._client

    # ------------------------------------------------------------------ HTTP layer

    async def _api(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        name = request.path_params["method"]
        method, handler = self._methods.get(name.lower(), (name, None))
        call = Call(method=method, params={}, files={}, at=time.monotonic())
        self.calls.append(call)
        self._call_pulse.fire()
        try:
            call.params = await self._read_params(request, call)
            call.params = _coerce(call.params)
            if any(f.path is None for f in call.files.values()):
                raise ApiError(413, "Request Entity Too Large")
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            try:
                self._injected_failure(method, call.params.get("chat_id"))
            except ApiError as exc:
                if exc.page is not None:  # the API did the work; the proxy lost its answer
                    call.result = await handler(call)
                raise
            call.result = await handler(call)
            await self._hold_answer(method)
            call.status = 200
            response: Response = JSONResponse({"ok": True, "result": call.result})
        except ApiError as exc:
            call.status, call.error = exc.code, exc.description
            response = exc.response()
        self._call_pulse.fire()
        return response

    async def _hold_answer(self, method: str) -> None:
        """Waits ``answer_delay[method]`` seconds, or until the server stops."""
        deadline = time.monotonic() + self.answer_delay.get(method, 0.0)
        while not self._stopping and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def _read_params(self, request: Request, call: Call) -> Json:
        raw: Json = dict(request.query_params)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            body = await request.body()
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON") from None
            raw.update(data if isinstance(data, dict) else {})
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            async with request.form() as form:
                for key, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        call.files[key] = await self._save_part(key, value)
                    else:
                        raw[key] = value
        return raw

    async def _save_part(self, key: str, part: UploadFile) -> UploadedFile:
        """Spools an uploaded part to ``upload_dir`` unless it exceeds ``upload_limit``."""
        size = part.size or 0
        saved = UploadedFile(key, part.filename, part.content_type, size, None)
        if size <= self.upload_limit:
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(part.filename or key).name)
            saved.path = self.upload_dir / f"{next(self._ids['file'])}_{safe}"
            await asyncio.to_thread(_copy_to_disk, part.file, saved.path)
        return saved

    def _injected_failure(self, method: str, chat_id: Any) -> None:
        queue = self._failures.get(method.lower(), deque())
        for failure in queue:
            if failure.chat_id is None or failure.chat_id == chat_id:
                failure.times -= 1
                if failure.times <= 0:
                    queue.remove(failure)
                raise failure.error

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        stored = self._by_path.get(request.path_params["path"])
        if stored is None:
            return ApiError(404, "Not Found").response()
        self.downloads.append(stored.file_path)
        return StreamingResponse(
            self._stream(stored),
            media_type="application/octet-stream",
            headers={"Content-Length": str(stored.size)},
        )

    async def _stream(self, stored: StoredFile) -> AsyncIterator[bytes]:
        """Yields the file in chunks, pacing them to ``download_rate`` without blocking the loop
        (so one slow 15 MB download cannot delay other requests to the fake)."""
        rate, started, sent = self.download_rate, time.monotonic(), 0
        handle = await asyncio.to_thread(stored.disk_path.open, "rb") if stored.disk_path else None
        try:
            while sent < stored.size:
                n = min(CHUNK, stored.size - sent)
                if handle is not None:
                    chunk = await asyncio.to_thread(handle.read, n)
                elif stored.content is not None and sent < len(stored.content):
                    chunk = stored.content[sent : sent + n]
                else:  # declared size beyond the real bytes: pad with zeros
                    chunk = bytes(n)
                if not chunk:
                    break
                sent += len(chunk)
                if rate:  # a chunk is released when a link of that rate would have carried it
                    await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
                yield chunk
        finally:
            if handle is not None:
                handle.close()

    async def _control(self, request: Request) -> Response:
        """Tiny control API for the standalone server (benchmarks in another process)."""
        action = request.path_params["action"]
        body: Json = await request.json() if request.method == "POST" else {}
        if action == "update":
            return JSONResponse(self.push_update(body))
        if action == "file":
            stored = self.add_file_of_size(
                int(body["size"]), kind=body.get("kind", "videos"), ext=body.get("ext", "mp4")
            )
            return JSONResponse(asdict(stored) | {"content": None, "disk_path": None})
        if action == "calls":
            return JSONResponse([c.summary() for c in self.calls])
        return ApiError(404, "Not Found").response()

    # ------------------------------------------------------------------ error injection

    def fail(
        self,
        method: str,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
        migrate_to_chat_id: int | None = None,
        chat_id: int | None = None,
        page: str | None = None,
    ) -> None:
        """Makes the next ``times`` calls of ``method`` (to ``chat_id`` only, if given) fail;
        they are still recorded. ``page``: answer this HTML instead of the API's JSON (a
        proxy in front of the API), after doing the call's work as the API would."""
        parameters: Json = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        error = ApiError(error_code, description, parameters, page=page)
        failure = _Failure(error, times, chat_id)
        self._failures.setdefault(method.lower(), deque()).append(failure)

    # ------------------------------------------------------------------ chats, users, files

    def chat_for(self, user: User) -> Json:
        """The private chat with ``user``; registering it means the user has started the bot."""
        self.users[user.id] = user
        chat: Json = {"id": user.id, "type": "private", "first_name": user.first_name}
        if user.username:
            chat["username"] = user.username
        self.chats[user.id] = chat
        return chat

    def group(self, id: int = -100123, title: str = "Lipsync fans") -> Json:
        """A supergroup the bot is a member of."""
        chat = self.chats.setdefault(id, {"id": id, "type": "supergroup", "title": title})
        self.members.setdefault(id, set())
        return chat

    def add_file(
        self,
        content: bytes,
        *,
        kind: str,
        ext: str,
        size: int | None = None,
        media: Json | None = None,
    ) -> StoredFile:
        """Registers a file Telegram holds; ``size`` larger than ``content`` fakes big files."""
        n = next(self._ids["file"])
        stored = StoredFile(
            f"F{n}-{kind}",
            f"U{n}",
            f"{kind}/file_{n}.{ext}",
            len(content) if size is None else size,
            content,
            media=media,
        )
        self.files[stored.file_id] = self._by_path[stored.file_path] = stored
        return stored

    def add_file_of_size(self, size: int, kind: str = "videos", ext: str = "mp4") -> StoredFile:
        """Registers a file of a declared size without bytes (served as zeros if downloaded)."""
        stored = self.add_file(b"", kind=kind, ext=ext, size=size)
        stored.content = None
        return stored

    def _register_disk_file(self, path: Path, size: int, kind: str, ext: str) -> StoredFile:
        stored = self.add_file(b"", kind=kind, ext=ext, size=size)
        stored.content, stored.disk_path = None, path
        return stored

    def _user_dict(self, user_id: int) -> Json:
        if user_id == self.bot_user["id"]:
            return self.bot_user
        user = self.users.get(user_id)
        return user.as_dict() if user else {"id": user_id, "is_bot": False, "first_name": "User"}

    def _target_chat(self, params: Json, *, sending: bool = True) -> Json:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat_id]},
            )
        if sending and chat_id in self.blocked_chats:
            if chat_id > 0:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
        chat = self.chats.get(chat_id)
        if chat is None and not self.strict_chats:
            chat = self.chats[chat_id] = (
                {"id": chat_id, "type": "private", "first_name": "User"}
                if chat_id > 0
                else {"id": chat_id, "type": "supergroup", "title": "Group"}
            )
        if chat is None and chat_id > 0 and sending:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if sending and self.chat_flood_limit:
            self._check_flood(chat_id, *self.chat_flood_limit)
        return chat

    def _check_flood(self, chat_id: int, limit: int, window: float) -> None:
        now, recent = time.monotonic(), self._flood.setdefault(chat_id, deque())
        while recent and recent[0] <= now - window:
            recent.popleft()
        if len(recent) >= limit:
            wait = max(1, math.ceil(recent[0] + window - now))
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        recent.append(now)

    # ------------------------------------------------------------------ messages

    def _store(self, message: Json) -> None:
        self.messages[(message["chat"]["id"], message["message_id"])] = copy.deepcopy(message)

    def _find(self, params: Json, missing: str) -> Json:
        key = (params.get("chat_id"), params.get("message_id"))
        if key not in self.messages:
            raise ApiError(400, f"Bad Request: {missing}")
        return copy.deepcopy(self.messages[key])

    def _reply_target(self, chat: Json, params: Json) -> Json | None:
        reply = params.get("reply_parameters") or {}
        if params.get("reply_to_message_id"):
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply"),
            }
        if not isinstance(reply, dict) or not reply.get("message_id"):
            return None
        key = (int(reply.get("chat_id") or chat["id"]), int(reply["message_id"]))
        target = self.messages.get(key)
        if target is None and not reply.get("allow_sending_without_reply"):
            raise ApiError(400, "Bad Request: message to be replied not found")
        return _without_reply(target) if target else None

    def _bot_message(self, chat: Json, params: Json, content: Json) -> Json:
        markup = _visible_markup(params.get("reply_markup"))
        message: Json = {
            "message_id": next(self._ids["message"]),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        reply = self._reply_target(chat, params)
        if reply:
            message["reply_to_message"] = reply
        if markup:
            message["reply_markup"] = markup
        self._store(message)
        return message

    def _text(self, params: Json, key: str = "text") -> tuple[str, list[Json]]:
        text, entities = _format(
            str(params.get(key) or ""), params.get("parse_mode"), params.get("entities")
        )
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return text, entities

    def _caption(self, params: Json) -> Json:
        if not params.get("caption"):
            return {}
        text, entities = _format(
            str(params["caption"]), params.get("parse_mode"), params.get("caption_entities")
        )
        if _utf16_len(text) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        return {"caption": text, **({"caption_entities": entities} if entities else {})}

    # ------------------------------------------------------------------ Bot API methods

    async def _get_me(self, call: Call) -> Json:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "supports_inline_queries": False,
            "can_read_all_group_messages": not self.privacy_mode,
        }

    async def _get_updates(self, call: Call) -> list[Json]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        p = call.params
        if "allowed_updates" in p:
            self.allowed_updates = list(p["allowed_updates"] or [])
        offset = p.get("offset")
        if isinstance(offset, int) and offset > 0:
            while self._pending and self._pending[0]["update_id"] < offset:
                self._pending.popleft()
        elif isinstance(offset, int) and offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        deadline = time.monotonic() + min(float(p.get("timeout") or 0), self.max_poll_timeout)
        self._poll_generation += 1
        generation = self._poll_generation
        self._update_pulse.fire()  # an older long poll must now end with a 409, as on Telegram
        while True:
            for update in [u for u in self._pending if not self._allowed(u)]:
                self._pending.remove(update)  # Telegram never stores disallowed updates
            if self._pending or self._stopping:
                return list(itertools.islice(self._pending, limit))
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure "
                    "that only one bot instance is running",
                )
            if time.monotonic() >= deadline:
                return []
            await self._update_pulse.wait(deadline - time.monotonic())

    def _allowed(self, update: Json) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        return kind in self.allowed_updates if self.allowed_updates else kind not in NOT_BY_DEFAULT

    async def _set_webhook(self, call: Call) -> bool:
        p = call.params
        if not p.get("url"):
            return await self._delete_webhook(call)
        self.webhook_url, self.webhook_secret = str(p["url"]), p.get("secret_token")
        if "allowed_updates" in p:
            self.allowed_updates = list(p["allowed_updates"] or [])
        self._webhook_info = {"max_connections": p.get("max_connections", 40)}
        if p.get("drop_pending_updates"):
            self._pending.clear()
        while self._pending:  # queued updates now go to the webhook, in order
            self._schedule_webhook(self._pending.popleft())
        return True

    async def _delete_webhook(self, call: Call) -> bool:
        self.webhook_url, self.webhook_secret, self._webhook_info = "", None, {}
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, call: Call) -> Json:
        info: Json = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending) + len(self._webhook_tasks),
        }
        if self.webhook_url:
            info |= self._webhook_info
            if self.allowed_updates:
                info["allowed_updates"] = self.allowed_updates
        return info

    async def _send_message(self, call: Call) -> Json:
        chat = self._target_chat(call.params)
        text, entities = self._text(call.params)
        return self._bot_message(
            chat, call.params, {"text": text, **({"entities": entities} if entities else {})}
        )

    async def _edit(self, call: Call, text_too: bool) -> Json:
        """editMessageText/ReplyMarkup. Like Telegram, leaving out reply_markup removes the
        inline keyboard, and an edit that changes nothing is a 400."""
        p = call.params
        if "inline_message_id" in p:
            raise ApiError(400, "Bad Request: message to edit not found")
        self._target_chat(p)
        message = self._find(p, "message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        new = copy.deepcopy(message)
        if text_too:
            if "text" not in message:
                raise ApiError(400, "Bad Request: there is no text in the message to edit")
            new["text"], entities = self._text(p)
            new.pop("entities", None)
            new.update({"entities": entities} if entities else {})
        new.pop("reply_markup", None)
        markup = _visible_markup(p.get("reply_markup"))
        new.update({"reply_markup": markup} if markup else {})
        same = ("text", "entities", "caption", "reply_markup")
        if all(new.get(k) == message.get(k) for k in same):
            raise ApiError(400, NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        self._store(new)
        return new

    async def _edit_message_text(self, call: Call) -> Json:
        return await self._edit(call, text_too=True)

    async def _edit_message_reply_markup(self, call: Call) -> Json:
        return await self._edit(call, text_too=False)

    async def _delete_message(self, call: Call) -> bool:
        self._target_chat(call.params, sending=False)
        message = self._find(call.params, "message to delete not found")
        del self.messages[(message["chat"]["id"], message["message_id"])]
        return True

    async def _answer_callback(self, call: Call) -> bool:
        query_id = str(call.params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or "
                "query ID is invalid",
            )
        self._open_queries.discard(query_id)
        self.callback_answers[query_id] = call.params
        return True

    async def _send_chat_action(self, call: Call) -> bool:
        self._target_chat(call.params)
        if call.params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _get_file(self, call: Call) -> Json:
        stored = self.files.get(str(call.params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored.size > self.download_limit:
            raise ApiError(400, "Bad Request: file is too big")
        return stored.as_file()

    def _commands_key(self, params: Json) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_my_commands(self, call: Call) -> bool:
        commands = list(call.params.get("commands") or [])
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[self._commands_key(call.params)] = commands
        return True

    async def _get_my_commands(self, call: Call) -> list[Json]:
        return self.commands.get(self._commands_key(call.params), [])

    async def _delete_my_commands(self, call: Call) -> bool:
        self.commands.pop(self._commands_key(call.params), None)
        return True

    def _member(self, chat_id: int, user_id: int) -> Json:
        user = self._user_dict(user_id)
        if self.chat_owners.get(chat_id) == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in self.chat_admins.get(chat_id, set()):
            rights = (
                "can_manage_chat can_delete_messages can_manage_video_chats "
                "can_restrict_members can_change_info can_invite_users can_pin_messages"
            )
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_promote_members": False,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                **dict.fromkeys(rights.split(), True),
            }
        if chat_id == user_id or user_id in self.members.get(chat_id, set()):
            return {"status": "member", "user": user}
        if user_id == self.bot_user["id"]:
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    async def _get_chat_member(self, call: Call) -> Json:
        chat = self._target_chat(call.params, sending=False)
        user_id = call.params.get("user_id")
        if not isinstance(user_id, int):
            raise ApiError(400, "Bad Request: user not found")
        return self._member(chat["id"], user_id)

    async def _get_chat_administrators(self, call: Call) -> list[Json]:
        chat = self._target_chat(call.params, sending=False)
        if chat["type"] == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        ids = [self.chat_owners[chat["id"]]] if chat["id"] in self.chat_owners else []
        ids += sorted(self.chat_admins.get(chat["id"], set()) - set(ids))
        return [self._member(chat["id"], user_id) for user_id in ids]

    def _media_sender(
        self, method: str, fld: str, kind: str, ext: str, mime: str
    ) -> Callable[[Call], Awaitable[Json]]:
        async def send(call: Call) -> Json:
            p = call.params
            chat = self._target_chat(p)
            stored = await self._media_source(call, method, fld, kind, ext, mime, chat["id"])
            media = stored.media or {}
            if stored.media is None:  # first time Telegram sees these bytes
                media = _media_object(fld, stored, p, mime)
                stored.media = media
            content: Json = {fld: [media] if fld == "photo" else media, **self._caption(p)}
            return self._bot_message(chat, p, content)

        return send

    async def _media_source(
        self, call: Call, method: str, fld: str, kind: str, ext: str, mime: str, chat_id: int
    ) -> StoredFile:
        """Resolves a multipart part, an ``attach://`` reference, a file_id or an HTTP URL."""
        value = call.params.get(fld)
        part = call.files.get(fld)
        if isinstance(value, str) and value.startswith("attach://"):
            part = call.files.get(value.removeprefix("attach://"))
        if part is None and isinstance(value, str) and value.startswith(("http://", "https://")):
            return await self._fetch_url(value, method, kind, ext, chat_id, call.params)
        if part is None:
            if not value:
                raise ApiError(400, f"Bad Request: there is no {fld} in the request")
            existing = self.files.get(str(value))
            if existing is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return existing
        assert part.path is not None  # oversized parts were refused with 413 already
        suffix = Path(part.filename or "").suffix.lstrip(".") or ext
        stored = self._register_disk_file(part.path, part.size, kind, suffix)
        stored.file_name = part.filename
        self.uploads.append(
            Upload(
                method,
                chat_id,
                part.path,
                part.filename,
                part.content_type,
                call.params,
                part.size,
                stored.file_id,
            )
        )
        return stored

    async def _fetch_url(
        self, url: str, method: str, kind: str, ext: str, chat_id: int, params: Json
    ) -> StoredFile:
        """Telegram downloads URLs itself (20 MB for non-photos); so do we, streaming to disk."""
        limit = 5_000_000 if kind == "photos" else self.url_download_limit
        dest = self.upload_dir / f"{next(self._ids['file'])}_url"
        size = 0
        try:
            async with self._http().stream("GET", url) as response:
                if response.status_code != 200:
                    raise ApiError(400, "Bad Request: failed to get HTTP URL content")
                out = await asyncio.to_thread(dest.open, "wb")
                try:
                    async for chunk in response.aiter_bytes(CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise ApiError(400, "Bad Request: failed to get HTTP URL content")
                        await asyncio.to_thread(out.write, chunk)
                finally:
                    out.close()
        except httpx.HTTPError:
            raise ApiError(400, "Bad Request: failed to get HTTP URL content") from None
        name = url.rsplit("/", 1)[-1].split("?")[0] or None
        stored = self._register_disk_file(dest, size, kind, Path(name or "").suffix[1:] or ext)
        stored.file_name = name
        self.uploads.append(
            Upload(method, chat_id, dest, name, None, params, size, stored.file_id)
        )
        return stored

    # ------------------------------------------------------------------ update delivery

    def push_update(self, update: Json) -> Json:
        """Delivers a raw update: webhook POST if one is set (needs a running event loop, since
        the POST is scheduled as a task), else queued for getUpdates."""
        update.setdefault("update_id", next(self._ids["update"]))
        self._learn(update)
        if not self._allowed(update):
            return update
        if self.webhook_url:
            self._schedule_webhook(update)
        else:
            self._pending.append(update)
            self._update_pulse.fire()
        return update

    def _learn(self, update: Json) -> None:
        """Raw updates (control API, tests) open chats the same way builder updates do."""
        message = update.get("message") or update.get("edited_message") or {}
        chat, sender = message.get("chat") or {}, message.get("from") or {}
        if chat.get("id") is not None and chat["id"] not in self.chats:
            self.chats[chat["id"]] = chat
        if sender.get("id") and sender["id"] not in self.users and not sender.get("is_bot"):
            self.users[sender["id"]] = User(
                sender["id"],
                sender.get("first_name", "User"),
                sender.get("language_code"),
                sender.get("username"),
            )
        if chat.get("type") != "private" and sender.get("id") and chat.get("id") is not None:
            self.members.setdefault(chat["id"], set()).add(sender["id"])

    def _schedule_webhook(self, update: Json) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(update))
        self._webhook_tasks.add(task)
        task.add_done_callback(self._webhook_tasks.discard)

    async def _deliver(self, update: Json) -> None:
        if self._webhook_lock is None:
            self._webhook_lock = asyncio.Lock()
        async with self._webhook_lock:  # one at a time, in push order
            if not self.webhook_url:  # deleted meanwhile: the update waits for getUpdates
                self._pending.append(update)
                self._update_pulse.fire()
                return
            status = await self.post_webhook_raw(update, self.webhook_secret)
        self.webhook_responses.append(status)
        if not 200 <= status < 300:
            message = "Connection refused" if status == 0 else f"Wrong response: {status}"
            self._webhook_info |= {
                "last_error_date": int(time.time()),
                "last_error_message": message,
            }

    async def post_webhook_raw(self, update: Json, secret: str | None) -> int:
        """POSTs ``update`` to the webhook URL with ``secret`` (or none); returns the HTTP status
        (0 if the connection failed). Tests use it to forge a wrong secret."""
        if not self.webhook_url:
            raise AssertionError("no webhook is set (call setWebhook first)")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        try:
            response = await self._http().post(self.webhook_url, json=update, headers=headers)
        except httpx.HTTPError:
            return 0
        return response.status_code

    async def drain_webhooks(self) -> None:
        """Waits until every scheduled webhook delivery has finished."""
        while self._webhook_tasks:
            await asyncio.gather(*list(self._webhook_tasks), return_exceptions=True)

    # ------------------------------------------------------------------ update builders

    def _chat_of(self, user: User, chat: Json | int | None) -> Json:
        if chat is None:
            return self.chat_for(user)
        if isinstance(chat, int):
            return self.chats[chat]
        return self.chats.setdefault(chat["id"], chat)

    def _user_message(
        self, user: User, chat: Json | int | None, reply_to: Json | int | None, content: Json
    ) -> Json:
        """Stores and delivers a message from ``user``. Writing to the bot in private implies
        the user (re)started it, so that unblocks the chat, as Telegram's "Restart" does."""
        self.users[user.id] = user
        chat_dict = self._chat_of(user, chat)
        if chat_dict["type"] == "private":
            self.blocked_chats.discard(user.id)
        message: Json = {
            "message_id": next(self._ids["message"]),
            "date": int(time.time()),
            "from": user.as_dict(),
            "chat": chat_dict,
            **content,
        }
        if reply_to is not None:
            reply_id = reply_to if isinstance(reply_to, int) else reply_to["message_id"]
            message["reply_to_message"] = _without_reply(
                self.messages[(chat_dict["id"], reply_id)]
            )
        self._store(message)
        update: Json = {"update_id": next(self._ids["update"]), "message": message}
        if self._bot_sees(message):
            return self.push_update(update)
        self._learn(update)
        self.withheld.append(update)
        return update

    def _bot_sees(self, message: Json) -> bool:
        """Group privacy mode: only commands, mentions and replies to the bot get through."""
        chat = message["chat"]
        if chat["type"] == "private" or not self.privacy_mode:
            return True
        if self.bot_user["id"] in self.chat_admins.get(chat["id"], set()):
            return True
        replied_to = (message.get("reply_to_message") or {}).get("from") or {}
        if replied_to.get("id") == self.bot_user["id"]:
            return True
        text = str(message.get("text") or message.get("caption") or "")
        username = str(self.bot_user["username"]).lower()
        if text.startswith("/"):
            target = text.split()[0].partition("@")[2].lower()
            return target in ("", username)
        return f"@{username}" in text.lower()

    def _with_text(self, key: str, text: str) -> Json:
        content: Json = {key: text}
        if text.startswith("/"):  # Telegram marks a leading command with a bot_command entity
            command = text.split()[0]
            entity_key = "entities" if key == "text" else "caption_entities"
            content[entity_key] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        return content

    def send_text(
        self,
        user: User,
        text: str,
        chat: Json | int | None = None,
        reply_to: Json | int | None = None,
    ) -> Json:
        return self._user_message(user, chat, reply_to, self._with_text("text", text))

    def send_command(
        self,
        user: User,
        command: str,
        args: str = "",
        chat: Json | int | None = None,
        reply_to: Json | int | None = None,
    ) -> Json:
        """``/command args``; in groups sent as ``/command@bot``, which privacy mode lets in."""
        in_group = self._chat_of(user, chat)["type"] != "private"
        text = f"/{command.lstrip('/')}" + (f"@{self.bot_user['username']}" if in_group else "")
        return self.send_text(user, f"{text} {args}" if args else text, chat, reply_to)

    def send_as_chat(self, user: User, sender_chat: Json, text: str, chat: Json) -> Json:
        """``text`` in ``chat`` sent on behalf of ``sender_chat``: a channel the user posts
        as, or the group itself (an anonymous admin; ``from`` is then GroupAnonymousBot)."""
        content: Json = {**self._with_text("text", text), "sender_chat": sender_chat}
        return self._user_message(user, chat, None, content)

    def _media_message(
        self,
        user: User,
        chat: Json | int | None,
        reply_to: Json | int | None,
        key: str,
        media: Json | list[Json],
        caption: str | None,
    ) -> Json:
        content: Json = {key: media, **(self._with_text("caption", caption) if caption else {})}
        return self._user_message(user, chat, reply_to, content)

    def _media_file(
        self, content: bytes, kind: str, ext: str, file_size: int | None, **fields: Any
    ) -> Json:
        stored = self.add_file(content, kind=kind, ext=ext, size=file_size)
        media: Json = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            **{k: v for k, v in fields.items() if v is not None},
            "file_size": stored.size,
        }
        stored.media = media
        return media

    def send_photo(
        self,
        user: User,
        content: bytes,
        chat: Json | int | None = None,
        caption: str | None = None,
        reply_to: Json | int | None = None,
        width: int = 1080,
        height: int = 1080,
    ) -> Json:
        """Three PhotoSizes like Telegram; only the largest holds ``content`` (the thumbnails
        hold placeholder bytes, so a bot that downloads ``photo[0]`` gets caught)."""
        sizes = []
        for side in (90, 320):
            scale = min(1.0, side / max(width, height))
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            sizes.append(
                self._media_file(
                    f"thumbnail {w}x{h}".encode(), "photos", "jpg", None, width=w, height=h
                )
            )
        sizes.append(self._media_file(content, "photos", "jpg", None, width=width, height=height))
        return self._media_message(user, chat, reply_to, "photo", sizes, caption)

    def send_video(
        self,
        user: User,
        content: bytes,
        duration: int,
        width: int,
        height: int,
        chat: Json | int | None = None,
        caption: str | None = None,
        file_size: int | None = None,
        reply_to: Json | int | None = None,
        file_name: str | None = "video.mp4",
        mime_type: str = "video/mp4",
    ) -> Json:
        video = self._media_file(
            content,
            "videos",
            "mp4",
            file_size,
            width=width,
            height=height,
            duration=duration,
            file_name=file_name,
            mime_type=mime_type,
        )
        return self._media_message(user, chat, reply_to, "video", video, caption)

    def send_video_note(
        self,
        user: User,
        content: bytes,
        duration: int,
        length: int = 240,
        chat: Json | int | None = None,
        reply_to: Json | int | None = None,
        file_size: int | None = None,
    ) -> Json:
        note = self._media_file(
            content, "video_notes", "mp4", file_size, length=length, duration=duration
        )
        return self._media_message(user, chat, reply_to, "video_note", note, None)

    def send_voice(
        self,
        user: User,
        content: bytes,
        duration: int,
        chat: Json | int | None = None,
        reply_to: Json | int | None = None,
        file_size: int | None = None,
    ) -> Json:
        voice = self._media_file(
            content, "voice", "oga", file_size, duration=duration, mime_type="audio/ogg"
        )
        return self._media_message(user, chat, reply_to, "voice", voice, None)

    def send_audio(
        self,
        user: User,
        content: bytes,
        duration: int,
        file_name: str = "voice.mp3",
        mime_type: str = "audio/mpeg",
        chat: Json | int | None = None,
        caption: str | None = None,
        reply_to: Json | int | None = None,
        file_size: int | None = None,
    ) -> Json:
        ext = Path(file_name).suffix.lstrip(".") or "mp3"
        audio = self._media_file(
            content,
            "music",
            ext,
            file_size,
            duration=duration,
            file_name=file_name,
            mime_type=mime_type,
        )
        return self._media_message(user, chat, reply_to, "audio", audio, caption)

    def send_document(
        self,
        user: User,
        content: bytes,
        file_name: str,
        mime_type: str,
        chat: Json | int | None = None,
        caption: str | None = None,
        reply_to: Json | int | None = None,
        file_size: int | None = None,
    ) -> Json:
        ext = Path(file_name).suffix.lstrip(".") or "bin"
        document = self._media_file(
            content, "documents", ext, file_size, file_name=file_name, mime_type=mime_type
        )
        return self._media_message(user, chat, reply_to, "document", document, caption)

    def send_sticker(
        self, user: User, chat: Json | int | None = None, reply_to: Json | int | None = None
    ) -> Json:
        sticker = self._media_file(
            b"RIFF\0\0\0\0WEBPVP8 ",
            "stickers",
            "webp",
            None,
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            type="regular",
            emoji="\N{GRINNING FACE}",
        )
        return self._media_message(user, chat, reply_to, "sticker", sticker, None)

    def press(self, user: User, message: Json, data: str, *, forged: bool = False) -> Json:
        """Presses an inline button of ``message`` (its current state: edits count) and leaves
        the callback query answerable exactly once, like Telegram. ``forged`` sends ``data``
        even if no button carries it, as a modified client can."""
        key = (message["chat"]["id"], message["message_id"])
        current = self.messages.get(key)
        if current is None:
            raise AssertionError(f"message {key} does not exist (deleted?)")
        if not forged and data not in [d for _, d in self.buttons(current)]:
            raise AssertionError(f"message {key} has no button {data!r}: {self.buttons(current)}")
        query_id = str(4382000000000000000 + next(self._ids["query"]))
        self._open_queries.add(query_id)
        self.users[user.id] = user
        query = {
            "id": query_id,
            "from": user.as_dict(),
            "message": copy.deepcopy(current),
            "chat_instance": str(-abs(key[0]) * 7919),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def migrate(self, user: User, group: Json, new_id: int) -> Json:
        """``user`` upgrades the basic group ``group`` to a supergroup with id ``new_id``, as
        Telegram does: a ``migrate_to_chat_id`` service message in the old group, then a
        ``migrate_from_chat_id`` one in the supergroup (service messages reach bots in privacy
        mode too); the old id then answers 400 with ``migrate_to_chat_id``. Returns the
        supergroup."""
        supergroup = self.group(new_id, group.get("title", "Group"))
        self.members[new_id] |= self.members.get(group["id"], set())
        for chat, field, value in (
            (group, "migrate_to_chat_id", new_id),
            (supergroup, "migrate_from_chat_id", group["id"]),
        ):
            message: Json = {
                "message_id": next(self._ids["message"]),
                "date": int(time.time()),
                "from": user.as_dict(),
                "chat": chat,
                field: value,
            }
            self._store(message)
            self.push_update({"message": message})
        self.migrated[group["id"]] = new_id
        return supergroup

    def block(self, user: User) -> Json:
        """The user blocks the bot: later sends get 403 and a ``my_chat_member`` update arrives."""
        self.blocked_chats.add(user.id)
        member = {
            "chat": self.chat_for(user),
            "from": user.as_dict(),
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": self.bot_user},
            "new_chat_member": {"status": "kicked", "user": self.bot_user, "until_date": 0},
        }
        return self.push_update({"my_chat_member": member})

    # ------------------------------------------------------------------ assertion helpers

    def mark(self) -> int:
        """Index to pass as ``since`` so ``wait_for`` only counts later calls."""
        return len(self.calls)

    def sent(self, chat_id: int | None = None, method: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if (method is None or c.method.lower() == method.lower())
            and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - the harness API takes a plain timeout
        since: int = 0,
    ) -> list[Call]:
        """Waits for ``count`` answered calls of ``method`` (made at or after index ``since``)
        matching ``predicate``; on timeout fails with the recent calls, to see what happened."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                c
                for c in self.calls[since:]
                if c.status is not None
                and c.method.lower() == method.lower()
                and (predicate is None or predicate(c))
            ]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                tail = list(enumerate(self.calls))[since:][-30:]
                recent = "\n".join(f"  #{i} {c.summary()}" for i, c in tail)
                raise AssertionError(
                    f"waited {timeout}s for {count} x {method}, got "
                    f"{len(found)}; calls since #{since}:\n{recent or '  none'}"
                )
            await self._call_pulse.wait(deadline - time.monotonic())

    def message(self, chat_id: int, message_id: int) -> Json:
        """Current state of a stored message (after edits)."""
        return copy.deepcopy(self.messages[(chat_id, message_id)])

    def last_text(self, chat_id: int) -> str:
        """Text (or caption) of the newest message the bot sent or edited in ``chat_id``."""
        for call in reversed(self.calls):
            result = call.result
            if (
                call.status == 200
                and isinstance(result, dict)
                and "chat" in result
                and result["chat"]["id"] == chat_id
            ):
                return str(result.get("text") or result.get("caption") or "")
        raise AssertionError(f"the bot sent nothing to chat {chat_id}")

    @staticmethod
    def buttons(message: Json) -> list[tuple[str, str]]:
        """(text, callback_data or url) of every inline button, row by row."""
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return [(b["text"], b.get("callback_data") or b.get("url") or "") for r in rows for b in r]

    def commands_for(self, scope: Json | None = None, language_code: str = "") -> list[Json]:
        """Commands set for exactly this scope and language (no fallback, like getMyCommands)."""
        key = self._commands_key({"scope": scope, "language_code": language_code})
        return self.commands.get(key, [])


def _without_reply(message: Json) -> Json:
    """Telegram nests replied-to messages one level deep only."""
    return {k: v for k, v in copy.deepcopy(message).items() if k != "reply_to_message"}


def _media_object(fld: str, stored: StoredFile, params: Json, mime: str) -> Json:
    """The object Telegram returns for media the bot sent (dimensions come from the params)."""
    media: Json = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    name = stored.file_name or Path(stored.file_path).name
    if fld == "photo":
        media |= {"width": params.get("width", 0), "height": params.get("height", 0)}
    elif fld == "video":
        media |= {k: int(params.get(k) or 0) for k in ("width", "height", "duration")}
        media |= {"file_name": name, "mime_type": mime}
    elif fld in ("audio", "voice"):
        media |= {"duration": int(params.get("duration") or 0), "mime_type": mime}
        media |= {"file_name": name} if fld == "audio" else {}
        media |= {k: params[k] for k in ("title", "performer") if params.get(k)}
    else:
        media |= {"file_name": name, "mime_type": mimetypes.guess_type(name or "")[0] or mime}
    return media | {"file_size": stored.size}


class _Server(uvicorn.Server):
    """uvicorn Server that never touches process signal handlers (it runs inside pytest)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.stop_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        """Waits for ``stop_requested`` instead of polling ``should_exit`` every 0.1 s, which
        would add ~0.1 s to every test (the Date header is simply set once)."""
        await self.on_tick(0)
        await self.stop_requested.wait()


@contextlib.asynccontextmanager
async def serve_asgi(app: ASGIApp) -> AsyncIterator[str]:
    """Serves any ASGI app on a free 127.0.0.1 port for the duration; yields its base URL."""
    # proto must be IPPROTO_TCP (not 0): asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every keep-alive request waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=3,
        # Longer than our clients' keep-alive expiry (httpx: 5 s), as real APIs' fronts are
        # (nginx: 75 s). At uvicorn's 5 s both ends drop an idle connection at once, and a
        # request sent on it just as the server closes it fails with a ReadError: a flaky
        # 'upload unconfirmed' seen twice in test_delivery_faults2.
        timeout_keep_alive=75,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):  # startup takes milliseconds; fail loudly if it dies
            if server.started or task.done():
                break
            await asyncio.sleep(0.005)
        if not server.started:
            task.cancel()
            raise RuntimeError("uvicorn did not start") from (
                task.exception() if task.done() and not task.cancelled() else None
            )
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        server.stop_requested.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


@contextlib.asynccontextmanager
async def running(fake: FakeTelegram) -> AsyncIterator[str]:
    """Runs ``fake`` on a free port; on exit ends long polls and webhook deliveries first."""
    fake._stopping = False
    try:
        async with serve_asgi(fake.app) as url:
            try:
                yield url
            finally:  # uvicorn waits for in-flight requests: release long polls first
                fake._stopping = True
                fake._update_pulse.fire()
    finally:
        fake._stopping = True
        fake._update_pulse.fire()
        await fake.drain_webhooks()
        if fake._client is not None:
            await fake._client.aclose()
            fake._client = None


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.fakes.telegram --port 8081 --token 123:ABC`` for benchmarks; the
    ``/__control/{update,file,calls}`` routes stand in for the in-process builders."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123:ABC")
    parser.add_argument("--download-rate", type=int, default=None, help="bytes per second")
    args = parser.parse_args(argv)
    fake = FakeTelegram(args.token)
    fake.download_rate = args.download_rate
    fake.strict_chats = False  # benchmarks may message chats no update opened

    async def serve() -> None:
        # Own signal handling: uvicorn's re-raises SIGTERM after shutdown, killing the process
        # before ``fake.close()`` could remove the upload directory.
        config = uvicorn.Config(
            fake.app,
            host=args.host,
            port=args.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
        )
        server = _Server(config)
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, server.stop_requested.set)
        await server.serve()

    try:
        asyncio.run(serve())
    finally:
        fake.close()


if __name__ == "__main__":
    main()
