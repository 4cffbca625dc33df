"""Users and chats the bot has seen."""

from __future__ import annotations

from storage.db import Database, now


class UserRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def seen(
        self,
        user_id: int,
        *,
        first_name: str,
        username: str | None,
        language_code: str | None,
        chat_id: int,
        chat_type: str,
        chat_title: str | None,
    ) -> None:
        """Record that a user wrote in a chat (insert or refresh both rows)."""
        stamp = now().isoformat()
        async with self._db.transaction() as conn:
            await conn.execute(
                """
                INSERT INTO users (id, username, first_name, language_code, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET username = excluded.username,
                    first_name = excluded.first_name, language_code = excluded.language_code,
                    blocked = 0, updated_at = excluded.updated_at
                """,
                (user_id, username, first_name, language_code, stamp, stamp),
            )
            await conn.execute(
                """
                INSERT INTO chats (id, type, title, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET type = excluded.type, title = excluded.title,
                    updated_at = excluded.updated_at
                """,
                (chat_id, chat_type, chat_title, stamp, stamp),
            )

    async def set_blocked(self, user_id: int) -> None:
        """The user blocked the bot: stop trying to write to them."""
        await self._db.execute(
            "UPDATE users SET blocked = 1, updated_at = ? WHERE id = ?",
            (now().isoformat(), user_id),
        )

    async def is_blocked(self, user_id: int) -> bool:
        return bool(await self._db.scalar("SELECT blocked FROM users WHERE id = ?", (user_id,)))
