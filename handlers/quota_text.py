"""What users read about quotas (design §6): a price, which limit it draws on, what is left,
when it resets, and why [Generate] was refused. Pure: translator, locale and allowances in,
text out; the handlers fetch the allowances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from bot.i18n import Translator
from bot.quotas import Allowance, Period, QuotaExceeded, TooManyActive


def label(t: Translator, locale: str, allowance: Allowance) -> str:
    """``your daily quota``, ``this group's daily pool``, ``your daily share in this group``."""
    return t.t(locale, f"quota.limit_{allowance.scope}_{allowance.period}")


def heading(t: Translator, locale: str, allowance: Allowance) -> str:
    """The label at the start of a line (``Your daily quota``)."""
    text = label(t, locale, allowance)
    return text[:1].upper() + text[1:]


def left(t: Translator, locale: str, allowance: Allowance) -> str:
    """``108 s of 120 s left today``; with extra from an admin's /grant, ``130 s left
    today (120 s a day, plus extra from an admin)``."""
    return t.t(
        locale,
        f"quota.left_{allowance.period}{'_extra' if allowance.left > allowance.limit else ''}",
        left=allowance.left,
        limit=allowance.limit,
    )


def resets(t: Translator, locale: str, allowance: Allowance, now: datetime) -> str:
    """``at midnight UTC, in 3 h 12 min``; a month's: ``on February 1 at midnight UTC``."""
    if allowance.period is Period.DAY:
        wait = (allowance.resets_at - now).total_seconds()
        return t.t(locale, "quota.resets_day", wait=_wait(t, locale, wait))
    months = t.t(locale, "quota.months").split()
    return t.t(locale, "quota.resets_month", month=months[allowance.resets_at.month - 1])


def short_of(seconds: int, allowances: Sequence[Allowance]) -> Allowance | None:
    """The limit a video of ``seconds`` would not fit in (they come tightest first)."""
    return next((a for a in allowances if seconds > a.left), None)


def price(t: Translator, locale: str, seconds: int, allowances: Sequence[Allowance]) -> str:
    """The CONFIRM step's price: ``4 s of video (your daily quota: 108 s of 120 s left
    today)``, naming the tightest limit (the group's pool when that is the one)."""
    if not allowances:
        return t.t(locale, "price.unlimited", seconds=seconds)
    tightest = allowances[0]
    return t.t(
        locale,
        "price.limited",
        seconds=seconds,
        limit=label(t, locale, tightest),
        left=left(t, locale, tightest),
    )


def refusal(
    t: Translator, locale: str, refused: QuotaExceeded | TooManyActive, now: datetime
) -> str:
    """Why [Generate] made no video, and what to do: how much the video needs, how much is
    left of which limit, and when it resets (or how many videos are in progress)."""
    if isinstance(refused, TooManyActive):
        return t.t(locale, "quota.too_many", limit=refused.limit)
    allowance, needed = refused.allowance, refused.needed
    lines = [
        t.t(
            locale,
            "quota.refused",
            needed=needed,
            left=allowance.left,
            limit=label(t, locale, allowance),
            resets=resets(t, locale, allowance, now),
        ),
        way_forward(t, locale, allowance, needed),
    ]
    if allowance.scope != "user":
        lines.append(t.t(locale, "quota.try_private"))
    return "\n\n".join(lines)


def way_forward(t: Translator, locale: str, allowance: Allowance, needed: int) -> str:
    if allowance.limit == 0:
        # Nothing fits, whatever the voice: only an admin can change that.
        return t.t(locale, "quota.way_none")
    if needed > allowance.limit:
        # Waiting does not help: the voice is longer than the whole allowance.
        return t.t(locale, "quota.way_too_long", limit=allowance.limit)
    if allowance.left > 0:
        return t.t(locale, "quota.way_shorter_or_wait", left=allowance.left)
    return t.t(locale, "quota.way_wait")


def offers_shorter(allowance: Allowance, needed: int) -> bool:
    """Whether a shorter voice could be made at all (else [Shorter voice] is not offered)."""
    return allowance.left > 0 or needed > allowance.limit > 0


def report(t: Translator, locale: str, allowances: Sequence[Allowance], now: datetime) -> str:
    """/quota: every limit on the user here, with what is left and when it resets."""
    if not allowances:
        return t.t(locale, "quota.unlimited")
    order = {"user": 0, "member": 1, "group": 2}
    lines = [t.t(locale, "quota.header")]
    for allowance in sorted(allowances, key=lambda a: (order[a.scope], a.period != Period.DAY)):
        lines.append(
            t.t(
                locale,
                "quota.line",
                limit=heading(t, locale, allowance),
                left=left(t, locale, allowance),
                resets=resets(t, locale, allowance, now),
            )
        )
    lines.append(t.t(locale, "quota.footer"))
    return "\n".join(lines)


def _wait(t: Translator, locale: str, seconds: float) -> str:
    """``3 h 12 min``, ``12 min``, ``less than a minute``; rounded up, never "0 min"."""
    if seconds < 60:
        return t.t(locale, "quota.wait_soon")
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    if hours and minutes:
        return t.t(locale, "quota.wait_hours_minutes", hours=hours, minutes=minutes)
    if hours:
        return t.t(locale, "quota.wait_hours", hours=hours)
    return t.t(locale, "quota.wait_minutes", minutes=minutes)
