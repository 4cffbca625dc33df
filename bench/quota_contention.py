"""Quota contention: 100 users x 10 concurrent submits on SQLite, and a ledger audit.

Every submit goes through ``JobStates.create`` (the path [Generate] takes): one transaction
locks the user's (and group's) allowance, checks the active-jobs cap, inserts the job and
writes its reserve. All submits of a run start at once (``asyncio.gather``), each user's
voices 7-15 s (fixed seed) against a 60 s daily quota, so about half are refused.

Reported per run: submits decided and jobs made (reserves) per second of wall time; the
latency of each ``create`` call from the burst's start (p50/p95/p99: mostly waiting for the
database's transaction lock, which serializes every transaction in the process); and the
time each transaction holds that lock (its own cost). Then every job made is settled to a
random ending through ``JobStates.move`` (delivered at a video length around the voice's,
failed, canceled, expired), concurrently too, and the ledger is audited:

* per user (and group), SUM(ledger seconds) == the delivered jobs' min(ceil(video), reserve);
* no owner's running usage ever exceeded its limit (ledger rows replayed in id order);
* nobody was refused while there was room (usage only grows during the burst, so a refused
  price must still exceed what was left at its end), nor let past the active-jobs cap;
* every failed/canceled/expired job's refunds cancel its reserves exactly, on every scope.

Scenarios: ``roomy`` (a quota with room for all: reserving alone), ``private`` (quota only;
the active cap out of the way), ``cap`` (also USER_MAX_ACTIVE_JOBS=2, the default),
``groups`` (10 groups of 10 users and a 300 s pool: two locks per submit, and the pool
refuses too). Each runs ``--runs`` times on a fresh, migrated database; the table at the end
gives medians.

Prints PASS/FAIL per check; exits 1 if any check fails.

Run: ``.venv/bin/python bench/quota_contention.py [--runs 3] [--scenario private]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from _common import machine, percentile, verdict, workdir

from bot.jobs.states import JobStates
from bot.models import ACTIVE, JobStatus, NewJob, Probe
from bot.quotas import QuotaDefaults, QuotaExceeded, Quotas, TooManyActive, price
from storage import Database, JobRepository
from storage.ledger import LedgerRepository, Scope
from tests.job_rows import photo_order

#: One fixed instant: all rows fall on one day, whenever the benchmark runs.
CLOCK = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
USER_DAILY = 60
GROUP_DAILY = 300
ENDINGS = (JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.EXPIRED)
ENDING_WEIGHTS = (50, 20, 15, 15)


@dataclass(frozen=True)
class Scenario:
    name: str
    groups: int  # 0: private chats
    max_active: int
    user_daily: int = USER_DAILY
    group_daily: int = 0


SCENARIOS = {
    # Room for every submit: what reserving alone costs (every query of the check still runs).
    "roomy": Scenario("roomy", groups=0, max_active=1_000_000, user_daily=1_000_000),
    "private": Scenario("private", groups=0, max_active=1_000_000),
    "cap": Scenario("cap", groups=0, max_active=2),
    "groups": Scenario("groups", groups=10, max_active=1_000_000, group_daily=GROUP_DAILY),
}


class TimedLock(asyncio.Lock):
    """The database's transaction lock, recording how long each holder keeps it: that is a
    transaction's own cost, BEGIN to COMMIT, without the wait for its turn."""

    def __init__(self) -> None:
        super().__init__()
        self.holds: list[float] = []
        self._since = 0.0

    async def acquire(self) -> Literal[True]:
        await super().acquire()
        self._since = time.perf_counter()
        return True

    def release(self) -> None:
        self.holds.append(time.perf_counter() - self._since)
        super().release()


@dataclass
class Submit:
    user: int
    chat: int
    voice: float
    latency: float = 0.0
    job: int | None = None
    refused: str | None = None  # "quota:user", "quota:group", "quota:member", "active cap"
    ending: JobStatus | None = None
    video: float | None = None

    @property
    def chat_type(self) -> str:
        return "supergroup" if self.chat < 0 else "private"

    @property
    def price(self) -> int:
        return price(self.voice)


@dataclass
class Run:
    scenario: Scenario
    submits: list[Submit]
    wall: float = 0.0
    settle_wall: float = 0.0
    holds: list[float] = field(default_factory=list)
    checks: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def made(self) -> list[Submit]:
        return [s for s in self.submits if s.job is not None]

    def figures(self) -> dict[str, float]:
        latencies = [s.latency for s in self.submits]
        return {
            "submits/s": len(self.submits) / self.wall,
            "reserves/s": len(self.made) / self.wall,
            "p50 ms": percentile(latencies, 50) * 1000,
            "p95 ms": percentile(latencies, 95) * 1000,
            "p99 ms": percentile(latencies, 99) * 1000,
            "tx p50 ms": percentile(self.holds, 50) * 1000,
            "tx p99 ms": percentile(self.holds, 99) * 1000,
            "lock busy %": sum(self.holds) / self.wall * 100,
            "settles/s": len(self.made) / self.settle_wall,
        }


def plan(scenario: Scenario, users: int, per_user: int, rng: random.Random) -> list[Submit]:
    """Every user's voices, in a shuffled arrival order (users' submits interleave)."""
    submits = []
    for n in range(users):
        user = 10_000 + n
        chat = -(1_000_000 + n % scenario.groups) if scenario.groups else user
        submits += [Submit(user, chat, round(rng.uniform(7, 15), 2)) for _ in range(per_user)]
    rng.shuffle(submits)
    return submits


async def submit(states: JobStates, s: Submit, start: float) -> None:
    try:
        job = await states.create(
            NewJob(
                chat_id=s.chat,
                user_id=s.user,
                chat_type=s.chat_type,
                locale="en",
                provider="magichour",
                order=photo_order(
                    "face.jpg",
                    "voice.mp3",
                    face_probe=Probe(duration=None, is_image=True),
                    voice_probe=Probe(duration=s.voice, has_audio=True),
                    ratio="9:16",
                ),
            ),
        )
        s.job = job.id
    except QuotaExceeded as refused:
        s.refused = f"quota:{refused.allowance.scope}"
    except TooManyActive:
        s.refused = "active cap"
    s.latency = time.perf_counter() - start


def choose_ending(s: Submit, rng: random.Random) -> None:
    s.ending = rng.choices(ENDINGS, ENDING_WEIGHTS)[0]
    if s.ending is JobStatus.DELIVERED:
        # Mostly shorter than the voice (the user pays the video), some exactly as long,
        # a few longer (a provider's padding: the charge is capped at the reserve).
        kind = rng.random()
        if kind < 0.6:
            s.video = round(max(0.3, s.voice - rng.uniform(0, 4)), 2)
        elif kind < 0.9:
            s.video = s.voice
        else:
            s.video = round(s.voice + rng.uniform(0.1, 2), 2)


async def settle(states: JobStates, s: Submit) -> bool:
    assert s.job is not None
    assert s.ending is not None
    if s.ending is not JobStatus.DELIVERED:
        return await states.move(s.job, ACTIVE, s.ending)
    return await states.move(s.job, ACTIVE, JobStatus.SUCCEEDED) and await states.move(
        s.job, [JobStatus.SUCCEEDED], JobStatus.DELIVERED, video_seconds=s.video
    )


async def usage(db: Database) -> dict[tuple[str, int], int]:
    rows = await db.fetchall(
        "SELECT scope, owner_id, SUM(seconds) AS used FROM ledger GROUP BY scope, owner_id"
    )
    return {(row["scope"], row["owner_id"]): int(row["used"]) for row in rows}


def limit_of(scenario: Scenario, scope: str) -> int:
    return scenario.user_daily if scope == Scope.USER else scenario.group_daily


def check_burst(run: Run, used: dict[tuple[str, int], int]) -> None:
    """Right after the burst (only reserves in the ledger): nobody refused while there was
    room, nobody past the active-jobs cap."""
    scenario = run.scenario
    made = Counter(s.user for s in run.made)
    false_refusals = 0
    for s in run.submits:
        if s.refused == "active cap":
            false_refusals += made[s.user] != scenario.max_active
        elif s.refused is not None:
            owners = [(Scope.USER.value, s.user)]
            if s.chat < 0:
                owners.append((Scope.GROUP.value, s.chat))
            # Usage only grew during the burst: a price that fits now fitted when refused.
            room = min(limit_of(scenario, scope) - used.get((scope, o), 0) for scope, o in owners)
            false_refusals += s.price <= room
    run.checks.append(
        (false_refusals == 0, f"no submit refused while there was room ({false_refusals} were)")
    )
    over_cap = sum(n > scenario.max_active for n in made.values())
    run.checks.append((over_cap == 0, f"no user past the active-jobs cap ({over_cap} were)"))


async def check_ledger(run: Run, db: Database) -> None:
    """After every job has ended: the ledger equals the jobs' outcomes."""
    scenario = run.scenario
    expected: dict[tuple[str, int], int] = defaultdict(int)
    for s in run.made:
        expected[(Scope.USER.value, s.user)] += 0
        if s.chat < 0:
            expected[(Scope.GROUP.value, s.chat)] += 0
        if s.ending is JobStatus.DELIVERED:
            assert s.video is not None
            charge = min(price(s.video), s.price)
            expected[(Scope.USER.value, s.user)] += charge
            if s.chat < 0:
                expected[(Scope.GROUP.value, s.chat)] += charge
    actual = await usage(db)
    wrong = sum(actual.get(key, 0) != value for key, value in expected.items())
    wrong += len(set(actual) - set(expected))
    run.checks.append(
        (
            wrong == 0,
            f"every owner's ledger sum == its delivered jobs' min(ceil(video), reserve) "
            f"({len(expected)} owners, {wrong} wrong)",
        )
    )

    statuses = {
        row["id"]: row["status"] for row in await db.fetchall("SELECT id, status FROM jobs")
    }
    mismatched = sum(statuses.get(s.job) != s.ending for s in run.made)
    mismatched += len(statuses) - len(run.made)
    run.checks.append(
        (mismatched == 0, f"one job row per job made, in its ending ({mismatched} not)")
    )

    # Replay the ledger in the order it was written: the running usage of every owner.
    running: dict[tuple[str, int], int] = defaultdict(int)
    peak: dict[tuple[str, int], int] = defaultdict(int)
    for row in await db.fetchall("SELECT scope, owner_id, seconds FROM ledger ORDER BY id"):
        key = (row["scope"], row["owner_id"])
        running[key] += row["seconds"]
        peak[key] = max(peak[key], running[key])
    over = [key for key, top in peak.items() if top > limit_of(scenario, key[0])]
    users_peak = max((top for (scope, _), top in peak.items() if scope == Scope.USER), default=0)
    run.checks.append(
        (
            not over,
            f"no owner over its limit at any point (max user {users_peak}/{scenario.user_daily}"
            f" s; "
            f"{len(over)} over)",
        )
    )

    per_job = defaultdict(list)
    for row in await db.fetchall(
        "SELECT job_id, scope, kind, seconds FROM ledger WHERE job_id IS NOT NULL"
    ):
        per_job[row["job_id"]].append((row["scope"], row["kind"], row["seconds"]))
    scopes = 2 if scenario.groups else 1
    unbalanced = 0
    for s in run.made:
        if s.ending is JobStatus.DELIVERED:
            continue
        rows = per_job[s.job]
        reserves = [r for r in rows if r[1] == "reserve"]
        refunds = [r for r in rows if r[1] == "refund"]
        balanced = (
            len(reserves) == len(refunds) == scopes
            and all(sec == s.price for _, _, sec in reserves)
            and sum(sec for _, _, sec in rows) == 0
        )
        unbalanced += not balanced
    ended = sum(s.ending is not JobStatus.DELIVERED for s in run.made)
    run.checks.append(
        (
            unbalanced == 0,
            f"refunds balance reserves for every failed/canceled/expired job "
            f"({ended} jobs, {unbalanced} not)",
        )
    )


async def one_run(scenario: Scenario, users: int, per_user: int, seed: int) -> Run:
    rng = random.Random(seed)
    run = Run(scenario, plan(scenario, users, per_user, rng))
    with workdir("quota") as folder:
        db = await Database.open(Path(folder) / "bot.db")
        try:
            await db.migrate()
            lock = TimedLock()
            db._tx_lock = lock  # the benchmark's own instrument; the code path is unchanged
            quotas = Quotas(
                db,
                LedgerRepository(),
                defaults=QuotaDefaults(scenario.user_daily, 0, scenario.group_daily, 0),
                admins=frozenset(),
                clock=lambda: CLOCK,
            )
            states = JobStates(
                db=db,
                repo=JobRepository(db),
                quotas=quotas,
                max_active_per_user=scenario.max_active,
                max_in_flight_per_provider=1_000_000,  # the line is not what is measured
            )
            start = time.perf_counter()
            await asyncio.gather(*(submit(states, s, start) for s in run.submits))
            run.wall = time.perf_counter() - start
            run.holds = list(lock.holds)
            check_burst(run, await usage(db))

            for s in run.made:
                choose_ending(s, rng)
            start = time.perf_counter()
            moved = await asyncio.gather(*(settle(states, s) for s in run.made))
            run.settle_wall = time.perf_counter() - start
            run.checks.append((all(moved), f"every ending applied ({moved.count(False)} not)"))
            await check_ledger(run, db)
        finally:
            await db.close()
    return run


def report(run: Run) -> None:
    refused = Counter(s.refused for s in run.submits if s.refused is not None)
    f = run.figures()
    reasons = ", ".join(f"{why} {n}" for why, n in sorted(refused.items())) or "none"
    print(
        f"  {len(run.submits)} submits: {len(run.made)} made, {refused.total()} refused "
        f"({reasons}) in {run.wall:.3f} s\n"
        f"  {f['submits/s']:,.0f} submits/s, {f['reserves/s']:,.0f} reserves/s;"
        f" create latency p50 {f['p50 ms']:.0f} / p95 {f['p95 ms']:.0f} /"
        f" p99 {f['p99 ms']:.0f} ms; transaction p50 {f['tx p50 ms']:.2f} /"
        f" p99 {f['tx p99 ms']:.2f} ms, lock held {f['lock busy %']:.0f}% of the burst\n"
        f"  settled {len(run.made)} jobs concurrently in {run.settle_wall:.3f} s"
        f" ({f['settles/s']:,.0f} jobs/s)"
    )
    for ok, what in run.checks:
        print("  " + verdict(ok, what))


def medians(runs: Sequence[Run]) -> dict[str, float]:
    figures = [run.figures() for run in runs]
    return {key: statistics.median(f[key] for f in figures) for key in figures[0]}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--submits", type=int, default=10, help="per user, all at once")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7, help="the same workload every run")
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    args = parser.parse_args()
    print(machine())
    print(f"user daily quota {USER_DAILY} s, group pool {GROUP_DAILY} s, voices 7-15 s\n")
    chosen = list(SCENARIOS.values()) if args.scenario == "all" else [SCENARIOS[args.scenario]]
    results: dict[str, list[Run]] = {}
    for scenario in chosen:
        for n in range(args.runs):
            print(f"{scenario.name} (max active {scenario.max_active:,}), run {n + 1}:")
            run = await one_run(scenario, args.users, args.submits, args.seed)
            report(run)
            results.setdefault(scenario.name, []).append(run)
    print(f"\nmedians of {args.runs} run(s):")
    keys = list(medians(next(iter(results.values()))))
    print(f"  {'scenario':<9}" + "".join(f"{key:>12}" for key in keys))
    for name, runs in results.items():
        m = medians(runs)
        print(f"  {name:<9}" + "".join(f"{m[key]:>12,.1f}" for key in keys))
    failed = sum(not ok for runs in results.values() for run in runs for ok, _ in run.checks)
    print("\n" + verdict(failed == 0, f"all ledger checks ({failed} failed)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
