"""Logging set-up that keeps secrets out of every log line."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.config import Settings


class RedactSecrets(logging.Filter):
    """Replaces each secret with ``***`` in the final message (httpx logs URLs that contain
    the bot token; exception texts can too)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self._secrets:
                if secret in text:
                    record.exc_text = text.replace(secret, "***")
                    break
        return True


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    """Root logging to stderr at ``level``; chatty libraries at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def secrets_in(settings: Settings) -> list[str]:
    values = [settings.telegram_bot_token, settings.telegram_webhook_secret]
    values += [
        settings.creatify_api_key,
        settings.magichour_api_key,
        settings.magichour_webhook_secret,
        settings.lipsync_studio_api_key,
        settings.sync_api_key,
        settings.sync_webhook_secret,
    ]
    return [value.get_secret_value() for value in values if value is not None]
