"""The avatar picker at the MEDIA step (design §1): [Avatars] turns the prompt, in place,
into pages of ready-made avatars ([< Prev] [Next >], [Women] [Men] [All], [My avatars] when
the user has any, [Back] to the prompt); an avatar's name shows its still with [Use NAME]
[Back]; [Use NAME] makes it the face and moves on to the voice.

In groups the MEDIA prompt must force a reply (else, under privacy mode, the member's photo
never reaches the bot), so it cannot carry [Avatars]: it names /avatars instead, which sends
the picker as a message of its own, replying to the member, with [Close] in place of [Back]
(the prompt is still there above it). Its buttons are the member's, as every step button.

Nothing of the picker is kept between taps: each button carries its owner, the draft's token
and what to show (a page, or an avatar's short ref), and the avatars are read from memory
(bot.avatars.catalog), so the buttons work the same after a restart and a tap never waits on
a provider.

Why the still is a message of its own, below the picker: Telegram cannot edit a text message
into a photo. The other way, the picker itself a photo from the start, would put a
placeholder image above every page, turn each page tap into a media edit, and still need a
new message, since the MEDIA prompt it opens from is text. A page tap stays one text edit;
[Back] under the still removes it, and the picker above is where the user left it.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.avatars import AvatarPage, Filter, label, ref_of
from bot.context import BotContext
from bot.i18n import Translator
from bot.models import Draft, FaceKind, Step
from bot.models.avatars import Avatar
from handlers.buttons import alert, pressed, stale, step_press
from handlers.prompts import Screens, edit

log = logging.getLogger(__name__)

#: Avatars a row of the picker holds.
PER_ROW = 2


async def on_button(update: Update, context: BotContext) -> None:
    """Any of the picker's buttons, for its owner's current conversation at the MEDIA step."""
    press = await step_press(update, context)  # forged or someone else's: answered there
    if press is None:
        return
    button, draft = press
    if draft is None:
        await stale(update, context)
        return
    if draft.step is not Step.MEDIA:  # an alert only: nothing is edited
        await alert(update, context, "avatars.too_late")
        return
    query, _ = pressed(update)
    # A modified client can send one of the member's own buttons against any message with
    # buttons (another member's picker or still, a video): nothing is edited or removed
    # unless the pressed message carries the button.
    if not _carries(query):
        await stale(update, context)
        return
    assert query.message is not None
    if button.action == cd.AVATARS:
        wanted = cd.parse_avatar_page(button.value)
        shown = _filter(wanted[0]) if wanted is not None else None
        if wanted is None or shown is None:
            await stale(update, context)
            return
        await query.answer()
        await show_page(context, draft, query.message.message_id, shown, wanted[1])
    elif button.action == cd.AVATAR_BACK and _private(draft):
        await query.answer()
        await Screens.of(context).show(query, draft)
    elif button.action in (cd.AVATAR_CLOSE, cd.AVATAR_BACK):  # a group's picker has no prompt
        await query.answer()
        await _remove(context, draft.chat_id, query.message.message_id)
    else:
        avatar = context.drafts.picker.find(draft, button.value)
        if avatar is None:
            await alert(update, context, "avatars.gone")
        elif button.action == cd.AVATAR_SHOW:
            # The still may need a download and an upload: never in this chat's update queue.
            context.application.create_task(
                _show_still(update, context, draft, avatar, query.message.message_id),
                update=update,
                name="avatar-still",
            )
        elif button.action == cd.AVATAR_USE:
            await _use(update, context, draft, avatar)
        else:
            await stale(update, context)


async def command(update: Update, context: BotContext) -> None:
    """/avatars: the picker as a new message (a reply to the sender in groups, whose MEDIA
    prompt cannot carry [Avatars]); out of place, why not and what to do instead."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None
    assert chat is not None
    assert user is not None
    draft = await context.drafts.get(chat.id, user.id)
    locale = context.t.negotiate(user.language_code)
    if not context.drafts.picker.available:
        await message.reply_text(context.t.t(locale, "avatars.none"))
    elif draft is None:
        await message.reply_text(context.t.t(locale, "avatars.not_now"))
    elif draft.step is Step.MEDIA_CHECK:  # the face sent may yet be refused: not past it
        await message.reply_text(context.t.t(locale, "error.still_checking"))
    elif draft.step is not Step.MEDIA:
        await message.reply_text(context.t.t(locale, "avatars.too_late"))
    elif not _takes_avatars(context, draft):
        await Screens.of(context).refuse(draft, "avatars.photo_needed")  # and asks again
    else:
        text, markup = _page_view(context, draft, Filter.ALL, 0)
        reply = None
        if not _private(draft):
            reply = ReplyParameters(message.message_id, allow_sending_without_reply=True)
        await context.bot.send_message(chat.id, text, reply_markup=markup, reply_parameters=reply)


async def show_page(
    context: BotContext, draft: Draft, message_id: int, shown: Filter, number: int
) -> None:
    """Edit the picker (or the MEDIA prompt it opens from) into page ``number`` of ``shown``."""
    text, markup = _page_view(context, draft, shown, number)
    await edit(context.bot, draft.chat_id, message_id, text, markup)


def _page_view(
    context: BotContext, draft: Draft, shown: Filter, number: int
) -> tuple[str, InlineKeyboardMarkup]:
    picker_ = context.drafts.picker
    page = picker_.page(draft, shown, number)
    t, locale = context.t, draft.locale
    # A group's picker is a message of its own: a face sent as a reply to it is taken.
    group = "" if _private(draft) else "_group"
    if page.total:
        filter_name = t.t(locale, f"avatars.filter_{shown.value}")
        text = t.t(
            locale,
            f"avatars.title{group}",
            filter=filter_name,
            page=page.page + 1,
            pages=page.pages,
        )
    else:
        text = t.t(locale, f"avatars.empty{group}")
    return text, picker(t, draft, page, mine=picker_.has_own(draft))


def picker(t: Translator, draft: Draft, page: AvatarPage, *, mine: bool) -> InlineKeyboardMarkup:
    """A button per avatar, two a row; then [< Prev] [Next >], the filters and [Back]."""
    locale = draft.locale

    def button(text: str, action: str, value: str = "") -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text, callback_data=cd.step(action, draft.user_id, draft.token, value)
        )

    def to_page(text: str, shown: Filter, number: int) -> InlineKeyboardButton:
        data = cd.avatar_page(draft.user_id, draft.token, shown.value, number)
        return InlineKeyboardButton(text, callback_data=data)

    names = [button(label(a.name), cd.AVATAR_SHOW, ref_of(a)) for a in page.avatars]
    rows = [names[i : i + PER_ROW] for i in range(0, len(names), PER_ROW)]
    moves = []
    if page.has_prev:
        moves.append(to_page(t.t(locale, "avatars.prev"), page.filter, page.page - 1))
    if page.has_next:
        moves.append(to_page(t.t(locale, "avatars.next"), page.filter, page.page + 1))
    if moves:
        rows.append(moves)
    filters = [Filter.WOMEN, Filter.MEN, Filter.ALL, *([Filter.MINE] if mine else [])]
    rows.append(
        [
            to_page(_ticked(t.t(locale, f"avatars.filter_{f.value}"), f is page.filter), f, 0)
            for f in filters
        ]
    )
    if _private(draft):
        rows.append([button(t.t(locale, "avatars.back"), cd.AVATAR_BACK)])
    else:
        rows.append([button(t.t(locale, "avatars.close"), cd.AVATAR_CLOSE)])
    return InlineKeyboardMarkup(rows)


def _ticked(text: str, current: bool) -> str:
    return f"✓ {text}" if current else text


def _carries(query: CallbackQuery) -> bool:
    """Whether the pressed message has the pressed button: a modified client can send a
    button's data from any message with buttons, and every press here edits or removes the
    pressed message (or the one it replies to)."""
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    rows = markup.inline_keyboard if markup is not None else ()
    return any(b.callback_data == query.data for row in rows for b in row)


def _private(draft: Draft) -> bool:
    return draft.chat_type == ChatType.PRIVATE


def _takes_avatars(context: BotContext, draft: Draft) -> bool:
    """Whether the draft's MEDIA step takes an avatar: a dialogue's only where avatars make
    dialogues, and not when only a new photo is asked for ([Other photo] keeps the voices)."""
    if not draft.dialogue:
        return True
    again = draft.voice is None or draft.faces_again  # a kept avatar was no longer offered
    return again and FaceKind.AVATAR in context.catalog.dialogue_faces()


def _filter(letter: str) -> Filter | None:
    try:
        return Filter(letter)
    except ValueError:
        return None


async def _show_still(
    update: Update, context: BotContext, draft: Draft, avatar: Avatar, picker_id: int
) -> None:
    """The avatar's still (or its name alone, when it has none to show), with [Use NAME]
    [Back], as a reply to the picker: the reply is how [Use NAME] finds the picker again.
    One at a time per user: a tap while another still is loading is only answered."""
    query, _ = pressed(update)
    with context.avatars.previews.one_at_a_time(draft.user_id) as allowed:
        if not allowed:  # a quick note, not a dialog to dismiss: the first still is coming
            await query.answer(context.t.t(draft.locale, "avatars.loading"))
            return
        await query.answer()
        await _send_still(context, draft, avatar, picker_id)


async def _send_still(context: BotContext, draft: Draft, avatar: Avatar, picker_id: int) -> None:
    t, locale = context.t, draft.locale
    ref = ref_of(avatar)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.t(locale, "avatars.use", name=label(avatar.name)),
                    callback_data=cd.step(cd.AVATAR_USE, draft.user_id, draft.token, ref),
                ),
                InlineKeyboardButton(
                    t.t(locale, "avatars.back"),
                    callback_data=cd.step(cd.AVATAR_CLOSE, draft.user_id, draft.token),
                ),
            ]
        ]
    )
    try:
        sent = await context.avatars.previews.send(
            context.bot, draft.chat_id, avatar, avatar.name, markup, picker_id
        )
        if sent is None:
            await context.bot.send_message(
                draft.chat_id,
                t.t(locale, "avatars.no_still", name=avatar.name),
                reply_markup=markup,
                reply_parameters=ReplyParameters(picker_id, allow_sending_without_reply=True),
            )
    except TelegramError as exc:
        log.info("Could not show avatar %s in chat %d: %s", avatar.avatar_id, draft.chat_id, exc)


async def _use(update: Update, context: BotContext, draft: Draft, avatar: Avatar) -> None:
    """[Use NAME]: the avatar is the face; the picker and the still keep only the record."""
    query, _ = pressed(update)
    updated = await context.drafts.choose_avatar(draft, ref_of(avatar))
    if updated is None:
        await stale(update, context)  # the conversation moved on, or ended, meanwhile
        return
    await query.answer()
    still = query.message
    assert isinstance(still, Message)
    with contextlib.suppress(TelegramError):  # a leftover button only gets an alert
        await still.edit_reply_markup(None)
    picker_message = still.reply_to_message
    if picker_message is not None:
        key = "avatars.chosen" if avatar.owner_id is None else "avatars.chosen_custom"
        chosen = context.t.t(draft.locale, key, name=avatar.name)
        await edit(context.bot, draft.chat_id, picker_message.message_id, chosen)
    await Screens.of(context).prompt(updated)


async def _remove(context: BotContext, chat_id: int, message_id: int) -> None:
    """[Back] under a still: the still goes (or, past Telegram's 48 hours, its buttons)."""
    try:
        await context.bot.delete_message(chat_id, message_id)
    except TelegramError:
        with contextlib.suppress(TelegramError):
            await context.bot.edit_message_reply_markup(chat_id, message_id)
