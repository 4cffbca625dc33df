"""The buttons on a job's messages: [Cancel] on its status message, and after a failure
[Try again] [Other provider] [New]. Only the job's owner may press them."""

from __future__ import annotations

import contextlib

from telegram import CallbackQuery, Update
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.context import BotContext
from bot.models import Job, JobStatus, Step
from handlers.conversation import begin, offer_providers
from handlers.prompts import able_providers, prompt

#: Jobs whose failure message offers a way forward.
_ENDED_BADLY = (JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.CANCELED)


async def on_job_button(update: Update, context: BotContext) -> None:
    """[Cancel], [Try again], [Other provider] or [New] on one of a job's messages."""
    query, user = update.callback_query, update.effective_user
    assert query is not None
    assert query.data is not None
    assert user is not None
    t = context.services.translator
    locale = t.negotiate(user.language_code)
    action = query.data.partition(":")[0]
    job_id = cd.job_id_of(query.data)
    job = None if job_id is None else await context.services.jobs.get(job_id)
    if job is None or query.message is None:  # forged, or from a wiped database
        await query.answer(t.t(locale, "error.stale_button"), show_alert=True)
        return
    if job.user_id != user.id:
        await query.answer(t.t(locale, "error.not_your_button"), show_alert=True)
        return
    if action == cd.STOP:
        await _cancel(query, context, job)
    elif job.status not in _ENDED_BADLY:
        await query.answer(t.t(locale, "error.stale_button"), show_alert=True)
    elif action == cd.RETRY:
        await _retry(query, context, job)
    elif action == cd.OTHER_PROVIDER:
        await _other_provider(query, context, job)
    else:
        await query.answer()
        await prompt(context.bot, context.services, await begin(context.services, update))


async def _cancel(query: CallbackQuery, context: BotContext, job: Job) -> None:
    t = context.services.translator
    if await context.services.controls.cancel(job):
        await query.answer(t.t(job.locale, "controls.canceled", job_id=job.id))
    else:
        await query.answer(t.t(job.locale, "controls.too_late", job_id=job.id), show_alert=True)


async def _retry(query: CallbackQuery, context: BotContext, job: Job) -> None:
    """A new job with the same face, voice, ratio and provider."""
    services = context.services
    t = services.translator
    claim = f"retry:{job.id}"
    started = services.controls.started(claim)
    if started is not None:
        await query.answer(
            t.t(job.locale, "controls.already_started", job_id=started), show_alert=True
        )
        return
    if job.provider not in services.providers:
        await query.answer(t.t(job.locale, "error.provider_gone", provider=_label(context, job)))
        return
    draft = services.controls.draft_from(job, step=Step.CONFIRM, provider=job.provider)
    if draft is None:
        await query.answer(t.t(job.locale, "failure.inputs_gone", job_id=job.id), show_alert=True)
        return
    await query.answer()
    assert query.message is not None
    await services.controls.generate(draft, reply_to=query.message.message_id, claim=claim)
    with contextlib.suppress(TelegramError):  # a leftover button only gets an alert
        await query.edit_message_reply_markup(None)


async def _other_provider(query: CallbackQuery, context: BotContext, job: Job) -> None:
    """The PROVIDER step again with the same inputs, offering only the other able providers."""
    services = context.services
    t = services.translator
    draft = services.controls.draft_from(job, step=Step.PROVIDER, provider=None)
    if draft is None:
        await query.answer(t.t(job.locale, "failure.inputs_gone", job_id=job.id), show_alert=True)
        return
    if not able_providers(services, draft):
        await query.answer(t.t(job.locale, "failure.no_other_provider"), show_alert=True)
        return
    await query.answer()
    assert query.message is not None
    draft = draft.model_copy(update={"reply_to": query.message.message_id})
    await offer_providers(context.bot, services, draft)


def _label(context: BotContext, job: Job) -> str:
    return context.services.translator.t(job.locale, f"provider.{job.provider}")
