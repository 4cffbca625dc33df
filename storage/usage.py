"""Read-only queries behind the admins' /usage and /stats (design §6).

A job's charged seconds are the sum of its ledger rows in one scope (reserve, commit, refund),
so usage is read from the ledger, never from the jobs' reserved ``seconds``. Each job has
exactly one share in the ``user`` scope, which is why "the whole bot" sums that scope.

Plain SQL only (GROUP BY, COALESCE, subqueries, string comparison of ISO stamps), so
PostgreSQL runs it unchanged (design §8). Times are compared as the ISO strings the tables
store (``now().isoformat()``, UTC), which sort like the instants they name.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True)
class Owner:
    """Whose usage: a user (``scope`` "user") or a group's pool (``scope`` "group")."""

    scope: str
    owner_id: int


@dataclass(frozen=True)
class DayUsage:
    """One day and provider of usage: net seconds charged, jobs reserved, provider credits."""

    day: str
    provider: str
    seconds: int
    jobs: int
    credits: float


@dataclass(frozen=True)
class StateCount:
    provider: str
    status: str
    jobs: int


@dataclass(frozen=True)
class Spent:
    """Net seconds charged, and each provider's credits: in its own unit (sync.so's are US
    dollars), so never added up."""

    seconds: int
    credits: dict[str, float]


@dataclass(frozen=True)
class Known:
    """What the bot remembers of a user."""

    first_name: str
    username: str | None


class UsageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def by_day(self, since_day: str, owner: Owner | None) -> list[DayUsage]:
        """Per day (the day each job reserved) and provider since ``since_day`` (inclusive),
        newest first; ``owner`` None: the whole bot."""
        scope, where, params = _owner_filter(owner)
        # One row per job first, so a job's credits count once whatever its number of rows.
        rows = await self._db.fetchall(
            f"""
            SELECT shares.day AS day, jobs.provider AS provider,
                SUM(shares.seconds) AS seconds, COUNT(*) AS jobs,
                COALESCE(SUM(jobs.credits), 0) AS credits
            FROM (
                SELECT job_id, MIN(day) AS day, SUM(seconds) AS seconds FROM ledger
                WHERE scope = ? AND job_id IS NOT NULL AND day >= ?{where}
                GROUP BY job_id
            ) AS shares
            JOIN jobs ON jobs.id = shares.job_id
            GROUP BY shares.day, jobs.provider
            ORDER BY shares.day DESC, jobs.provider
            """,
            [scope, since_day, *params],
        )
        return [
            DayUsage(
                row["day"],
                row["provider"],
                int(row["seconds"]),
                int(row["jobs"]),
                float(row["credits"]),
            )
            for row in rows
        ]

    async def granted(self, since_day: str, owner: Owner | None) -> int:
        """Seconds given by /grant since ``since_day`` (grants are user-scope rows)."""
        scope, where, params = _owner_filter(owner)
        value = await self._db.scalar(
            f"""
            SELECT COALESCE(SUM(-seconds), 0) FROM ledger
            WHERE scope = ? AND kind = 'grant' AND day >= ?{where}
            """,
            [scope, since_day, *params],
        )
        return int(value) if isinstance(value, int | float) else 0

    async def states(self, since: str) -> list[StateCount]:
        """Jobs created at or after the ISO stamp ``since``, by provider and state."""
        rows = await self._db.fetchall(
            """
            SELECT provider, status, COUNT(*) AS jobs FROM jobs WHERE created_at >= ?
            GROUP BY provider, status ORDER BY provider, status
            """,
            (since,),
        )
        return [StateCount(row["provider"], row["status"], int(row["jobs"])) for row in rows]

    async def delivered_times(self, since: str) -> list[tuple[str, str]]:
        """(created_at, finished_at) of the jobs created since ``since`` and delivered."""
        rows = await self._db.fetchall(
            """
            SELECT created_at, finished_at FROM jobs
            WHERE created_at >= ? AND status = 'delivered' AND finished_at IS NOT NULL
            """,
            (since,),
        )
        return [(row["created_at"], row["finished_at"]) for row in rows]

    async def spent(self, *, day: str | None = None, month: str | None = None) -> Spent:
        """Net seconds charged for jobs reserved on ``day`` (or in ``month``), and those jobs'
        provider credits, by provider."""
        column, key = ("day", day) if day is not None else ("month", month)
        # The column name is one of two constants above, never input.
        rows = await self._db.fetchall(
            f"""
            SELECT jobs.provider AS provider, SUM(shares.seconds) AS seconds,
                COALESCE(SUM(jobs.credits), 0) AS credits
            FROM (
                SELECT job_id, SUM(seconds) AS seconds FROM ledger
                WHERE scope = 'user' AND job_id IS NOT NULL AND {column} = ?
                GROUP BY job_id
            ) AS shares
            JOIN jobs ON jobs.id = shares.job_id
            GROUP BY jobs.provider
            """,
            (key,),
        )
        return Spent(
            sum(int(row["seconds"]) for row in rows),
            {row["provider"]: float(row["credits"]) for row in rows},
        )

    async def known_user(self, user_id: int) -> Known | None:
        """The name the user last wrote to the bot with; None: never seen (or only banned)."""
        row = await self._db.fetchone(
            "SELECT first_name, username FROM users WHERE id = ?", (user_id,)
        )
        if row is None or not (row["first_name"] or row["username"]):
            return None
        return Known(row["first_name"], row["username"])

    async def chat_title(self, chat_id: int) -> str | None:
        value = await self._db.scalar("SELECT title FROM chats WHERE id = ?", (chat_id,))
        return value if isinstance(value, str) and value else None


def _owner_filter(owner: Owner | None) -> tuple[str, str, list[object]]:
    """The scope to sum and the extra condition for one owner (the whole bot: the user
    scope, where every job has one share)."""
    if owner is None:
        return "user", "", []
    return owner.scope, " AND owner_id = ?", [owner.owner_id]
