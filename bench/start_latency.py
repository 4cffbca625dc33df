"""/start throughput and latency with 50 concurrent users: our bot against a bare PTB echo bot.

What is measured: how many /start replies per second a bot gets out, and how long each user
waits, from the moment the update is available to getUpdates until the fake receives the
bot's sendMessage for that user. Target: our throughput >= 0.8 x the echo bot's.

How, and why that way:

* Both bots run the same way: as a subprocess (``python -m bot`` / ``bench/_echo_bot.py``)
  polling the fake Telegram server, which runs in this process. The fake's CPU (HTTP, JSON)
  therefore never competes for the bot's interpreter; on 2 cores each gets one. The fake is
  not the standalone ``python -m tests.fakes.telegram``: its control API does not expose call
  times, and a fake in this process stamps both ends with one ``time.monotonic()``.
* Closed loop: each of the 50 users sends its next /start the moment the fake receives the
  reply to the previous one, so exactly 50 requests are always in flight. A closed loop
  measures the throughput a bot sustains (it is never over-driven into an ever-growing
  backlog, which would make latencies depend on the run length) and the latency at that load.
* Warm-up rounds first (the first /start of a user inserts its rows; later ones upsert), then
  the measured rounds; throughput = measured replies / (last reply - first measured push).
* Bot CPU time comes from /proc/<pid>/stat: CPU ms per reply shows where a bot is bound by
  its own work, as opposed to waiting on the fake.
* Trials alternate echo, ours, echo, ours... with a fresh fake, database and process each, and
  the figures of each bot are pooled over its trials.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field

from _common import (
    ECHO_BOT,
    OUR_BOT,
    BenchFake,
    BotProcess,
    Call,
    FifoLatencies,
    User,
    bot_env,
    machine,
    percentile,
    serve_fake,
    summary_ms,
    verdict,
    wait_polling,
    workdir,
)

TARGET_RATIO = 0.8
BOTS = {"echo": ECHO_BOT, "ours": OUR_BOT}


class ClosedLoop:
    """Every user keeps one /start in flight for ``rounds`` rounds."""

    def __init__(self, fake: BenchFake, users: list[User], rounds: int) -> None:
        self.fake = fake
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
            self.push(self.users[chat])
        else:
            self.unfinished -= 1
            if not self.unfinished:
                self.done.set()

    async def run(self, timeout: float) -> None:  # noqa: ASYNC109
        self.fake.on_message = self.on_message
        try:
            self.first = time.monotonic()
            for user in self.users.values():
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
    polls: int

    @property
    def throughput(self) -> float:
        return self.replies / self.seconds


@dataclass
class Pooled:
    trials: list[Trial] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return sum(t.replies for t in self.trials) / sum(t.seconds for t in self.trials)

    @property
    def latencies(self) -> list[float]:
        return [lat for t in self.trials for lat in t.latencies]


async def trial(name: str, users: int, warmup: int, rounds: int, timeout: float) -> Trial:  # noqa: ASYNC109
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
                        await ClosedLoop(fake, people, warmup).run(timeout)
                    loop = ClosedLoop(fake, people, rounds)
                    calls_before = len(fake.calls)
                    cpu, fake_cpu = bot.cpu_seconds(), time.process_time()
                    await loop.run(timeout)
                    cpu, fake_cpu = bot.cpu_seconds() - cpu, time.process_time() - fake_cpu
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
        polls,
    )


def show(t: Trial) -> None:
    print(
        f"  {t.bot:4}  {t.throughput:7.1f} replies/s   {summary_ms(t.latencies)}\n"
        f"        bot CPU {t.bot_cpu:5.2f} s = {t.bot_cpu / t.seconds:4.0%} of "
        f"{t.seconds:.2f} s, {t.bot_cpu / t.replies * 1000:.2f} ms/reply;   "
        f"fake CPU {t.fake_cpu / t.seconds:4.0%};   {t.polls} getUpdates "
        f"({t.replies / max(t.polls, 1):.1f} updates each)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20, help="measured /start per user")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured /start per user")
    parser.add_argument("--trials", type=int, default=2, help="trials per bot, alternating")
    parser.add_argument("--timeout", type=float, default=45.0, help="seconds per phase")
    args = parser.parse_args()
    print(f"start_latency: {machine()}")
    print(
        f"{args.users} users, closed loop, {args.warmup} warm-up + {args.rounds} measured "
        f"/start each, {args.trials} trial(s) per bot"
    )
    pooled = {name: Pooled() for name in BOTS}
    for index in range(args.trials):
        for name in BOTS:
            result = await trial(name, args.users, args.warmup, args.rounds, args.timeout)
            pooled[name].trials.append(result)
            print(f"trial {index + 1}:")
            show(result)
    print("pooled over trials:")
    for name, p in pooled.items():
        print(
            f"  {name:4}  {p.throughput:7.1f} replies/s   p50 "
            f"{percentile(p.latencies, 50) * 1000:.2f} ms   p99 "
            f"{percentile(p.latencies, 99) * 1000:.2f} ms"
        )
    ratio = pooled["ours"].throughput / pooled["echo"].throughput
    print(f"throughput ratio ours/echo = {ratio:.2f}")
    print(verdict(ratio >= TARGET_RATIO, f"ratio {ratio:.2f} >= {TARGET_RATIO}"))


if __name__ == "__main__":
    asyncio.run(main())
