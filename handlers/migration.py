"""A group upgraded to a supergroup gets a new chat id (design §6: it keeps its settings,
usage and open conversations)."""

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
