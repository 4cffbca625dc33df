"""Logging set-up that keeps secrets out of every log line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from bot.config import Settings

#: The record factory Python starts with; each set-up wraps this one, never a previous wrap.
_PLAIN_RECORDS = logging.getLogRecordFactory()


class RedactingRecords:
    """A log record factory that replaces each secret with ``***`` in the message and the
    exception text.

    It works where records are made, not in one handler's filter, because libraries install
    handlers of their own (uvicorn does, when its server is built) that a filter on ours never
    sees; httpx logs URLs that contain the bot token, PTB logs setWebhook's secret_token.
    """

    def __init__(
        self, secrets: Iterable[str], make: Callable[..., logging.LogRecord] = _PLAIN_RECORDS
    ) -> None:
        self._secrets = [s for s in secrets if len(s) >= 6]
        self._make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it when the record is emitted
            return record
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if self._redact(text) != text:
                record.exc_text = self._redact(text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return record

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    """Root logging to stderr at ``level``; chatty libraries at WARNING; every record made
    from now on, by any logger, has ``secrets`` redacted."""
    logging.setLogRecordFactory(RedactingRecords(secrets))
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def secrets_in(settings: Settings) -> list[str]:
    """Every secret the settings hold or the bot derives from them."""
    from bot.web import webhook_secret  # the web stack, imported only when logging is set up

    values = [settings.telegram_bot_token, settings.telegram_webhook_secret]
    values += [
        settings.creatify_api_id,
        settings.creatify_api_key,
        settings.magichour_api_key,
        settings.magichour_webhook_secret,
        settings.lipsync_studio_api_key,
        settings.sync_api_key,
        settings.sync_webhook_secret,
    ]
    return [value.get_secret_value() for value in values if value is not None] + [
        webhook_secret(settings)
    ]
