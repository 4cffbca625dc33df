"""Start-up steps that fail for reasons an operator fixes (the port is taken, Telegram is
unreachable, the token is refused), each turned into a one-line :class:`BotError` with a hint.
The exceptions underneath are dropped: their text can hold the token (PTB's InvalidToken
quotes it) and their tracebacks help nobody who runs the bot."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from telegram import Update
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut

from bot.config import Settings
from bot.context import BotApplication
from bot.errors import BotError

#: Connections waiting to be accepted (uvicorn's default).
BACKLOG = 2048


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
    """Point Telegram at ``PUBLIC_URL/telegram``, naming the setting it refused."""
    try:
        await application.bot.set_webhook(
            url=f"{settings.public_url}/telegram",
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    except TelegramError as exc:
        if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
            why = "timed out" if isinstance(exc, TimedOut) else "no connection"
            raise BotError(
                f"cannot reach Telegram at {settings.telegram_api_url} to set the webhook "
                f"({why}): check TELEGRAM_API_URL and the network"
            ) from None
        # Telegram's description names the problem; it never repeats the secret.
        if "secret" in exc.message.lower():
            hint = "set TELEGRAM_WEBHOOK_SECRET to 1-256 characters among A-Z, a-z, 0-9, _ and -"
        else:
            hint = "set PUBLIC_URL to an https:// address Telegram can reach"
        raise BotError(f"Telegram refused the webhook ({exc.message}): {hint}") from None


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
