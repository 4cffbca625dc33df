"""Quotas: seconds of generated video per user and per group, per day and month (design §6)."""

from bot.quotas.periods import Period
from bot.quotas.service import (
    Allowance,
    QuotaDefaults,
    QuotaExceeded,
    Quotas,
    TooManyActive,
    price,
)

__all__ = [
    "Allowance",
    "Period",
    "QuotaDefaults",
    "QuotaExceeded",
    "Quotas",
    "TooManyActive",
    "price",
]
