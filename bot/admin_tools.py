"""What the bot admins' commands do (design §6): limits and grants, /usage, /stats, and the
names that confirmations show. Handlers reach it as ``context.admin_tools``; bans go through
:class:`bot.moderation.Moderation`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot import admin_reports
from bot.i18n import Translator
from bot.quotas import Allowance, Period, QuotaDefaults, Quotas
from bot.quotas.periods import day_key, month_key
from storage.usage import Owner, UsageRepository

#: /usage covers today and the days before it, this many in all (UTC days).
USAGE_DAYS = 7


@dataclass(frozen=True)
class Who:
    """A user an admin command is about, as the confirmation names them."""

    user_id: int
    #: First name, or @username; None when the bot has never seen them.
    name: str | None


class AdminTools:
    def __init__(
        self,
        usage: UsageRepository,
        quotas: Quotas,
        translator: Translator,
        *,
        defaults: QuotaDefaults,
        admins: frozenset[int],
    ) -> None:
        self._usage = usage
        self._quotas = quotas
        self._t = translator
        self._defaults = defaults
        self._admins = admins

    async def who(self, user_id: int, name: str | None = None) -> Who:
        """The user with the name the bot last saw (``name`` when the caller knows it, e.g.
        from the message replied to)."""
        if name is None:
            known = await self._usage.known_user(user_id)
            if known is not None:
                name = known.first_name or f"@{known.username}"
        return Who(user_id, name)

    def default_limit(self, user_id: int, period: Period) -> int | None:
        """The limit a user has without an override (None: unlimited; admins always are)."""
        if user_id in self._admins:
            return None
        value = self._defaults.user_daily if period is Period.DAY else self._defaults.user_monthly
        return value or None

    async def set_limit(self, user_id: int, period: Period, seconds: int | None) -> None:
        """Override a user's daily or monthly limit; None goes back to the default."""
        await self._quotas.set_user_limit(user_id, period, seconds)

    async def grant(self, user_id: int, seconds: int, *, by: int) -> Allowance | None:
        """Give ``seconds`` extra for today; returns the user's daily allowance after it
        (None: no daily limit applies to them)."""
        await self._quotas.grant(user_id, seconds, by=by)
        # A private chat: the user's own limits, without any group's pool.
        for allowance in await self._quotas.allowances(user_id, user_id, "private"):
            if allowance.scope == "user" and allowance.period is Period.DAY:
                return allowance
        return None

    async def usage_report(
        self, locale: str, heading: str, *, user_id: int | None = None, group_id: int | None = None
    ) -> str:
        """The last :data:`USAGE_DAYS` days of the whole bot, a user or a group's pool."""
        owner = None
        if user_id is not None:
            owner = Owner("user", user_id)
        elif group_id is not None:
            owner = Owner("group", group_id)
        since = day_key(self._quotas.clock() - timedelta(days=USAGE_DAYS - 1))
        rows = await self._usage.by_day(since, owner)
        # Grants are a user's; a group's pool has none.
        granted = 0 if group_id is not None else await self._usage.granted(since, owner)
        return admin_reports.usage_text(self._t, locale, heading, rows, granted)

    async def group_title(self, chat_id: int) -> str | None:
        return await self._usage.chat_title(chat_id)

    async def stats_report(self, locale: str) -> str:
        """This month's jobs by provider and state, success rate, turnaround and spending."""
        at = self._quotas.clock()
        month = month_key(at)
        since = f"{month}-01T00:00:00+00:00"
        return admin_reports.stats_text(
            self._t,
            locale,
            month,
            await self._usage.states(since),
            await self._usage.delivered_times(since),
            await self._usage.spent(day=day_key(at)),
            await self._usage.spent(month=month),
        )
