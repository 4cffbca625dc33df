"""What each user and group may still spend, and the ledger movements of a job's life:
reserve at [Generate], commit at delivery, refund when it ends without a video.

The movements take the caller's transaction: :class:`bot.jobs.states.JobStates` writes each
one together with the job's state change, so a crash can never leave a charged job that
failed, nor a job that ran free.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.models import PADDING_SECONDS, Job
from bot.quotas.periods import Period, day_key, month_key, resets_at
from storage.db import Database, Executor, Transaction, now
from storage.ledger import Entry, JobShare, LedgerRepository, Limits, Movement, Scope

#: Chat types whose jobs also draw on the group's pool.
GROUP_CHATS = frozenset({"group", "supergroup"})


def price(duration: float | None) -> int:
    """Seconds of quota a voice of ``duration`` seconds costs: whole seconds, at least 1."""
    return max(1, math.ceil((duration or 0) - PADDING_SECONDS))


@dataclass(frozen=True)
class QuotaDefaults:
    """The configured defaults; 0 means no limit."""

    user_daily: int
    user_monthly: int
    group_daily: int
    group_monthly: int


@dataclass(frozen=True)
class Allowance:
    """One limit that applies to a user in a chat, and how much of it is used."""

    #: "user", "group" (the group's pool) or "member" (the user's share of the pool).
    scope: str
    period: Period
    limit: int
    used: int
    resets_at: datetime

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


class QuotaExceeded(Exception):
    """Not enough left: ``allowance`` is the limit that refused ``needed`` seconds."""

    def __init__(self, allowance: Allowance, needed: int) -> None:
        super().__init__(f"{allowance.scope} {allowance.period}: {needed} s > {allowance.left} s")
        self.allowance = allowance
        self.needed = needed


class TooManyActive(Exception):
    """The user already has ``limit`` jobs waiting, queued or rendering."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} active jobs")
        self.limit = limit


class Quotas:
    def __init__(
        self,
        db: Database,
        ledger: LedgerRepository,
        *,
        defaults: QuotaDefaults,
        admins: frozenset[int],
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._db = db
        self._ledger = ledger
        self._defaults = defaults
        self._admins = admins
        #: What time it is (tests set another clock to cross a midnight).
        self.clock = clock

    async def allowances(
        self,
        user_id: int,
        chat_id: int,
        chat_type: str,
        ex: Executor | None = None,
        *,
        at: datetime | None = None,
    ) -> list[Allowance]:
        """Every limit on a job by ``user_id`` in this chat (none: unlimited), tightest
        first, as of ``at`` (default: now)."""
        ex = ex or self._db
        at = at or self.clock()
        mine = await self._ledger.limits(ex, Scope.USER, user_id)
        admin = user_id in self._admins
        found = [
            await self._allowance(ex, "user", period, limit, at, user_id)
            for period, limit in (
                (Period.DAY, _limit(mine.daily, None if admin else self._defaults.user_daily)),
                (
                    Period.MONTH,
                    _limit(mine.monthly, None if admin else self._defaults.user_monthly),
                ),
            )
            if limit is not None
        ]
        if chat_type in GROUP_CHATS and not admin:
            found += await self.group_allowances(chat_id, ex, at=at, member=user_id)
        return sorted(found, key=lambda allowance: allowance.left)

    async def group_allowances(
        self,
        chat_id: int,
        ex: Executor | None = None,
        *,
        at: datetime | None = None,
        member: int | None = None,
    ) -> list[Allowance]:
        """A group's pool (daily, monthly) and, with ``member``, that member's daily share."""
        ex = ex or self._db
        at = at or self.clock()
        pool = await self._ledger.limits(ex, Scope.GROUP, chat_id)
        found = []
        for period, limit in (
            (Period.DAY, _limit(pool.daily, self._defaults.group_daily)),
            (Period.MONTH, _limit(pool.monthly, self._defaults.group_monthly)),
        ):
            if limit is not None:
                found.append(await self._allowance(ex, "group", period, limit, at, chat_id))
        if member is not None and pool.member_daily is not None:
            used = await self._ledger.used(
                ex, Scope.GROUP, chat_id, day=day_key(at), user_id=member
            )
            found.append(
                Allowance("member", Period.DAY, pool.member_daily, used, resets_at(Period.DAY, at))
            )
        return found

    async def group_share(self, chat_id: int) -> int | None:
        """What one member may use of a group's pool a day (None: no share set)."""
        return (await self._ledger.limits(self._db, Scope.GROUP, chat_id)).member_daily

    async def _allowance(
        self, ex: Executor, scope: str, period: Period, limit: int, at: datetime, owner: int
    ) -> Allowance:
        """``owner``'s ``scope`` allowance for the ``period`` holding ``at``."""
        ledger_scope = Scope.USER if scope == "user" else Scope.GROUP
        if period is Period.DAY:
            used = await self._ledger.used(ex, ledger_scope, owner, day=day_key(at))
        else:
            used = await self._ledger.used(ex, ledger_scope, owner, month=month_key(at))
        return Allowance(scope, period, limit, used, resets_at(period, at))

    async def lock(self, tx: Transaction, user_id: int, chat_id: int, chat_type: str) -> None:
        """Hold the user's (and the group's) allowance until ``tx`` ends; always in the same
        order (user, then group), so two reserves never wait on each other in a circle."""
        await self._ledger.lock(tx, Scope.USER, user_id)
        if chat_type in GROUP_CHATS:
            await self._ledger.lock(tx, Scope.GROUP, chat_id)

    async def reserve(self, tx: Transaction, job: Job, seconds: int) -> None:
        """Reserve ``seconds`` for ``job`` on every scope it draws on.

        Raises:
            QuotaExceeded: a limit has less left (``tx`` must then be rolled back).
        """
        # One reading of the clock: the check and the rows are for the same day and month.
        at = self.clock()
        allowances = await self.allowances(job.user_id, job.chat_id, job.chat_type, tx, at=at)
        for allowance in allowances:
            if seconds > allowance.left:
                raise QuotaExceeded(allowance, seconds)
        day, month = day_key(at), month_key(at)
        scopes = [(Scope.USER, job.user_id)]
        if job.chat_type in GROUP_CHATS:
            scopes.append((Scope.GROUP, job.chat_id))
        await self._ledger.add(
            tx,
            [
                Entry(
                    scope,
                    owner,
                    job.user_id,
                    job.chat_id,
                    Movement.RESERVE,
                    seconds,
                    day,
                    month,
                    job_id=job.id,
                    note=job.provider,
                )
                for scope, owner in scopes
            ],
        )

    async def commit(self, tx: Transaction, job_id: int, video_seconds: float | None) -> None:
        """The video was delivered: charge its length (never more than was reserved, the
        price the user was shown); the rest of the reserve goes back."""
        for share in await self._ledger.job_shares(tx, job_id):
            charge = share.seconds if video_seconds is None else price(video_seconds)
            delta = min(charge, share.seconds) - share.seconds
            note = None if video_seconds is None else f"video {video_seconds:.1f} s"
            await self._ledger.add(tx, [_entry(share, job_id, Movement.COMMIT, delta, note)])

    async def refund(self, tx: Transaction, job_id: int, why: str) -> None:
        """The job ended without a video: everything it holds goes back, on the day it was
        reserved (a refund after midnight does not inflate the new day)."""
        for share in await self._ledger.job_shares(tx, job_id):
            if share.seconds:
                await self._ledger.add(
                    tx, [_entry(share, job_id, Movement.REFUND, -share.seconds, why)]
                )

    async def grant(self, user_id: int, seconds: int, *, by: int) -> None:
        """One-off extra seconds for today (and so this month)."""
        at = self.clock()
        entry = Entry(
            Scope.USER,
            user_id,
            user_id,
            user_id,
            Movement.GRANT,
            -seconds,
            day_key(at),
            month_key(at),
            note=f"by {by}",
        )
        async with self._db.transaction() as tx:
            await self._ledger.add(tx, [entry])

    async def set_user_limit(self, user_id: int, period: Period, seconds: int | None) -> None:
        """Override a user's daily or monthly limit (None: back to the default)."""
        async with self._db.transaction() as tx:
            limits = await self._ledger.limits(tx, Scope.USER, user_id)
            field = "daily" if period is Period.DAY else "monthly"
            updated = Limits(**{**limits.__dict__, field: seconds})
            await self._ledger.set_limits(tx, Scope.USER, user_id, updated)

    async def set_group_limits(
        self, chat_id: int, daily: int | None, member_daily: int | None
    ) -> None:
        """A group's daily pool and each member's share of it (None: default / no share)."""
        async with self._db.transaction() as tx:
            limits = await self._ledger.limits(tx, Scope.GROUP, chat_id)
            updated = Limits(daily=daily, monthly=limits.monthly, member_daily=member_daily)
            await self._ledger.set_limits(tx, Scope.GROUP, chat_id, updated)


def _limit(override: int | None, default: int | None) -> int | None:
    """The limit that applies: an override as set (0 allows nothing), else the default
    (0 or None: no limit)."""
    if override is not None:
        return override
    return default or None


def _entry(share: JobShare, job_id: int, kind: Movement, seconds: int, note: str | None) -> Entry:
    return Entry(
        share.scope,
        share.owner_id,
        share.user_id,
        share.chat_id,
        kind,
        seconds,
        share.day,
        share.month,
        job_id=job_id,
        note=note,
    )
