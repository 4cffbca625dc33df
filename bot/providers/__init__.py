"""The provider registry: the vendors this version implements, filtered by configuration.

Nothing else lists provider names: a new provider is its vendor module (with its ``VENDOR``),
its settings, and one line in :data:`VENDORS`.
"""

from __future__ import annotations

import logging

import httpx

from bot.config import Settings
from bot.errors import ConfigError
from bot.providers import creatify, lipsync_studio, magichour, preview, sync
from bot.providers.base import (
    Inputs,
    LocalProvider,
    ProgressCallback,
    Provider,
    RemoteProvider,
    Vendor,
    WebhookAuth,
)
from bot.providers.http import ProviderHTTP, RetryPolicy

log = logging.getLogger(__name__)

#: Every provider this version implements, in the menu order used when PROVIDERS is empty.
VENDORS: dict[str, Vendor] = {
    vendor.name: vendor
    for vendor in (
        creatify.VENDOR,
        magichour.VENDOR,
        lipsync_studio.VENDOR,
        sync.VENDOR,
        preview.VENDOR,
    )
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
            vendor = VENDORS.get(name)
            problem = "is not available in this version" if vendor is None else None
            problem = problem or (vendor.missing(settings) if vendor else None)
            if problem:
                raise ConfigError(f"PROVIDERS: {name} {problem}")
        return list(settings.providers)
    names = []
    for vendor in VENDORS.values():
        if not vendor.required:
            continue  # offline and free: only named, or when nothing else is on
        problem = vendor.missing(settings)
        if problem is None:
            names.append(vendor.name)
        elif vendor.wanted(settings):
            log.warning("Credentials for %s are set, but it is off: it %s", vendor.name, problem)
    return names or ["preview"]


def build_providers(settings: Settings, client: httpx.AsyncClient) -> dict[str, Provider]:
    """The enabled providers, sharing ``client``, in menu order."""
    policy = RetryPolicy(base=settings.provider_retry_base_seconds)
    return {
        name: VENDORS[name].build(settings, ProviderHTTP(name, client, policy=policy))
        for name in enabled_names(settings)
    }


def notes(settings: Settings, names: list[str]) -> list[str]:
    """What the enabled providers lose with these settings, in words an operator can act on."""
    return [note for name in names for note in VENDORS[name].notes(settings)]


__all__ = [
    "VENDORS",
    "Inputs",
    "LocalProvider",
    "ProgressCallback",
    "Provider",
    "RemoteProvider",
    "Vendor",
    "WebhookAuth",
    "build_providers",
    "enabled_names",
    "notes",
]
