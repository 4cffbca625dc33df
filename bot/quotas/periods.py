"""Quota periods: UTC days and months, their ledger keys and when they end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"


def day_key(at: datetime) -> str:
    """``2026-12-01``: the ledger's day column."""
    return at.astimezone(UTC).date().isoformat()


def month_key(at: datetime) -> str:
    """``2026-12``: the ledger's month column."""
    return day_key(at)[:7]


def resets_at(period: Period, at: datetime) -> datetime:
    """When the period holding ``at`` ends (the next UTC midnight, or first of a month)."""
    start = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.DAY:
        return start + timedelta(days=1)
    first = start.replace(day=1)
    return (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
