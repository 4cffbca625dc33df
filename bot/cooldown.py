"""A short cooldown against /new floods (design §6): a token bucket per user, in memory.

Each /new (or [New], or a captioned /lipsync) takes a token; a user has ``burst`` of them and
gets one back every ``refill_seconds``. Over the limit the first refusal is worth telling
("try again in N s"); the ones after it, until a token is back, are not (a flood answered
message for message would be a flood of our own).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

BURST = 3
REFILL_SECONDS = 10.0
#: Users remembered at most. Forgetting the least recent one only gives them a full bucket.
MAX_USERS = 100_000


@dataclass(frozen=True)
class Refusal:
    """Too fast: the start is refused."""

    #: Whole seconds until the next start is allowed (at least 1).
    wait: int
    #: The first refusal since the user was last allowed: tell them; stay silent otherwise.
    tell: bool


@dataclass
class _Bucket:
    tokens: float
    at: float
    told: bool = False


class Cooldown:
    def __init__(
        self,
        *,
        burst: int = BURST,
        refill_seconds: float = REFILL_SECONDS,
        max_users: int = MAX_USERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._burst = burst
        self._refill = refill_seconds
        self._max = max_users
        self._clock = clock
        self._buckets: OrderedDict[int, _Bucket] = OrderedDict()

    def take(self, user_id: int) -> Refusal | None:
        """Spend one of the user's tokens. Returns None when the start may go ahead."""
        now = self._clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = _Bucket(float(self._burst), now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(user_id)
        # max(): a clock that stepped back never takes tokens away.
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(float(self._burst), bucket.tokens + elapsed / self._refill)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.told = False
            return None
        wait = max(1, math.ceil((1.0 - bucket.tokens) * self._refill))
        tell = not bucket.told
        bucket.told = True
        return Refusal(wait=wait, tell=tell)
