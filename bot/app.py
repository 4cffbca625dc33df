"""Builds and runs everything in one event loop: PTB Application, web server, services.

Start order: the web server's socket (a taken port stops here) -> services (database, HTTP
client) -> Application (getMe) -> updates (polling or webhook) -> web server -> resumed work.
Stop order is the reverse. PTB's post_init and post_shutdown hooks do not fire here (we do not
use run_polling), so this module calls its own start-up and shut-down code explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import uvicorn
from telegram import Update
from telegram.ext import ApplicationBuilder

import handlers
from bot.config import Settings
from bot.context import CONTEXT_TYPES, BotApplication, attach
from bot.media.retention import MediaRetention
from bot.services import Services, open_services
from bot.startup import (
    api_base_url,
    connect,
    listening,
    register_webhook,
    writable_folders,
)
from bot.telegram.ratelimit import ChatPacer
from bot.telegram.request import BoundedRequest
from bot.telegram.updates import PerChatUpdateProcessor
from bot.web import create_web_app, make_server, webhook_secret
from handlers.avatar_screens import SetupScreens
from handlers.menu import publish_commands
from handlers.prompts import Screens
from storage.db import now
from storage.media_refs import MediaReferences

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 600
LINE_SWEEP_SECONDS = 30


def build_application(settings: Settings) -> BotApplication:
    """The PTB Application pointed at ``TELEGRAM_API_URL``, with no handlers yet."""
    root = settings.telegram_api_url
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(api_base_url(settings))
        .base_file_url(f"{root}/file/bot")
        .local_mode(settings.telegram_local_mode)
        .request(BoundedRequest(media_write_timeout=120.0))
        .context_types(CONTEXT_TYPES)
        .concurrent_updates(PerChatUpdateProcessor())
        # Paced per chat; a 429 holds back only the chat it was for (one pacer per
        # Application: it also paces the streaming upload, see bot.telegram.files).
        .rate_limiter(ChatPacer())
        .job_queue(None)
    )
    if settings.telegram_mode == "webhook":
        builder = builder.updater(None)
    return builder.build()  # type: ignore[return-value]


@dataclass
class Running:
    """A started bot: what tests and benchmarks reach into."""

    application: BotApplication
    services: Services
    server: uvicorn.Server


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Running]:
    """Start the whole bot; stop it cleanly when the block exits."""
    application = build_application(settings)
    await writable_folders(settings)
    async with (
        listening(settings) as listener,
        open_services(settings, application.bot) as services,
    ):
        attach(application, services)
        handlers.register(application)
        # Background checks tell the user through the handlers' prompts.
        services.conversation.attach(
            Screens(
                application.bot,
                services.translator,
                services.catalog,
                services.media.max_voice_seconds,
                services.quota_desk,
                settings.admin_ids,
                services.conversation,
                services.voices,
            )
        )
        services.avatar_setups.attach(
            SetupScreens(application.bot, services.translator, settings.download_limit)
        )
        server = make_server(create_web_app(application, services), settings)
        await connect(application, settings)  # getMe, with errors an operator can act on
        async with application:  # (initialized above) ... shutdown
            # Updates first, as PTB's run_polling does: a refused webhook stops the start
            # before the Application runs (it could not shut down while running).
            await _start_updates(application, settings)
            await application.start()
            server_task = asyncio.create_task(server.serve([listener]), name="web-server")
            stop_background = asyncio.Event()
            loops: list[asyncio.Task[None]] = []
            try:
                await _until_started(server, server_task)
                makers = settings.custom_avatars if services.custom_avatars.available else "off"
                await publish_commands(
                    application.bot,
                    services.translator,
                    settings.admin_ids,
                    avatar_makers=makers,
                    dialogue=bool(services.catalog.dialogue_faces()),
                    avatars=services.conversation.picker.available,
                )
                await services.conversation.resume_checks()
                await services.jobs.resume()
                await services.custom_avatars.start()  # pending ones checked now, then slowly
                await services.avatar_setups.resume()  # /avatar's checks and sends cut short
                loops = [
                    asyncio.create_task(services.poller.run(stop_background), name="poller"),
                    asyncio.create_task(
                        sweep_media(services, stop_background), name="media-sweeper"
                    ),
                    asyncio.create_task(move_lines(services, stop_background), name="lines"),
                ]
                log.info(
                    "Bot @%s running (%s, providers: %s)",
                    application.bot.username,
                    settings.telegram_mode,
                    ", ".join(services.providers),
                )
                yield Running(application, services, server)
            finally:
                stop_background.set()
                await asyncio.gather(*loops, return_exceptions=True)
                server.should_exit = True
                await services.tasks.close()
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                await application.stop()
                await server_task


async def sweep_media(services: Services, stop: asyncio.Event) -> None:
    """Every few minutes, delete provider inputs of finished jobs (after a grace period),
    and users' inputs and results past MEDIA_RETENTION_HOURS."""
    data = services.settings.data_dir
    retention = MediaRetention(
        MediaReferences(services.db),
        [data / "inputs", data / "outputs"],
        timedelta(hours=services.settings.media_retention_hours),
    )
    while not stop.is_set():
        try:
            removed = await services.host.sweep(services.jobs.get, at=now())
            if removed:
                log.info("Removed hosted media of %d finished job(s)", removed)
            await retention.sweep(at=now())
        except Exception:
            log.exception("Media sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=SWEEP_INTERVAL_SECONDS)


async def move_lines(services: Services, stop: asyncio.Event) -> None:
    """Now and then, admit jobs waiting for a provider with room (every ending does it
    already; this catches a pass that failed)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=LINE_SWEEP_SECONDS)
        if stop.is_set():
            return
        try:
            await services.jobs.move_lines()
        except Exception:
            log.exception("Moving the waiting lines failed")


async def _start_updates(application: BotApplication, settings: Settings) -> None:
    if application.updater is not None:
        await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        return
    await register_webhook(application, settings, webhook_secret(settings))


async def _until_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error (port in use...)
            raise RuntimeError("the web server stopped during start-up")
        await asyncio.sleep(0.02)


async def run(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings):
        await stop.wait()
        log.info("Stopping")
