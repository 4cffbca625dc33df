"""/start, /help, /cancel, /jobs, unknown commands and the buttons under a finished video."""

from __future__ import annotations

from pathlib import Path

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import Forbidden

from bot import callback_data as cd
from bot.context import BotContext
from bot.models import InputFile, JobStatus
from handlers import keyboards
from handlers.conversation import begin, cancel_draft
from handlers.incoming import replies_to
from handlers.prompts import prompt

#: How many jobs /jobs lists.
JOBS_SHOWN = 10


async def start(update: Update, context: BotContext) -> None:
    """Greet and offer the "New video" button."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    t = context.services.translator
    locale = t.negotiate(user.language_code)
    notes = []
    if _preview_only(context):
        notes.append(t.t(locale, "start.preview_only"))
    if _in_group(message):
        notes.append(t.t(locale, "hint.groups"))
    note = "\n\n".join(notes)
    await message.reply_text(
        t.t(locale, "start.greeting", name=user.first_name, note=note).strip(),
        reply_markup=keyboards.new_video(t, locale),
    )


async def help_command(update: Update, context: BotContext) -> None:
    """How the bot works, limits and shortcuts included; in groups, how to answer."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    t, services = context.services.translator, context.services
    locale = t.negotiate(user.language_code)
    text = t.t(
        locale,
        "help.text",
        limit=int(services.media.max_voice_seconds),
        size_mb=services.media.download_limit // 1_000_000,
    )
    if _in_group(message):
        text += "\n\n" + t.t(locale, "hint.groups")
    await message.reply_text(text)


async def cancel(update: Update, context: BotContext) -> None:
    """/cancel: end the conversation at whatever step, and the user's unfinished jobs here."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None
    assert chat is not None
    assert user is not None
    services = context.services
    t = services.translator
    locale = t.negotiate(user.language_code)
    draft = await services.drafts.get(chat.id, user.id)
    ended = draft is not None and await cancel_draft(services, draft)
    canceled = await services.controls.cancel_active(chat.id, user.id)
    if canceled:
        videos = ", ".join(t.t(locale, "cancel.video", job_id=job_id) for job_id in canceled)
        await message.reply_text(t.t(locale, "cancel.jobs", jobs=videos))
    else:
        await message.reply_text(t.t(locale, "cancel.done" if ended else "cancel.nothing"))


async def jobs(update: Update, context: BotContext) -> None:
    """/jobs: the last jobs with their status, and a button to get each video again.

    In a group the list goes to the user's private chat: their videos are not the group's
    business.
    """
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    t = context.services.translator
    locale = t.negotiate(user.language_code)
    text, markup = await _jobs_listing(context, user.id, locale)
    if not _in_group(message):
        await message.reply_text(text, reply_markup=markup)
        return
    try:
        await context.bot.send_message(user.id, text, reply_markup=markup)
    except Forbidden:
        # The user never started the bot (or blocked it): bots cannot write first.
        await message.reply_text(t.t(locale, "jobs.ask_privately", bot=context.bot.username))
        return
    await message.reply_text(t.t(locale, "jobs.sent_privately"))


async def _jobs_listing(
    context: BotContext, user_id: int, locale: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    services = context.services
    t = services.translator
    recent = await services.jobs.recent(user_id, JOBS_SHOWN)
    if not recent:
        return t.t(locale, "jobs.none"), None
    lines = [t.t(locale, "jobs.header")]
    for job in recent:
        line = t.t(
            locale,
            "jobs.line",
            job_id=job.id,
            # Stored in UTC; the locale line says so.
            date=job.created_at.strftime("%Y-%m-%d %H:%M"),
            ratio=job.ratio,
            provider=t.t(locale, f"provider.{job.provider}"),
            status=t.t(locale, f"status.{job.status}"),
        )
        if job.status is JobStatus.RUNNING and job.progress is not None:
            line += f" {job.progress}%"
        lines.append(line)
    delivered = [job.id for job in recent if job.result_file_id]
    return "\n".join(lines), keyboards.resend(t, locale, delivered)


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not have: say what it understands instead of staying silent."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    if not _addressed_to(message, context.bot):
        return
    t = context.services.translator
    await message.reply_text(t.t(t.negotiate(user.language_code), "hint.unknown_command"))


async def unknown_button(update: Update, context: BotContext) -> None:
    """A button no handler knows (a forged payload, or one from an older version of the bot):
    answer it, or the user's client shows a spinner until it gives up."""
    query, user = update.callback_query, update.effective_user
    assert query is not None
    assert user is not None
    t = context.services.translator
    await query.answer(t.t(t.negotiate(user.language_code), "error.stale_button"), show_alert=True)


async def resend(update: Update, context: BotContext) -> None:
    """A /jobs button: send a delivered video again (by file_id, no upload)."""
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    assert query is not None
    assert query.data is not None
    assert user is not None
    assert chat is not None
    services = context.services
    locale = services.translator.negotiate(user.language_code)
    job_id = cd.job_id_of(query.data)
    if job_id is None:  # forged, or from a version with another format
        await query.answer(services.translator.t(locale, "error.stale_button"), show_alert=True)
        return
    job = await services.jobs.get(job_id)
    if job is None or job.user_id != user.id or job.result_file_id is None:
        await query.answer(services.translator.t(locale, "error.not_your_button"), show_alert=True)
        return
    await query.answer()
    await services.jobs.resend(job, chat.id)


async def again(update: Update, context: BotContext) -> None:
    """[Again]: a new video with the same face; asks for a new voice."""
    query, user = update.callback_query, update.effective_user
    assert query is not None
    assert query.data is not None
    assert user is not None
    services = context.services
    locale = services.translator.negotiate(user.language_code)
    job_id = cd.job_id_of(query.data)
    if job_id is None:  # forged, or from a version with another format
        await query.answer(services.translator.t(locale, "error.stale_button"), show_alert=True)
        return
    job = await services.jobs.get(job_id)
    if job is None or job.user_id != user.id:
        await query.answer(services.translator.t(locale, "error.not_your_button"), show_alert=True)
        return
    await query.answer()
    if Path(job.media_path).exists():
        face = InputFile(file_id="", source="again", path=job.media_path, probe=job.media_probe)
        draft = await begin(services, update, media=face, media_kind=job.media_kind)
    else:
        draft = await begin(services, update)
    await prompt(context.bot, services, draft)


async def new_button(update: Update, context: BotContext) -> None:
    """[New] / [New video]: start a conversation."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    draft = await begin(context.services, update)
    await prompt(context.bot, context.services, draft)


def _addressed_to(message: Message, bot: Bot) -> bool:
    """``/foo@us``, or in a private chat or as a reply to us, a plain ``/foo``: in groups a
    plain command may be meant for another bot."""
    command = (message.text or "").split(maxsplit=1)[0]
    target = command.partition("@")[2]
    if target:
        return target.lower() == bot.username.lower()
    return not _in_group(message) or replies_to(message, bot)


def _in_group(message: Message) -> bool:
    return message.chat.type != ChatType.PRIVATE


def _preview_only(context: BotContext) -> bool:
    return all(p.capabilities.is_preview for p in context.services.providers.values())
