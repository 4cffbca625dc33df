"""Everything handlers use, opened and closed in one visible order."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from telegram import Bot

from bot.config import Settings
from bot.delivery import Delivery
from bot.i18n import Translator
from bot.jobs import JobService
from bot.media import MediaService
from bot.progress import ProgressBoard
from bot.providers import Provider, build_providers
from bot.tasks import BackgroundTasks
from storage import Database, DraftRepository, JobRepository, UserRepository

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    users: UserRepository
    drafts: DraftRepository
    jobs: JobService
    media: MediaService
    providers: dict[str, Provider]
    translator: Translator
    tasks: BackgroundTasks


@asynccontextmanager
async def open_services(settings: Settings, bot: Bot) -> AsyncIterator[Services]:
    """Open the database (migrated), the HTTP client and every service; close in reverse."""
    providers = build_providers(settings)
    translator = Translator.load()
    db = await Database.open(settings.database_path)
    try:
        await db.migrate()
        # One client for Telegram file transfers (and, later, provider APIs).
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, read=60.0), follow_redirects=False
        ) as http:
            tasks = BackgroundTasks()
            users = UserRepository(db)
            delivery = Delivery(bot, http, translator, upload_limit=settings.upload_limit)
            jobs = JobService(
                repo=JobRepository(db),
                users=users,
                providers=providers,
                tasks=tasks,
                board=ProgressBoard(bot),
                delivery=delivery,
                translator=translator,
                outputs=settings.data_dir / "outputs",
            )
            media = MediaService(
                bot,
                http,
                inputs=settings.data_dir / "inputs",
                download_limit=settings.download_limit,
                max_voice_seconds=settings.max_voice_seconds,
            )
            try:
                yield Services(
                    settings=settings,
                    db=db,
                    users=users,
                    drafts=DraftRepository(db),
                    jobs=jobs,
                    media=media,
                    providers=providers,
                    translator=translator,
                    tasks=tasks,
                )
            finally:
                await tasks.close()
    finally:
        await db.close()
