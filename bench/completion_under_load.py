"""From a provider's completion to the video in the chat, while 20 other jobs render.

The bot (``python -m bot``, a child process) has Magic Hour jobs rendering at the fake
provider, and 20 preview jobs that it renders itself with ffmpeg (720x1280 H.264, a 20 s
voice each: real CPU work on this 2-core machine). While those renders run, Magic Hour
jobs complete one at a time; each is timed from the moment the fake sends its signed
completion webhook to the moment the fake Telegram server has received the bot's whole
``sendVideo`` request (the video is in the chat). One clock: both fakes live in this process.

The same completions are first timed with nothing else running, for a baseline.

What it shows: delivery is not stuck behind encodes (ffmpeg encodes run under one
process-wide limit, about the core count, so the event loop and the upload get CPU), and
webhook confirmation is not stuck behind them either.

Run: ``.venv/bin/python bench/completion_under_load.py [--renders 20] [--completions 30]``
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from pathlib import Path

from _common import (
    OUR_BOT,
    BotProcess,
    machine,
    percentile,
    summary_ms,
    verdict,
    wait_polling,
    wait_until,
    workdir,
)
from _seed import (
    MagicHourRun,
    SeededJob,
    create_schema,
    insert_jobs,
    magichour_fakes,
    time_completions,
)

from tests import media as make

CHAT_BASE = 7_000_000
RENDER_CHAT_BASE = 8_000_000
RENDER_VOICE_SECONDS = 20.0
#: Seconds between two completions at the provider.
COMPLETION_GAP = 0.5


def seed_jobs(db: Path, *, remote: int, renders: int, face: Path, voices: Path) -> None:
    """``remote`` Magic Hour jobs at the provider and ``renders`` preview jobs not yet
    started (the bot's resume() starts them), as an earlier run would have left them."""
    short, long = voices / "short.mp3", voices / "long.mp3"
    insert_jobs(
        db,
        [
            SeededJob(CHAT_BASE + n, "magichour", "queued", short, 3.0, provider_job_id=f"mh{n}")
            for n in range(remote)
        ]
        + [
            SeededJob(RENDER_CHAT_BASE + n, "preview", "submitting", long, RENDER_VOICE_SECONDS)
            for n in range(renders)
        ],
        face=face,
    )


def rendering(db: Path) -> tuple[int, int]:
    """(preview jobs not yet finished, preview jobs delivered), read beside the bot (WAL)."""
    with sqlite3.connect(db, timeout=5) as conn:
        rows = dict(
            conn.execute(
                "SELECT status IN ('delivered', 'failed'), COUNT(*) FROM jobs "
                "WHERE provider = 'preview' GROUP BY 1"
            ).fetchall()
        )
    return rows.get(0, 0), rows.get(1, 0)


async def complete(run: MagicHourRun, first: int, count: int) -> list[float]:
    """Complete Magic Hour jobs ``first..first+count`` one by one; seconds from each
    completion webhook to the whole sendVideo at the fake Telegram server."""
    jobs = range(first, first + count)
    return await time_completions(run, CHAT_BASE, jobs, gap=COMPLETION_GAP, timeout=180)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--completions", type=int, default=30)
    args = parser.parse_args()
    print(machine())
    with workdir("completion") as folder:
        output = make.make_video(folder / "result.mp4", width=480, height=854, seconds=3.0)
        face = make.make_photo(folder / "face.jpg")
        voices = folder / "voices"
        voices.mkdir()
        make.make_mp3(voices / "short.mp3", seconds=3.0)
        make.make_mp3(voices / "long.mp3", seconds=RENDER_VOICE_SECONDS)
        remote = 2 * args.completions
        db = folder / "bot.db"
        create_schema(db)
        seed_jobs(db, remote=remote, renders=0, face=face, voices=voices)
        async with magichour_fakes(folder, output, remote, PROVIDERS="magichour,preview") as run:
            bot = BotProcess(OUR_BOT, run.env, folder / "bot.log")
            bot.start()
            try:
                await wait_polling(run.tg, bot, timeout=60)
                await asyncio.sleep(2)
                idle = await complete(run, 0, args.completions)
                print(f"nothing else running ({args.completions} completions): {summary_ms(idle)}")
            finally:
                await bot.stop()
            # The renders start when the bot starts (resume()), so they are added between runs.
            seed_jobs(db, remote=0, renders=args.renders, face=face, voices=voices)
            bot = BotProcess(OUR_BOT, run.env, folder / "bot2.log")
            bot.start()
            try:
                await wait_polling(run.tg, bot, timeout=60)
                await wait_until(
                    lambda: _encoders_started(bot),
                    60,
                    "the renders to start",
                    bot,
                )
                t0 = time.monotonic()
                loaded = await complete(run, args.completions, args.completions)
                pending, finished = rendering(db)
                print(
                    f"while {args.renders} jobs render ({args.completions} completions): "
                    f"{summary_ms(loaded)}  " + verdict(percentile(loaded, 99) < 1.0, "p99 < 1 s")
                )
                print(
                    f"  renders when the last completion was delivered: {finished} finished, "
                    f"{pending} still running or waiting ({time.monotonic() - t0:.0f} s in)"
                )
                print(
                    "  p99 ratio loaded/idle: "
                    f"{percentile(loaded, 99) / max(percentile(idle, 99), 1e-6):.1f}x"
                )
            finally:
                await bot.stop()
                for log in ("bot.log", "bot2.log"):
                    text = (folder / log).read_text(errors="replace")
                    if "Traceback" in text:
                        print(f"{log} has a traceback:\n" + "\n".join(text.splitlines()[-40:]))


def _encoders_started(bot: BotProcess) -> bool:
    """Whether the bot has at least one ffmpeg child running (the renders have begun)."""
    children = Path(f"/proc/{bot.pid}/task/{bot.pid}/children")
    try:
        return bool(children.read_text().split())
    except OSError:
        return False


if __name__ == "__main__":
    asyncio.run(main())
