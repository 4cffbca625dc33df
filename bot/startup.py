"""Start-up steps that fail for reasons an operator fixes (the port is taken, Telegram is
unreachable, the token is refused), each turned into a one-line :class:`BotError` with a hint.
The exceptions underneath are dropped: their text can hold the token (PTB's InvalidToken
quotes it) and their tracebacks help nobody who runs the bot."""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from telegram import Bot, Update
from telegram.error import (
    BadRequest,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.config import Settings
from bot.context import BotApplication
from bot.errors import BotError

log = logging.getLogger(__name__)

#: Connections waiting to be accepted (uvicorn's default).
BACKLOG = 2048
#: setWebhook tries before the start gives up on an error that usually passes.
WEBHOOK_ATTEMPTS = 4
#: The longest flood-control wait worth sitting through at start-up (Telegram asks for a few
#: seconds after a quick restart); beyond it the start ends and says how long to wait.
MAX_FLOOD_WAIT = 30.0
#: Extra wait after ``retry_after``: Telegram counts whole seconds.
FLOOD_MARGIN = 0.1
#: First pause before retrying a time-out or a 5xx; it doubles each time (0.5, 1, 2 s).
RETRY_BACKOFF = 0.5


@asynccontextmanager
async def listening(settings: Settings) -> AsyncIterator[socket.socket]:
    """The web server's socket, bound before Telegram hears of the bot: a taken port stops
    the start before a webhook is registered or an update is taken."""
    host, port = settings.http_host, settings.http_port
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[
            0
        ]
        # The protocol matters: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
        # sockets that say IPPROTO_TCP, and accepted sockets inherit it from this one. With
        # proto 0 every keep-alive answer waited for a delayed ACK: 40 ms a request, 715
        # webhooks/s instead of 4,800 (bench/inflight_jobs.py).
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise BotError(f"cannot listen on {host}:{port} ({_why(exc)}): check HTTP_HOST") from None
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise BotError(
                f"cannot listen on {host}:{port} ({_why(exc)}): another program may be using "
                "it; stop it or set HTTP_PORT (and HTTP_HOST)"
            ) from None
        sock.listen(BACKLOG)
        yield sock


def api_base_url(settings: Settings) -> str:
    """Where Bot API methods are called (PTB appends the token)."""
    return f"{settings.telegram_api_url}/bot"


async def connect(application: BotApplication, settings: Settings) -> None:
    """Initialize the Application (PTB calls getMe), naming the setting to fix on failure."""
    try:
        await application.initialize()
    except InvalidToken:
        raise BotError(
            "Telegram refused the token (getMe answered 401): get the current one from "
            "@BotFather (/token) and set TELEGRAM_BOT_TOKEN"
        ) from None
    except NetworkError as exc:
        why = "timed out" if isinstance(exc, TimedOut) else "no connection"
        raise BotError(
            f"cannot reach Telegram at {settings.telegram_api_url} ({why}): check "
            "TELEGRAM_API_URL and the network"
        ) from None


async def writable_folders(settings: Settings) -> None:
    """Create DATA_DIR and the database's folder and check the bot can write there, before
    anything is opened: a wrong path fails now, not at the first user's photo."""
    folders = ((settings.data_dir, "DATA_DIR"), (settings.database_path.parent, "DATABASE_URL"))
    for folder, setting in folders:
        try:
            await asyncio.to_thread(_check_writable, folder)
        except OSError as exc:
            why = "not a folder" if isinstance(exc, FileExistsError) else _why(exc)
            raise BotError(f"cannot write to {folder} ({why}): check {setting}") from None


def _check_writable(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


async def register_webhook(application: BotApplication, settings: Settings, secret: str) -> None:
    """Point Telegram at ``PUBLIC_URL/telegram``. Errors that pass (flood control after a
    quick restart, a time-out, a 5xx) are waited out and retried a few times; a refusal (400)
    names the setting to fix at once."""
    # The same bot and connections without the pacer, which would wait out any retry_after
    # however long (and log a warning of its own); the waits here are capped.
    unpaced = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=api_base_url(settings),
        request=application.bot.request,
        get_updates_request=application.bot.request,
    )
    for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
        last = attempt == WEBHOOK_ATTEMPTS
        try:
            await unpaced.set_webhook(
                url=f"{settings.public_url}/telegram",
                secret_token=secret,
                allowed_updates=Update.ALL_TYPES,
            )
            return
        except RetryAfter as exc:
            # The private timedelta: the public property warns unless PTB_TIMEDELTA is set.
            seconds = exc._retry_after.total_seconds()
            if seconds > MAX_FLOOD_WAIT:
                raise BotError(
                    f"Telegram's flood control asks to wait {seconds:.0f} s before setting the "
                    "webhook again: start the bot again after that"
                ) from None
            if last:
                raise BotError(
                    f"Telegram's flood control refused the webhook {attempt} times (last asked "
                    f"to wait {seconds:.0f} s): wait a minute and start the bot again"
                ) from None
            log.info("setWebhook: Telegram asks to wait %.0f s (flood control)", seconds)
            await asyncio.sleep(seconds + FLOOD_MARGIN)
        except BadRequest as exc:
            raise BotError(f"Telegram refused the webhook ({exc.message}): {_hint(exc)}") from None
        except NetworkError as exc:  # TimedOut, no connection, a 5xx
            why = _network_why(exc)
            if last:
                raise BotError(
                    f"cannot set the webhook at {settings.telegram_api_url} ({why}, "
                    f"{attempt} tries): check TELEGRAM_API_URL and the network"
                ) from None
            log.info("setWebhook: %s; trying again", why)
            await asyncio.sleep(RETRY_BACKOFF * 2 ** (attempt - 1))
        except TelegramError as exc:  # Forbidden, Conflict...: retrying will not help
            raise BotError(f"Telegram refused the webhook ({exc.message})") from None


def _hint(refusal: BadRequest) -> str:
    # Telegram's description names the problem; it never repeats the secret.
    if "secret" in refusal.message.lower():
        return "set TELEGRAM_WEBHOOK_SECRET to 1-256 characters among A-Z, a-z, 0-9, _ and -"
    return "set PUBLIC_URL to an https:// address Telegram can reach"


def _network_why(exc: NetworkError) -> str:
    """What went wrong, in words that never hold the request URL (it holds the token)."""
    if isinstance(exc, TimedOut):
        return "timed out"
    if isinstance(exc.__cause__, httpx.HTTPError):  # PTB wraps httpx's errors
        return "no connection"
    return f"Telegram answered {exc.message!r}"  # a 5xx: Telegram's own description


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
