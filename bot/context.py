"""The typed callback context handlers receive: services by attribute, not by dict key."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.services import Services

SERVICES_KEY = "services"


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[str, Any]]):
    @property
    def services(self) -> Services:
        services = self.bot_data[SERVICES_KEY]
        assert isinstance(services, Services)
        return services


CONTEXT_TYPES = ContextTypes(context=BotContext)

BotApplication = Application[
    ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], dict[str, Any], Any
]


def attach(application: BotApplication, services: Services) -> None:
    """Make ``services`` reachable from every handler's context."""
    application.bot_data[SERVICES_KEY] = services
