"""What every button handler does first: find out who pressed, and answer a press that cannot
be served (a stale button, someone else's) with an alert instead of a spinning client."""

from __future__ import annotations

from telegram import CallbackQuery, Update

from bot import callback_data as cd
from bot.context import BotContext
from bot.conversation import Press
from bot.models import Draft, Job


def pressed(update: Update) -> tuple[CallbackQuery, str]:
    """The callback query and its data (every button this bot makes carries data)."""
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    return query, query.data


def locale_of(update: Update, context: BotContext) -> str:
    user = update.effective_user
    return context.t.negotiate(user.language_code if user is not None else None)


async def alert(update: Update, context: BotContext, key: str, **params: object) -> None:
    """Answer the press with an alert in the presser's language."""
    query, _ = pressed(update)
    await query.answer(context.t.t(locale_of(update, context), key, **params), show_alert=True)


async def stale(update: Update, context: BotContext) -> None:
    """A button from an earlier conversation, a wiped database or a forged payload."""
    await alert(update, context, "error.stale_button")


async def not_yours(update: Update, context: BotContext) -> None:
    await alert(update, context, "error.not_your_button")


async def owned_job(update: Update, context: BotContext) -> Job | None:
    """The job a job button names when the presser made it; otherwise the press is answered
    (stale or not yours) and None returned."""
    _, data = pressed(update)
    user = update.effective_user
    assert user is not None
    job_id = cd.job_id_of(data)
    job = None if job_id is None else await context.jobs.owned(job_id, user.id)
    if job is not None:
        return job
    if job_id is not None and await context.jobs.exists(job_id):
        await not_yours(update, context)
    else:
        await stale(update, context)
    return None


async def step_press(
    update: Update, context: BotContext
) -> tuple[cd.StepButton, Draft | None] | None:
    """A conversation button and the presser's draft it belongs to (None when the draft is
    gone or newer); None after answering a forged or someone else's press."""
    query, data = pressed(update)
    chat, user = update.effective_chat, update.effective_user
    assert user is not None
    button = cd.parse_step(data)
    if button is None or chat is None or query.message is None:
        await stale(update, context)
        return None
    draft = await context.drafts.pressed(chat.id, user.id, button.user_id, button.token)
    if draft is Press.NOT_YOURS:
        await not_yours(update, context)
        return None
    return button, draft if isinstance(draft, Draft) else None
