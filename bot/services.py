"""Everything handlers and the web server use, opened and closed in one visible order."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from telegram import Bot

from bot.admin_tools import AdminTools
from bot.avatars import AvatarCatalog, AvatarPreviews, Avatars, Loader
from bot.avatars.custom import CustomAvatars
from bot.avatars.custom_setup import custom_avatars
from bot.avatars.setup import AvatarSetups, make_setups
from bot.catalog import Catalog
from bot.config import Settings
from bot.conversation import AvatarPicker, DraftService, InputChecks
from bot.cooldown import Cooldown
from bot.delivery.progress import ProgressBoard
from bot.delivery.results import ResultDelivery
from bot.delivery.sender import Delivery
from bot.delivery.status import StatusMessages
from bot.groups import Groups
from bot.health import ProviderHealth
from bot.i18n import Translator
from bot.jobs.controls import JobControls
from bot.jobs.poller import Poller, PollPolicy
from bot.jobs.service import JobService
from bot.jobs.states import JobStates
from bot.media.hosting import MediaHost
from bot.media.intake import MediaService
from bot.moderation import Moderation
from bot.providers import Provider, build_providers
from bot.quota_desk import QuotaDesk
from bot.quotas import QuotaDefaults, Quotas
from bot.signing import Signer
from bot.speech import LocalSpeech
from bot.speech.router import Speech, provider_engines
from bot.tasks import BackgroundTasks, Busy
from bot.telegram.chat_admins import ChatAdmins
from bot.user_jobs import UserJobs
from bot.voices import Voices
from storage import Database, DraftRepository, JobRepository, UserRepository
from storage.chats import ChatRepository
from storage.health import HealthRepository
from storage.ledger import LedgerRepository
from storage.usage import UsageRepository

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    users: UserRepository
    drafts: DraftRepository
    jobs: JobService
    results: ResultDelivery
    controls: JobControls
    media: MediaService
    host: MediaHost
    health: ProviderHealth
    poller: Poller
    providers: dict[str, Provider]
    translator: Translator
    tasks: BackgroundTasks
    signer: Signer
    #: What handlers see (through bot.context): narrow views of the services above.
    conversation: DraftService
    catalog: Catalog
    user_jobs: UserJobs
    quotas: Quotas
    states: JobStates
    voices: Voices
    moderation: Moderation
    groups: Groups
    cooldown: Cooldown
    admin_tools: AdminTools
    #: What users and group admins see of quotas (/quota, prices, /groupquota).
    quota_desk: QuotaDesk
    #: Providers' ready-made avatars, kept fresh in the background (the picker).
    avatars: Avatars
    #: Users' own avatars (/avatar): made, watched while built, offered to their owners.
    custom_avatars: CustomAvatars
    #: The /avatar conversation: the videos, name and gender of a new avatar; renames.
    avatar_setups: AvatarSetups


def avatar_sources(providers: dict[str, Provider]) -> dict[str, Loader]:
    """What lists each provider's ready-made avatars, for those that have them."""
    sources: dict[str, Loader] = {}
    for name, provider in providers.items():
        load = getattr(provider, "avatars", None)
        if callable(load):
            sources[name] = load
    return sources


@asynccontextmanager
async def open_services(settings: Settings, bot: Bot) -> AsyncIterator[Services]:
    """Open the database (migrated), the HTTP client and every service; close in reverse."""
    translator = Translator.load()
    signer = Signer.from_token(settings.telegram_bot_token.get_secret_value())
    db = await Database.open(settings.database_path)
    try:
        await db.migrate()
        # One client for Telegram file transfers, provider APIs and result downloads.
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, read=60.0),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        ) as http:
            providers = build_providers(settings, http)
            tasks = BackgroundTasks()
            # Typed text is spoken here: offline (eSpeak NG, on a worker thread of its own),
            # or by the voice of a provider that is on (Creatify, Magic Hour), by voice id.
            # Users' files, and typed text once spoken (kept by bot.speech.cache's names).
            inputs = settings.data_dir / "inputs"
            speech = Speech(LocalSpeech(), provider_engines(settings, providers, inputs=inputs))
            users = UserRepository(db)
            repo = JobRepository(db)
            quotas_defaults = QuotaDefaults(
                user_daily=settings.user_daily_quota_seconds,
                user_monthly=settings.user_monthly_quota_seconds,
                group_daily=settings.group_daily_quota_seconds,
                group_monthly=settings.group_monthly_quota_seconds,
            )
            quotas = Quotas(
                db, LedgerRepository(), defaults=quotas_defaults, admins=settings.admin_ids
            )
            states = JobStates(
                db=db,
                repo=repo,
                quotas=quotas,
                max_active_per_user=settings.user_max_active_jobs,
                max_in_flight_per_provider=settings.provider_max_active_jobs,
            )
            health = ProviderHealth(HealthRepository(db), bot, translator, settings.admin_ids)
            await health.load()
            host = MediaHost(settings.data_dir / "hosted", settings.public_url, signer)
            # Webhook confirmations queued plus deliveries running; the poller yields to them.
            busy = Busy()
            board = ProgressBoard(bot)
            makers = {name: provider.capabilities for name, provider in providers.items()}
            status = StatusMessages(board, translator, bot, makers=makers)
            results = ResultDelivery(
                repo=repo,
                users=users,
                sender=Delivery(
                    bot,
                    http,
                    translator,
                    upload_limit=settings.upload_limit,
                    previews={n for n, p in providers.items() if p.capabilities.is_preview},
                ),
                status=status,
                states=states,
                providers=providers,
                tasks=tasks,
                busy=busy,
                http=http,
                outputs=settings.data_dir / "outputs",
                allow_private_urls=settings.allow_private_urls,
            )
            # Webhooks can reach the bot only when it has a public URL (and each provider
            # says whether it can post ones the bot can verify: RemoteProvider.posts_webhooks).
            polls = PollPolicy(settings.poll_interval_seconds, webhooks=bool(settings.public_url))
            jobs = JobService(
                repo=repo,
                providers=providers,
                tasks=tasks,
                busy=busy,
                status=status,
                results=results,
                states=states,
                host=host,
                health=health,
                polls=polls,
                public_url=settings.public_url,
                webhook_token=signer.webhook_token,
            )
            media = MediaService(
                bot,
                http,
                inputs=inputs,
                download_limit=settings.download_limit,
                max_voice_seconds=settings.max_voice_seconds,
                speaker=speech,
                max_text_chars=settings.max_text_chars,
            )
            poller = Poller(
                repo=repo,
                jobs=jobs,
                providers=providers,
                health=health,
                policy=polls,
                busy=busy,
            )
            drafts = DraftRepository(db)
            voices = Voices(speech, users, settings.data_dir / "samples")
            controls = JobControls(repo=repo, states=states, jobs=jobs, status=status)
            catalog = Catalog(providers, health, jobs)
            moderation = Moderation(users)
            await moderation.load()
            groups = Groups(ChatRepository(db), ChatAdmins(bot), settings.admin_ids)
            await groups.load()
            avatars = Avatars(
                AvatarCatalog(avatar_sources(providers), settings.data_dir / "avatars"),
                AvatarPreviews(
                    http, settings.data_dir / "avatars", allow_private=settings.allow_private_urls
                ),
            )
            await avatars.catalog.start()
            custom = custom_avatars(
                settings, db, providers, avatars.catalog, tasks, bot, translator
            )
            await custom.load()  # the ready ones into the picker; app.run starts the watch
            setups = make_setups(
                db,
                custom,
                tasks,
                settings.data_dir / "avatar_setups",
                bot=bot,
                http=http,
                signer=signer,
                download_limit=settings.download_limit,
            )
            await setups.load()  # who is in one, before any update; app.run resumes them
            await speech.start()  # the providers' voice lists, read in the background
            try:
                yield Services(
                    settings=settings,
                    db=db,
                    users=users,
                    drafts=drafts,
                    jobs=jobs,
                    results=results,
                    controls=controls,
                    media=media,
                    host=host,
                    health=health,
                    poller=poller,
                    providers=providers,
                    translator=translator,
                    tasks=tasks,
                    signer=signer,
                    conversation=DraftService(
                        drafts,
                        media,
                        catalog,
                        tasks,
                        InputChecks(media, bot),
                        AvatarPicker(avatars.catalog),
                    ),
                    catalog=catalog,
                    user_jobs=UserJobs(jobs, controls, results),
                    quotas=quotas,
                    states=states,
                    voices=voices,
                    moderation=moderation,
                    groups=groups,
                    cooldown=Cooldown(),
                    admin_tools=AdminTools(
                        UsageRepository(db),
                        quotas,
                        translator,
                        defaults=quotas_defaults,
                        admins=settings.admin_ids,
                    ),
                    quota_desk=QuotaDesk(db, quotas, LedgerRepository()),
                    avatars=avatars,
                    custom_avatars=custom,
                    avatar_setups=setups,
                )
            finally:
                await setups.close()  # its periodic sweep
                await custom.close()
                await avatars.catalog.close()
                await avatars.previews.close()
                await board.close()  # pending progress edits: resumed jobs edit again
                await tasks.close()
                await speech.close()
    finally:
        await db.close()
