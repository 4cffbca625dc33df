"""Start-up failures after getMe (the webhook, the data folders) are one line naming the
setting to fix: no traceback, never the token."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import TOKEN, Harness
from tests.test_startup_errors import _one_line, _start


async def _start_webhook(harness: Harness, tmp_path: Path, **values: str) -> tuple[int, str]:
    return await _start(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=harness.base_url,
        TELEGRAM_MODE="webhook",
        **values,
    )


async def test_webhook_url_refused(harness: Harness, tmp_path: Path) -> None:
    harness.fake.fail(
        "setWebhook", 400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    )
    code, stderr = await _start_webhook(harness, tmp_path, PUBLIC_URL="http://bot.example.com")
    assert code != 0
    line = _one_line(stderr)
    assert line.startswith("Error: Telegram refused the webhook")
    assert "https url must be provided" in line.lower()
    assert "PUBLIC_URL" in line


async def test_webhook_secret_refused(harness: Harness, tmp_path: Path) -> None:
    harness.fake.fail("setWebhook", 400, "Bad Request: secret token contains unallowed characters")
    code, stderr = await _start_webhook(
        harness,
        tmp_path,
        PUBLIC_URL="https://bot.example.com",
        TELEGRAM_WEBHOOK_SECRET="not allowed!",
    )
    assert code != 0
    line = _one_line(stderr)
    assert line.startswith("Error: Telegram refused the webhook")
    assert "TELEGRAM_WEBHOOK_SECRET" in line
    assert "not allowed!" not in line  # a secret, even a refused one, is not printed


async def test_data_dir_not_writable(harness: Harness, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, stderr = await _start(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=harness.base_url,
        DATA_DIR=str(blocker / "data"),
    )
    assert code != 0
    line = _one_line(stderr)
    assert line.startswith(f"Error: cannot write to {blocker / 'data'}")
    assert "DATA_DIR" in line


async def test_database_folder_not_writable(harness: Harness, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, stderr = await _start(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=harness.base_url,
        DATABASE_URL=f"sqlite:///{blocker / 'bot.db'}",
    )
    assert code != 0
    line = _one_line(stderr)
    assert line.startswith(f"Error: cannot write to {blocker}")
    assert "DATABASE_URL" in line
