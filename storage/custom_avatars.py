"""Custom avatars: one row each, moved between states only by compare-and-set.

A webhook and a poll can learn the same news at once (and the owner may delete the avatar
meanwhile): :meth:`CustomAvatarRepository.transition` changes a row only from the states its
caller expected, so an avatar settles once and its owner hears once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.models import Avatar, Gender, Reason
from bot.models.custom_avatars import CustomAvatar, CustomAvatarState
from storage.db import Database, now

_COLUMNS = frozenset(
    {
        "shared_with_chat",
        "persona_id",
        "name",
        "reason",
        "training_path",
        "consent_path",
        "avatar_data",
        "submitted_at",
        "ready_at",
        "next_check_at",
        "checks",
    }
)
#: What an owner's list shows (and may change): every avatar but the deleted ones.
SHOWN = (CustomAvatarState.PENDING, CustomAvatarState.READY, CustomAvatarState.FAILED)
_SHOWN_SQL = "(" + ", ".join(f"'{state}'" for state in SHOWN) + ")"


class CustomAvatarRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        owner_id: int,
        chat_id: int,
        provider: str,
        name: str,
        gender: Gender,
        locale: str,
        webhook_token: str,
    ) -> CustomAvatar:
        """Insert a pending avatar, not sent yet; returns it."""
        stamp = now().isoformat()
        avatar_id = await self._db.insert(
            """
            INSERT INTO custom_avatars (owner_id, chat_id, provider, name, gender, locale, state,
                webhook_token, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
            """,
            (owner_id, chat_id, provider, name, gender, locale, webhook_token, stamp, stamp),
        )
        made = await self.get(avatar_id)
        assert made is not None
        return made

    async def get(self, avatar_id: int) -> CustomAvatar | None:
        row = await self._db.fetchone("SELECT * FROM custom_avatars WHERE id = ?", (avatar_id,))
        return None if row is None else _to_avatar(row)

    async def of_owner(self, owner_id: int) -> list[CustomAvatar]:
        """The owner's avatars (not the deleted ones), newest first."""
        rows = await self._db.fetchall(
            f"""
            SELECT * FROM custom_avatars INDEXED BY custom_avatars_by_owner
            WHERE owner_id = ? AND state IN {_SHOWN_SQL} ORDER BY id DESC
            """,
            (owner_id,),
        )
        return [_to_avatar(row) for row in rows]

    async def count_live(self, owner_id: int) -> int:
        """The owner's avatars being built or ready (what a per-owner cap counts)."""
        value = await self._db.scalar(
            """
            SELECT COUNT(*) FROM custom_avatars INDEXED BY custom_avatars_by_owner
            WHERE owner_id = ? AND state IN ('pending', 'ready')
            """,
            (owner_id,),
        )
        return int(value) if isinstance(value, int) else 0

    async def ready(self) -> list[CustomAvatar]:
        """Every ready avatar (what the picker offers)."""
        rows = await self._db.fetchall("SELECT * FROM custom_avatars WHERE state = 'ready'")
        return [_to_avatar(row) for row in rows]

    async def persona_ids(self) -> set[tuple[str, str]]:
        """(provider, persona id) of every avatar a provider made for a user, in any state:
        none of them may ever be offered to everyone as a provider's stock avatar."""
        rows = await self._db.fetchall(
            "SELECT provider, persona_id FROM custom_avatars WHERE persona_id IS NOT NULL"
        )
        return {(row["provider"], row["persona_id"]) for row in rows}

    async def pending_ids(self) -> set[int]:
        """The ids of the pending avatars (whose videos are kept while they are built)."""
        rows = await self._db.fetchall("SELECT id FROM custom_avatars WHERE state = 'pending'")
        return {int(row["id"]) for row in rows}

    async def pending(self) -> list[CustomAvatar]:
        rows = await self._db.fetchall(
            "SELECT * FROM custom_avatars WHERE state = 'pending' ORDER BY id"
        )
        return [_to_avatar(row) for row in rows]

    async def due(self, at: datetime, limit: int) -> list[CustomAvatar]:
        """Pending avatars whose next check has come, most overdue first."""
        rows = await self._db.fetchall(
            """
            SELECT * FROM custom_avatars INDEXED BY custom_avatars_due
            WHERE state = 'pending' AND next_check_at <= ? ORDER BY next_check_at LIMIT ?
            """,
            (at.isoformat(), limit),
        )
        return [_to_avatar(row) for row in rows]

    async def next_check_time(self) -> datetime | None:
        value = await self._db.scalar(
            """
            SELECT MIN(next_check_at) FROM custom_avatars INDEXED BY custom_avatars_due
            WHERE state = 'pending' AND next_check_at IS NOT NULL
            """
        )
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    async def adopt(self, avatar_id: int, persona_id: str) -> bool:
        """Give an avatar its provider id, unless it has one (compare-and-set), whatever its
        state: one deleted (or failed) while its create was under way is still a real
        person's face at the provider, never to be offered as stock (:meth:`persona_ids`).

        Returns:
            Whether this call set it; False also when another avatar already has that id.
        """
        sets, params = _assignments({"persona_id": persona_id})
        try:
            changed = await self._db.execute(
                f"""
                UPDATE custom_avatars SET {", ".join(sets)}
                WHERE id = ? AND persona_id IS NULL
                """,
                [*params, avatar_id],
            )
        except sqlite3.IntegrityError:
            return False
        return changed == 1

    async def transition(
        self,
        avatar_id: int,
        allowed_from: Collection[CustomAvatarState],
        to: CustomAvatarState,
        *,
        owner_id: int | None = None,
        **fields: Any,
    ) -> bool:
        """Move an avatar to ``to`` only if it is in one of ``allowed_from`` (and, when
        given, belongs to ``owner_id``), setting ``fields`` too (compare-and-set).

        Returns:
            Whether this call made the change; False: another path got there first (or the
            avatar is not the owner's).
        """
        sets, params = _assignments({**fields, "state": to})
        where = f"id = ? AND state IN ({','.join('?' * len(allowed_from))})"
        params += [avatar_id, *allowed_from]
        if owner_id is not None:
            where += " AND owner_id = ?"
            params.append(owner_id)
        changed = await self._db.execute(
            f"UPDATE custom_avatars SET {', '.join(sets)} WHERE {where}", params
        )
        return changed == 1

    async def update(
        self,
        avatar_id: int,
        *,
        owner_id: int | None = None,
        shown_only: bool = False,
        **fields: Any,
    ) -> bool:
        """Change fields without touching the state; with ``owner_id`` only the owner's, with
        ``shown_only`` never a deleted one. Whether a row changed."""
        if "state" in fields:
            raise ValueError("not updatable custom avatar fields: ['state'] (see transition)")
        sets, params = _assignments(fields)
        where = "id = ?"
        params.append(avatar_id)
        if owner_id is not None:
            where += " AND owner_id = ?"
            params.append(owner_id)
        if shown_only:
            where += " AND state != 'deleted'"
        changed = await self._db.execute(
            f"UPDATE custom_avatars SET {', '.join(sets)} WHERE {where}", params
        )
        return changed == 1


def _assignments(fields: dict[str, Any]) -> tuple[list[str], list[Any]]:
    unknown = set(fields) - _COLUMNS - {"state"}
    if unknown:
        raise ValueError(f"not updatable custom avatar fields: {sorted(unknown)}")
    sets = [f"{name} = ?" for name in fields] + ["updated_at = ?"]
    return sets, [_stored(value) for value in fields.values()] + [now().isoformat()]


def _stored(value: Any) -> Any:
    """A field value as its column holds it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Reason | Avatar):
        return value.model_dump_json()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _to_avatar(row: aiosqlite.Row) -> CustomAvatar:
    data = dict(row)
    reason, avatar = data.pop("reason"), data.pop("avatar_data")
    data["reason"] = Reason.model_validate_json(reason) if reason else None
    data["avatar"] = Avatar.model_validate_json(avatar) if avatar else None
    data["shared_with_chat"] = bool(data["shared_with_chat"])
    return CustomAvatar.model_validate(data)
