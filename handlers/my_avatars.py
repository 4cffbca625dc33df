"""/avatar: the user's own avatars (being built, ready, failed) with [Rename] [Delete] and, for
one made in a group, [Share with the group] / [Stop sharing]; [New avatar] for those who may
make one (CUSTOM_AVATARS). Sent in a group, the list goes to the user's private chat (like the
admins' answers), and an avatar made from there may later be shared with that group.
"""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError

from bot.avatars.custom_errors import CustomAvatarError
from bot.avatars.setup import SetupInProgress
from bot.avatars.setup_state import AvatarSetup
from bot.context import BotContext
from handlers import avatar_screens as screens
from handlers.avatar_screens import SetupScreens
from handlers.avatar_setup import on_setup_button
from handlers.buttons import locale_of, not_yours, pressed, stale


async def avatar(update: Update, context: BotContext) -> None:
    """/avatar: the list (privately, when sent in a group), and the setup under way."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None
    assert chat is not None
    assert user is not None
    t, custom = context.t, context.custom_avatars
    locale = t.negotiate(user.language_code)
    mine = await custom.mine(user.id)
    if not mine and not custom.allowed(user.id):
        key = "avatar.not_allowed" if custom.available else "avatar.off"
        await message.reply_text(t.t(locale, key))
        return
    origin = context.avatar_setups.origin(user.id, chat.id) if custom.allowed(user.id) else None
    text, markup = screens.listing(t, locale, user.id, mine, origin)
    if chat.type == ChatType.PRIVATE:
        await message.reply_text(text, reply_markup=markup)
    elif not await _sent_privately(context, message, user.id, locale, text, markup):
        return
    setup = await context.avatar_setups.get(user.id)
    if setup is not None:
        await _where_they_left_off(context, setup)


async def _sent_privately(
    context: BotContext,
    message: Message,
    user_id: int,
    locale: str,
    text: str,
    markup: InlineKeyboardMarkup | None,
) -> bool:
    """The list in the user's private chat; the group only hears where it went."""
    t = context.t
    try:
        await context.bot.send_message(user_id, text, reply_markup=markup)
    except Forbidden:
        # Bots cannot write first: the user must open the private chat.
        await message.reply_text(t.t(locale, "avatar.ask_privately", bot=context.bot.username))
        return False
    await message.reply_text(t.t(locale, "avatar.sent_privately"))
    return True


async def on_button(update: Update, context: BotContext) -> None:
    """A press on /avatar's list or on the setup's buttons."""
    query, payload = pressed(update)
    user = update.effective_user
    assert user is not None
    press = screens.parse(payload)
    if press is None or query.message is None:
        await stale(update, context)
        return
    if press.user_id != user.id:
        await not_yours(update, context)
        return
    if press.action in (screens.GENDER, screens.CREATE, screens.CANCEL):
        await on_setup_button(update, context, press)
    elif press.action == screens.NEW:
        await _new(update, context, press.value)
    elif press.action == screens.LIST:
        await query.answer()
        await _show_list(update, context, press.value)
    else:
        await _on_avatar(update, context, press)


async def _new(update: Update, context: BotContext, origin_value: str) -> None:
    """[New avatar]: every check that can refuse first (slots too), then the first step."""
    query, _ = pressed(update)
    user = update.effective_user
    assert user is not None
    locale = locale_of(update, context)
    setups = context.avatar_setups
    origin = setups.origin_of(user.id, origin_value)
    if origin is None:
        await stale(update, context)  # forged: another group's id
        return
    await query.answer()
    try:
        setup = await setups.begin(user.id, origin, locale)
    except SetupInProgress as busy:
        await _where_they_left_off(context, busy.setup)
        return
    except CustomAvatarError as refused:
        await context.bot.send_message(user.id, context.t.t(locale, refused.key, **refused.params))
        return
    await SetupScreens.of(context).prompt(setup)


async def _on_avatar(update: Update, context: BotContext, press: screens.Press) -> None:
    """[Rename], [Delete] (asks first), [Yes, delete], [Share] and [Stop sharing]."""
    query, _ = pressed(update)
    user = update.effective_user
    assert user is not None
    t, custom, locale = context.t, context.custom_avatars, locale_of(update, context)
    avatar_id = screens.avatar_id_of(press.value)
    try:
        if avatar_id is None:
            raise LookupError
        avatar = await custom.get(user.id, avatar_id)
        if press.action == screens.RENAME:
            await _rename(update, context, avatar.id)
            return
        if press.action == screens.DELETE:
            origin = screens.origin_in(query.message)
            text, markup = screens.delete_question(t, locale, avatar, origin)
            await query.answer()
            with contextlib.suppress(TelegramError):
                await query.edit_message_text(text, reply_markup=markup)
            return
        if press.action == screens.DELETE_YES:
            await custom.delete(user.id, avatar.id)
            done = t.t(locale, "avatar.deleted", name=avatar.name)
        else:
            shared = await custom.share(user.id, avatar.id, press.action == screens.SHARE)
            key = "avatar.shared" if shared.shared_with_chat else "avatar.unshared"
            done = t.t(locale, key, name=avatar.name)
    except LookupError:
        await stale(update, context)
        return
    except CustomAvatarError as refused:
        await query.answer(t.t(locale, refused.key, **refused.params), show_alert=True)
        return
    await query.answer(done)
    await _show_list(update, context, screens.origin_in(query.message))


async def _rename(update: Update, context: BotContext, avatar_id: int) -> None:
    query, _ = pressed(update)
    user = update.effective_user
    assert user is not None
    await query.answer()
    try:
        setup = await context.avatar_setups.begin_rename(
            user.id, avatar_id, locale_of(update, context)
        )
    except SetupInProgress as busy:
        await _where_they_left_off(context, busy.setup)
        return
    await SetupScreens.of(context).prompt(setup)


async def _where_they_left_off(context: BotContext, setup: AvatarSetup) -> None:
    """The setup under way, again: its step's prompt, and from now on the user's private
    messages go to it rather than to an older /new."""
    touched = await context.avatar_setups.touch(setup)
    await SetupScreens.of(context).prompt(touched, ("avatar.setup_in_progress", {}))


async def _show_list(update: Update, context: BotContext, origin: str) -> None:
    """The list again, in place (after a change, or [No] to a delete)."""
    query, _ = pressed(update)
    user = update.effective_user
    assert user is not None
    locale, custom = locale_of(update, context), context.custom_avatars
    mine = await custom.mine(user.id)
    new_origin = origin if custom.allowed(user.id) else None
    text, markup = screens.listing(context.t, locale, user.id, mine, new_origin)
    with contextlib.suppress(TelegramError):  # "message is not modified"
        await query.edit_message_text(text, reply_markup=markup)
