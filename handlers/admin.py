"""Commands for the bot's admins (ADMIN_IDS). The menu hides them from others, but the menu
is cosmetic: every command checks the sender itself."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext


async def providers(update: Update, context: BotContext) -> None:
    """/providers: each provider's health, balance (where the API tells) and open jobs."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    t = context.t
    locale = t.negotiate(user.language_code)
    if user.id not in context.admins:
        await message.reply_text(t.t(locale, "error.admins_only"))
        return
    lines = [t.t(locale, "providers.header")]
    for report in await context.catalog.reports():
        if report.state == "error":
            health = t.t(locale, "providers.health_error", reason=report.reason)
        else:
            health = t.t(locale, f"providers.health_{report.state}")
        balance = (
            f"{report.balance:g}"
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
    await message.reply_text("\n".join(lines))
