"""Making :class:`~bot.avatars.custom.CustomAvatars` from the settings (open_services)."""

from __future__ import annotations

from collections.abc import Mapping

from telegram import Bot

from bot.avatars.catalog import AvatarCatalog
from bot.avatars.custom import CustomAvatars
from bot.avatars.custom_notice import OwnerNotifier
from bot.avatars.custom_watch import PersonaMaker
from bot.config import Settings
from bot.i18n import Translator
from bot.providers import Provider
from bot.tasks import BackgroundTasks
from storage.custom_avatars import CustomAvatarRepository
from storage.db import Database


def persona_makers(providers: Mapping[str, Provider]) -> dict[str, PersonaMaker]:
    """The enabled providers that build custom avatars (Creatify), by name."""
    makers: dict[str, PersonaMaker] = {}
    for name, provider in providers.items():
        wanted = ("create_persona", "get_persona", "persona_slots")
        if all(callable(getattr(provider, method, None)) for method in wanted):
            makers[name] = provider  # type: ignore[assignment]  # checked just above
    return makers


def custom_avatars(
    settings: Settings,
    db: Database,
    providers: Mapping[str, Provider],
    catalog: AvatarCatalog,
    tasks: BackgroundTasks,
    bot: Bot,
    translator: Translator,
) -> CustomAvatars:
    """The service, telling owners in their private chat (``set_notifier`` changes that)."""
    service = CustomAvatars(
        CustomAvatarRepository(db),
        persona_makers(providers),
        catalog,
        tasks,
        settings.data_dir / "custom_avatars",
        who=settings.custom_avatars,
        admins=settings.admin_ids,
        public_url=settings.public_url,
    )
    service.set_notifier(OwnerNotifier(bot, translator))
    return service
