"""The provider registry: an explicit table, filtered by configuration."""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.errors import ConfigError
from bot.providers.base import LocalProvider, ProgressCallback, Provider
from bot.providers.preview import PreviewProvider

log = logging.getLogger(__name__)

#: Providers this version implements, by the name used in ``PROVIDERS``.
IMPLEMENTED: dict[str, type[Provider]] = {
    PreviewProvider.name: PreviewProvider,
}


def build_providers(settings: Settings) -> dict[str, Provider]:
    """The enabled providers, in menu order.

    ``PROVIDERS`` names them explicitly; when it is empty, every provider with credentials is
    enabled, and ``preview`` when none has any.

    Raises:
        ConfigError: ``PROVIDERS`` names a provider this version cannot run.
    """
    names = list(settings.providers) or _with_credentials(settings) or ["preview"]
    missing = [name for name in names if name not in IMPLEMENTED]
    if missing:
        raise ConfigError(f"PROVIDERS: {', '.join(missing)} not available in this version")
    return {name: IMPLEMENTED[name]() for name in names}


def _with_credentials(settings: Settings) -> list[str]:
    """Providers whose keys are set and which this version implements (others are logged)."""
    keys = {
        "creatify": settings.creatify_api_key,
        "magichour": settings.magichour_api_key,
        "lipsync_studio": settings.lipsync_studio_api_key,
        "sync": settings.sync_api_key,
    }
    configured = [name for name, key in keys.items() if key is not None]
    for name in configured:
        if name not in IMPLEMENTED:
            log.warning("Credentials for %s are set, but this version cannot use it yet", name)
    return [name for name in configured if name in IMPLEMENTED]


__all__ = ["IMPLEMENTED", "LocalProvider", "ProgressCallback", "Provider", "build_providers"]
