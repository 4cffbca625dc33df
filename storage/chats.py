"""A group's settings (the /bot on|off switch) and moving a group to its supergroup's id."""

from __future__ import annotations

from bot.models import Draft
from storage.db import Database, Transaction, now


class ChatRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def disabled_ids(self) -> set[int]:
        """Chats where the bot is switched off, for the in-memory set loaded at start-up
        (few: every chat not listed is on, the default)."""
        rows = await self._db.fetchall("SELECT id FROM chats WHERE bot_enabled = 0")
        return {int(row["id"]) for row in rows}

    async def set_enabled(self, chat_id: int, enabled: bool, *, chat_type: str) -> None:
        """Switch the bot on or off in a chat (the row is made if the chat is new to us)."""
        stamp = now().isoformat()
        await self._db.execute(
            """
            INSERT INTO chats (id, type, bot_enabled, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET bot_enabled = excluded.bot_enabled,
                updated_at = excluded.updated_at
            """,
            (chat_id, chat_type, int(enabled), stamp, stamp),
        )

    async def migrate(self, old_id: int, new_id: int) -> bool:
        """A group became a supergroup (a new chat id): its settings, conversations, jobs,
        quota limits, usage and custom avatars (those made there, and /avatar conversations
        making one for it) follow it, in one transaction.

        Idempotent: Telegram announces a migration twice (in the old group and in the new
        supergroup), and the second run finds nothing left at the old id. Returns whether
        anything moved.
        """
        async with self._db.transaction() as tx:
            moved = await _move_switch(tx, old_id, new_id)
            moved |= await _move_drafts(tx, old_id, new_id)
            # The status messages stay behind in the old group: edits there would fail.
            moved |= bool(
                await tx.execute(
                    "UPDATE jobs SET chat_id = ?, status_message_id = NULL WHERE chat_id = ?",
                    (new_id, old_id),
                )
            )
            # A limit set in the supergroup before this ran is the newer decision; a row
            # with no limit in it is only the lock a reserve there took, and gives way.
            await tx.execute(
                """
                DELETE FROM quota_limits WHERE scope = 'group' AND owner_id = ?
                    AND daily IS NULL AND monthly IS NULL AND member_daily IS NULL
                    AND EXISTS (SELECT 1 FROM quota_limits
                                WHERE scope = 'group' AND owner_id = ?)
                """,
                (new_id, old_id),
            )
            moved |= bool(
                await tx.execute(
                    """
                    UPDATE quota_limits SET owner_id = ?
                    WHERE scope = 'group' AND owner_id = ? AND NOT EXISTS (
                        SELECT 1 FROM quota_limits WHERE scope = 'group' AND owner_id = ?)
                    """,
                    (new_id, old_id, new_id),
                )
            )
            await tx.execute(
                "DELETE FROM quota_limits WHERE scope = 'group' AND owner_id = ?", (old_id,)
            )
            moved |= bool(
                await tx.execute(
                    "UPDATE ledger SET owner_id = ? WHERE scope = 'group' AND owner_id = ?",
                    (new_id, old_id),
                )
            )
            moved |= bool(
                await tx.execute(
                    "UPDATE ledger SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
                )
            )
            moved |= await _move_avatars(tx, old_id, new_id)
        return moved


async def _move_switch(tx: Transaction, old_id: int, new_id: int) -> bool:
    """Carry "off" over and leave the old group at the default ("on"): only a change from
    the default moves, so running again never undoes a /bot on|off sent in the supergroup
    in between."""
    stamp = now().isoformat()
    moved = await tx.execute(
        """
        INSERT INTO chats (id, type, title, bot_enabled, created_at, updated_at)
        SELECT ?, 'supergroup', title, 0, ?, ? FROM chats WHERE id = ? AND bot_enabled = 0
        ON CONFLICT (id) DO UPDATE SET bot_enabled = 0, updated_at = excluded.updated_at
        """,
        (new_id, stamp, stamp, old_id),
    )
    await tx.execute("UPDATE chats SET bot_enabled = 1 WHERE id = ?", (old_id,))
    return moved > 0


async def _move_drafts(tx: Transaction, old_id: int, new_id: int) -> bool:
    """Each member's conversation continues in the supergroup. The chat id is also inside the
    stored draft, so each is rewritten through the model (portable, no JSON functions). A
    member who already started one in the supergroup keeps that newer one."""
    rows = await tx.fetchall("SELECT user_id, data FROM drafts WHERE chat_id = ?", (old_id,))
    for row in rows:
        draft = Draft.model_validate_json(row["data"])
        # Message ids belong to the old chat: the next prompt replies to a new message.
        moved = draft.model_copy(
            update={"chat_id": new_id, "chat_type": "supergroup", "reply_to": None}
        )
        await tx.execute(
            """
            UPDATE drafts SET chat_id = ?, data = ?
            WHERE chat_id = ? AND user_id = ? AND NOT EXISTS (
                SELECT 1 FROM drafts WHERE chat_id = ? AND user_id = ?)
            """,
            (new_id, moved.model_dump_json(), old_id, row["user_id"], new_id, row["user_id"]),
        )
    await tx.execute("DELETE FROM drafts WHERE chat_id = ?", (old_id,))
    return bool(rows)


async def _move_avatars(tx: Transaction, old_id: int, new_id: int) -> bool:
    """Custom avatars made in the group stay its (shared with the supergroup if they were
    shared with the group), and an /avatar conversation making one for it makes it for the
    supergroup. The conversation's chat id is inside its document: set in place, without a
    new version, so that a check under way still lands (storage.avatar_setups keeps it)."""
    moved = await tx.execute(
        "UPDATE custom_avatars SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
    )
    moved += await tx.execute(
        """
        UPDATE avatar_setups SET data = json_set(data, '$.chat_id', ?)
        WHERE json_extract(data, '$.chat_id') = ?
        """,
        (new_id, old_id),
    )
    return moved > 0
