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
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import (
    OUR_BOT,
    BenchFake,
    BotProcess,
    bot_env,
    free_port,
    machine,
    percentile,
    summary_ms,
    verdict,
    wait_polling,
    wait_until,
    workdir,
)

from tests import media as make
from tests.fakes.magichour import FakeMagicHour, VideoJob
from tests.fakes.magichour import running as running_magichour
from tests.fakes.telegram import running as running_telegram

CHAT_BASE = 7_000_000
RENDER_CHAT_BASE = 8_000_000
RENDER_VOICE_SECONDS = 20.0
#: Seconds between two completions at the provider.
COMPLETION_GAP = 0.5


def _probe(duration: float, *, image: bool) -> str:
    if image:
        return json.dumps(
            {"duration": None, "width": 640, "height": 480, "has_video": True, "is_image": True}
        )
    return json.dumps({"duration": duration, "has_audio": True})


def create_schema(db: Path) -> None:
    """The schema, made by the bot's own migrations."""
    from storage.migrations import MIGRATIONS

    with sqlite3.connect(db) as conn:
        for number, script in enumerate(MIGRATIONS, start=1):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")


def seed_jobs(db: Path, *, remote: int, renders: int, face: Path, voices: Path) -> None:
    """``remote`` Magic Hour jobs at the provider and ``renders`` preview jobs not yet
    started (the bot's resume() starts them), as an earlier run would have left them."""
    now = datetime.now(UTC)
    later = (now + timedelta(hours=1)).isoformat()
    rows = []
    for n in range(remote):
        rows.append(
            (CHAT_BASE + n, "magichour", "queued", str(voices / "short.mp3"), 3.0, f"mh{n}")
        )
    for n in range(renders):
        rows.append(
            (
                RENDER_CHAT_BASE + n,
                "preview",
                "submitting",
                str(voices / "long.mp3"),
                RENDER_VOICE_SECONDS,
                None,
            )
        )
    conn = sqlite3.connect(db, timeout=5)
    conn.executemany(
        """
        INSERT INTO jobs (chat_id, user_id, chat_type, locale, provider, status, media_kind,
            media_path, media_probe, voice_path, voice_probe, ratio, provider_job_id,
            deadline_at, next_poll_at, created_at, updated_at)
        VALUES (?, ?, 'private', 'en', ?, ?, 'photo', ?, ?, ?, ?, '9:16', ?, ?, ?, ?, ?)
        """,
        [
            (
                chat,
                chat,
                provider,
                status,
                str(face),
                _probe(0, image=True),
                voice,
                _probe(seconds, image=False),
                provider_job_id,
                later,
                later,
                now.isoformat(),
                now.isoformat(),
            )
            for chat, provider, status, voice, seconds, provider_job_id in rows
        ],
    )
    conn.commit()
    conn.close()


def seed_provider(fake: FakeMagicHour, jobs: int) -> None:
    stamp = datetime.now(UTC).isoformat()
    for n in range(jobs):
        fake.jobs[f"mh{n}"] = VideoJob(
            id=f"mh{n}",
            type="TALKING_PHOTO",
            name=f"lipsync-bot #{n + 1}",
            created_at=stamp,
            start_seconds=0,
            end_seconds=3,
            fps=30,
            multiplier=1,
            credits_charged=90,
            inputs=(),
            planned=None,
            status="rendering",
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


async def complete(mh: FakeMagicHour, tg: BenchFake, first: int, count: int) -> list[float]:
    """Complete Magic Hour jobs ``first..first+count`` one by one; seconds from each
    completion webhook to the whole sendVideo at the fake Telegram server."""
    sent_at: dict[int, float] = {}
    for n in range(first, first + count):
        sent_at[CHAT_BASE + n] = time.monotonic()
        mh._finish(mh.jobs[f"mh{n}"], None)
        await asyncio.sleep(COMPLETION_GAP)

    def uploads() -> dict[int, float]:
        return {
            int(call.params.get("chat_id") or 0): call.at
            for call in tg.calls
            if call.method == "sendVideo" and call.status == 200
        }

    await wait_until(
        lambda: all(chat in uploads() for chat in sent_at),
        180,
        "every completed job to be in its chat",
    )
    done = uploads()
    return [done[chat] - sent for chat, sent in sent_at.items()]


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
        tg = BenchFake()
        tg.strict_chats = False  # the seeded users "wrote to the bot" in an earlier life
        mh = FakeMagicHour(output=output)
        mh.auto_complete = False
        async with running_telegram(tg) as tg_url, running_magichour(mh) as mh_url:
            seed_provider(mh, remote)
            port = free_port()
            mh.webhook_url = f"http://127.0.0.1:{port}/hooks/magichour"
            env = bot_env(
                tg_url,
                folder,
                HTTP_PORT=str(port),
                PUBLIC_URL=f"http://127.0.0.1:{port}",
                PROVIDERS="magichour,preview",
                MAGICHOUR_API_KEY=mh.api_key,
                MAGICHOUR_WEBHOOK_SECRET=mh.webhook_secret,
                MAGICHOUR_API_URL=mh_url,
                ALLOW_PRIVATE_URLS="true",
            )
            bot = BotProcess(OUR_BOT, env, folder / "bot.log")
            bot.start()
            try:
                await wait_polling(tg, bot, timeout=60)
                await asyncio.sleep(2)
                idle = await complete(mh, tg, 0, args.completions)
                print(f"nothing else running ({args.completions} completions): {summary_ms(idle)}")
            finally:
                await bot.stop()
            # The renders start when the bot starts (resume()), so they are added between runs.
            seed_jobs(db, remote=0, renders=args.renders, face=face, voices=voices)
            bot = BotProcess(OUR_BOT, env, folder / "bot2.log")
            bot.start()
            try:
                await wait_polling(tg, bot, timeout=60)
                await wait_until(
                    lambda: _encoders_started(bot),
                    60,
                    "the renders to start",
                    bot,
                )
                t0 = time.monotonic()
                loaded = await complete(mh, tg, args.completions, args.completions)
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
