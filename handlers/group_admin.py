"""Commands for a group's own admins (Telegram chat administrators; the bot's admins count
as admins of every group): /bot on|off."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ChatType

from bot.context import BotContext


async def group_admin_message(update: Update, context: BotContext) -> tuple[Message, str] | None:
    """The message and the sender's locale when a group admin sent it in a group; otherwise
    the sender is told why not (in private: "use it in a group"; a member: "admins only")
    and None returned. Every group-admin command starts with this."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None
    assert chat is not None
    assert user is not None
    t = context.t
    locale = t.negotiate(user.language_code)
    if chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        await message.reply_text(t.t(locale, "group.only_in_groups"))
        return None
    # Only an anonymous admin can post on behalf of the group itself.
    anonymous_admin = message.sender_chat is not None and message.sender_chat.id == chat.id
    if not anonymous_admin and not await context.groups.is_admin(chat.id, user.id):
        await message.reply_text(t.t(locale, "group.admins_only"))
        return None
    return message, locale


async def bot_switch(update: Update, context: BotContext) -> None:
    """/bot on|off: whether the bot serves this group; without an argument, says which."""
    checked = await group_admin_message(update, context)
    if checked is None:
        return
    message, locale = checked
    chat = message.chat
    t = context.t
    args = context.args or []
    if not args:
        state = "group.bot_is_on" if context.groups.enabled(chat.id) else "group.bot_is_off"
        await message.reply_text(f"{t.t(locale, state)}\n{t.t(locale, 'group.bot_usage')}")
        return
    choice = args[0].lower() if len(args) == 1 else ""
    if choice not in ("on", "off"):
        await message.reply_text(t.t(locale, "group.bot_usage"))
        return
    await context.groups.set_enabled(chat.id, choice == "on", chat_type=chat.type)
    await message.reply_text(t.t(locale, f"group.bot_{choice}"))
