"""What users and group admins see of quotas (design §6), as handlers reach it
(``context.quotas``): a user's allowances where they are, a group's pool and who used it,
and a group admin's limits. The bot admins' tools are in :mod:`bot.admin_tools`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.quotas import Allowance, Quotas
from bot.quotas.periods import day_key
from storage.db import Database
from storage.ledger import LedgerRepository, Scope
from storage.pool_usage import MemberUse, members_used

#: /groupusage lists at most this many members (the ones who used the most).
MEMBERS_SHOWN = 20


@dataclass(frozen=True)
class GroupDay:
    """A group's pool today (/groupusage)."""

    #: The pool's daily and monthly limits (none: the pool is unlimited).
    pool: list[Allowance]
    #: What one member may use of it a day (None: no share set).
    member_daily: int | None
    #: Net seconds used today by everyone (also when the pool is unlimited).
    used_today: int
    members: list[MemberUse]


class QuotaDesk:
    def __init__(self, db: Database, quotas: Quotas, ledger: LedgerRepository) -> None:
        self._db = db
        self._quotas = quotas
        self._ledger = ledger

    def now(self) -> datetime:
        """The quotas' clock (tests move it across a midnight)."""
        return self._quotas.clock()

    async def allowances(self, user_id: int, chat_id: int, chat_type: str) -> list[Allowance]:
        """Every limit on a job by ``user_id`` in this chat, tightest first (none:
        unlimited)."""
        return await self._quotas.allowances(user_id, chat_id, chat_type)

    async def set_group(self, chat_id: int, daily: int | None, member_daily: int | None) -> None:
        """A group's daily pool and each member's share (None: the default / no share)."""
        await self._quotas.set_group_limits(chat_id, daily, member_daily)

    async def group_today(self, chat_id: int) -> GroupDay:
        pool = await self._quotas.group_allowances(chat_id)
        share = await self._quotas.group_share(chat_id)
        day = day_key(self.now())
        members = await members_used(self._db, chat_id, day=day, limit=MEMBERS_SHOWN)
        used = await self._ledger.used(self._db, Scope.GROUP, chat_id, day=day)
        return GroupDay(pool, share, used, members)
