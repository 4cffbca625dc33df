"""Start-up steps that fail for reasons an operator fixes (the port is taken, Telegram is
unreachable, the token is refused), each turned into a one-line :class:`BotError` with a hint.
The exceptions underneath are dropped: their text can hold the token (PTB's InvalidToken
quotes it) and their tracebacks help nobody who runs the bot."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram.error import InvalidToken, NetworkError, TimedOut

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
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise BotError(f"cannot listen on {host}:{port} ({_why(exc)}): check HTTP_HOST") from None
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
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


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
