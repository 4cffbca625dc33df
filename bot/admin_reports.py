"""The admins' /usage and /stats as text: pure functions of the rows storage/usage.py reads.

Admin-facing, so provider credits are shown (users only ever see seconds, design §6), each
provider's in its own unit (sync.so's are US dollars) and never added up across providers.
Telegram refuses a message over 4096 characters; :func:`fit` keeps every report inside one.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.i18n import Translator
from bot.providers import VENDORS
from storage.usage import DayUsage, Spent, StateCount

#: Under Telegram's 4096, with room for the "cut" note.
MAX_CHARS = 3900


def usage_text(
    t: Translator, locale: str, heading: str, rows: Sequence[DayUsage], granted: int
) -> str:
    """Per day (newest first) and provider: net seconds, jobs, credits; then the totals (the
    credits by provider)."""
    lines = [heading]
    if not rows and not granted:
        lines.append(t.t(locale, "botadmin.usage_none"))
        return fit(t, locale, lines)
    day = None
    for row in rows:
        if row.day != day:
            day = row.day
            lines.append(day)
        line = t.t(
            locale,
            "botadmin.usage_line",
            provider=t.provider(locale, row.provider),
            seconds=row.seconds,
            jobs=row.jobs,
            credits=t.amount(locale, row.credits, unit_of(row.provider)),
        )
        lines.append(f"  {line}")
    by_provider: dict[str, float] = defaultdict(float)
    for row in rows:
        by_provider[row.provider] += row.credits
    lines.append(
        t.t(
            locale,
            "botadmin.usage_total",
            seconds=sum(row.seconds for row in rows),
            jobs=sum(row.jobs for row in rows),
            credits=spending(t, locale, by_provider),
        )
    )
    if granted:
        lines.append(t.t(locale, "botadmin.usage_granted", seconds=granted))
    return fit(t, locale, lines)


def stats_text(
    t: Translator,
    locale: str,
    month: str,
    states: Sequence[StateCount],
    times: Sequence[tuple[str, str]],
    today: Spent,
    this_month: Spent,
) -> str:
    """Jobs by provider and state, success rate, turnaround, seconds and credits spent."""
    lines = [t.t(locale, "botadmin.stats_header", month=month)]
    if not states:
        lines.append(t.t(locale, "botadmin.stats_none"))
    by_provider: dict[str, list[StateCount]] = defaultdict(list)
    for count in states:
        by_provider[count.provider].append(count)
    for provider, counts in by_provider.items():
        listed = ", ".join(
            t.t(
                locale, "botadmin.stats_state", state=state_label(t, locale, c.status), jobs=c.jobs
            )
            for c in counts
        )
        name = t.provider(locale, provider)
        lines.append(t.t(locale, "botadmin.stats_provider", provider=name, states=listed))
    delivered = sum(c.jobs for c in states if c.status == "delivered")
    # A user's cancel says nothing about the providers: not counted either way.
    ended = sum(c.jobs for c in states if c.status in ("delivered", "failed", "expired"))
    canceled = sum(c.jobs for c in states if c.status == "canceled")
    if ended:
        rate = f"{delivered / ended:.0%}"
        lines.append(
            t.t(
                locale,
                "botadmin.stats_success",
                rate=rate,
                delivered=delivered,
                ended=ended,
                canceled=canceled,
            )
        )
    else:
        lines.append(t.t(locale, "botadmin.stats_success_none"))
    waits = turnarounds(times)
    if waits:
        lines.append(
            t.t(
                locale,
                "botadmin.stats_turnaround",
                median=duration(t, locale, statistics.median(waits)),
                p90=duration(t, locale, percentile(waits, 0.9)),
                count=len(waits),
            )
        )
    else:
        lines.append(t.t(locale, "botadmin.stats_turnaround_none"))
    lines.append(
        t.t(
            locale,
            "botadmin.stats_spent",
            today_seconds=today.seconds,
            today_credits=spending(t, locale, today.credits),
            month_seconds=this_month.seconds,
            month_credits=spending(t, locale, this_month.credits),
        )
    )
    return fit(t, locale, lines)


def turnarounds(times: Sequence[tuple[str, str]]) -> list[float]:
    """Seconds from creation to the end, of each (created_at, finished_at) pair; a pair that
    does not parse, or ends before it starts (a clock step), is left out."""
    found = []
    for created, finished in times:
        try:
            seconds = (
                datetime.fromisoformat(finished) - datetime.fromisoformat(created)
            ).total_seconds()
        except (TypeError, ValueError):
            continue
        if seconds >= 0:
            found.append(seconds)
    return found


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``share`` of them at or
    below it (so p90 of few videos is a real video's time, never an interpolation)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def duration(t: Translator, locale: str, seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return t.t(locale, "botadmin.seconds", seconds=whole)
    return t.t(locale, "botadmin.minutes", minutes=whole // 60, seconds=whole % 60)


def spending(t: Translator, locale: str, credits: Mapping[str, float]) -> str:
    """Each provider's ``credits`` (by provider id) in its own unit, never added up (a dollar
    is no credit, nor is one provider's credit another's); or that none were spent."""
    spent = [
        t.t(
            locale,
            "botadmin.spent_provider",
            provider=t.provider(locale, provider),
            amount=t.amount(locale, value, unit_of(provider)),
        )
        for provider, value in sorted(credits.items())
        if value
    ]
    return "; ".join(spent) or t.t(locale, "botadmin.spent_none")


def unit_of(provider: str) -> str:
    """What ``provider``'s credits are; a provider this version no longer has, its own."""
    vendor = VENDORS.get(provider)
    return vendor.credit_unit if vendor is not None else "credits"


def state_label(t: Translator, locale: str, status: str) -> str:
    try:
        return t.t(locale, f"status.{status}")
    except KeyError:
        return status


def fit(t: Translator, locale: str, lines: list[str]) -> str:
    """The lines as one message; past :data:`MAX_CHARS` the rest is cut, and it says so."""
    text = "\n".join(lines)
    if len(text) <= MAX_CHARS:
        return text
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > MAX_CHARS:
            break
        kept.append(line)
        size += len(line) + 1
    kept.append(t.t(locale, "botadmin.cut"))
    return "\n".join(kept)
