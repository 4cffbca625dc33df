"""``python -m bot`` with one line per polling round written to ``$BENCH_ROUND_LOG``.

The bot is unchanged but for a wrapper around ``Poller.poll_once`` (the round), which writes
``start end jobs cpu_start cpu_end``: ``time.monotonic()`` (CLOCK_MONOTONIC, the same clock in
every process of the machine, so a benchmark can put the provider requests it served into
rounds) and ``time.process_time()`` (the bot's CPU, every thread). Used by
``bench/creatify_polling.py``; a line costs a few microseconds per round.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ first, not the project root
    sys.path.insert(0, str(ROOT))

from bot.cli import main  # noqa: E402
from bot.jobs.poller import Poller  # noqa: E402


def install(log_path: str) -> None:
    out = open(log_path, "a", buffering=1, encoding="ascii")  # noqa: SIM115 - for the run
    original = Poller.poll_once

    async def poll_once(self: Poller, at: datetime | None = None) -> int:
        start, cpu = time.monotonic(), time.process_time()
        jobs = await original(self, at)
        end = time.monotonic()
        out.write(f"{start:.6f} {end:.6f} {jobs} {cpu:.6f} {time.process_time():.6f}\n")
        return jobs

    Poller.poll_once = poll_once  # type: ignore[method-assign]


if __name__ == "__main__":
    install(os.environ["BENCH_ROUND_LOG"])
    sys.exit(main(["--env-file", os.devnull]))
