"""The bot's HTTP server: /healthz, /telegram (webhook mode), provider webhooks at
/hooks/..., and provider inputs at /media/... ."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.config import Settings
from bot.context import BotApplication
from bot.errors import WebhookRejected
from bot.media.hosting import LinkDenied
from bot.providers import RemoteProvider, WebhookAuth
from bot.services import Services
from bot.signing import Signer
from bot.untrusted import ascii_int, json_object, same_secret

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Provider webhooks are small JSON documents; anything bigger is not one.
MAX_WEBHOOK_BYTES = 1024 * 1024
_MEDIA_TYPES = {".jpg": "image/jpeg", ".mp4": "video/mp4", ".mp3": "audio/mpeg"}


def webhook_secret(settings: Settings) -> str:
    """``TELEGRAM_WEBHOOK_SECRET``, or one derived from the token so /telegram is never open."""
    if settings.telegram_webhook_secret is not None:
        return settings.telegram_webhook_secret.get_secret_value()
    return Signer.from_token(settings.telegram_bot_token.get_secret_value()).sign("telegram")


def create_web_app(application: BotApplication, services: Services) -> Starlette:
    """The ASGI app; ``/telegram`` exists only in webhook mode."""
    settings = services.settings

    async def healthz(request: Request) -> Response:
        if not await services.db.ping():
            return JSONResponse({"ok": False, "database": "unavailable"}, status_code=503)
        return JSONResponse({"ok": True})

    async def signed_hook(request: Request) -> Response:
        """Providers that sign (Magic Hour): verify the signature before reading anything."""
        name = request.path_params["provider"]
        provider = services.providers.get(name)
        if (
            not isinstance(provider, RemoteProvider)
            or provider.webhook_auth is not WebhookAuth.SIGNED
        ):
            return PlainTextResponse("not found", status_code=404)
        body = await _small_body(request)
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        try:
            provider.verify_webhook(request.headers, body, time.time())
        except WebhookRejected as exc:
            log.warning("Rejected a %s webhook: %s", name, exc)
            return PlainTextResponse("invalid signature", status_code=401)
        try:
            hint = provider.webhook_job(body)
        except WebhookRejected as exc:
            log.warning("Rejected a signed %s webhook body: %s", name, exc)
            return PlainTextResponse("bad body", status_code=400)
        services.jobs.accept_webhook(name, hint, None)
        return JSONResponse({"ok": True})

    async def token_hook(request: Request) -> Response:
        """Providers that do not sign (lipsync.studio): a per-job secret in the URL."""
        name, job_id = request.path_params["provider"], request.path_params["job_id"]
        provider = services.providers.get(name)
        if (
            not isinstance(provider, RemoteProvider)
            or provider.webhook_auth is not WebhookAuth.URL_TOKEN
        ):
            return PlainTextResponse("not found", status_code=404)
        job_number = ascii_int(job_id)
        if job_number is None or not services.signer.verify(
            f"hook:{name}:{job_number}", request.path_params["token"]
        ):
            log.warning("Rejected a %s webhook with a wrong token", name)
            return PlainTextResponse("invalid token", status_code=401)
        body = await _small_body(request)
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        try:
            hint = provider.webhook_job(body)
        except WebhookRejected as exc:
            log.warning("Rejected a %s webhook body: %s", name, exc)
            return PlainTextResponse("bad body", status_code=400)
        services.jobs.accept_webhook(name, hint, job_number)
        return JSONResponse({"ok": True})

    async def avatar_hook(request: Request) -> Response:
        """A custom avatar's news (Creatify does not sign): the avatar's own secret in the
        URL, checked before the body is read; then the avatar is read again from Creatify."""
        avatar_id = ascii_int(request.path_params["avatar_id"])
        custom = services.custom_avatars
        if avatar_id is None or not await custom.verify_webhook(
            request.path_params["provider"], avatar_id, request.path_params["token"]
        ):
            log.warning("Rejected a custom avatar webhook with a wrong token")
            return PlainTextResponse("invalid token", status_code=401)
        body = await _small_body(request)
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        custom.webhook(avatar_id, body)
        return JSONResponse({"ok": True})

    async def media(request: Request) -> Response:
        try:
            path = services.host.resolve(
                request.path_params["job_id"],
                request.path_params["name"],
                request.query_params.get("exp", ""),
                request.query_params.get("sig", ""),
            )
        except LinkDenied as exc:
            return PlainTextResponse(
                "forbidden" if exc.status == 403 else "not found", status_code=exc.status
            )
        return FileResponse(
            path, media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        )

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/hooks/{provider}", signed_hook, methods=["POST"]),
        Route("/hooks/{provider}/{job_id}/{token}", token_hook, methods=["POST"]),
        Route("/hooks/{provider}/avatars/{avatar_id}/{token}", avatar_hook, methods=["POST"]),
        Route("/media/{job_id}/{name}", media, methods=["GET", "HEAD"]),
    ]
    if settings.telegram_mode == "webhook":
        secret = webhook_secret(settings)

        async def telegram(request: Request) -> Response:
            if not same_secret(request.headers.get(SECRET_HEADER, ""), secret):
                return PlainTextResponse("forbidden", status_code=403)
            data = json_object(await request.body())
            try:
                update = Update.de_json(data, application.bot) if data is not None else None
            except (ValueError, TypeError, KeyError, AttributeError):
                # PTB trusts Telegram's types; anything else is not from Telegram.
                update = None
            if update is None:
                return PlainTextResponse("bad update", status_code=400)
            # Answer at once: Telegram retries slow or failed deliveries.
            await application.update_queue.put(update)
            return Response(status_code=200)

        routes.append(Route("/telegram", telegram, methods=["POST"]))
    return Starlette(routes=routes)


async def _small_body(request: Request) -> bytes | None:
    """The request body, or None when it is over MAX_WEBHOOK_BYTES (read no further)."""
    declared = ascii_int(request.headers.get("content-length", ""))
    if declared is not None and declared > MAX_WEBHOOK_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            return None
    return bytes(body)


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
