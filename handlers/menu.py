"""The command menu Telegram shows next to the message box, in each supported language."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand
from telegram.error import TelegramError

from bot.i18n import DEFAULT_LOCALE, Translator

log = logging.getLogger(__name__)

#: Commands shown to everyone, in menu order.
COMMANDS = ("new", "jobs", "cancel", "help")


async def publish_commands(bot: Bot, translator: Translator) -> None:
    """Set the menu for every locale (best effort: a menu is not worth failing start-up)."""
    for locale in translator.locales:
        commands = [BotCommand(name, translator.t(locale, f"menu.{name}")) for name in COMMANDS]
        # The default locale is the fallback for every language without its own menu.
        language = None if locale == DEFAULT_LOCALE else locale.split("_")[0]
        try:
            await bot.set_my_commands(commands, language_code=language)
        except TelegramError as exc:
            log.warning("Could not set the %s command menu: %s", locale, exc)
