"""Conversation drafts: what a user has sent so far, keyed by (chat, user)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.models import Draft, Step
from storage.db import Database, now

log = logging.getLogger(__name__)

#: Compare-and-set attempts before an update gives up: each conflict means another task saved
#: the draft in between; more than a few means something loops.
UPDATE_ATTEMPTS = 5


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

    async def save_if_absent(self, draft: Draft) -> bool:
        """Insert ``draft`` unless the (chat, user) already has one (a newer conversation is
        never overwritten). Returns whether it was saved."""
        draft = draft.model_copy(update={"updated_at": now()})
        assert draft.updated_at is not None
        changed = await self._db.execute(
            """
            INSERT INTO drafts (chat_id, user_id, step, data, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (chat_id, user_id) DO NOTHING
            """,
            (
                draft.chat_id,
                draft.user_id,
                draft.step,
                draft.model_dump_json(),
                draft.updated_at.isoformat(),
            ),
        )
        return changed > 0

    async def replace(self, expected: Draft, draft: Draft) -> Draft | None:
        """Save ``draft`` only if the stored one is still ``expected`` as it was read (same
        conversation, step and last save): two tasks changing one draft never undo each
        other. Returns the saved draft, or None when it changed meanwhile (read it again)."""
        if expected.updated_at is None:
            return None
        draft = draft.model_copy(update={"updated_at": now()})
        assert draft.updated_at is not None
        changed = await self._db.execute(
            """
            UPDATE drafts SET step = ?, data = ?, updated_at = ?
            WHERE chat_id = ? AND user_id = ? AND step = ? AND updated_at = ?
                AND json_extract(data, '$.token') = ?
            """,
            (
                draft.step,
                draft.model_dump_json(),
                draft.updated_at.isoformat(),
                expected.chat_id,
                expected.user_id,
                expected.step,
                expected.updated_at.isoformat(),
                expected.token,
            ),
        )
        return draft if changed else None

    async def update(self, draft: Draft, change: Callable[[Draft], Draft | None]) -> Draft | None:
        """Apply ``change`` to the stored draft of ``draft``'s conversation (same token) with a
        compare-and-set, reading it again when another task saved it meanwhile.

        Returns:
            The saved draft, or None when the conversation ended or ``change`` declined.
        """
        for _ in range(UPDATE_ATTEMPTS):
            current = await self.get(draft.chat_id, draft.user_id)
            if current is None or current.token != draft.token:
                return None
            changed = change(current)
            if changed is None:
                return None
            saved = await self.replace(current, changed)
            if saved is not None:
                return saved
        log.warning("A draft in chat %d kept changing; an update gave up", draft.chat_id)
        return None

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
