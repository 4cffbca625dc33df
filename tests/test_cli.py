"""The command line: check, migrate, and secrets kept out of logs."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.logs import setup_logging
from storage.migrations import MIGRATIONS
from tests.bot_process import clean_environment, start_bot


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--env-file", str(tmp_path / "none.env")],
        env=clean_environment(**env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_names_the_missing_token(tmp_path: Path) -> None:
    done = _run(tmp_path, "check")
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is required but not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_reports_the_configuration(tmp_path: Path) -> None:
    done = _run(tmp_path, "check", TELEGRAM_BOT_TOKEN="1:secret-token-value")
    assert done.returncode == 0, done.stderr
    assert "Providers:     preview" in done.stdout
    assert "Configuration OK" in done.stdout
    assert "secret-token-value" not in done.stdout + done.stderr


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    done = _run(
        tmp_path, "migrate", TELEGRAM_BOT_TOKEN="1:x", DATABASE_URL="sqlite:///db/bot.sqlite"
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "db" / "bot.sqlite").exists()
    assert f"schema version {len(MIGRATIONS)}" in done.stdout


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    factory = logging.getLogRecordFactory()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)


def test_logs_never_show_the_token(capfd, restore_logging) -> None:
    token = "4242:very-secret-token"
    setup_logging("DEBUG", [token])
    log = logging.getLogger("tests.cli")
    log.info("HTTP Request: POST https://api.telegram.org/bot%s/getMe", token)
    try:
        raise ValueError(f"boom at /file/bot{token}/photos/1.jpg")
    except ValueError:
        log.exception("download failed")
    err = capfd.readouterr().err
    assert token not in err
    assert err.count("***") >= 2
    assert logging.getLogger("httpx").level == logging.WARNING


async def test_sigterm_stops_the_bot_cleanly(harness, tmp_path: Path) -> None:
    """The real process: starts against the fake, publishes its menu, exits 0 on SIGTERM."""
    import asyncio
    import signal

    settings = harness.settings()
    env = clean_environment(
        TELEGRAM_BOT_TOKEN=settings.telegram_bot_token.get_secret_value(),
        TELEGRAM_API_URL=harness.base_url,
        DATABASE_URL=settings.database_url,
        DATA_DIR=str(settings.data_dir),
        HTTP_PORT=str(settings.http_port),
    )
    proc = await start_bot(tmp_path, env)
    await harness.fake.wait_for("getUpdates", timeout=30)
    menu = [c["command"] for c in harness.fake.commands_for()]
    assert menu == ["new", "jobs", "quota", "voice", "cancel", "help"]
    proc.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, stderr.decode()
    log = stderr.decode()
    assert "Stopping" in log
    assert "Traceback" not in log
    assert settings.telegram_bot_token.get_secret_value() not in log
