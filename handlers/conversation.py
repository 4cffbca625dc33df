"""The /new conversation's handlers: MEDIA -> VOICE -> RATIO -> PROVIDER -> CONFIRM -> a job
(a dialogue's, from [Dialogue] or /dialogue: MEDIA -> VOICE -> VOICE2 -> TURNS -> RATIO...).

They route what the user sent to a transition of :class:`bot.conversation.DraftService` and
render the draft it returns; files are checked in the background by the service.
"""

from __future__ import annotations

import contextlib

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.context import BotContext
from bot.conversation import CHECKS
from bot.errors import MediaError
from bot.models import AvatarFace, Draft, InputFile, MediaKind, Step
from bot.quotas import QuotaExceeded, TooManyActive
from handlers import avatar_gone, dialogue_screens, keyboards
from handlers.buttons import alert, pressed, stale, step_press
from handlers.gate import may_start
from handlers.incoming import Incoming, Kind, classify, replies_to
from handlers.prompts import Screens, edit
from handlers.quota import refuse_generate, shorter_voice

# --- entry points -------------------------------------------------------------------------


async def new(update: Update, context: BotContext) -> None:
    """/new, /lipsync: start over; as a reply to a photo or video, use that as the face."""
    message = update.effective_message
    assert message is not None
    if not await may_start(update, context):
        return
    target = message.reply_to_message
    draft = await begin(context, update)
    if target is not None and classify(target).kind is Kind.FACE:
        await take_face(context, draft, classify(target))
    else:
        await Screens.of(context).prompt(draft)


async def dialogue(update: Update, context: BotContext) -> None:
    """/dialogue: start a video of two people talking (in groups, where the MEDIA prompt has
    no [Dialogue] button, the way to one); as a reply to a photo, use that as the face."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    if not dialogue_screens.offered(context.catalog, picker=context.drafts.picker.available):
        locale = context.t.negotiate(user.language_code)
        await message.reply_text(context.t.t(locale, "error.no_dialogue"))
        return
    if not await may_start(update, context):
        return
    target = message.reply_to_message
    draft = await begin(context, update, dialogue=True)
    if target is not None and classify(target).kind is Kind.FACE:
        await take_face(context, draft, classify(target))
    else:
        await Screens.of(context).prompt(draft)


async def new_from_caption(update: Update, context: BotContext) -> None:
    """A photo or video captioned /lipsync: start and take it as the face at once."""
    message = update.effective_message
    assert message is not None
    if not await may_start(update, context):
        return
    await take_face(context, await begin(context, update), classify(message))


async def begin(
    context: BotContext,
    update: Update,
    *,
    face: InputFile | None = None,
    face_kind: MediaKind | None = None,
    avatar: AvatarFace | None = None,
    dialogue: bool = False,
    avatar2: AvatarFace | None = None,
) -> Draft:
    """A fresh draft for the update's (chat, user), replacing any other (``dialogue``: of
    two people talking)."""
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    assert chat is not None
    assert user is not None
    return await context.drafts.begin(
        chat_id=chat.id,
        user_id=user.id,
        chat_type=chat.type,
        locale=context.t.negotiate(user.language_code),
        language=user.language_code,
        reply_to=message.message_id if message is not None and message.from_user == user else None,
        face=face,
        face_kind=face_kind,
        avatar=avatar,
        dialogue=dialogue,
        avatar2=avatar2,
    )


# --- messages during the conversation -----------------------------------------------------


async def on_message(update: Update, context: BotContext) -> None:
    """Route a message to the step the user's draft is at."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None
    assert chat is not None
    assert user is not None
    incoming = classify(message)
    draft = await context.drafts.get(chat.id, user.id)
    is_private = chat.type == ChatType.PRIVATE
    if draft is None:
        if is_private and incoming.kind is Kind.FACE:
            # Sending a photo straight away is the most natural way to start.
            if await may_start(update, context):
                await take_face(context, await begin(context, update), incoming)
        elif is_private:
            locale = context.t.negotiate(user.language_code)
            await message.reply_text(
                context.t.t(locale, "hint.start"),
                reply_markup=keyboards.new_video(context.t, locale),
            )
        return
    if (
        not is_private
        and incoming.kind in (Kind.TEXT, Kind.OTHER)
        and not replies_to(message, context.bot)
    ):
        return  # group chatter that is not an answer to one of our prompts
    if not is_private and incoming.kind is Kind.TEXT and not _answers_prompt(message, draft):
        return  # a reply to another message of ours ("nice video!"): never a voice to say
    draft = draft.model_copy(
        update={
            "reply_to": message.message_id,
            "locale": context.t.negotiate(user.language_code),
            "language": user.language_code,
        }
    )
    await _route(context, draft, incoming)


def _answers_prompt(message: Message, draft: Draft) -> bool:
    """Whether a group message replies to the conversation's latest prompt (drafts from
    before prompts were remembered: any reply to the bot, as then)."""
    if draft.prompt_id is None:
        return True
    replied = message.reply_to_message
    return replied is not None and replied.message_id == draft.prompt_id


async def _route(context: BotContext, draft: Draft, incoming: Incoming) -> None:
    screens = Screens.of(context)
    if draft.step in CHECKS:
        await screens.say(draft, "error.still_checking")
    elif incoming.kind is Kind.FACE:
        await take_face(context, draft, incoming)
    elif draft.step is Step.MEDIA:
        key = "error.voice_first" if incoming.kind is Kind.VOICE else "error.need_face"
        await screens.refuse(draft, key)
    elif draft.step not in (Step.VOICE, Step.VOICE2):
        await screens.refuse(draft, "error.use_buttons")
    elif incoming.kind is Kind.VOICE:
        assert incoming.file is not None
        try:
            await context.drafts.accept_voice(draft, incoming.file, incoming.duration)
        except MediaError as exc:
            await screens.refuse(draft, exc.key, **exc.params)
    elif incoming.kind is Kind.TEXT:
        try:
            voice_id = await context.voices.for_speaker(draft)
            await context.drafts.accept_text(draft, incoming.text, voice_id)
        except MediaError as exc:
            await screens.refuse(draft, exc.key, **exc.params)
    else:
        await screens.refuse(draft, "error.need_voice")


async def take_face(context: BotContext, draft: Draft, incoming: Incoming) -> None:
    """A photo or video: at the MEDIA step it is the face; later it is offered with [Use this
    face instead]. Either way a file too big is refused at once."""
    assert incoming.file is not None
    assert incoming.media_kind is not None
    screens = Screens.of(context)
    try:
        if draft.step is Step.MEDIA:
            await context.drafts.accept_face(draft, incoming.file, incoming.media_kind)
        else:
            offered = await context.drafts.offer_face(draft, incoming.file, incoming.media_kind)
            if offered is not None:  # else /new or /cancel came first: nothing to offer
                await screens.offer_face(offered)
    except MediaError as exc:
        await screens.refuse(draft, exc.key, **exc.params)


# --- buttons ------------------------------------------------------------------------------


async def on_step_button(update: Update, context: BotContext) -> None:
    """Turns, ratio, provider, [Generate] and [Cancel] presses; [Dialogue] and [One
    speaker] at the MEDIA step."""
    press = await step_press(update, context)
    if press is None:
        return
    button, draft = press
    query, _ = pressed(update)
    if draft is None:
        started = context.jobs.started(button.token) if button.action == cd.GENERATE else None
        if started is None:
            await stale(update, context)
        else:  # a second tap on [Generate]
            await alert(update, context, "controls.already_started", job_id=started)
        return
    assert query.message is not None
    message_id = query.message.message_id
    if button.action == cd.CANCEL:
        await context.drafts.cancel(draft)
        await query.answer()
        await edit(
            context.bot, draft.chat_id, message_id, context.t.t(draft.locale, "cancel.done")
        )
    elif button.action == cd.GENERATE and draft.step is Step.CONFIRM:
        await query.answer()
        await _generate(context, draft, message_id)
    elif button.action in (cd.DIALOGUE, cd.ONE_SPEAKER):
        updated = await context.drafts.set_dialogue(draft, button.action == cd.DIALOGUE)
        if updated is None:
            await stale(update, context)
            return
        await query.answer()
        await Screens.of(context).show(query, updated)
    elif button.action == cd.SHORTER_VOICE:
        if await shorter_voice(context, draft, query.message):
            await query.answer()
        else:
            await stale(update, context)
    else:
        updated = await context.drafts.choose(draft, button.action, button.value)
        if updated is None:
            await stale(update, context)
            return
        await query.answer()
        await Screens.of(context).show(query, updated)


async def _generate(context: BotContext, draft: Draft, summary_id: int) -> None:
    if await avatar_gone.refused_at_generate(context, draft, summary_id):
        return  # asks for another face instead
    # Ending the draft is the claim: a double tap finds nothing left to generate.
    if not await context.drafts.claim(draft):
        return
    try:
        # The job's progress goes to a new message that replies to the summary.
        await context.jobs.create(draft, reply_to=summary_id, claim=draft.token)
    except (QuotaExceeded, TooManyActive) as refused:
        # Nothing was made or reserved: the summary and its [Generate] stay for later.
        await context.drafts.restore(draft)
        await refuse_generate(context, draft, refused, summary_id)
        return
    except Exception:
        await context.drafts.restore(draft)  # keep what the user sent for another try
        raise
    # The summary stays as the record of the order; only its buttons go.
    with contextlib.suppress(TelegramError):  # a leftover button only gets an alert
        await context.bot.edit_message_reply_markup(draft.chat_id, summary_id)
