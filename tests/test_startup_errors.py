"""Start-up failures are one line with a hint: no traceback, never the token."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.bot_process import clean_environment, run_bot
from tests.conftest import TOKEN, Harness, free_port


async def _start(tmp_path: Path, **values: str) -> tuple[int, str]:
    """Runs the real process until it exits; its exit code and stderr."""
    defaults = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "HTTP_PORT": str(free_port()),
        # Only warnings and errors: the start-up error must be all there is.
        "LOG_LEVEL": "WARNING",
    }
    env = clean_environment(**(defaults | values))
    code, _, stderr = await run_bot(tmp_path, env)
    return code, stderr


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
