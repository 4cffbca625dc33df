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
    BotProcess,
    machine,
    percentile,
    summary_ms,
    verdict,
    wait_polling,
    wait_until,
    workdir,
)
from _seed import SeededJob, create_schema, insert_jobs, magichour_fakes, time_completions

from tests import media as make
from tests.fakes.magichour import FakeMagicHour

CHAT_BASE = 5_000_000
WAIT_SECONDS = 20.0
LATENCY_JOBS = 200


def seed_database(db: Path, jobs: int, face: Path, voice: Path) -> None:
    """The schema and ``jobs`` queued Magic Hour jobs, their first polls spread over one
    interval, as jobs submitted over time would be."""
    create_schema(db)
    now = datetime.now(UTC)
    insert_jobs(
        db,
        (
            SeededJob(
                CHAT_BASE + n,
                "magichour",
                "queued",
                voice,
                3.0,
                provider_job_id=f"mh{n}",
                next_poll_at=now + timedelta(seconds=60 * n / jobs),
                submit_started_at=now,
            )
            for n in range(jobs)
        ),
        face=face,
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
        async with magichour_fakes(
            folder, output, args.jobs, PROVIDERS="magichour", POLL_INTERVAL_SECONDS="10"
        ) as run:
            mh, port = run.mh, run.port
            bot = BotProcess(OUR_BOT, run.env, folder / "bot.log")
            bot.start()
            try:
                await wait_polling(run.tg, bot, timeout=60)
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

                latencies = await time_completions(
                    run, CHAT_BASE, range(LATENCY_JOBS), gap=0.05, timeout=120
                )
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
