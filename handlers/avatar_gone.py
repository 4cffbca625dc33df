"""An avatar picked earlier that is no longer offered to its user where they use it: its
owner deleted it or stopped sharing it with the group, or its provider no longer lists it.

The picker checks an avatar when it is picked; a conversation, and a job's buttons, live on
long after. So it is checked again wherever a picked face is used: [Generate] at the summary,
and [Again], [Try again] and [Other provider], which take a job's inputs up again. Then no
job is made: the user is told the avatar is no longer available to them and asked for another
face, everything else they chose kept (:meth:`FaceSteps.face_again`)."""

from __future__ import annotations

import contextlib

from telegram import CallbackQuery
from telegram.error import TelegramError

from bot.context import BotContext
from bot.models import AvatarFace, Draft
from handlers.prompts import Screens


async def refused_at_generate(context: BotContext, draft: Draft, summary_id: int) -> bool:
    """[Generate] on ``draft`` (stored, at CONFIRM): whether an avatar of it is no longer
    offered. Then the conversation asks for a face again, and the summary loses its
    buttons (their token is stale now)."""
    gone = context.drafts.picker.gone(draft)
    if not gone:
        return False
    back = await context.drafts.ask_face_again(draft)
    if back is None:  # ended or changed meanwhile: nothing to generate from this press
        return True
    with contextlib.suppress(TelegramError):  # a leftover button only gets an alert
        await context.bot.edit_message_reply_markup(draft.chat_id, summary_id)
    await _tell(context, back, gone)
    return True


async def refused_rebuilt(context: BotContext, query: CallbackQuery, draft: Draft) -> bool:
    """A draft rebuilt from a job ([Try again], [Other provider]; not stored yet): whether
    an avatar of it is no longer offered. Then it becomes the user's conversation, asking
    for a face again (answering the press, the prompt replying to the pressed message)."""
    moved = context.drafts.face_again(draft)
    if moved is None:
        return False
    gone = context.drafts.picker.gone(draft)
    await query.answer()
    if query.message is not None:
        moved = moved.model_copy(update={"reply_to": query.message.message_id})
    await _tell(context, await context.drafts.adopt(moved), gone)
    return True


async def refused_again(context: BotContext, draft: Draft) -> bool:
    """[Again]'s new conversation (stored, at VOICE, or MEDIA for a dialogue's second
    avatar): whether an avatar of it is no longer offered. Then it asks for a face again,
    and says why."""
    gone = context.drafts.picker.gone(draft)
    if not gone:
        return False
    back = await context.drafts.ask_face_again(draft)
    if back is not None:
        await _tell(context, back, gone)
    return True


async def _tell(context: BotContext, draft: Draft, gone: list[AvatarFace]) -> None:
    """Why, then the MEDIA prompt; whether the rest was kept (a voice already given)."""
    t, locale = context.t, draft.locale
    if len(gone) > 1:
        said = t.t(locale, "avatars.faces_gone", first=gone[0].name, second=gone[1].name)
    else:
        said = t.t(locale, "avatars.face_gone", name=gone[0].name)
    if draft.voice is not None:
        said += " " + t.t(locale, "avatars.choices_kept")
    await Screens.of(context).explain(draft, said)
