"""What runs before every handler (group -1): remember who wrote, then turn away banned
users and updates in a group where the bot is switched off; and the /new cooldown.

PTB runs only the first matching handler of a group, so this is one handler doing the steps
in order; ``ApplicationHandlerStop`` keeps an update from every later group.
"""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot import callback_data as cd
from bot.context import BotContext
from handlers.buttons import locale_of
from handlers.incoming import replies_to

log = logging.getLogger(__name__)

#: Group-admin commands: they pass a group's off switch (else /bot on could never be sent).
GROUP_ADMIN_COMMANDS = ("bot", "groupquota", "groupusage")
#: Also pass the off switch: a user can always stop (and get back the quota of) their jobs.
_ALWAYS_ALLOWED = frozenset({*GROUP_ADMIN_COMMANDS, "cancel"})
#: Commands that get the "I'm switched off here" note (at most once per chat in a while);
#: anything else in a switched-off group is dropped in silence.
_NOTED_WHEN_OFF = frozenset({"new", "lipsync", "start", "help"})
_GROUPS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})


async def gate(update: Update, context: BotContext) -> None:
    """Remember the sender, then stop updates that must not reach any handler."""
    await _remember_user(update, context)
    message = update.message
    if message is not None and (message.migrate_to_chat_id or message.migrate_from_chat_id):
        return  # a group's move is carried out whoever made it and whatever its switch
    user, chat = update.effective_user, update.effective_chat
    if message is not None and message.sender_chat is not None:
        # Sent on behalf of a channel (or of the group, by an anonymous admin): no person
        # to hold a conversation, a quota or a ban. Only an anonymous admin's group-admin
        # command goes on (group_admin_message accepts it).
        anonymous_admin = chat is not None and message.sender_chat.id == chat.id
        if not (anonymous_admin and _command_of(message, context) in GROUP_ADMIN_COMMANDS):
            raise ApplicationHandlerStop
        return
    if (
        user is not None
        and user.id not in context.admins
        and context.moderation.is_banned(user.id)
    ):
        await _refuse_banned(update, context, user.id)
        raise ApplicationHandlerStop
    if chat is not None and chat.type in _GROUPS and not context.groups.enabled(chat.id):
        await _switched_off(update, context, chat.id)


async def _remember_user(update: Update, context: BotContext) -> None:
    """Keep the users and chats tables current (language, name, chat type)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    await context.users.seen(
        user.id,
        first_name=user.first_name,
        username=user.username,
        language_code=user.language_code,
        chat_id=chat.id,
        chat_type=chat.type,
        chat_title=chat.title,
    )


async def _refuse_banned(update: Update, context: BotContext, user_id: int) -> None:
    """One polite refusal per ban, then silence; a button press is always answered (with no
    text after the first time) so the client stops its spinner."""
    query, message = update.callback_query, update.message
    if query is None and message is None:
        return  # nothing to answer (an edit, a member update): keep the notice for later
    if (
        message is not None
        and message.chat.type in _GROUPS
        and _command_of(message, context) is None
        and not replies_to(message, context.bot)
    ):
        return  # group chatter: the refusal waits for something addressed to the bot
    text = None
    if await context.moderation.take_ban_notice(user_id):
        text = context.t.t(locale_of(update, context), "gate.banned")
    await _tell(update, text)


async def _switched_off(update: Update, context: BotContext, chat_id: int) -> None:
    """Drop the update unless it is a group-admin command (they check the sender)."""
    query, message = update.callback_query, update.message
    command = _command_of(message, context) if message is not None else None
    if command in _ALWAYS_ALLOWED:
        return
    user = update.effective_user
    if command is not None and user is not None and user.id in context.admins:
        return  # the bot's admins' commands (theirs answer in private) work everywhere
    if query is not None and (query.data or "").startswith(f"{cd.STOP}:"):
        return  # a job's [Cancel] keeps working
    try:
        if query is not None:
            # Seen by the presser only, so it cannot flood the group: always answered.
            await query.answer(_off_text(update, context), show_alert=True)
        elif (
            message is not None
            and command in _NOTED_WHEN_OFF
            and context.groups.take_off_note(chat_id)
        ):
            await message.reply_text(_off_text(update, context))
    except TelegramError as exc:
        log.info("Could not say the bot is off in chat %d: %s", chat_id, exc)
    raise ApplicationHandlerStop


def _off_text(update: Update, context: BotContext) -> str:
    return context.t.t(locale_of(update, context), "gate.switched_off")


def _command_of(message: Message, context: BotContext) -> str | None:
    """The command a text message starts with, lower-case, when it is meant for this bot
    (``/cmd`` or ``/cmd@us``); None otherwise."""
    # Text only: a caption is never a command to CommandHandler, so "/bot" under a photo
    # must not pass the off switch as one.
    text = message.text or ""
    if not text.startswith("/"):
        return None
    name, _, target = text.split(maxsplit=1)[0][1:].partition("@")
    if target and target.lower() != context.bot.username.lower():
        return None
    return name.lower()


async def may_start(update: Update, context: BotContext) -> bool:
    """The /new cooldown: False (after telling the user once per cooldown) when the user is
    starting conversations too fast. Call before anything touches their draft."""
    user = update.effective_user
    if user is None or user.id in context.admins:
        return True
    refusal = context.cooldown.take(user.id)
    if refusal is None:
        return True
    text = (
        context.t.t(locale_of(update, context), "gate.cooldown", seconds=refusal.wait)
        if refusal.tell
        else None
    )
    await _tell(update, text)
    return False


async def _tell(update: Update, text: str | None) -> None:
    """Say ``text`` to whoever sent the update: as an alert on a button press (a press is
    always answered, with no text when ``text`` is None, so the spinner stops), else as a
    reply; best effort."""
    query, message = update.callback_query, update.effective_message
    try:
        if query is not None:
            await query.answer(text, show_alert=text is not None)
        elif text is not None and message is not None:
            await message.reply_text(text)
    except TelegramError as exc:
        log.info("Could not answer update %d: %s", update.update_id, exc)
