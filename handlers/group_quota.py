"""A group's own admins and its pool (design §6): /groupquota sets how many seconds of video
the group may make a day (and one member's share of them), /groupusage shows today's use."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.untrusted import ascii_int
from handlers import quota_text
from handlers.group_admin import group_admin_message

#: More than any group could use in a day (about 11 days of video): a typo of extra digits
#: gets the usage line, not a limit that silently means "unlimited".
MAX_SECONDS = 1_000_000
#: /groupquota default: back to the bot's configured limits.
DEFAULT = "default"


async def group_quota(update: Update, context: BotContext) -> None:
    """/groupquota <seconds> [per-member seconds] | default."""
    checked = await group_admin_message(update, context)
    if checked is None:
        return
    message, locale = checked
    t = context.t
    args = context.args or []
    if len(args) == 1 and args[0].lower() == DEFAULT:
        await context.quotas.set_group(message.chat.id, None, None)
        await message.reply_text(t.t(locale, "groupquota.default"))
        return
    # ASCII digits only: no signs, no "²" or Arabic-Indic digits, nothing past 63 bits.
    numbers = [ascii_int(arg) for arg in args]
    if not 1 <= len(numbers) <= 2 or None in numbers:
        await message.reply_text(t.t(locale, "groupquota.usage"))
        return
    daily, member = numbers[0], numbers[1] if len(numbers) == 2 else None
    assert daily is not None
    if max(daily, member or 0) > MAX_SECONDS:
        await message.reply_text(t.t(locale, "groupquota.too_big", max=MAX_SECONDS))
        return
    if member is not None and member > daily:
        await message.reply_text(
            t.t(locale, "groupquota.member_over_pool", member=member, daily=daily)
        )
        return
    await context.quotas.set_group(message.chat.id, daily, member)
    if member is None:
        await message.reply_text(t.t(locale, "groupquota.set", daily=daily))
    else:
        await message.reply_text(t.t(locale, "groupquota.set_member", daily=daily, member=member))


async def group_usage(update: Update, context: BotContext) -> None:
    """/groupusage: today's pool (used, left, when it resets), the member share, and who
    used how much."""
    checked = await group_admin_message(update, context)
    if checked is None:
        return
    message, locale = checked
    t = context.t
    today = await context.quotas.group_today(message.chat.id)
    now = context.quotas.now()
    lines = [t.t(locale, "groupquota.header")]
    for allowance in today.pool:
        lines.append(
            t.t(
                locale,
                "quota.line",
                limit=quota_text.heading(t, locale, allowance),
                left=quota_text.left(t, locale, allowance),
                resets=quota_text.resets(t, locale, allowance, now),
            )
        )
    if not today.pool:
        lines.append(t.t(locale, "groupquota.no_pool", used=today.used_today))
    if today.member_daily is not None:
        lines.append(t.t(locale, "groupquota.share", limit=today.member_daily))
    if today.members:
        lines.append(t.t(locale, "groupquota.members"))
        for member in today.members:
            name = member.first_name or (f"@{member.username}" if member.username else "")
            name = name or t.t(locale, "groupquota.someone", user_id=member.user_id)
            lines.append(t.t(locale, "groupquota.member", name=name, seconds=member.seconds))
    else:
        lines.append(t.t(locale, "groupquota.nobody"))
    await message.reply_text("\n".join(lines))
