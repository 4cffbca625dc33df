"""10,000 sync.so jobs in flight without webhooks: requests per polling round, the round's wall
time, and how fast the bot settles them when they all complete at once; lists against one GET
per job.

sync.so reads generations in lists (``GET /v2/generations?ids=``, ``bot/providers/sync.py``
``fetch_many``, LIST_BATCH = 50 ids); the poller (``bot/jobs/poller.py``) hands it the due
jobs of a round (at most ``BATCH`` = 500) 50 at a time, 4 requests at once. Without
SYNC_WEBHOOK_SECRET sync.so is asked for no webhooks, so polling is all the bot hears.

Setup: ``--jobs`` generations PROCESSING at the fake sync.so (``tests/fakes/sync.py``, in this
process, its list read answered by id, not by a scan) and as many jobs ``running`` in the bot's
SQLite, written straight in as a previous run would have left them (a video and a recording,
every one due now). The bot runs as a child process (the bot's own ``main`` with
``bench/_round_log.py``'s wrapper, which logs each round's start, end, jobs and CPU) with
PROVIDERS=sync, a PUBLIC_URL (sync.so needs one to fetch inputs) and no webhook secret.

Four runs, each with a fresh bot, database and fake:

* ``lists``: the code as it is; ``single``: the same, but ``SyncProvider.batch_size = 1`` in
  the bot (patched in the child), so the poller reads each job alone
  (``GET /v2/generate/{id}``), as for a provider without a list read: the baseline. In both,
  deliveries are held (``ResultDelivery.spawn`` does nothing in the child), so the
  completion phase measures what the poller alone can settle.
* ``lists+delivery`` and ``single+delivery``: the same with deliveries on, as in production;
  ``--delivered`` (1,000) jobs complete. Each settled job's delivery starts at once (a
  download from the fake, then sendVideo at Telegram's pace, 30 a second), and each of the
  poller's reads first waits up to 2 s for running deliveries (``Busy.quiet``).

Phases and what is reported:

1. First cycle: time until every job has been asked about once (all due at start).
2. Steady state (``--seconds``; not in the delivery runs): per round, the requests, jobs and
   wall time; requests per 100 jobs polled (target for lists: 100 / LIST_BATCH = 2); the bot's
   CPU per job poll; each job's effective poll period.
3. Completion: the jobs finish at the fake at once; the time until the bot has settled each
   one (its row left ``running``: the poller read ``COMPLETED`` and handed the job to
   delivery), as jobs per second from the first settled to the last (the first waits for its
   next poll), and the requests that took.

With a PUBLIC_URL the poller polls every job WEBHOOK_POLL_FACTOR (6) times less often than
POLL_INTERVAL_SECONDS, webhooks or not: ``--interval`` defaults to 1 s (a job every 6 s), so
that cycles fit in the window.

Exits 1 when the lists' target is missed. Run: ``.venv/bin/python bench/sync_polling.py
[--jobs 10000] [--interval 1] [--seconds 20] [--delivered 1000]
[--modes lists,single,lists+delivery,single+delivery]`` (about 4 min).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    ROOT,
    BenchFake,
    BotProcess,
    bot_env,
    free_port,
    machine,
    percentile,
    raise_priority,
    system_cpu_seconds,
    verdict,
    wait_polling,
    wait_until,
    workdir,
)
from _seed import create_schema
from creatify_polling import own_cpu, read_rounds, stats
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.models import AspectRatio, AudioVoice, FaceKind, FileFace, Order, Probe
from bot.providers.sync import LIST_BATCH
from tests import media as make
from tests.fakes.sync import FakeSync, Generation
from tests.fakes.sync import running as running_sync
from tests.fakes.telegram import running as running_telegram

CHAT_BASE = 8_000_000
LIST = "list"
SINGLE = "single"
OUTPUT = "output"
OTHER = "other"
MODES = ("lists", "single", "lists+delivery", "single+delivery")
#: The bot's status while the provider renders; settled jobs have left it.
RUNNING = "running"
#: The bot (``python -c``: nothing of the benchmark's own imported), its rounds logged
#: (bench/_round_log.py). BENCH_SINGLE: sync.so read job by job (``listed()`` is then False
#: for every job, and the poller GETs each alone, as for a provider without lists).
#: BENCH_HOLD_DELIVERIES: a settled job is not delivered (it stays ``succeeded``).
BOT = f"""
import os, sys
sys.path[:0] = [{str(ROOT / "bench")!r}, {str(ROOT)!r}]
from _round_log import install
from bot.cli import main
from bot.delivery.results import ResultDelivery
from bot.providers.sync import SyncProvider
install(os.environ["BENCH_ROUND_LOG"])
if os.environ.get("BENCH_SINGLE"):
    SyncProvider.batch_size = 1
if os.environ.get("BENCH_HOLD_DELIVERIES"):
    ResultDelivery.spawn = lambda self, job_id: None
sys.exit(main(["--env-file", os.devnull]))
"""


class CountingSync(FakeSync):
    """The fake sync.so, stamping every request it answers (``time.monotonic()``) and, for
    list reads, when it last saw each id; its list answered by id (the fake scans every
    generation per request: 10,000 of them, 200 times a cycle, in the bench's process)."""

    def __init__(self, output: Path) -> None:
        super().__init__(output=output, balance=1e9)
        #: (time, kind, ids) per request; kind LIST | SINGLE | OUTPUT | OTHER.
        self.stamps: list[tuple[float, str, int]] = []
        self.periods: list[tuple[float, float]] = []
        self.last_seen: dict[str, float] = {}

    def seen(self, gen_id: str, at: float) -> None:
        last = self.last_seen.get(gen_id)
        if last is not None:
            self.periods.append((at, at - last))
        self.last_seen[gen_id] = at

    async def _list(self, request: Request, _: Any) -> Response:
        at = time.monotonic()
        ids = [i for v in request.query_params.getlist("ids") for i in v.split(",") if i]
        for gen_id in ids:
            self.seen(gen_id, at)
        self.stamps.append((at, LIST, len(ids)))
        found = [self.generation(i) for i in dict.fromkeys(ids) if i in self.generations]
        return JSONResponse(found)

    async def _get(self, request: Request, body: Any) -> Response:
        at = time.monotonic()
        self.seen(request.path_params["gen_id"], at)
        self.stamps.append((at, SINGLE, 1))
        return await super()._get(request, body)

    async def _output(self, request: Request) -> Response:
        self.stamps.append((time.monotonic(), OUTPUT, 0))
        return await super()._output(request)

    def seed(self, count: int, face_url: str, voice_url: str) -> list[str]:
        """``count`` generations PROCESSING (no task of their own: they end when told)."""
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        ids = []
        for n in range(count):
            body = {
                "model": "lipsync-2",
                "input": [{"type": "video", "url": face_url}, {"type": "audio", "url": voice_url}],
                "options": {"sync_mode": "cut_off"},
                "outputFileName": f"lipsync-bot-{n + 1}",
            }
            gen = Generation(str(uuid.uuid4()), stamp, body, None, status="PROCESSING")
            self.generations[gen.id] = gen
            ids.append(gen.id)
        return ids

    def finish(self, gen_id: str) -> None:
        gen = self.generations[gen_id]
        gen.status, gen.seconds = "COMPLETED", 3.0

    def count(self, kind: str, since: float, until: float = float("inf")) -> tuple[int, int]:
        """Requests of ``kind`` answered in [since, until], and the ids they named."""
        chosen = [ids for at, k, ids in self.stamps if k == kind and since <= at <= until]
        return len(chosen), sum(chosen)


def seed_database(db: Path, ids: list[str], face: Path, voice: Path) -> None:
    """The schema and one running sync.so job per id, due now, in chats ``CHAT_BASE + n``."""
    create_schema(db)
    order = Order(
        face=FileFace(
            kind=FaceKind.VIDEO,
            path=str(face),
            probe=Probe(duration=3.0, width=480, height=854, has_video=True, has_audio=False),
        ),
        voice=AudioVoice(path=str(voice), probe=Probe(duration=3.0, has_audio=True)),
        ratio=AspectRatio.PORTRAIT,
    ).model_dump_json()
    now = datetime.now(UTC)
    due = (now - timedelta(seconds=1)).isoformat()
    deadline = (now + timedelta(hours=2)).isoformat()
    with sqlite3.connect(db, timeout=5) as conn:
        conn.executemany(
            """
            INSERT INTO jobs (chat_id, user_id, chat_type, locale, provider, status, order_data,
                provider_job_id, seconds, submit_started_at, started_at, deadline_at,
                next_poll_at, created_at, updated_at)
            VALUES (?, ?, 'private', 'en', 'sync', 'running', ?, ?, 3, ?, ?, ?, ?, ?, ?)
            """,
            [
                (
                    *(CHAT_BASE + n, CHAT_BASE + n, order, gen_id, now.isoformat()),
                    *(now.isoformat(), deadline, due, now.isoformat(), now.isoformat()),
                )
                for n, gen_id in enumerate(ids)
            ],
        )


def still_running(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        query = "SELECT COUNT(*) FROM jobs WHERE status = ?"
        return int(conn.execute(query, (RUNNING,)).fetchone()[0])


@dataclass
class Result:
    """One run's figures, for the comparison at the end."""

    first_cycle: float = 0.0
    per_100: float = 0.0
    round_ms: float = 0.0
    cpu_ms: float = 0.0
    period: float = 0.0
    settled: int = 0
    settle_span: float = 0.0
    settle_requests: int = 0

    @property
    def rate(self) -> float:
        """Jobs settled per second, from the first settled to the last."""
        return self.settled / self.settle_span if self.settle_span else 0.0


async def steady_state(
    bot: BotProcess,
    fake: CountingSync,
    rounds_log: Path,
    seconds: float,
    interval: float,
    result: Result,
) -> None:
    """Polling alone for ``seconds``; prints the figures, keeps some in ``result``."""
    cpu0, own0, sys0 = bot.cpu_seconds(), own_cpu(), system_cpu_seconds()
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    t1 = time.monotonic()
    took = t1 - t0
    cpu, own = bot.cpu_seconds() - cpu0, own_cpu() - own0
    others = system_cpu_seconds() - sys0 - cpu - own
    rounds = [r for r in read_rounds(rounds_log) if r.start >= t0 and r.end <= t1]
    busy = [r for r in rounds if r.jobs]
    lists = [fake.count(LIST, r.start, r.end)[0] for r in busy]
    singles = [fake.count(SINGLE, r.start, r.end)[0] for r in busy]
    other = [fake.count(OTHER, r.start, r.end)[0] for r in busy]
    polled = sum(r.jobs for r in busy)
    requests = sum(lists) + sum(singles) + sum(other)
    per_100 = requests * 100 / polled if polled else float("inf")
    window_polls = fake.count(LIST, t0, t1)[1] + fake.count(SINGLE, t0, t1)[0]
    periods = [gap for at, gap in fake.periods if t0 <= at <= t1]
    walls = [r.end - r.start for r in busy]
    print(
        f"  steady state, {took:.1f} s (the fakes used {own / took:.0%} of a core, other "
        f"processes {max(0.0, others) / took:.0%}):"
    )
    print(
        f"    {len(busy)} rounds with jobs ({len(rounds) - len(busy)} empty), {polled} job "
        f"polls in them ({window_polls / took:.0f}/s); jobs per round "
        f"{stats([float(r.jobs) for r in busy], '')}"
    )
    print(
        f"    per round: lists {stats([float(n) for n in lists], '')}; single GETs "
        f"{stats([float(n) for n in singles], '')}; other requests {sum(other)} in all"
    )
    print(f"    provider requests per 100 jobs polled: {per_100:.2f}")
    print(f"    round wall time: {stats(walls)}")
    print(
        f"    bot CPU: {stats([r.cpu for r in busy], 'ms', 1000)} per round inside it; "
        f"{cpu / took:.0%} of a core in all ({cpu * 1000 / max(1, window_polls):.3f} ms per "
        "job poll)"
    )
    print(
        f"    poll period per job: {stats(periods)} (n={len(periods)}); "
        f"POLL_INTERVAL_SECONDS={interval:g}"
    )
    rss = bot.status_kb("VmRSS", "VmHWM")
    print(f"    bot RSS {rss['VmRSS'] / 1024:.1f} MB (peak so far {rss['VmHWM'] / 1024:.1f} MB)")
    result.per_100 = per_100
    result.round_ms = percentile(walls, 50) * 1000 if walls else float("nan")
    result.cpu_ms = cpu * 1000 / max(1, window_polls)
    result.period = percentile(periods, 50) if periods else float("nan")


async def completion(
    bot: BotProcess,
    fake: CountingSync,
    tg: BenchFake,
    db: Path,
    rounds_log: Path,
    ids: list[str],
    count: int,
    timeout: float,  # noqa: ASYNC109
) -> tuple[int, float, int]:
    """``count`` jobs (spread over the seeded ones) finish at once; the time until the bot has
    settled them (their rows left ``running``). Prints the figures; returns (jobs settled,
    seconds from the first settled to the last, provider requests meanwhile)."""
    step = max(1, len(ids) // count)
    chosen = [ids[n] for n in range(0, len(ids), step)][:count]
    before = still_running(db)
    t0 = time.monotonic()
    for gen_id in chosen:
        fake.finish(gen_id)
    marks: list[tuple[float, int]] = [(0.0, 0)]  # (seconds since t0, jobs settled)
    while marks[-1][1] < len(chosen) and time.monotonic() - t0 < timeout:
        await asyncio.sleep(0.1)
        if not bot.alive():
            raise RuntimeError(f"the bot exited:\n{bot.tail()}")
        settled = before - await asyncio.to_thread(still_running, db)
        marks.append((time.monotonic() - t0, settled))
    t1 = time.monotonic()
    took, settled = marks[-1]
    first = next(at for at, n in marks if n > 0) if settled else took
    # The first mark with any settled is up to 0.1 s late: the rate is over the span after.
    span = max(took - first, 0.1)
    lists, _ = fake.count(LIST, t0, t1)
    singles, _ = fake.count(SINGLE, t0, t1)
    outputs, _ = fake.count(OUTPUT, t0, t1)
    videos = sum(1 for c in tg.calls if c.method == "sendVideo" and c.status == 200)
    rounds = [r for r in read_rounds(rounds_log) if r.start >= t0 and r.end <= t1 and r.jobs]
    ended = (
        f"all settled {took:.1f} s after"
        if settled >= len(chosen)
        else f"only {settled} settled when the phase timed out ({timeout:g} s)"
    )
    print(f"  completion: {len(chosen)} jobs finished at once; {ended}")
    quarters = [
        f"{share:.0%} at {next((at for at, n in marks if n >= share * len(chosen)), took):.1f} s"
        for share in (0.01, 0.25, 0.5, 0.75, 1.0)
    ]
    print(
        f"    settled: {', '.join(quarters)}: {settled / span:.0f} jobs/s from the first "
        "settled (the first waits for its next poll)"
    )
    walls = stats([r.end - r.start for r in rounds])
    print(
        f"    meanwhile: {len(rounds)} rounds, wall time {walls}; {lists} lists, {singles} "
        f"single GETs (every job in flight is still polled), {outputs} video downloads, "
        f"{videos} videos in their chats"
    )
    return settled, span, lists + singles


async def run_mode(mode: str, args: argparse.Namespace, folder: Path) -> Result:
    """One bot, database and fake; every phase of ``mode``."""
    single, delivery = mode.startswith("single"), mode.endswith("+delivery")
    db, rounds_log = folder / "bot.db", folder / "rounds.log"
    output = make.make_video(folder / "result.mp4", width=480, height=854, seconds=2.0)
    voice = make.make_mp3(folder / "voice.mp3", seconds=3.0)
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    fake = CountingSync(output)
    ids = fake.seed(args.jobs, f"{public}/media/face.mp4", f"{public}/media/voice.mp3")
    seed_database(db, ids, output, voice)
    tg = BenchFake()
    tg.strict_chats = False  # the seeded users "wrote to the bot" in an earlier life
    result = Result()
    async with running_telegram(tg) as tg_url, running_sync(fake) as sync_url:
        env = bot_env(
            tg_url,
            folder,
            HTTP_PORT=str(port),
            PUBLIC_URL=public,  # sync.so needs one (it fetches the inputs)
            PROVIDERS="sync",
            SYNC_API_KEY=fake.api_key,
            SYNC_API_URL=sync_url,
            POLL_INTERVAL_SECONDS=f"{args.interval:g}",
            ALLOW_PRIVATE_URLS="true",  # the videos are on 127.0.0.1
            BENCH_ROUND_LOG=str(rounds_log),
            BENCH_SINGLE="1" if single else "",
            BENCH_HOLD_DELIVERIES="" if delivery else "1",
        )
        env.pop("SYNC_WEBHOOK_SECRET", None)  # no webhooks: polling only
        bot = BotProcess(("-c", BOT), env, folder / "bot.log")
        t0 = time.monotonic()
        bot.start()
        try:
            await wait_polling(tg, bot, timeout=60)
            await wait_until(
                lambda: len(fake.last_seen) >= args.jobs, 600, "every job polled once", bot
            )
            first = read_rounds(rounds_log)[0].start
            result.first_cycle = time.monotonic() - first
            print(
                f"  first cycle: all {args.jobs} due jobs asked about {result.first_cycle:.1f}"
                f" s after the first round began (bot started {first - t0:.1f} s before it)"
            )
            if not delivery:
                await steady_state(bot, fake, rounds_log, args.seconds, args.interval, result)
            count = args.delivered if delivery else args.jobs
            settled = await completion(
                bot, fake, tg, db, rounds_log, ids, count, args.settle_timeout
            )
            result.settled, result.settle_span, result.settle_requests = settled
            print(f"  bot peak RSS {bot.status_kb('VmHWM')['VmHWM'] / 1024:.1f} MB")
        finally:
            # Uploads the stop cuts short are the fake Telegram's ClientDisconnect: not news.
            logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
            await bot.stop()
            logging.getLogger("uvicorn.error").setLevel(logging.NOTSET)
            if "Traceback" in bot.tail(400):
                print("  bot log has a traceback:\n" + bot.tail(40))
    return result


def ratio(results: dict[str, Result], lists: str, single: str) -> None:
    """The lists against one GET per job (single / lists)."""
    a, b = results.get(single), results.get(lists)
    if a is None or b is None:
        return
    if a.per_100 and b.per_100:
        print(
            f"  requests per 100 jobs polled: {a.per_100:.1f} / {b.per_100:.2f} = "
            f"{a.per_100 / b.per_100:.0f}x; round wall time p50 {a.round_ms:.0f} / "
            f"{b.round_ms:.0f} ms = {a.round_ms / b.round_ms:.1f}x; bot CPU per job poll "
            f"{a.cpu_ms:.3f} / {b.cpu_ms:.3f} ms; poll period p50 {a.period:.1f} / "
            f"{b.period:.1f} s"
        )
    print(
        f"  {single} / {lists}: first cycle {a.first_cycle:.1f} / {b.first_cycle:.1f} s; "
        f"settled per second {a.rate:.0f} / {b.rate:.0f} = {a.rate / b.rate:.2f}; requests "
        f"while they settled {a.settle_requests} / {b.settle_requests}"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=1.0, help="POLL_INTERVAL_SECONDS")
    parser.add_argument("--seconds", type=float, default=20.0, help="steady-state window")
    parser.add_argument("--delivered", type=int, default=1000, help="jobs completed, +delivery")
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes {sorted(unknown)}")
    print(f"sync_polling: {machine()}; {raise_priority()}")
    print(
        f"{args.jobs} sync.so jobs, {LIST_BATCH} ids per list, POLL_INTERVAL_SECONDS="
        f"{args.interval:g}, PUBLIC_URL set, no SYNC_WEBHOOK_SECRET"
    )
    results = {}
    for mode in modes:
        print(f"{mode}:")
        with workdir(f"sync-{mode.replace('+', '-')}") as folder:
            results[mode] = await run_mode(mode, args, folder)
    ok = True
    if "lists" in results:
        target, got = 100 / LIST_BATCH, results["lists"].per_100
        ok = got <= target + 0.01
        print(verdict(ok, f"lists: {got:.2f} requests per 100 jobs polled <= {target:g}"))
    print("one GET per job against lists (single / lists):")
    ratio(results, "lists", "single")
    ratio(results, "lists+delivery", "single+delivery")
    print("PASS: every target met" if ok else "FAIL: a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
