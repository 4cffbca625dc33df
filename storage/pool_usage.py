"""Who used a group's pool on a day (/groupusage, design §6): each member's net seconds with
the name the bot last saw them by. Plain SQL (GROUP BY, LEFT JOIN) that PostgreSQL runs
unchanged (design §8)."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Executor


@dataclass(frozen=True)
class MemberUse:
    user_id: int
    first_name: str
    username: str | None
    seconds: int


async def members_used(ex: Executor, chat_id: int, *, day: str, limit: int) -> list[MemberUse]:
    """The ``limit`` members who used the most of group ``chat_id``'s pool on ``day``, most
    first; members whose jobs were all refunded are left out."""
    rows = await ex.fetchall(
        """
        SELECT ledger.user_id AS user_id, users.first_name AS first_name,
            users.username AS username, SUM(ledger.seconds) AS seconds
        FROM ledger LEFT JOIN users ON users.id = ledger.user_id
        WHERE ledger.scope = 'group' AND ledger.owner_id = ? AND ledger.day = ?
        GROUP BY ledger.user_id, users.first_name, users.username
        HAVING SUM(ledger.seconds) > 0
        ORDER BY seconds DESC, ledger.user_id
        LIMIT ?
        """,
        (chat_id, day, limit),
    )
    return [
        MemberUse(row["user_id"], row["first_name"] or "", row["username"], int(row["seconds"]))
        for row in rows
    ]
