"""A group upgraded to a supergroup gets a new chat id (design §6: it keeps its settings,
usage and open conversations, and the custom avatars shared with it)."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext


async def on_migrate(update: Update, context: BotContext) -> None:
    """Telegram says it twice: ``migrate_to_chat_id`` in the old group and
    ``migrate_from_chat_id`` in the new supergroup. Either one moves everything (the move is
    idempotent), so whichever is seen first (or the only one seen) is enough."""
    message = update.effective_message
    assert message is not None
    if message.migrate_to_chat_id:
        await context.groups.migrate(message.chat.id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        await context.groups.migrate(message.migrate_from_chat_id, message.chat.id)
    else:
        return
    # The picker reads the avatars shared with a group from memory, by the group's id: it is
    # told the new one now, not at the next avatar's news (a member's /avatars in the
    # supergroup would find none).
    await context.custom_avatars.load()
