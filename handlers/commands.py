"""/start, /help, /cancel, /jobs and the buttons under a finished video."""

from __future__ import annotations

from pathlib import Path

from telegram import Update

from bot import callback_data as cd
from bot.context import BotContext
from bot.models import InputFile, JobStatus
from handlers import keyboards
from handlers.conversation import begin, cancel_draft
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
    note = t.t(locale, "start.preview_only") if _preview_only(context) else ""
    await message.reply_text(
        t.t(locale, "start.greeting", name=user.first_name, note=note).strip(),
        reply_markup=keyboards.new_video(t, locale),
    )


async def help_command(update: Update, context: BotContext) -> None:
    """How the bot works, limits included."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    t, services = context.services.translator, context.services
    locale = t.negotiate(user.language_code)
    await message.reply_text(
        t.t(
            locale,
            "help.text",
            limit=int(services.media.max_voice_seconds),
            size_mb=services.media.download_limit // 1_000_000,
        )
    )


async def cancel(update: Update, context: BotContext) -> None:
    """/cancel: end the conversation at whatever step."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None
    assert chat is not None
    assert user is not None
    services = context.services
    locale = services.translator.negotiate(user.language_code)
    draft = await services.drafts.get(chat.id, user.id)
    ended = draft is not None and await cancel_draft(services, draft)
    await message.reply_text(
        services.translator.t(locale, "cancel.done" if ended else "cancel.nothing")
    )


async def jobs(update: Update, context: BotContext) -> None:
    """/jobs: the last jobs with their status, and a button to get each video again."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    services = context.services
    t = services.translator
    locale = t.negotiate(user.language_code)
    recent = await services.jobs.recent(user.id, JOBS_SHOWN)
    if not recent:
        await message.reply_text(t.t(locale, "jobs.none"))
        return
    lines = [t.t(locale, "jobs.header")]
    for job in recent:
        line = t.t(
            locale,
            "jobs.line",
            job_id=job.id,
            date=job.created_at.strftime("%Y-%m-%d %H:%M"),
            ratio=job.ratio,
            provider=t.t(locale, f"provider.{job.provider}"),
            status=t.t(locale, f"status.{job.status}"),
        )
        if job.status is JobStatus.RUNNING and job.progress is not None:
            line += f" {job.progress}%"
        lines.append(line)
    delivered = [job.id for job in recent if job.result_file_id]
    await message.reply_text("\n".join(lines), reply_markup=keyboards.resend(t, locale, delivered))


async def resend(update: Update, context: BotContext) -> None:
    """A /jobs button: send a delivered video again (by file_id, no upload)."""
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    assert query is not None
    assert query.data is not None
    assert user is not None
    assert chat is not None
    services = context.services
    locale = services.translator.negotiate(user.language_code)
    job = await services.jobs.get(cd.job_id_of(query.data))
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
    job = await services.jobs.get(cd.job_id_of(query.data))
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


def _preview_only(context: BotContext) -> bool:
    return all(p.capabilities.is_preview for p in context.services.providers.values())
