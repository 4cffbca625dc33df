"""Start-up failures are one line with a hint: no traceback, never the token."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from bot.config import Settings
from tests.conftest import TOKEN, Harness, free_port


async def _start(tmp_path: Path, **values: str) -> tuple[int, str]:
    """Runs the real process until it exits; its exit code and stderr."""
    clean = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env = {
        **clean,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "HTTP_PORT": str(free_port()),
        # Only warnings and errors: the start-up error must be all there is.
        "LOG_LEVEL": "WARNING",
        **values,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--env-file",
        str(tmp_path / "none.env"),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, stderr.decode()


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    assert TOKEN not in stderr
    assert TOKEN.split(":")[1] not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


async def test_unreachable_telegram(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, stderr = await _start(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=url)
    assert code != 0
    line = _one_line(stderr)
    assert line.startswith(f"Error: cannot reach Telegram at {url}")
    assert "TELEGRAM_API_URL" in line


async def test_refused_token(harness: Harness, tmp_path: Path) -> None:
    other = "4242:TEST-token-other1"
    code, stderr = await _start(
        tmp_path, TELEGRAM_BOT_TOKEN=other, TELEGRAM_API_URL=harness.base_url
    )
    assert code != 0
    line = _one_line(stderr.replace(other, TOKEN))  # the refused token must not show either
    assert line.startswith("Error: Telegram refused the token")
    assert "@BotFather" in line


async def test_port_in_use(harness: Harness, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, stderr = await _start(
            tmp_path,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=harness.base_url,
            HTTP_PORT=str(port),
        )
    assert code != 0
    line = _one_line(stderr)
    assert line.startswith(f"Error: cannot listen on 127.0.0.1:{port}")
    assert "HTTP_PORT" in line
    assert not [call for call in harness.fake.calls if call.method == "getUpdates"]
