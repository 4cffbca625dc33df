"""Provider health: whether each provider works, and whether the admins were told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, now


@dataclass(frozen=True)
class HealthRecord:
    provider: str
    #: "ok", "auth" (bad key) or "credits" (out of credits).
    state: str
    detail: str | None
    since: datetime
    notified: bool


class HealthRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> dict[str, HealthRecord]:
        rows = await self._db.fetchall("SELECT * FROM provider_health")
        return {
            row["provider"]: HealthRecord(
                provider=row["provider"],
                state=row["state"],
                detail=row["detail"],
                since=datetime.fromisoformat(row["since"]),
                notified=bool(row["notified"]),
            )
            for row in rows
        }

    async def set_state(self, provider: str, state: str, detail: str | None) -> bool:
        """Record ``state``; returns True when it differs from the stored one (a change)."""
        changed = await self._db.execute(
            """
            INSERT INTO provider_health (provider, state, detail, since, notified)
            VALUES (?, ?, ?, ?, 0)
            ON CONFLICT (provider) DO UPDATE SET state = excluded.state,
                detail = excluded.detail, since = excluded.since, notified = 0
            WHERE provider_health.state != excluded.state
            """,
            (provider, state, detail, now().isoformat()),
        )
        return changed > 0

    async def mark_notified(self, provider: str) -> bool:
        """Claim the right to tell the admins (once per state change)."""
        changed = await self._db.execute(
            "UPDATE provider_health SET notified = 1 WHERE provider = ? AND notified = 0",
            (provider,),
        )
        return changed > 0
