"""The bot's HTTP server: /healthz now, /telegram in webhook mode (provider routes later)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.config import Settings
from bot.context import BotApplication
from bot.services import Services

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_secret(settings: Settings) -> str:
    """``TELEGRAM_WEBHOOK_SECRET``, or one derived from the token so /telegram is never open."""
    if settings.telegram_webhook_secret is not None:
        return settings.telegram_webhook_secret.get_secret_value()
    token = settings.telegram_bot_token.get_secret_value()
    return hashlib.sha256(f"webhook:{token}".encode()).hexdigest()[:48]


def create_web_app(application: BotApplication, services: Services) -> Starlette:
    """The ASGI app; ``/telegram`` exists only in webhook mode."""
    settings = services.settings

    async def healthz(request: Request) -> Response:
        try:
            await services.db.scalar("SELECT 1")
        except Exception:
            log.exception("Health check: database unavailable")
            return JSONResponse({"ok": False, "database": "unavailable"}, status_code=503)
        return JSONResponse({"ok": True})

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if settings.telegram_mode == "webhook":
        secret = webhook_secret(settings)

        async def telegram(request: Request) -> Response:
            given = request.headers.get(SECRET_HEADER, "")
            if not secrets.compare_digest(given.encode(), secret.encode()):
                return PlainTextResponse("forbidden", status_code=403)
            try:
                update = Update.de_json(json.loads(await request.body()), application.bot)
            except (ValueError, TypeError, KeyError):
                return PlainTextResponse("bad update", status_code=400)
            # Answer at once: Telegram retries slow or failed deliveries.
            await application.update_queue.put(update)
            return Response(status_code=200)

        routes.append(Route("/telegram", telegram, methods=["POST"]))
    return Starlette(routes=routes)


class _Server(uvicorn.Server):
    """uvicorn that leaves process signals alone: the app owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def make_server(app: Starlette, settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    return _Server(config)
