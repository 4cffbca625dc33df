"""10,000 in-flight remote jobs: polling cost, webhook ingestion, RSS, completion latency.

What is measured, on the bot process (``python -m bot``, a child process, so /proc gives its
own CPU time and RSS), with the fake Telegram and fake Magic Hour servers in this process:

1. Waiting: 10,000 Magic Hour jobs rendering at the provider, the bot only polling (the
   fallback path; webhooks are configured, so each job is polled every
   3 x POLL_INTERVAL_SECONDS). Reported: provider requests/s, the bot's CPU %, its RSS.
2. Ingestion: one signed ``video.started`` webhook per job, sent as fast as the bot takes
   them (64 at a time). Reported: verified webhooks/s (2xx answers per second of wall
   time), and how long the bot then needs to confirm them all with the provider.
3. Completion latency: 200 jobs completed at the provider one by one (every 50 ms); each
   completion webhook is timed from the moment the fake sends it to the moment the fake
   Telegram server receives the bot's ``sendVideo`` (the start of the upload; the output is
   a small MP4, so receipt is within a millisecond or two of the start). One clock: both
   fakes live in this process.

Targets (issue 3): >= 1,000 verified webhooks/s; RSS < 200 MB; completion-to-upload
p99 < 100 ms.

The jobs are written straight into the bot's SQLite (as a previous run of the bot would
have left them) and into the fake's memory; creating 10,000 jobs through the API would
measure the fake's create path, not the bot.

Run: ``.venv/bin/python bench/inflight_jobs.py [--jobs 10000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sqlite3
import sys
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

CHAT_BASE = 5_000_000
WAIT_SECONDS = 20.0
LATENCY_JOBS = 200


def seed_database(db: Path, jobs: int, face: Path, voice: Path) -> None:
    """Create the schema (via the bot's own migrations) and ``jobs`` queued Magic Hour jobs."""
    from storage.migrations import MIGRATIONS

    conn = sqlite3.connect(db)
    for number, script in enumerate(MIGRATIONS, start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    now = datetime.now(UTC)
    probe = json.dumps(
        {
            "duration": 3.0,
            "width": 640,
            "height": 480,
            "has_video": True,
            "has_audio": False,
            "is_image": True,
        }
    )
    voice_probe = json.dumps({"duration": 3.0, "has_audio": True})
    rows = []
    for n in range(jobs):
        # Spread the first polls over one interval, as jobs submitted over time would be.
        next_poll = now + timedelta(seconds=60 * n / jobs)
        rows.append(
            (
                CHAT_BASE + n,
                CHAT_BASE + n,
                "private",
                "en",
                "magichour",
                "queued",
                "photo",
                str(face),
                probe,
                str(voice),
                voice_probe,
                "9:16",
                f"mh{n}",
                now.isoformat(),
                (now + timedelta(hours=1)).isoformat(),
                next_poll.isoformat(),
                now.isoformat(),
                now.isoformat(),
            )
        )
    conn.executemany(
        """
        INSERT INTO jobs (chat_id, user_id, chat_type, locale, provider, status, media_kind,
            media_path, media_probe, voice_path, voice_probe, ratio, provider_job_id,
            submit_started_at, deadline_at, next_poll_at, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        rows,
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


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def running_jobs(db: Path) -> int:
    """Jobs the bot has moved to running (a confirmed video.started), read beside it (WAL)."""
    with sqlite3.connect(db, timeout=5) as conn:
        return int(
            conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'running'").fetchone()[0]
        )


def count_polls(fake: FakeMagicHour) -> int:
    return sum(1 for call in fake.calls if call.path.startswith("/v1/video-projects/"))


async def measure_waiting(bot: BotProcess, mh: FakeMagicHour) -> tuple[float, float, int]:
    """Provider requests/s and bot CPU % while nothing happens but polling."""
    polls0, cpu0, t0 = count_polls(mh), bot.cpu_seconds(), time.monotonic()
    await asyncio.sleep(WAIT_SECONDS)
    elapsed = time.monotonic() - t0
    rate = (count_polls(mh) - polls0) / elapsed
    cpu = (bot.cpu_seconds() - cpu0) / elapsed * 100
    return rate, cpu, bot.status_kb("VmRSS")["VmRSS"]


async def ingest(port: int, mh: FakeMagicHour, jobs: int, folder: Path) -> tuple[float, int]:
    """One signed video.started webhook per job, sent by a separate process over 32
    keep-alive connections; returns (verified webhooks/s, failures)."""
    stamp = int(time.time())  # valid for the 300 s tolerance window
    requests = folder / "webhooks.jsonl"
    with requests.open("w", encoding="utf-8") as out:
        for n in range(jobs):
            body = mh.webhook_body("video.started", f"mh{n}")
            headers = {
                "Content-Type": "application/json",
                "magic-hour-event-signature": mh.sign(body, stamp),
                "magic-hour-event-timestamp": str(stamp),
            }
            out.write(json.dumps({"headers": headers, "body": body.decode()}) + "\n")
    sender = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("_webhook_sender.py")),
        "127.0.0.1",
        str(port),
        "/hooks/magichour",
        str(requests),
        "32",
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await sender.communicate()
    stats = json.loads(output)
    return stats["ok"] / stats["seconds"], stats["failed"]


async def completion_latency(mh: FakeMagicHour, tg: BenchFake, jobs: int) -> list[float]:
    """Complete jobs one by one; seconds from each webhook send to the upload."""
    sent_at: dict[int, float] = {}
    for n in range(jobs):
        sent_at[CHAT_BASE + n] = time.monotonic()
        mh._finish(mh.jobs[f"mh{n}"], None)
        await asyncio.sleep(0.05)
    await wait_until(
        lambda: (
            len({c.params.get("chat_id") for c in tg.calls if c.method == "sendVideo"}) >= jobs
        ),
        120,
        "every completed job to be uploaded",
    )
    latencies = []
    for call in tg.calls:
        if call.method == "sendVideo":
            chat = int(call.params.get("chat_id") or 0)
            if chat not in sent_at:
                continue
            latencies.append(call.at - sent_at[chat])
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    print(machine())
    with workdir("inflight") as folder:
        output = make.make_video(folder / "result.mp4", width=480, height=854, seconds=3.0)
        face = make.make_photo(folder / "face.jpg")
        voice = make.make_mp3(folder / "voice.mp3", seconds=3.0)
        seed_database(folder / "bot.db", args.jobs, face, voice)
        tg = BenchFake()
        tg.strict_chats = False  # the seeded users "wrote to the bot" in an earlier life
        mh = FakeMagicHour(output=output)
        mh.auto_complete = False
        async with running_telegram(tg) as tg_url, running_magichour(mh) as mh_url:
            seed_provider(mh, args.jobs)
            port = free_port()
            mh.webhook_url = f"http://127.0.0.1:{port}/hooks/magichour"
            env = bot_env(
                tg_url,
                folder,
                HTTP_PORT=str(port),
                PUBLIC_URL=f"http://127.0.0.1:{port}",
                PROVIDERS="magichour",
                MAGICHOUR_API_KEY=mh.api_key,
                MAGICHOUR_WEBHOOK_SECRET=mh.webhook_secret,
                MAGICHOUR_API_URL=mh_url,
                ALLOW_PRIVATE_URLS="true",
                POLL_INTERVAL_SECONDS="10",
            )
            bot = BotProcess(OUR_BOT, env, folder / "bot.log")
            bot.start()
            try:
                await wait_polling(tg, bot, timeout=60)
                await asyncio.sleep(2)  # let resume() settle
                rate, cpu, rss = await measure_waiting(bot, mh)
                print(
                    f"waiting ({args.jobs} jobs, {WAIT_SECONDS:g} s): {rate:.0f} provider "
                    f"requests/s, bot CPU {cpu:.1f}%, RSS {rss / 1024:.1f} MB"
                )

                bot_cpu0, own_cpu0, t0 = bot.cpu_seconds(), own_cpu(), time.monotonic()
                per_s, failures = await ingest(port, mh, args.jobs, folder)
                took = time.monotonic() - t0
                print(
                    f"ingestion: {per_s:.0f} verified webhooks/s ({failures} failed)  "
                    + verdict(per_s >= 1000 and not failures, ">= 1000/s")
                )
                print(
                    f"  CPU during ingestion: bot {(bot.cpu_seconds() - bot_cpu0) / took:.0%}, "
                    f"fakes {(own_cpu() - own_cpu0) / took:.0%} (the sender is a third process)"
                )
                t0 = time.monotonic()
                await wait_until(
                    lambda: running_jobs(folder / "bot.db") >= args.jobs,
                    300,
                    "every webhook to be confirmed",
                    bot,
                )
                print(
                    f"confirmation of {args.jobs} webhooks with the provider: "
                    f"{time.monotonic() - t0:.1f} s after the last one was accepted"
                )

                latencies = await completion_latency(mh, tg, LATENCY_JOBS)
                print(
                    f"completion webhook -> upload start ({LATENCY_JOBS} jobs): "
                    f"{summary_ms(latencies)}  "
                    + verdict(percentile(latencies, 99) < 0.1, "p99 < 100 ms")
                )
                peak = bot.status_kb("VmHWM", "VmRSS")
                print(
                    f"bot RSS now {peak['VmRSS'] / 1024:.1f} MB, peak {peak['VmHWM'] / 1024:.1f}"
                    " MB  " + verdict(peak["VmHWM"] < 200 * 1024, "< 200 MB")
                )
            finally:
                await bot.stop()
                if "Traceback" in bot.tail(200):
                    print("bot log has a traceback:\n" + bot.tail(40))


if __name__ == "__main__":
    asyncio.run(main())
