"""Conversation drafts: what a user has sent so far, keyed by (chat, user)."""

from __future__ import annotations

from bot.models import Draft, Step
from storage.db import Database, now


class DraftRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, chat_id: int, user_id: int) -> Draft | None:
        row = await self._db.fetchone(
            "SELECT data FROM drafts WHERE chat_id = ? AND user_id = ?", (chat_id, user_id)
        )
        return None if row is None else Draft.model_validate_json(row["data"])

    async def save(self, draft: Draft) -> Draft:
        """Insert or replace the draft; returns it with ``updated_at`` set."""
        draft = draft.model_copy(update={"updated_at": now()})
        await self._db.execute(
            """
            INSERT INTO drafts (chat_id, user_id, step, data, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (chat_id, user_id) DO UPDATE SET step = excluded.step,
                data = excluded.data, updated_at = excluded.updated_at
            """,
            (
                draft.chat_id,
                draft.user_id,
                draft.step,
                draft.model_dump_json(),
                draft.updated_at.isoformat() if draft.updated_at else "",
            ),
        )
        return draft

    async def delete(self, chat_id: int, user_id: int) -> bool:
        """End the conversation. Returns whether there was one."""
        changed = await self._db.execute(
            "DELETE FROM drafts WHERE chat_id = ? AND user_id = ?", (chat_id, user_id)
        )
        return changed > 0

    async def in_steps(self, *steps: Step) -> list[Draft]:
        """Drafts waiting in one of ``steps`` (used to resume background checks on start)."""
        marks = ",".join("?" * len(steps))
        rows = await self._db.fetchall(f"SELECT data FROM drafts WHERE step IN ({marks})", steps)
        return [Draft.model_validate_json(row["data"]) for row in rows]
