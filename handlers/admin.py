"""Commands for the bot's admins (ADMIN_IDS, design §6): /providers, /setquota, /grant,
/usage, /stats, /ban and /unban.

Who may send them is decided in one place, the filter these handlers are registered with
(handlers/admin_filter.py): nothing here checks the sender again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import Forbidden

from bot.admin_tools import Who
from bot.context import BotContext
from bot.quotas import Period
from handlers import admin_args as parse
from handlers.admin_args import Refusal, WrongArguments

#: An admin command's work: (context, message, admin id, locale, arguments) -> the reply.
Body = Callable[[BotContext, Message, int, str, list[str]], Awaitable[str]]
Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def admin_command(usage_key: str) -> Callable[[Body], Handler]:
    """Run ``body`` and reply with its text; wrong arguments get the ``usage_key`` line and
    a :class:`Refusal` its explanation."""

    def wrap(body: Body) -> Handler:
        async def handler(update: Update, context: BotContext) -> None:
            message, user = update.effective_message, update.effective_user
            assert message is not None
            assert user is not None
            t = context.t
            locale = t.negotiate(user.language_code)
            try:
                text = await body(context, message, user.id, locale, list(context.args or []))
            except WrongArguments:
                text = t.t(locale, usage_key)
            except Refusal as refusal:
                text = t.t(locale, refusal.key, **refusal.params)
            await answer_privately(context, message, user.id, locale, text)

        handler.__doc__ = body.__doc__
        return handler

    return wrap


async def answer_privately(
    context: BotContext, message: Message, admin_id: int, locale: str, text: str
) -> None:
    """Reply in a private chat; sent in a group, the answer (usage, credits, who is banned)
    goes to the admin's private chat instead, and the group only hears where it went."""
    if message.chat.type == ChatType.PRIVATE:
        await message.reply_text(text)
        return
    try:
        await context.bot.send_message(admin_id, text)
    except Forbidden:
        await message.reply_text(
            context.t.t(locale, "botadmin.ask_privately", bot=context.bot.username)
        )
        return
    await message.reply_text(context.t.t(locale, "botadmin.sent_privately"))


def describe(context: BotContext, locale: str, who: Who) -> str:
    """ "Ann (id 42)", or "id 42 (has not written to me yet)"."""
    if who.name is None:
        return context.t.t(locale, "botadmin.who_unseen", user_id=who.user_id)
    return context.t.t(locale, "botadmin.who", name=who.name, user_id=who.user_id)


def _limit_text(context: BotContext, locale: str, value: int | None) -> str:
    if value is None:
        return context.t.t(locale, "botadmin.no_limit")
    return context.t.t(locale, "botadmin.seconds", seconds=value)


@admin_command("botadmin.setquota_usage")
async def setquota(
    context: BotContext, message: Message, admin_id: int, locale: str, args: list[str]
) -> str:
    """/setquota <user|reply> <seconds|default> [daily|monthly]: a user's own limit."""
    who, rest = await parse.target(context, message, args)
    if not 1 <= len(rest) <= 2:
        raise WrongArguments
    seconds = parse.limit(rest[0])
    period = parse.period(rest[1]) if len(rest) == 2 else Period.DAY
    await context.admin_tools.set_limit(who.user_id, period, seconds)
    t = context.t
    what = t.t(locale, f"botadmin.period_{period}")
    if seconds is None:
        default = context.admin_tools.default_limit(who.user_id, period)
        return t.t(
            locale,
            "botadmin.limit_default",
            period=what,
            who=describe(context, locale, who),
            limit=_limit_text(context, locale, default),
        )
    return t.t(
        locale,
        "botadmin.limit_set",
        period=what,
        who=describe(context, locale, who),
        limit=_limit_text(context, locale, seconds),
    )


@admin_command("botadmin.grant_usage")
async def grant(
    context: BotContext, message: Message, admin_id: int, locale: str, args: list[str]
) -> str:
    """/grant <user|reply> <seconds>: one-off extra seconds for today."""
    who, rest = await parse.target(context, message, args)
    if len(rest) != 1:
        raise WrongArguments
    seconds = parse.seconds(rest[0], minimum=1)
    today = await context.admin_tools.grant(who.user_id, seconds, by=admin_id)
    if today is None:
        return context.t.t(
            locale,
            "botadmin.granted_unlimited",
            seconds=seconds,
            who=describe(context, locale, who),
        )
    # Used and limit too when something is used: a grant to someone far over their limit
    # can leave 0 s, which alone would read as if the grant did nothing.
    return context.t.t(
        locale,
        "botadmin.granted_used" if today.used > 0 else "botadmin.granted",
        seconds=seconds,
        who=describe(context, locale, who),
        left=today.left,
        used=today.used,
        limit=today.limit,
    )


@admin_command("botadmin.usage_usage")
async def usage(
    context: BotContext, message: Message, admin_id: int, locale: str, args: list[str]
) -> str:
    """/usage [user|group]: the last 7 days per day and provider (no argument: the bot)."""
    t, tools = context.t, context.admin_tools
    if len(args) > 1:
        raise WrongArguments
    group = parse.group_id(args[0]) if args else None
    if group is not None:
        title = await tools.group_title(group) or t.t(locale, "botadmin.untitled_group")
        heading = t.t(locale, "botadmin.usage_group", title=title, chat_id=group)
        return await tools.usage_report(locale, heading, group_id=group)
    if args or parse.replied_user(message) is not None:
        who, _ = await parse.target(context, message, args)
        heading = t.t(locale, "botadmin.usage_user", who=describe(context, locale, who))
        return await tools.usage_report(locale, heading, user_id=who.user_id)
    return await tools.usage_report(locale, t.t(locale, "botadmin.usage_all"))


@admin_command("botadmin.stats_usage")
async def stats(
    context: BotContext, message: Message, admin_id: int, locale: str, args: list[str]
) -> str:
    """/stats: this month's jobs, success rate, turnaround and spending."""
    if args:
        raise WrongArguments
    return await context.admin_tools.stats_report(locale)


@admin_command("botadmin.ban_usage")
async def ban(
    context: BotContext, message: Message, admin_id: int, locale: str, args: list[str]
) -> str:
    """/ban <user|reply>: the user gets one polite refusal, then silence."""
    who = await _only_target(context, message, args)
    name = describe(context, locale, who)
    if who.user_id in context.admins:
        # The gate lets admins through anyway: a ban would look done and do nothing.
        raise Refusal("botadmin.ban_admin", who=name)
    changed = await context.moderation.ban(who.user_id)
    return context.t.t(
        locale, "botadmin.banned" if changed else "botadmin.already_banned", who=name
    )


@admin_command("botadmin.unban_usage")
async def unban(
    context: BotContext, message: Message, admin_id: int, locale: str, args: list[str]
) -> str:
    """/unban <user|reply>: the user may use the bot again."""
    who = await _only_target(context, message, args)
    changed = await context.moderation.unban(who.user_id)
    key = "botadmin.unbanned" if changed else "botadmin.not_banned"
    return context.t.t(locale, key, who=describe(context, locale, who))


async def _only_target(context: BotContext, message: Message, args: list[str]) -> Who:
    who, rest = await parse.target(context, message, args)
    if rest:
        raise WrongArguments
    return who


async def providers(update: Update, context: BotContext) -> None:
    """/providers: each provider's health, balance (where the API tells) and open jobs."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    t = context.t
    locale = t.negotiate(user.language_code)
    lines = [t.t(locale, "providers.header")]
    for report in await context.catalog.reports():
        if report.state == "error":
            health = t.t(locale, "providers.health_error", reason=report.reason)
        else:
            health = t.t(locale, f"providers.health_{report.state}")
        balance = (
            t.amount(locale, report.balance, report.unit)
            if report.balance is not None
            else t.t(locale, "providers.unknown_balance")
        )
        lines.append(
            t.t(
                locale,
                "providers.line",
                provider=t.t(locale, f"provider.{report.name}"),
                health=health,
                balance=balance,
                in_flight=report.in_flight,
            )
        )
    await answer_privately(context, message, user.id, locale, "\n".join(lines))


#: Every admin command, in menu order (handlers/menu.py shows these to admins only, and
#: handlers/__init__.py registers each behind the admin filter).
HANDLERS: dict[str, Handler] = {
    "stats": stats,
    "usage": usage,
    "setquota": setquota,
    "grant": grant,
    "ban": ban,
    "unban": unban,
    "providers": providers,
}
