"""What ``lipsync-bot check`` looks at beyond parsing: values left as placeholders, settings
that work but lose something, and (``--online``) whether Telegram and each provider accept
their credentials. Nothing here prints a secret."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from bot.config import Settings
from bot.errors import ProviderAuthError, ProviderError, ProviderRejected, ProviderUnavailable
from bot.providers import RemoteProvider, build_providers
from bot.providers import notes as provider_notes

#: Values copied from examples and never replaced: the example token, "changeme", "your-key",
#: "sk_XXXX_YYYY", "<token>"... A random key has no such words (nor a run of x's between
#: separators).
_PLACEHOLDER = re.compile(
    r"replace[-_ ]?(?:me|with)|change[-_ ]?me|your[-_ ]|placeholder|^<.*>$"
    r"|(?:^|[^a-z0-9])x{3,}(?:[^a-z0-9]|$)",
    re.IGNORECASE,
)
#: A job id no provider has: asking for it proves the key is accepted (404, not 401).
_NO_SUCH_JOB = "lipsync-bot-check-0000"


@dataclass(frozen=True)
class Result:
    """One online check: what was checked, whether it passed, and what to tell the operator."""

    name: str
    ok: bool
    detail: str


def placeholders(settings: Settings) -> list[str]:
    """One problem per setting still holding an example value (secrets are not quoted)."""
    problems = []
    for field in Settings.model_fields:
        value = getattr(settings, field)
        name = field.upper()
        if isinstance(value, SecretStr) and _PLACEHOLDER.search(value.get_secret_value()):
            problems.append(f"{name} looks like a placeholder: set the real value")
        elif isinstance(value, str) and _PLACEHOLDER.search(value):
            problems.append(f"{name} looks like a placeholder ({value}): set the real value")
    return problems


def notes(settings: Settings, providers: list[str]) -> list[str]:
    """Settings that work but lose something, in words an operator can act on."""
    found = []
    if not settings.admin_ids:
        found.append("ADMIN_IDS is empty, so nobody gets admin commands.")
    return found + provider_notes(settings, providers)


async def online(settings: Settings) -> list[Result]:
    """Ask Telegram (getMe) and each enabled remote provider whether they accept the keys."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
        results = [await _telegram(client, settings)]
        for provider in build_providers(settings, client).values():
            if isinstance(provider, RemoteProvider):
                results.append(await _provider(provider))
    return results


async def _telegram(client: httpx.AsyncClient, settings: Settings) -> Result:
    root = settings.telegram_api_url
    url = f"{root}/bot{settings.telegram_bot_token.get_secret_value()}/getMe"
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        # The exception text can hold the URL, and so the token: name its kind only.
        return Result(
            "Telegram",
            False,
            f"cannot reach {root} ({type(exc).__name__}): check TELEGRAM_API_URL",
        )
    if response.status_code in (401, 404):
        return Result(
            "Telegram",
            False,
            f"getMe answered {response.status_code}: the token was refused; "
            "get the current one from @BotFather (/token) and set TELEGRAM_BOT_TOKEN",
        )
    try:
        username = response.json()["result"]["username"]
    except (ValueError, KeyError, TypeError):
        return Result("Telegram", False, f"getMe answered {response.status_code}, not a bot")
    return Result("Telegram", True, f"token accepted, bot @{username}")


async def _provider(provider: RemoteProvider) -> Result:
    try:
        credits = await provider.balance()
        if credits is not None:
            return Result(provider.name, True, f"key accepted, {credits:g} credits left")
        await provider.fetch(_NO_SUCH_JOB)
    except ProviderAuthError as exc:
        return Result(provider.name, False, f"key refused ({exc.status_code}): check its API key")
    except ProviderRejected as exc:
        if exc.status_code == 404:  # an unknown job, answered to an accepted key
            return Result(provider.name, True, "key accepted")
        return Result(provider.name, False, exc.reason)
    except ProviderUnavailable as exc:
        setting = f"{provider.name.upper()}_API_URL"
        return Result(provider.name, False, f"{exc.reason}: check {setting} and the network")
    except ProviderError as exc:
        return Result(provider.name, False, exc.reason)
    return Result(provider.name, True, "key accepted")
