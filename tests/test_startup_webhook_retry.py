"""setWebhook errors that pass (flood control on a quick restart, a time-out, a 5xx) are waited
out and retried; only a refusal (400) blames PUBLIC_URL or the secret, and a final failure is
one line naming what happened."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.errors import BotError
from tests.conftest import Harness
from tests.test_startup_errors import _one_line
from tests.test_startup_setup_errors import _start_webhook


def _webhook_env(harness: Harness) -> dict[str, str]:
    port = harness.settings().http_port
    return {
        "TELEGRAM_MODE": "webhook",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HTTP_PORT": str(port),
    }


async def _start_error(harness: Harness, within: float) -> str:
    """The one-line error the start ends with (within ``within`` seconds)."""
    with pytest.raises(BotError) as caught:
        async with asyncio.timeout(within), harness.bot(**_webhook_env(harness)):
            pass
    line = str(caught.value)
    assert "\n" not in line
    return line


async def test_flood_control_on_a_quick_restart_is_waited_out(harness: Harness) -> None:
    harness.fake.fail("setWebhook", 429, "Too Many Requests: retry after 1", retry_after=1)
    started = time.monotonic()
    async with harness.bot(**_webhook_env(harness)):
        assert harness.fake.webhook_url.endswith("/telegram")
    assert time.monotonic() - started >= 1.0  # it waited as asked
    assert len(harness.fake.sent(method="setWebhook")) == 2


async def test_a_passing_server_error_is_retried(harness: Harness) -> None:
    harness.fake.fail("setWebhook", 502, "Bad Gateway")
    async with harness.bot(**_webhook_env(harness)):
        assert harness.fake.webhook_url.endswith("/telegram")
    assert len(harness.fake.sent(method="setWebhook")) == 2


async def test_a_time_out_is_retried(harness: Harness) -> None:
    # The first answer comes after the client gave up; the second at once.
    harness.fake.answer_delay["setWebhook"] = 8.0

    async def answer_promptly_after_the_first_call() -> None:
        while not harness.fake.sent(method="setWebhook"):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # the first call's delay is set when it arrives
        harness.fake.answer_delay.pop("setWebhook")

    helper = asyncio.create_task(answer_promptly_after_the_first_call())
    async with harness.bot(**_webhook_env(harness)):
        assert harness.fake.webhook_url.endswith("/telegram")
    await helper
    assert len(harness.fake.sent(method="setWebhook")) == 2


async def test_a_long_flood_wait_ends_the_start_naming_it(harness: Harness) -> None:
    harness.fake.fail("setWebhook", 429, "Too Many Requests: retry after 600", retry_after=600)
    line = await _start_error(harness, within=10)
    assert "600" in line
    assert "PUBLIC_URL" not in line
    assert "flood" in line.lower()


async def test_flood_control_that_persists_ends_the_start_naming_it(harness: Harness) -> None:
    harness.fake.fail(
        "setWebhook", 429, "Too Many Requests: retry after 1", retry_after=1, times=9
    )
    line = await _start_error(harness, within=20)
    assert "PUBLIC_URL" not in line
    assert "flood" in line.lower()


async def test_a_server_error_that_persists_ends_the_start_naming_it(harness: Harness) -> None:
    harness.fake.fail("setWebhook", 502, "Bad Gateway", times=9)
    line = await _start_error(harness, within=20)
    assert "PUBLIC_URL" not in line
    assert "Bad Gateway" in line
    assert line.startswith("cannot set the webhook")
    assert "4 tries" in line


async def test_the_process_prints_one_line_for_a_long_flood_wait(
    harness: Harness, tmp_path: Path
) -> None:
    harness.fake.fail("setWebhook", 429, "Too Many Requests: retry after 600", retry_after=600)
    code, stderr = await _start_webhook(harness, tmp_path, PUBLIC_URL="https://bot.example.com")
    assert code != 0
    line = _one_line(stderr)
    assert line.startswith("Error: Telegram's flood control asks to wait 600 s")
