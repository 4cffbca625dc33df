"""Commands for the bot's admins (ADMIN_IDS). The menu hides them from others, but the menu
is cosmetic: every command checks the sender itself."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.errors import ProviderAuthError, ProviderError, ProviderOutOfCredits
from bot.providers import RemoteProvider


async def providers(update: Update, context: BotContext) -> None:
    """/providers: each provider's health, balance (where the API tells) and open jobs."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    services = context.services
    t = services.translator
    locale = t.negotiate(user.language_code)
    if user.id not in services.settings.admin_ids:
        await message.reply_text(t.t(locale, "error.admins_only"))
        return
    health = await services.health.snapshot()
    in_flight = await services.jobs.in_flight_by_provider()
    lines = [t.t(locale, "providers.header")]
    for name, provider in services.providers.items():
        record = health.get(name)
        state = record.state if record is not None else "ok"
        status = t.t(locale, f"providers.health_{state}")
        balance = t.t(locale, "providers.unknown_balance")
        if isinstance(provider, RemoteProvider):
            try:
                credits = await provider.balance()
            except ProviderError as exc:
                if isinstance(exc, ProviderAuthError | ProviderOutOfCredits):
                    await services.health.failed(exc)
                    status = t.t(locale, f"providers.health_{_state(exc)}")
                else:
                    status = t.t(locale, "providers.health_error", reason=exc.reason)
            else:
                await services.health.succeeded(name)
                if credits is not None:
                    balance = f"{credits:g}"
                    status = t.t(locale, "providers.health_ok")
        lines.append(
            t.t(
                locale,
                "providers.line",
                provider=t.t(locale, f"provider.{name}"),
                health=status,
                balance=balance,
                in_flight=in_flight.get(name, 0),
            )
        )
    await message.reply_text("\n".join(lines))


def _state(exc: ProviderError) -> str:
    return "auth" if isinstance(exc, ProviderAuthError) else "credits"
