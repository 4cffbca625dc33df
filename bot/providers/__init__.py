"""The provider registry: an explicit table, filtered by configuration."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx

from bot.config import Settings
from bot.errors import ConfigError
from bot.providers.base import (
    Inputs,
    LocalProvider,
    ProgressCallback,
    Provider,
    RemoteProvider,
    WebhookAuth,
)
from bot.providers.http import ProviderHTTP, RetryPolicy
from bot.providers.lipsync_studio import LipsyncStudioProvider
from bot.providers.magichour import MagicHourProvider
from bot.providers.preview import PreviewProvider

log = logging.getLogger(__name__)

Factory = Callable[[Settings, ProviderHTTP], Provider]


def _preview(settings: Settings, http: ProviderHTTP) -> Provider:
    return PreviewProvider()


def _lipsync_studio(settings: Settings, http: ProviderHTTP) -> Provider:
    assert settings.lipsync_studio_api_key is not None
    return LipsyncStudioProvider(
        http, settings.lipsync_studio_api_url, settings.lipsync_studio_api_key.get_secret_value()
    )


def _magichour(settings: Settings, http: ProviderHTTP) -> Provider:
    assert settings.magichour_api_key is not None
    secret = settings.magichour_webhook_secret
    return MagicHourProvider(
        http,
        settings.magichour_api_url,
        settings.magichour_api_key.get_secret_value(),
        secret.get_secret_value() if secret else None,
        allow_private_urls=settings.allow_private_urls,
    )


#: Providers this version implements, by the name used in ``PROVIDERS``.
IMPLEMENTED: dict[str, Factory] = {
    "magichour": _magichour,
    "lipsync_studio": _lipsync_studio,
    "preview": _preview,
}


def enabled_names(settings: Settings) -> list[str]:
    """The providers to offer, in menu order, after checking that each can run.

    ``PROVIDERS`` names them explicitly; when it is empty, every provider with credentials
    (and what else it needs) is enabled, and ``preview`` when none is.

    Raises:
        ConfigError: ``PROVIDERS`` names a provider that is unknown to this version or lacks
            a setting it needs; the message says which variable.
    """
    if settings.providers:
        for name in settings.providers:
            problem = _missing(settings, name)
            if problem:
                raise ConfigError(f"PROVIDERS: {name} {problem}")
        return list(settings.providers)
    names = []
    for name in IMPLEMENTED:
        if name == "preview":
            continue
        problem = _missing(settings, name)
        if problem is None:
            names.append(name)
        elif _has_key(settings, name):
            log.warning("Credentials for %s are set, but it is off: it %s", name, problem)
    for name in ("creatify", "sync"):
        if _has_key(settings, name):
            log.warning("Credentials for %s are set, but this version cannot use it yet", name)
    return names or ["preview"]


def build_providers(settings: Settings, client: httpx.AsyncClient) -> dict[str, Provider]:
    """The enabled providers, sharing ``client``, in menu order."""
    policy = RetryPolicy(base=settings.provider_retry_base_seconds)
    return {
        name: IMPLEMENTED[name](settings, ProviderHTTP(name, client, policy=policy))
        for name in enabled_names(settings)
    }


def _has_key(settings: Settings, name: str) -> bool:
    keys = {
        "creatify": settings.creatify_api_key,
        "magichour": settings.magichour_api_key,
        "lipsync_studio": settings.lipsync_studio_api_key,
        "sync": settings.sync_api_key,
    }
    return keys.get(name) is not None


def _missing(settings: Settings, name: str) -> str | None:
    """What ``name`` lacks to run, in words naming the variable; None when nothing."""
    if name not in IMPLEMENTED:
        return "is not available in this version"
    if name == "preview":
        return None
    if not _has_key(settings, name):
        key = {"magichour": "MAGICHOUR_API_KEY", "lipsync_studio": "LIPSYNC_STUDIO_API_KEY"}
        return f"needs {key[name]}"
    if name == "lipsync_studio" and not settings.public_url:
        return "needs PUBLIC_URL (it downloads the inputs from the bot)"
    return None


__all__ = [
    "IMPLEMENTED",
    "Inputs",
    "LocalProvider",
    "ProgressCallback",
    "Provider",
    "RemoteProvider",
    "WebhookAuth",
    "build_providers",
    "enabled_names",
]
