"""The /new conversation: MEDIA -> VOICE -> RATIO -> PROVIDER -> CONFIRM -> a job.

State lives in the drafts table, keyed by (chat, user), not in memory: a restart resumes at
the same step with everything the user already sent. Handlers only collect inputs; files are
downloaded and probed by a background task, which moves the draft on when it is done.
"""

from __future__ import annotations

import contextlib
import logging
import secrets

from telegram import Bot, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.context import BotContext
from bot.errors import MediaError, MediaTooLong
from bot.models import AspectRatio, Draft, InputFile, MediaKind, Step, VoiceKind
from bot.services import Services
from handlers import face_swap, keyboards
from handlers.incoming import Incoming, Kind, classify, replies_to
from handlers.prompts import able_providers, edit, prompt, refuse, render_step, say

log = logging.getLogger(__name__)

#: The step a background check returns to when the file is refused, and moves on to when
#: it is accepted.
_CHECKS = {
    Step.MEDIA_CHECK: (Step.MEDIA, Step.VOICE),
    Step.VOICE_CHECK: (Step.VOICE, Step.RATIO),
}


# --- entry points -------------------------------------------------------------------------


async def new(update: Update, context: BotContext) -> None:
    """/new, /lipsync: start over; as a reply to a photo or video, use that as the face."""
    message = update.effective_message
    assert message is not None
    target = message.reply_to_message
    draft = await begin(context.services, update)
    if target is not None and classify(target).kind is Kind.FACE:
        await _accept_face(context, draft, classify(target))
    else:
        await prompt(context.bot, context.services, draft)


async def new_from_caption(update: Update, context: BotContext) -> None:
    """A photo or video captioned /lipsync: start and take it as the face at once."""
    message = update.effective_message
    assert message is not None
    draft = await begin(context.services, update)
    await _accept_face(context, draft, classify(message))


async def begin(
    services: Services,
    update: Update,
    *,
    media: InputFile | None = None,
    media_kind: MediaKind | None = None,
) -> Draft:
    """A fresh draft for this (chat, user), replacing any other; starts at VOICE when the
    face is already known ([Again])."""
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    assert chat is not None
    assert user is not None
    services.tasks.cancel(_check_key(chat.id, user.id))
    draft = Draft(
        chat_id=chat.id,
        user_id=user.id,
        token=secrets.token_urlsafe(6),
        chat_type=chat.type,
        step=Step.VOICE if media is not None else Step.MEDIA,
        media=media,
        media_kind=media_kind,
        reply_to=message.message_id if message is not None and message.from_user == user else None,
        locale=services.translator.negotiate(user.language_code),
    )
    return await services.drafts.save(draft)


# --- messages during the conversation -----------------------------------------------------


async def on_message(update: Update, context: BotContext) -> None:
    """Route a message to the step the user's draft is at."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None
    assert chat is not None
    assert user is not None
    services = context.services
    incoming = classify(message)
    draft = await services.drafts.get(chat.id, user.id)
    is_private = chat.type == ChatType.PRIVATE
    if draft is None:
        if is_private and incoming.kind is Kind.FACE:
            # Sending a photo straight away is the most natural way to start.
            await _accept_face(context, await begin(services, update), incoming)
        elif is_private:
            locale = services.translator.negotiate(user.language_code)
            await message.reply_text(
                services.translator.t(locale, "hint.start"),
                reply_markup=keyboards.new_video(services.translator, locale),
            )
        return
    if (
        not is_private
        and incoming.kind in (Kind.TEXT, Kind.OTHER)
        and not replies_to(message, context.bot)
    ):
        return  # group chatter that is not an answer to one of our prompts
    draft = draft.model_copy(
        update={
            "reply_to": message.message_id,
            "locale": services.translator.negotiate(user.language_code),
        }
    )
    await _route(context, draft, incoming)


async def _route(context: BotContext, draft: Draft, incoming: Incoming) -> None:
    services, bot = context.services, context.bot
    step = draft.step
    if step in _CHECKS:
        await say(bot, services, draft, "error.still_checking")
    elif step is Step.MEDIA:
        if incoming.kind is Kind.FACE:
            await _accept_face(context, draft, incoming)
        else:
            key = "error.voice_first" if incoming.kind is Kind.VOICE else "error.need_face"
            await refuse(bot, services, draft, key)
    elif step is Step.VOICE:
        if incoming.kind is Kind.VOICE:
            await _accept_voice(context, draft, incoming)
        elif incoming.kind is Kind.TEXT:
            await refuse(bot, services, draft, "error.text_unavailable")
        elif incoming.kind is Kind.FACE:
            await face_swap.offer(context, draft, incoming)
        else:
            await refuse(bot, services, draft, "error.need_voice")
    elif incoming.kind is Kind.FACE:
        await face_swap.offer(context, draft, incoming)
    else:
        await refuse(bot, services, draft, "error.use_buttons")


async def _accept_face(context: BotContext, draft: Draft, incoming: Incoming) -> None:
    assert incoming.file is not None
    assert incoming.media_kind is not None
    services = context.services
    try:
        services.media.check_size(incoming.file)
    except MediaError as exc:
        await refuse(context.bot, services, draft, exc.key, **exc.params)
        return
    draft = draft.model_copy(
        update={
            "step": Step.MEDIA_CHECK,
            "media": incoming.file,
            "media_kind": incoming.media_kind,
        }
    )
    await _start_check(context.bot, services, await services.drafts.save(draft))


async def _accept_voice(context: BotContext, draft: Draft, incoming: Incoming) -> None:
    assert incoming.file is not None
    services = context.services
    limit = services.media.max_voice_seconds
    try:
        services.media.check_size(incoming.file)
        if incoming.duration is not None and incoming.duration > limit:
            # Telegram tells the length up front: no need to download a 10-minute file.
            raise MediaTooLong(limit=int(limit), duration=incoming.duration)
    except MediaError as exc:
        await refuse(context.bot, services, draft, exc.key, **exc.params)
        return
    draft = draft.model_copy(
        update={"step": Step.VOICE_CHECK, "voice": incoming.file, "voice_kind": VoiceKind.AUDIO}
    )
    await _start_check(context.bot, services, await services.drafts.save(draft))


# --- background checks --------------------------------------------------------------------


async def _start_check(bot: Bot, services: Services, draft: Draft) -> None:
    services.tasks.spawn(
        _check_key(draft.chat_id, draft.user_id), check(bot, services, draft), replace=True
    )


async def check(bot: Bot, services: Services, draft: Draft) -> None:
    """Download and probe the file a ``*_CHECK`` draft is waiting on, then move it on."""
    refused_step, next_step = _CHECKS[draft.step]
    with contextlib.suppress(TelegramError):  # only a courtesy
        await bot.send_chat_action(draft.chat_id, ChatAction.TYPING)
    refusal: tuple[str, dict[str, object]] | None = None
    try:
        if draft.step is Step.MEDIA_CHECK:
            assert draft.media is not None
            assert draft.media_kind is not None
            accepted = {"media": await services.media.ingest_face(draft.media, draft.media_kind)}
        else:
            assert draft.voice is not None
            accepted = {"voice": await services.media.ingest_voice(draft.voice)}
    except MediaError as exc:
        log.info("Refused a file in chat %d: %s", draft.chat_id, exc)
        refusal = exc.key, exc.params
    except Exception:
        # A bug or a full disk must not leave the draft "still checking" until a restart.
        log.exception("Checking a file in chat %d failed", draft.chat_id)
        refusal = "error.check_failed", {}

    def settle(current: Draft) -> Draft | None:
        if current.step is not draft.step:
            return None  # moved on meanwhile
        if refusal is not None:
            field = "media" if draft.step is Step.MEDIA_CHECK else "voice"
            return current.model_copy(update={"step": refused_step, field: None})
        return _single_choice(services, current.model_copy(update={"step": next_step, **accepted}))

    settled = await services.drafts.update(draft, settle)
    if settled is None:
        return  # the user canceled or started over meanwhile
    if refusal is not None:
        key, params = refusal
        await refuse(bot, services, settled, key, **params)
    else:
        await prompt(bot, services, settled)


async def resume_checks(bot: Bot, services: Services) -> int:
    """After a restart, restart the checks that were under way. Returns how many."""
    drafts = await services.drafts.in_steps(*_CHECKS)
    for draft in drafts:
        await _start_check(bot, services, draft)
    return len(drafts)


def _check_key(chat_id: int, user_id: int) -> str:
    return f"check:{chat_id}:{user_id}"


# --- buttons ------------------------------------------------------------------------------


async def on_step_button(update: Update, context: BotContext) -> None:
    """Ratio, provider, [Generate] and [Cancel] presses."""
    query, chat, user = update.callback_query, update.effective_chat, update.effective_user
    assert query is not None
    assert query.data is not None
    assert user is not None
    services = context.services
    t, locale = services.translator, services.translator.negotiate(user.language_code)
    button = cd.parse_step(query.data)
    if button is None or chat is None or query.message is None:
        await query.answer(t.t(locale, "error.stale_button"), show_alert=True)
        return
    if button.user_id != user.id:
        await query.answer(t.t(locale, "error.not_your_button"), show_alert=True)
        return
    draft = await services.drafts.get(chat.id, user.id)
    if draft is None or draft.token != button.token:
        started = services.controls.started(button.token) if button.action == cd.GENERATE else None
        if started is not None:  # a second tap on [Generate]
            answer = t.t(locale, "controls.already_started", job_id=started)
        else:
            answer = t.t(locale, "error.stale_button")
        await query.answer(answer, show_alert=True)
        return
    message_id = query.message.message_id
    if button.action == cd.CANCEL:
        await cancel_draft(services, draft)
        await query.answer()
        await edit(context.bot, draft.chat_id, message_id, t.t(draft.locale, "cancel.done"))
        return
    if button.action == cd.GENERATE and draft.step is Step.CONFIRM:
        # Deleting the draft is the claim: a double tap finds nothing left to generate.
        if not await services.drafts.delete(draft.chat_id, draft.user_id):
            await query.answer()
            return
        await query.answer()
        try:
            # The job's progress goes to a new message that replies to this summary.
            await services.controls.generate(draft, reply_to=message_id, claim=draft.token)
        except Exception:
            await services.drafts.save(draft)  # keep what the user sent for another try
            raise
        # The summary stays as the record of the order; only its buttons go.
        with contextlib.suppress(TelegramError):  # a leftover button only gets an alert
            await context.bot.edit_message_reply_markup(draft.chat_id, message_id)
        return
    updated = _choose(services, draft, button)
    if updated is None:
        await query.answer(t.t(locale, "error.stale_button"), show_alert=True)
        return
    draft = await _skip_single_choices(services, updated)
    await query.answer()
    text, markup = render_step(services, draft)
    await edit(context.bot, draft.chat_id, message_id, text, markup)


def _choose(services: Services, draft: Draft, button: cd.StepButton) -> Draft | None:
    """The draft after a ratio or provider choice, or None if the press is out of place."""
    choosing = (Step.RATIO, Step.PROVIDER, Step.CONFIRM)
    if button.action == cd.RATIO and draft.step in choosing:
        try:
            ratio = AspectRatio(button.value)
        except ValueError:
            return None
        return draft.model_copy(update={"ratio": ratio, "step": Step.PROVIDER, "provider": None})
    if button.action == cd.PROVIDER and draft.step in choosing[1:]:
        if button.value not in able_providers(services, draft):
            return None
        return draft.model_copy(update={"provider": button.value, "step": Step.CONFIRM})
    return None


async def _skip_single_choices(services: Services, draft: Draft) -> Draft:
    """Skip PROVIDER when exactly one provider can do this; save and return the draft."""
    return await services.drafts.save(_single_choice(services, draft))


def _single_choice(services: Services, draft: Draft) -> Draft:
    """The draft past PROVIDER when exactly one provider can do this."""
    if draft.step is Step.PROVIDER:
        able = able_providers(services, draft)
        if len(able) == 1:
            return draft.model_copy(update={"provider": able[0], "step": Step.CONFIRM})
    return draft


async def offer_providers(bot: Bot, services: Services, draft: Draft) -> None:
    """Open the PROVIDER step with a draft made elsewhere ([Other provider] after a failure),
    in place of the user's current conversation."""
    services.tasks.cancel(_check_key(draft.chat_id, draft.user_id))
    await prompt(bot, services, await _skip_single_choices(services, draft))


async def cancel_draft(services: Services, draft: Draft) -> bool:
    """End a conversation and any check it has running."""
    services.tasks.cancel(_check_key(draft.chat_id, draft.user_id))
    return await services.drafts.delete(draft.chat_id, draft.user_id)
