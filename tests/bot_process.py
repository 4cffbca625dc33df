"""The real bot process (``python -m bot``), for tests of what its command line and start-up
print: run from a temporary folder, with no .env file and none of this process's settings."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.config import Settings


def clean_environment(**values: str) -> dict[str, str]:
    """This process's environment without any of the bot's settings, plus ``values``."""
    clean = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    return {**clean, **values}


async def start_bot(
    folder: Path, env: dict[str, str], *args: str, merge_output: bool = False
) -> asyncio.subprocess.Process:
    """``python -m bot <args>`` in ``folder`` with ``env``; stdout and stderr piped (stderr
    into stdout with ``merge_output``)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        "--env-file",
        str(folder / "none.env"),
        env=env,
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if merge_output else asyncio.subprocess.PIPE,
    )


async def run_bot(
    folder: Path, env: dict[str, str], *args: str, merge_output: bool = False
) -> tuple[int, str, str]:
    """``start_bot`` until the process exits (60 s at most): its exit code, stdout, stderr."""
    proc = await start_bot(folder, env, *args, merge_output=merge_output)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), (err or b"").decode()
