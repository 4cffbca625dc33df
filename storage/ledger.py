"""The quota ledger: every reserve, commit, refund and grant of seconds is a row that is never
changed, and usage is the sum of the rows (design §6). Limits set by admins live beside it.

Every method takes the executor to run on: the caller's transaction when the movement must
commit together with a job's state change, else the database for a statement of its own.
The SQL is plain (``ON CONFLICT DO NOTHING``, ``COALESCE``, ``SUM``) so that PostgreSQL runs
the quota path unchanged (design §8).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from storage.db import Executor, now


class Scope(StrEnum):
    """Whose allowance a row draws on."""

    USER = "user"
    GROUP = "group"


class Movement(StrEnum):
    RESERVE = "reserve"
    COMMIT = "commit"
    REFUND = "refund"
    GRANT = "grant"


@dataclass(frozen=True)
class Entry:
    """One ledger row. ``seconds`` is its effect on usage: a reserve adds, a refund and a
    grant take away, a commit adds the difference between the video and the reserve."""

    scope: Scope
    owner_id: int
    user_id: int
    chat_id: int
    kind: Movement
    seconds: int
    day: str
    month: str
    job_id: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Limits:
    """An owner's overrides; None means the configured default."""

    daily: int | None = None
    monthly: int | None = None
    #: Groups only: what one member may use of the group's pool a day.
    member_daily: int | None = None


@dataclass(frozen=True)
class JobShare:
    """What a job holds of one scope: its net seconds, on the day it was reserved."""

    scope: Scope
    owner_id: int
    user_id: int
    chat_id: int
    day: str
    month: str
    seconds: int


_SET_LIMIT = """
    INSERT INTO quota_limits (scope, owner_id, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (scope, owner_id) DO NOTHING
"""


class LedgerRepository:
    async def lock(self, ex: Executor, scope: Scope | str, owner_id: int) -> None:
        """Serialize reserves for one owner until the transaction ends: writing the owner's
        limits row holds its row lock (PostgreSQL) or the write lock (SQLite), so two
        reserves never both read the usage before either writes."""
        # One upsert (both SQLite and PostgreSQL): the row is made if missing, and locked.
        await ex.execute(
            """
            INSERT INTO quota_limits (scope, owner_id, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (scope, owner_id) DO UPDATE SET version = quota_limits.version + 1
            """,
            (scope, owner_id, now().isoformat()),
        )

    async def limits(self, ex: Executor, scope: Scope, owner_id: int) -> Limits:
        row = await ex.fetchone(
            """
            SELECT daily, monthly, member_daily FROM quota_limits
            WHERE scope = ? AND owner_id = ?
            """,
            (scope, owner_id),
        )
        if row is None:
            return Limits()
        return Limits(row["daily"], row["monthly"], row["member_daily"])

    async def set_limits(self, ex: Executor, scope: Scope, owner_id: int, limits: Limits) -> None:
        """Replace an owner's overrides (None: back to the default)."""
        stamp = now().isoformat()
        await ex.execute(_SET_LIMIT, (scope, owner_id, stamp))
        await ex.execute(
            """
            UPDATE quota_limits SET daily = ?, monthly = ?, member_daily = ?, updated_at = ?
            WHERE scope = ? AND owner_id = ?
            """,
            (limits.daily, limits.monthly, limits.member_daily, stamp, scope, owner_id),
        )

    async def used(
        self,
        ex: Executor,
        scope: Scope,
        owner_id: int,
        *,
        day: str | None = None,
        month: str | None = None,
        user_id: int | None = None,
    ) -> int:
        """Seconds used by an owner in a day or a month (a member's share with ``user_id``)."""
        sql = "SELECT COALESCE(SUM(seconds), 0) FROM ledger WHERE scope = ? AND owner_id = ?"
        params: list[object] = [scope, owner_id]
        if day is not None:
            sql += " AND day = ?"
            params.append(day)
        if month is not None:
            sql += " AND month = ?"
            params.append(month)
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        value = await ex.scalar(sql, params)
        return int(value) if isinstance(value, int | float) else 0

    async def add(self, ex: Executor, entries: list[Entry]) -> None:
        stamp = now().isoformat()
        for e in entries:
            await ex.execute(
                """
                INSERT INTO ledger (scope, owner_id, user_id, chat_id, job_id, kind, seconds,
                    day, month, note, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    e.scope,
                    e.owner_id,
                    e.user_id,
                    e.chat_id,
                    e.job_id,
                    e.kind,
                    e.seconds,
                    e.day,
                    e.month,
                    e.note,
                    stamp,
                ),
            )

    async def job_shares(self, ex: Executor, job_id: int) -> list[JobShare]:
        """What ``job_id`` holds of each scope (one share per scope it was reserved on)."""
        rows = await ex.fetchall(
            """
            SELECT scope, owner_id, user_id, chat_id, MIN(day) AS day, MIN(month) AS month,
                SUM(seconds) AS seconds
            FROM ledger WHERE job_id = ?
            GROUP BY scope, owner_id, user_id, chat_id
            """,
            (job_id,),
        )
        return [
            JobShare(
                Scope(row["scope"]),
                row["owner_id"],
                row["user_id"],
                row["chat_id"],
                row["day"],
                row["month"],
                int(row["seconds"]),
            )
            for row in rows
        ]
