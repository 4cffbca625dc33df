"""/quota (what I have left and when it resets, design §1) and the answer to a [Generate]
that quotas refused."""

from __future__ import annotations

import contextlib

from telegram import (
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import TelegramError

from bot.context import BotContext
from bot.models import Draft
from bot.quotas import QuotaExceeded, TooManyActive
from handlers import keyboards, quota_text
from handlers.prompts import Screens


async def quota(update: Update, context: BotContext) -> None:
    """/quota: the user's limits where they asked (in a group, also its pool and their
    share of it), what is left of each and when it resets."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None
    assert chat is not None
    assert user is not None
    locale = context.t.negotiate(user.language_code)
    allowances = await context.quotas.allowances(user.id, chat.id, chat.type)
    text = quota_text.report(context.t, locale, allowances, context.quotas.now())
    await message.reply_text(text)


async def refuse_generate(
    context: BotContext, draft: Draft, refused: QuotaExceeded | TooManyActive, summary_id: int
) -> None:
    """[Generate] on the summary made no job: say why in a reply to it (the summary keeps
    its buttons, the draft is kept), with [Shorter voice] when a shorter one would fit."""
    t = context.t
    text = quota_text.refusal(t, draft.locale, refused, context.quotas.now())
    markup = None
    if isinstance(refused, QuotaExceeded) and quota_text.offers_shorter(
        refused.allowance, refused.needed
    ):
        markup = InlineKeyboardMarkup([[keyboards.shorter_voice(t, draft)]])
    await context.bot.send_message(
        draft.chat_id,
        text,
        reply_markup=markup,
        reply_parameters=ReplyParameters(summary_id, allow_sending_without_reply=True),
    )


async def refuse_retry(
    context: BotContext, draft: Draft, refused: QuotaExceeded | TooManyActive
) -> bool:
    """[Try again] made no job: the same order becomes the user's conversation, at its
    summary under the reason, so [Generate] (after the reset) or [Shorter voice] finish it.
    A conversation the user has going in this chat is never replaced: then only the reason
    is said, and the failure message keeps its [Try again] for later.

    Returns:
        Whether the order became the conversation (its summary is now the way forward).
    """
    text = quota_text.refusal(context.t, draft.locale, refused, context.quotas.now())
    if await context.drafts.get(draft.chat_id, draft.user_id) is not None:
        await context.bot.send_message(
            draft.chat_id,
            text,
            reply_parameters=(
                ReplyParameters(draft.reply_to, allow_sending_without_reply=True)
                if draft.reply_to is not None
                else None
            ),
        )
        return False
    adopted = await context.drafts.adopt(draft)
    await Screens.of(context).explain(adopted, text)
    return True


async def shorter_voice(
    context: BotContext, draft: Draft, pressed_on: MaybeInaccessibleMessage
) -> bool:
    """[Shorter voice]: back to the VOICE step with the face and choices kept. False when
    the press is out of place (the caller answers it as stale)."""
    updated = await context.drafts.shorter_voice(draft)
    if updated is None:
        return False
    # The summary's [Generate] is spent until a new voice comes: take the buttons off it
    # (and off the refusal that replied to it), so none answers "stale" later.
    spent = [pressed_on]
    earlier = pressed_on.reply_to_message if isinstance(pressed_on, Message) else None
    if earlier is not None and _carries(earlier, draft.token):
        spent.append(earlier)  # the summary a refusal replied to (not a failure message)
    for message in spent:
        with contextlib.suppress(TelegramError):  # a leftover button only gets an alert
            await context.bot.edit_message_reply_markup(draft.chat_id, message.message_id)
    await Screens.of(context).prompt(updated)
    return True


def _carries(message: Message, token: str) -> bool:
    """Whether ``message`` has a button of the conversation with ``token``."""
    markup = message.reply_markup
    if markup is None:
        return False
    return any(
        token in str(button.callback_data or "")
        for row in markup.inline_keyboard
        for button in row
    )
