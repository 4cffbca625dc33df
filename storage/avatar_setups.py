"""The /avatar conversations, one per user, changed by compare-and-set on ``version``: a
background check finishing while the user cancels (or starts over) never undoes that."""

from __future__ import annotations

from bot.avatars.setup_state import AvatarSetup, SetupStep
from storage.db import Database, now


class AvatarSetupRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: int) -> AvatarSetup | None:
        row = await self._db.fetchone(
            "SELECT data, version FROM avatar_setups WHERE user_id = ?", (user_id,)
        )
        if row is None:
            return None
        return AvatarSetup.model_validate_json(row["data"]).model_copy(
            update={"version": row["version"]}
        )

    async def all(self) -> list[AvatarSetup]:
        rows = await self._db.fetchall("SELECT data, version FROM avatar_setups ORDER BY user_id")
        return [
            AvatarSetup.model_validate_json(row["data"]).model_copy(
                update={"version": row["version"]}
            )
            for row in rows
        ]

    async def start(self, setup: AvatarSetup) -> AvatarSetup | None:
        """Store a new conversation unless the user has one; None when they do."""
        stored = _stamped(setup, 1)
        changed = await self._db.execute(
            """
            INSERT INTO avatar_setups (user_id, step, data, version, updated_at)
            VALUES (?, ?, ?, 1, ?) ON CONFLICT (user_id) DO NOTHING
            """,
            (setup.user_id, stored.step, _json(stored), _time(stored)),
        )
        return stored if changed == 1 else None

    async def replace(self, expected: AvatarSetup, setup: AvatarSetup) -> AvatarSetup | None:
        """Save ``setup`` only if the stored one is still ``expected`` (same version).
        Returns the saved one, or None when it changed or ended meanwhile.

        The stored ``chat_id`` is kept: only a group's move to a supergroup changes it
        (storage.chats), without a new version, so that a check under way still lands."""
        stored = _stamped(setup, expected.version + 1)
        changed = await self._db.execute(
            """
            UPDATE avatar_setups SET step = ?, version = ?, updated_at = ?,
                data = json_set(?, '$.chat_id', json_extract(data, '$.chat_id'))
            WHERE user_id = ? AND version = ?
            """,
            (
                stored.step,
                stored.version,
                _time(stored),
                _json(stored),
                expected.user_id,
                expected.version,
            ),
        )
        return stored if changed == 1 else None

    async def delete(self, setup: AvatarSetup, *, unless: SetupStep | None = None) -> bool:
        """End the conversation ``setup`` is (its token: whatever step it reached meanwhile,
        never a newer one), unless it is now at step ``unless``; whether this call ended it."""
        changed = await self._db.execute(
            """
            DELETE FROM avatar_setups WHERE user_id = ? AND json_extract(data, '$.token') = ?
                AND step IS NOT ?
            """,
            (setup.user_id, setup.token, unless),
        )
        return changed == 1


def _stamped(setup: AvatarSetup, version: int) -> AvatarSetup:
    return setup.model_copy(update={"version": version, "updated_at": now()})


def _json(setup: AvatarSetup) -> str:
    # The version lives in its own column: the document never disagrees with it.
    return setup.model_dump_json(exclude={"version"})


def _time(setup: AvatarSetup) -> str:
    assert setup.updated_at is not None
    return setup.updated_at.isoformat()
