"""Secrets, derived ones included, never reach a log line: every logger, at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.logs import secrets_in, setup_logging
from bot.web import webhook_secret
from tests.conftest import Harness


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    factory = logging.getLogRecordFactory()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)


async def test_webhook_mode_at_debug_logs_no_secret(
    harness: Harness, capfd: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    env = {
        "TELEGRAM_MODE": "webhook",
        "PUBLIC_URL": "https://bot.example.org",
        "MAGICHOUR_API_KEY": "mhk_live_secret_key_1",
        "PROVIDERS": "preview",
    }
    settings = harness.settings(**env)
    token = settings.telegram_bot_token.get_secret_value()
    derived = webhook_secret(settings)
    setup_logging("DEBUG", secrets_in(settings))
    async with harness.bot(**env):
        assert harness.fake.webhook_url  # setWebhook was called (and logged by PTB at DEBUG)
        # uvicorn's loggers have their own handlers, installed when the server was built.
        logging.getLogger("uvicorn.error").error("bind failed for %s and %s", token, derived)
        logging.getLogger("uvicorn").warning("key mhk_live_secret_key_1 in a message")
    written = capfd.readouterr().err
    assert "setWebhook" in written
    assert "bind failed for" in written
    assert "key *** in a message" in written
    for secret in (token, derived, "mhk_live_secret_key_1"):
        assert secret not in written
