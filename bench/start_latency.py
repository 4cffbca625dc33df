"""/start cost and latency with 50 concurrent users: our bot against a bare PTB echo bot.

What is measured: how much CPU a bot spends per /start reply, and how long each user waits,
from the moment the update is available to getUpdates until the fake receives the bot's
sendMessage for that user. Target: our capacity (the inverse of CPU per reply) >= 0.8 x the
echo bot's.

Why CPU per reply and not replies per second: our bot paces its messages as Telegram asks
(about 1 per second per chat after a short burst, 30 per second overall; bot/telegram/
ratelimit.py), and the echo bot does not. Driven flat out, ours is capped at 30 replies/s by
design, which says nothing about its cost. So by default each user waits ``--think`` seconds
(2) after a reply before sending the next /start: 50 users then offer about 25 /start per
second, within Telegram's limits, and both bots answer every one; the CPU each bot spends per
reply is what decides how many it could answer. ``--think 0`` runs the old flat-out closed
loop (throughput ratio; ours then shows the 30/s pacing).

How, and why that way:

* Both bots run the same way: as a subprocess (``python -m bot`` / ``bench/_echo_bot.py``)
  polling the fake Telegram server, which runs in this process. The fake's CPU (HTTP, JSON)
  therefore never competes for the bot's interpreter; on 2 cores each gets one. The fake is
  not the standalone ``python -m tests.fakes.telegram``: its control API does not expose call
  times, and a fake in this process stamps both ends with one ``time.monotonic()``.
* Closed loop: each of the 50 users sends its next /start ``--think`` seconds after the fake
  receives the reply to the previous one, so at most 50 requests are in flight. A closed loop
  is never over-driven into an ever-growing backlog, which would make latencies depend on the
  run length.
* Warm-up rounds first (the first /start of a user inserts its rows; later ones upsert), then
  the measured rounds; throughput = measured replies / (last reply - first measured push).
* Bot CPU time comes from /proc/<pid>/stat: CPU ms per reply shows where a bot is bound by
  its own work, as opposed to waiting on the fake.
* Trials alternate echo, ours, echo, ours... with a fresh fake, database and process each; the
  figures of each bot are pooled over its trials, and the ratio is also given per trial (an
  echo and an ours run back to back see the same machine). The benchmark and the bots it
  starts run at nice -10 when allowed (root), and the CPU other processes used during each
  trial is printed (from /proc/stat): on a shared 2-core machine that is the main noise.
* ``--profile DIR`` samples each bot with py-spy (stacks of the thread holding the GIL) and
  prints the GIL time per reply spent in each layer, ours next to echo.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    ECHO_BOT,
    OUR_BOT,
    PROFILE_RATE,
    BenchFake,
    BotProcess,
    Call,
    FifoLatencies,
    User,
    bot_env,
    machine,
    profile_table,
    raise_priority,
    serve_fake,
    start_profiler,
    stop_profiler,
    summary_ms,
    system_cpu_seconds,
    verdict,
    wait_polling,
    workdir,
)

TARGET_RATIO = 0.8
#: Other processes' CPU (fraction of one core) above which a trial is flagged as noisy.
NOISY = 0.15
#: Seconds of trials after which no new trial starts (the script must end within ~2 minutes).
BUDGET = 110
BOTS = {"echo": ECHO_BOT, "ours": OUR_BOT}


class ClosedLoop:
    """Every user sends ``rounds`` /start, each ``think`` seconds after the previous reply."""

    def __init__(
        self, fake: BenchFake, users: list[User], rounds: int, think: float = 0.0
    ) -> None:
        self.fake = fake
        self.think = think
        self.users = {user.id: user for user in users}
        self.left = dict.fromkeys(self.users, rounds)
        self.unfinished = len(users)
        self.fifo = FifoLatencies()
        self.done = asyncio.Event()
        self.first = self.last = 0.0

    def push(self, user: User) -> None:
        self.fake.send_command(user, "start")
        self.fifo.pushed(user.id, time.monotonic())

    def on_message(self, call: Call) -> None:
        chat = call.params.get("chat_id")
        if not isinstance(chat, int) or self.left.get(chat, 0) <= 0:
            return
        if self.fifo.replied(chat, call.at) is None:
            return
        self.last = call.at
        self.left[chat] -= 1
        if self.left[chat] > 0:
            if self.think:
                asyncio.get_running_loop().call_later(self.think, self.push, self.users[chat])
            else:
                self.push(self.users[chat])
        else:
            self.unfinished -= 1
            if not self.unfinished:
                self.done.set()

    async def run(self, timeout: float) -> None:  # noqa: ASYNC109
        self.fake.on_message = self.on_message
        try:
            self.first = time.monotonic()
            loop = asyncio.get_running_loop()
            for index, user in enumerate(self.users.values()):
                if self.think:
                    # Users spread over one think time, as real ones are: all 50 at the same
                    # instant would be a burst the 30/s overall pacing stretches to 1.7 s.
                    loop.call_later(self.think * index / len(self.users), self.push, user)
                else:
                    self.push(user)
            async with asyncio.timeout(timeout):
                await self.done.wait()
        finally:
            self.fake.on_message = None


@dataclass
class Trial:
    bot: str
    replies: int
    seconds: float
    latencies: list[float]
    bot_cpu: float
    fake_cpu: float
    other_cpu: float
    polls: int

    @property
    def throughput(self) -> float:
        return self.replies / self.seconds

    @property
    def cpu_per_reply(self) -> float:
        return self.bot_cpu / self.replies


@dataclass
class Pooled:
    trials: list[Trial] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return sum(t.replies for t in self.trials) / sum(t.seconds for t in self.trials)

    @property
    def cpu_per_reply(self) -> float:
        return sum(t.bot_cpu for t in self.trials) / sum(t.replies for t in self.trials)

    @property
    def latencies(self) -> list[float]:
        return [lat for t in self.trials for lat in t.latencies]


async def trial(
    name: str,
    users: int,
    warmup: int,
    rounds: int,
    think: float,
    timeout: float,  # noqa: ASYNC109
    profile: Path | None,
) -> Trial:
    people = [User(500_000 + i, f"User{i}", language_code="en") for i in range(users)]
    with workdir(name) as folder:
        fake = BenchFake()
        try:
            async with serve_fake(fake) as url:
                bot = BotProcess(BOTS[name], bot_env(url, folder), folder / "bot.log")
                bot.start()
                try:
                    await wait_polling(fake, bot)
                    if warmup:
                        await ClosedLoop(fake, people, warmup, think).run(timeout)
                    loop = ClosedLoop(fake, people, rounds, think)
                    calls_before = len(fake.calls)
                    spy = start_profiler(bot, profile)
                    cpu, fake_cpu = bot.cpu_seconds(), time.process_time()
                    everything = system_cpu_seconds()
                    await loop.run(timeout)
                    await stop_profiler(spy)
                    cpu, fake_cpu = bot.cpu_seconds() - cpu, time.process_time() - fake_cpu
                    others = system_cpu_seconds() - everything - cpu - fake_cpu
                    polls = sum(1 for c in fake.calls[calls_before:] if c.method == "getUpdates")
                except BaseException:
                    print(f"--- {name} bot log ---\n{bot.tail()}")
                    raise
                finally:
                    await bot.stop()
        finally:
            await fake.aclose()
    return Trial(
        name,
        users * rounds,
        loop.last - loop.first,
        loop.fifo.latencies(),
        cpu,
        fake_cpu,
        max(others, 0.0),
        polls,
    )


def show(t: Trial) -> None:
    print(
        f"  {t.bot:4}  {t.throughput:7.1f} replies/s   {summary_ms(t.latencies)}\n"
        f"        bot CPU {t.bot_cpu:5.2f} s = {t.bot_cpu / t.seconds:4.0%} of "
        f"{t.seconds:.2f} s, {t.bot_cpu / t.replies * 1000:.2f} ms/reply;   "
        f"fake CPU {t.fake_cpu / t.seconds:4.0%};   other processes "
        f"{t.other_cpu / t.seconds:4.0%};   {t.polls} getUpdates "
        f"({t.replies / max(t.polls, 1):.1f} updates each)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6, help="measured /start per user")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured /start per user")
    parser.add_argument(
        "--think", type=float, default=2.0, help="seconds a user waits after a reply"
    )
    parser.add_argument("--trials", type=int, default=3, help="trials per bot, alternating")
    parser.add_argument("--timeout", type=float, default=45.0, help="seconds per phase")
    parser.add_argument(
        "--profile",
        type=Path,
        help="sample each bot's measured phase with py-spy (GIL-holding stacks) into this "
        "folder and print where the CPU goes; throughput is lower while profiling",
    )
    args = parser.parse_args()
    print(f"start_latency: {machine()}; {raise_priority()}")
    print(
        f"{args.users} users, closed loop with {args.think:g} s think time, {args.warmup} "
        f"warm-up + {args.rounds} measured /start each, {args.trials} trial(s) per bot"
    )
    pooled = {name: Pooled() for name in BOTS}
    began = time.monotonic()
    for index in range(args.trials):
        if index and time.monotonic() - began > BUDGET * index / args.trials:
            print(
                f"stopping after {index} trial(s): the machine is slow today ({BUDGET} s budget)"
            )
            break
        print(f"trial {index + 1}:")
        for name in BOTS:
            out = args.profile / f"{name}-{index + 1}.txt" if args.profile else None
            result = await trial(
                name, args.users, args.warmup, args.rounds, args.think, args.timeout, out
            )
            pooled[name].trials.append(result)
            show(result)
    print("pooled over trials:")
    for name, p in pooled.items():
        print(f"  {name:4}  {p.throughput:7.1f} replies/s   {summary_ms(p.latencies)}")
    echo, ours = pooled["echo"].trials, pooled["ours"].trials
    pairs = [o.throughput / e.throughput for e, o in zip(echo, ours, strict=True)]
    ratio = pooled["ours"].throughput / pooled["echo"].throughput
    print(
        f"throughput ratio ours/echo = {ratio:.2f} (per trial: "
        f"{', '.join(f'{r:.2f}' for r in pairs)})"
    )
    noisy = max(t.other_cpu / t.seconds for p in pooled.values() for t in p.trials)
    if noisy > NOISY:
        print(
            f"WARNING: other processes used up to {noisy:.0%} of a core during a trial; on "
            "2 cores that slows the bots. Re-run on a quiet machine before trusting this."
        )
    if args.profile:
        for index in range(len(pooled["ours"].trials)):
            files = {name: args.profile / f"{name}-{index + 1}.txt" for name in BOTS}
            replies = {name: p.trials[index].replies for name, p in pooled.items()}
            print(f"profile of trial {index + 1} (files in {args.profile}):")
            print(profile_table(files, replies, PROFILE_RATE))
    if args.think:
        capacity = pooled["echo"].cpu_per_reply / pooled["ours"].cpu_per_reply
        print(
            f"CPU per reply: echo {pooled['echo'].cpu_per_reply * 1000:.2f} ms, ours "
            f"{pooled['ours'].cpu_per_reply * 1000:.2f} ms"
        )
        print(
            verdict(
                capacity >= TARGET_RATIO,
                f"capacity ratio ours/echo (echo CPU per reply / ours) {capacity:.2f} "
                f">= {TARGET_RATIO}",
            )
        )
    else:
        print(
            verdict(
                ratio >= TARGET_RATIO, f"throughput ratio ours/echo {ratio:.2f} >= {TARGET_RATIO}"
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
