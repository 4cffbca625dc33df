"""/start, /help, /cancel, /jobs, unknown commands and the buttons under a finished video."""

from __future__ import annotations

from pathlib import Path

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import Forbidden

from bot.context import BotContext
from bot.models import AvatarFace, DeliveryClaim, InputFile, Job, JobStatus
from handlers import avatar_gone, dialogue_screens, keyboards
from handlers.buttons import owned_job, pressed, stale
from handlers.conversation import begin
from handlers.gate import may_start
from handlers.incoming import replies_to
from handlers.prompts import Screens

#: How many jobs /jobs lists.
JOBS_SHOWN = 10


async def start(update: Update, context: BotContext) -> None:
    """Greet and offer the "New video" button."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    t = context.t
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
    t = context.t
    locale = t.negotiate(user.language_code)
    text = t.t(
        locale,
        "help.text",
        limit=int(context.drafts.max_voice_seconds),
        size_mb=context.drafts.download_limit // 1_000_000,
    )
    if dialogue_screens.offered(context.catalog, picker=context.drafts.picker.available):
        text += "\n\n" + t.t(locale, "help.dialogue")
    if context.custom_avatars.allowed(user.id):
        text += "\n\n" + t.t(locale, "help.avatar")
    if _in_group(message):
        text += "\n\n" + t.t(locale, "hint.groups")
        if context.drafts.picker.available:  # no [Avatars] button under a group's prompts
            text += "\n" + t.t(locale, "help.avatars")
        text += "\n\n" + t.t(locale, "help.group_admins")
    if user.id in context.admins and not _in_group(message):
        text += "\n\n" + t.t(locale, "help.admins")
    await message.reply_text(text)


async def cancel(update: Update, context: BotContext) -> None:
    """/cancel: end the conversation at whatever step, and the user's unfinished jobs here."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None
    assert chat is not None
    assert user is not None
    t = context.t
    locale = t.negotiate(user.language_code)
    draft = await context.drafts.get(chat.id, user.id)
    ended = draft is not None and await context.drafts.cancel(draft)
    canceled = await context.jobs.cancel_active(chat.id, user.id)
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
    t = context.t
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


def _status_key(job: Job) -> str:
    if job.status is JobStatus.SUCCEEDED and job.delivery is DeliveryClaim.OFFERED:
        return "status.offered"  # the upload was not confirmed: the button is theirs to press
    return f"status.{job.status}"


async def _jobs_listing(
    context: BotContext, user_id: int, locale: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    t = context.t
    recent = await context.jobs.recent(user_id, JOBS_SHOWN)
    if not recent:
        return t.t(locale, "jobs.none"), None
    lines = [t.t(locale, "jobs.header")]
    for job in recent:
        line = t.t(
            locale,
            "jobs.line",
            job_id=job.id,
            # Stored in UTC; the locale line says so.
            date=f"{t.date(locale, job.created_at)} {job.created_at:%H:%M}",
            ratio=job.ratio,
            provider=t.t(locale, f"provider.{job.provider}"),
            status=t.t(locale, _status_key(job)),
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
    t = context.t
    await message.reply_text(t.t(t.negotiate(user.language_code), "hint.unknown_command"))


async def unknown_button(update: Update, context: BotContext) -> None:
    """A button no handler knows (a forged payload, or one from an older version of the bot):
    answer it, or the user's client shows a spinner until it gives up."""
    await stale(update, context)


async def resend(update: Update, context: BotContext) -> None:
    """A /jobs button: send a delivered video again (by file_id, no upload)."""
    chat = update.effective_chat
    assert chat is not None
    job = await owned_job(update, context)
    if job is None:
        return
    query, _ = pressed(update)
    if job.result_file_id is None:  # forged: /jobs offers only delivered videos
        await stale(update, context)
        return
    await query.answer()
    await context.jobs.resend(job, chat.id)


async def again(update: Update, context: BotContext) -> None:
    """[Again]: a new video with the same face (a dialogue's faces); asks for a new voice
    (a dialogue's two, and their turns)."""
    job = await owned_job(update, context)
    if job is None:
        return
    if not await may_start(update, context):  # answers the press itself
        return
    query, _ = pressed(update)
    await query.answer()
    face, two = job.order.face, job.order.dialogue is not None
    second = job.order.dialogue.avatar if job.order.dialogue is not None else None
    if isinstance(face, AvatarFace):
        kept = face.provider in context.catalog  # else its provider is off now: a new face
        draft = await begin(
            context,
            update,
            avatar=face if kept else None,
            dialogue=two,
            avatar2=second if kept else None,
        )
        if await avatar_gone.refused_again(context, draft):
            return  # asks for another face instead
    elif Path(face.path).exists():
        held = InputFile(file_id="", source="again", path=face.path, probe=face.probe)
        draft = await begin(context, update, face=held, face_kind=face.media_kind, dialogue=two)
    else:
        draft = await begin(context, update, dialogue=two)
    await Screens.of(context).prompt(draft)


async def new_button(update: Update, context: BotContext) -> None:
    """[New] / [New video]: start a conversation."""
    if not await may_start(update, context):  # answers the press itself
        return
    query, _ = pressed(update)
    await query.answer()
    await Screens.of(context).prompt(await begin(context, update))


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
    return context.catalog.preview_only()
