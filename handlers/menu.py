"""The command menu Telegram shows next to the message box, in each supported language."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeChat,
)
from telegram.error import TelegramError

from bot.i18n import DEFAULT_LOCALE, Translator
from handlers import admin
from handlers.gate import GROUP_ADMIN_COMMANDS

log = logging.getLogger(__name__)

#: Commands shown to everyone, in menu order.
COMMANDS = ("new", "jobs", "quota", "voice", "cancel", "help")
#: Added to the menu of the bot's admins, in their private chats only (group admins get
#: GROUP_ADMIN_COMMANDS added in every group they administer).
ADMIN_COMMANDS = tuple(admin.HANDLERS)


async def publish_commands(
    bot: Bot,
    translator: Translator,
    admins: Iterable[int],
    *,
    avatar_makers: str = "off",
    dialogue: bool = False,
    avatars: bool = False,
) -> None:
    """Set the menus (best effort: a menu is not worth failing start-up).

    Args:
        avatar_makers: who may make custom avatars (CUSTOM_AVATARS; "off" when no provider
            builds them): /avatar is in the menus of those who may ("admins": the bot's).
        dialogue: whether a provider makes videos of two people talking (/dialogue, after
            /new, in every menu).
        avatars: whether a provider has ready-made avatars (/avatars, the picker where a
            group's prompt has no [Avatars] button, next in every menu).
    """
    extra = (*(("dialogue",) if dialogue else ()), *(("avatars",) if avatars else ()))
    commands = (COMMANDS[0], *extra, *COMMANDS[1:])
    everyone = _with_avatar(commands) if avatar_makers == "everyone" else commands
    for_admins = _with_avatar(commands) if avatar_makers != "off" else commands
    for locale in translator.locales:
        # The default locale is the fallback for every language without its own menu.
        language = None if locale == DEFAULT_LOCALE else locale.split("_")[0]
        await _set(bot, translator, locale, everyone, language=language)
        # Every group's administrators (a menu is cosmetic: the commands check the sender).
        await _set(
            bot,
            translator,
            locale,
            everyone + GROUP_ADMIN_COMMANDS,
            language=language,
            scope=BotCommandScopeAllChatAdministrators(),
        )
        for admin_id in admins:
            await _set(
                bot,
                translator,
                locale,
                for_admins + ADMIN_COMMANDS,
                language=language,
                scope=BotCommandScopeChat(admin_id),
            )


def _with_avatar(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` with /avatar after /voice."""
    at = names.index("voice") + 1
    return (*names[:at], "avatar", *names[at:])


async def _set(
    bot: Bot,
    translator: Translator,
    locale: str,
    names: Iterable[str],
    *,
    language: str | None = None,
    scope: BotCommandScope | None = None,
) -> None:
    commands = [BotCommand(name, translator.t(locale, f"menu.{name}")) for name in names]
    try:
        await bot.set_my_commands(commands, scope=scope, language_code=language)
    except TelegramError as exc:
        # An admin who never wrote to the bot has no chat to scope a menu to yet.
        log.warning("Could not set a command menu (%s, %s): %s", locale, scope, exc)
