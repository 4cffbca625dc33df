"""[Get my video]: the owner of a video whose upload Telegram never confirmed asks for it."""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.context import BotContext


async def get_video(update: Update, context: BotContext) -> None:
    """Send the video now (a fresh claim); a second press, or someone else's, sends nothing."""
    query, user = update.callback_query, update.effective_user
    assert query is not None
    assert query.data is not None
    assert user is not None
    services = context.services
    t = services.translator
    locale = t.negotiate(user.language_code)
    job_id = cd.job_id_of(query.data)
    if job_id is None:  # forged, or from a version with another format
        await query.answer(t.t(locale, "error.stale_button"), show_alert=True)
        return
    job = await services.jobs.get(job_id)
    if job is None or job.user_id != user.id:
        await query.answer(t.t(locale, "error.not_your_button"), show_alert=True)
        return
    if not await services.results.request(job):
        await query.answer(t.t(locale, "delivery.already"), show_alert=True)
        return
    await query.answer(t.t(locale, "delivery.on_its_way"))
    with contextlib.suppress(TelegramError):  # the button has done its work; tidy up
        await query.edit_message_reply_markup(reply_markup=None)
