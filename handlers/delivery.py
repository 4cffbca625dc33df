"""[Get my video]: the owner of a video whose upload Telegram never confirmed asks for it."""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.error import TelegramError

from bot.context import BotContext
from handlers.buttons import alert, locale_of, owned_job, pressed


async def get_video(update: Update, context: BotContext) -> None:
    """Send the video now (a fresh claim); a second press, or someone else's, sends nothing."""
    job = await owned_job(update, context)
    if job is None:
        return
    if not await context.jobs.request_video(job):
        await alert(update, context, "delivery.already")
        return
    query, _ = pressed(update)
    await query.answer(context.t.t(locale_of(update, context), "delivery.on_its_way"))
    with contextlib.suppress(TelegramError):  # the button has done its work; tidy up
        await query.edit_message_reply_markup(reply_markup=None)
