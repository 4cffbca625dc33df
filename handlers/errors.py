"""The last line of defence: log the traceback, tell the user plainly, keep their draft."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.context import BotContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Registered with ``add_error_handler``; never lets a stack trace reach a user."""
    log.error("Unhandled error while processing an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    user = update.effective_user
    locale = context.t.negotiate(user.language_code if user else None)
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    try:
        await context.bot.send_message(
            update.effective_chat.id, context.t.t(locale, "error.internal")
        )
    except Forbidden:
        pass
    except TelegramError:
        log.warning("Could not tell chat %s about the error", update.effective_chat.id)
