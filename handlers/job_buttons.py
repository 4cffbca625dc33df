"""The buttons on a job's messages: [Cancel] on its status message, and after a failure
[Try again] [Other provider] [New] ([Other photo] for a dialogue's photo). Only the job's
owner may press them."""

from __future__ import annotations

import contextlib

from telegram import CallbackQuery, Update
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.context import BotContext
from bot.delivery.status import failure_text, way_forward, ways_left
from bot.models import Job, JobStatus, Step
from bot.quotas import QuotaExceeded, TooManyActive
from handlers import avatar_gone
from handlers.buttons import owned_job, pressed, stale
from handlers.conversation import begin
from handlers.gate import may_start
from handlers.prompts import Screens
from handlers.quota import refuse_retry

#: Jobs whose failure message offers a way forward.
_ENDED_BADLY = (JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.CANCELED)


async def on_job_button(update: Update, context: BotContext) -> None:
    """[Cancel], [Try again], [Other provider] or [New] on one of a job's messages."""
    query, data = pressed(update)
    job = await owned_job(update, context)
    if job is None:
        return
    action = data.partition(":")[0]
    if query.message is None:  # too old for Telegram to say where it was
        await stale(update, context)
    elif action == cd.STOP:
        await _cancel(query, context, job)
    elif job.status not in _ENDED_BADLY:
        await stale(update, context)
    elif action == cd.RETRY:
        await _retry(query, context, job)
    elif action == cd.OTHER_PROVIDER:
        await _other_provider(query, context, job)
    elif action == cd.OTHER_PHOTO:
        if job.order.dialogue is None or job.order.face_file is None:
            await stale(update, context)  # no photo of two to replace: a forged press
        else:
            await _other_photo(query, context, job)
    elif await may_start(update, context):  # [New]; a refusal answers the press itself
        await query.answer()
        await Screens.of(context).prompt(await begin(context, update))


async def _cancel(query: CallbackQuery, context: BotContext, job: Job) -> None:
    t = context.t
    if await context.jobs.cancel(job):
        await query.answer(t.t(job.locale, "controls.canceled", job_id=job.id))
    else:
        await query.answer(t.t(job.locale, "controls.too_late", job_id=job.id), show_alert=True)


async def _retry(query: CallbackQuery, context: BotContext, job: Job) -> None:
    """A new job with the same face, voice, ratio and provider."""
    t = context.t
    claim = f"retry:{job.id}"
    started = context.jobs.started(claim)
    if started is not None:
        await query.answer(
            t.t(job.locale, "controls.already_started", job_id=started), show_alert=True
        )
        return
    if job.provider not in context.catalog:
        provider = t.t(job.locale, f"provider.{job.provider}")
        await query.answer(t.t(job.locale, "error.provider_gone", provider=provider))
        return
    draft = context.jobs.inputs_of(job, step=Step.CONFIRM, provider=job.provider)
    if draft is None:
        await query.answer(t.t(job.locale, "failure.inputs_gone", job_id=job.id), show_alert=True)
        return
    if await avatar_gone.refused_rebuilt(context, query, draft):
        return  # asks for another face instead
    await query.answer()
    assert query.message is not None
    try:
        await context.jobs.create(draft, reply_to=query.message.message_id, claim=claim)
    except (QuotaExceeded, TooManyActive) as refused:
        draft = draft.model_copy(update={"reply_to": query.message.message_id})
        if await refuse_retry(context, draft, refused):
            # The order waits at its summary now: one [Generate] for it, not two (a second
            # [Try again] as well would make, and charge, the same video twice).
            with contextlib.suppress(TelegramError):
                await query.edit_message_reply_markup(None)
        return
    with contextlib.suppress(TelegramError):  # a leftover button only gets an alert
        await query.edit_message_reply_markup(None)


async def _other_provider(query: CallbackQuery, context: BotContext, job: Job) -> None:
    """The PROVIDER step again with the same inputs, offering only the other able providers."""
    t = context.t
    draft = context.jobs.inputs_of(job, step=Step.PROVIDER, provider=None)
    if draft is None:
        await query.answer(t.t(job.locale, "failure.inputs_gone", job_id=job.id), show_alert=True)
        return
    if await avatar_gone.refused_rebuilt(context, query, draft):
        return  # asks for another face instead
    if not context.catalog.able(draft):
        # The one that could was turned off since the failure was told (a restart).
        await _none_able(query, context, job)
        return
    await query.answer()
    assert query.message is not None
    draft = draft.model_copy(update={"reply_to": query.message.message_id})
    await Screens.of(context).prompt(await context.drafts.adopt(draft))


async def _none_able(query: CallbackQuery, context: BotContext, job: Job) -> None:
    """[Other provider] with no other enabled provider able: say so, and turn the failure
    message into what still works ([Try again] while its own provider is on, [New])."""
    t, locale = context.t, job.locale
    provider_on = job.provider in context.catalog
    if provider_on:
        said = t.t(locale, "failure.no_other_provider")
    else:
        said = t.t(locale, "failure.no_provider_on", provider=t.provider(locale, job.provider))
    await query.answer(said, show_alert=True)
    actions = ways_left(job, provider_on=provider_on)
    with contextlib.suppress(TelegramError):  # the alert said it already
        await query.edit_message_text(
            failure_text(t, job, actions), reply_markup=way_forward(t, job, actions)
        )


async def _other_photo(query: CallbackQuery, context: BotContext, job: Job) -> None:
    """A dialogue's MEDIA step again, asking only for a new photo: both voices, the turns,
    the shape and the provider (while it is on) are kept, so the photo leads straight to the
    summary."""
    t = context.t
    provider = job.provider if job.provider in context.catalog else None
    draft = context.jobs.inputs_of(job, step=Step.MEDIA, provider=provider, new_face=True)
    if draft is None:
        await query.answer(t.t(job.locale, "failure.inputs_gone", job_id=job.id), show_alert=True)
        return
    await query.answer()
    assert query.message is not None
    draft = draft.model_copy(update={"reply_to": query.message.message_id, "avoid": []})
    await Screens.of(context).prompt(await context.drafts.adopt(draft))
