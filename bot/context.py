"""The typed callback context handlers receive: narrow services by attribute, not by dict key.

Handlers see only what they need: the conversation (``drafts``), their jobs (``jobs``), the
providers on offer (``catalog``), the translator (``t``), the admins and the users table, bans
(``moderation``), groups' switch and admins (``groups``) and the /new ``cooldown``.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.admin_tools import AdminTools
from bot.avatars import Avatars
from bot.avatars.custom import CustomAvatars
from bot.avatars.setup import AvatarSetups
from bot.catalog import Catalog
from bot.conversation import DraftService
from bot.cooldown import Cooldown
from bot.groups import Groups
from bot.i18n import Translator
from bot.moderation import Moderation
from bot.quota_desk import QuotaDesk
from bot.services import Services
from bot.user_jobs import UserJobs
from bot.voices import Voices
from storage import UserRepository

SERVICES_KEY = "services"


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[str, Any]]):
    @property
    def drafts(self) -> DraftService:
        return self._services.conversation

    @property
    def jobs(self) -> UserJobs:
        return self._services.user_jobs

    @property
    def catalog(self) -> Catalog:
        return self._services.catalog

    @property
    def t(self) -> Translator:
        return self._services.translator

    @property
    def admins(self) -> frozenset[int]:
        return self._services.settings.admin_ids

    @property
    def users(self) -> UserRepository:
        return self._services.users

    @property
    def moderation(self) -> Moderation:
        return self._services.moderation

    @property
    def groups(self) -> Groups:
        return self._services.groups

    @property
    def cooldown(self) -> Cooldown:
        return self._services.cooldown

    @property
    def admin_tools(self) -> AdminTools:
        """The bot admins' commands (limits, grants, /usage, /stats)."""
        return self._services.admin_tools

    @property
    def quotas(self) -> QuotaDesk:
        """What users and group admins see of quotas (allowances, a group's pool)."""
        return self._services.quota_desk

    @property
    def voices(self) -> Voices:
        return self._services.voices

    @property
    def avatars(self) -> Avatars:
        """Providers' ready-made avatars (the picker) and their stills."""
        return self._services.avatars

    @property
    def custom_avatars(self) -> CustomAvatars:
        """Users' own avatars (/avatar): who may make them, one's list, rename, share, delete."""
        return self._services.custom_avatars

    @property
    def avatar_setups(self) -> AvatarSetups:
        """The /avatar conversation: a new avatar's videos, name and gender; renames."""
        return self._services.avatar_setups

    @property
    def _services(self) -> Services:
        services = self.bot_data[SERVICES_KEY]
        assert isinstance(services, Services)
        return services


CONTEXT_TYPES = ContextTypes(context=BotContext)

BotApplication = Application[
    ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], dict[str, Any], Any
]


def admin_ids(application: BotApplication) -> frozenset[int]:
    """The bot's admins (ADMIN_IDS), for building the admin filter when registering."""
    services = application.bot_data[SERVICES_KEY]
    assert isinstance(services, Services)
    return services.settings.admin_ids


def avatar_setups(application: BotApplication) -> AvatarSetups:
    """The /avatar conversations, for the filter that sends their users' messages to them."""
    services = application.bot_data[SERVICES_KEY]
    assert isinstance(services, Services)
    return services.avatar_setups


def attach(application: BotApplication, services: Services) -> None:
    """Make ``services`` reachable from every handler's context."""
    application.bot_data[SERVICES_KEY] = services
