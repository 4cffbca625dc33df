"""Telling a custom avatar's owner that it is ready, or why it failed, in their language.

Days pass between a create and its end, so the news is a message of its own, in the owner's
private chat with the bot, and only there: an avatar is a private thing (a real person's face,
a reason it was refused) until its owner shares it, so it is never announced in the group it
was made in. An owner who cannot be reached (the bot blocked, the private chat never opened)
finds the news in /avatar's list, where the row keeps it.
"""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import TelegramError

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
        try:
            await self._bot.send_message(avatar.owner_id, text)
        except TelegramError as exc:  # blocked, never opened: /avatar shows it to them
            log.info(
                "Custom avatar %d is %s; its owner %d could not be told (kept for /avatar): %s",
                avatar.id,
                avatar.state,
                avatar.owner_id,
                exc,
            )
