"""Telling a custom avatar's owner that it is ready, or why it failed, in their language.

Days pass between a create and its end, so the news is a message of its own, in the owner's
private chat with the bot (or, when they never opened one, in the group it was made in).
"""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.i18n import Translator
from bot.jobs.reasons import shown_reason
from bot.models.custom_avatars import CustomAvatar, CustomAvatarState

log = logging.getLogger(__name__)


def reason_words(translator: Translator, avatar: CustomAvatar) -> str:
    """Why ``avatar`` failed, in its owner's language (never raises: a stored reason that
    cannot be put into words gives a generic one)."""
    reason = avatar.reason
    if reason is None:
        return translator.t(avatar.locale, "avatar.reason_none")
    params = {
        name: (shown_reason(value) or "") if isinstance(value, str) else value
        for name, value in reason.params.items()
    }
    try:
        return translator.t(avatar.locale, reason.code, **params)
    except Exception as exc:  # KeyError, IndexError...: a bad row, not a crash
        log.warning("Custom avatar %d: reason %r: %s", avatar.id, reason.code[:80], exc)
        return translator.t(avatar.locale, "avatar.reason_none")


def news(translator: Translator, avatar: CustomAvatar) -> str | None:
    """The message telling ``avatar``'s owner how it ended; None while it has not."""
    if avatar.state is CustomAvatarState.READY:
        return translator.t(avatar.locale, "avatar.ready", name=avatar.name)
    if avatar.state is CustomAvatarState.FAILED:
        reason = reason_words(translator, avatar)
        return translator.t(avatar.locale, "avatar.failed", name=avatar.name, reason=reason)
    return None


class OwnerNotifier:
    """``on_settled`` for :class:`~bot.avatars.custom.CustomAvatars`: a message to the owner."""

    def __init__(self, bot: Bot, translator: Translator) -> None:
        self._bot = bot
        self._t = translator

    async def __call__(self, avatar: CustomAvatar) -> None:
        text = news(self._t, avatar)
        if text is None:
            return
        chats = [avatar.owner_id]
        if avatar.made_in_group:
            chats.append(avatar.chat_id)
        for chat_id in chats:
            try:
                await self._bot.send_message(chat_id, text)
                return
            except (Forbidden, BadRequest) as exc:
                # Never opened a private chat with the bot, or blocked it: try the group.
                log.info("Custom avatar %d: cannot write to %d: %s", avatar.id, chat_id, exc)
            except TelegramError as exc:
                log.warning("Custom avatar %d: telling its owner failed: %s", avatar.id, exc)
                return
