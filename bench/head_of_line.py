"""Head-of-line blocking: /start latency of other users while one user's big video downloads.

What is measured: user A is at the MEDIA step of /new and sends a 15 MB video (declared and
served as 15,000,000 bytes) whose download the fake throttles to 1 MB/s, so the bot spends
~15 s fetching it in the background. Meanwhile user B and 24 others each send /start every
1.25 s for 10 s (open loop: on a fixed schedule, whatever the replies do, as real users do;
20 /start per second in all, within Telegram's limits of about 1 message per second per chat
and 30 overall, which the bot keeps to: bot/telegram/ratelimit.py);
the latency of each is from the update being pushed to the fake receiving the bot's
sendMessage to that chat, both stamped by the fake's clock. Target: B's p99 < 300 ms.

Why this way: a bot that awaited the download in the handler, took a global lock around it,
or blocked its event loop writing the file would show it here as B's latency growing to
seconds. The same schedule is first run for 3 s without any download as a baseline, and the
download's own timing (first to last byte, from the fake) is printed to show it really was
throttled and really overlapped every measured /start. The zeros fail ffprobe after the
download, so A gets a refusal: only the download's timing matters here.

The bot runs as a subprocess (``python -m bot``), the fake in this process (see _common).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _common import (
    OUR_BOT,
    BenchFake,
    BotProcess,
    Call,
    FifoLatencies,
    User,
    bot_env,
    machine,
    percentile,
    raise_priority,
    serve_fake,
    summary_ms,
    system_cpu_seconds,
    verdict,
    wait_polling,
    wait_until,
    workdir,
)

TARGET_P99 = 0.300
VIDEO_BYTES = 15_000_000
RATE = 1_000_000  # bytes per second


async def ticker(
    fake: BenchFake, users: list[User], seconds: float, period: float
) -> FifoLatencies:
    """Every user sends /start every ``period`` s for ``seconds`` s, users evenly staggered;
    returns when every /start got its reply (or 15 s after the last push)."""
    fifo = FifoLatencies()

    def on_message(call: Call) -> None:
        chat = call.params.get("chat_id")
        if isinstance(chat, int):
            fifo.replied(chat, call.at)

    fake.on_message = on_message
    try:
        start = time.monotonic()
        step = period / len(users)
        for tick in range(round(seconds / step)):
            await asyncio.sleep(max(0.0, start + tick * step - time.monotonic()))
            user = users[tick % len(users)]
            fake.send_command(user, "start")
            fifo.pushed(user.id, time.monotonic())
        await wait_until(lambda: not fifo.outstanding(), 15, "the last /start replies")
    finally:
        fake.on_message = None
    return fifo


def report(title: str, fifo: FifoLatencies, b: User) -> None:
    print(f"{title}:")
    print(f"  B      {summary_ms(fifo.latencies(b.id))}")
    print(f"  all    {summary_ms(fifo.latencies())}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="/start burst length")
    parser.add_argument("--period", type=float, default=1.25, help="seconds between a user's")
    parser.add_argument("--users", type=int, default=25, help="users sending /start")
    args = parser.parse_args()
    print(f"head_of_line: {machine()}; {raise_priority()}")
    a = User(700_001, "Ann", language_code="en")
    b = User(700_002, "Bob", language_code="en")
    others = args.users - 1
    users = [b, *(User(700_010 + i, f"Other{i}", language_code="en") for i in range(others))]
    with workdir("hol") as folder:
        fake = BenchFake()
        fake.download_rate = RATE
        try:
            async with serve_fake(fake) as url:
                bot = BotProcess(OUR_BOT, bot_env(url, folder), folder / "bot.log")
                bot.start()
                try:
                    await wait_polling(fake, bot)
                    mark = fake.mark()
                    fake.send_command(a, "new")
                    await fake.wait_for(
                        "sendMessage",
                        lambda c: c.params["chat_id"] == a.id,
                        since=mark,
                        timeout=20,
                    )
                    # The first /start of each user (the users table is written): warm-up.
                    await ticker(fake, users, args.period, args.period)
                    baseline = await ticker(fake, users, 3.0, args.period)
                    mark = fake.mark()
                    fake.send_video(
                        a, b"", duration=15, width=640, height=360, file_size=VIDEO_BYTES
                    )
                    await wait_until(lambda: bool(fake.downloads), 20, "A's download", bot)
                    cpu, everything = bot.cpu_seconds(), system_cpu_seconds()
                    own, began = time.process_time(), time.monotonic()
                    during = await ticker(fake, users, args.seconds, args.period)
                    elapsed = time.monotonic() - began
                    cpu = bot.cpu_seconds() - cpu
                    own = time.process_time() - own
                    others = system_cpu_seconds() - everything - cpu - own
                    await wait_until(lambda: bool(fake.streams), 30, "A's download end", bot)
                    refused = await fake.wait_for(
                        "sendMessage",
                        lambda c: c.params["chat_id"] == a.id,
                        since=mark,
                        timeout=30,
                    )
                except BaseException:
                    print(f"--- bot log ---\n{bot.tail()}")
                    raise
                finally:
                    await bot.stop()
        finally:
            await fake.aclose()

    _, first, last, sent = fake.streams[0]
    get_file = next(c for c in fake.calls[mark:] if c.method == "getFile")
    pushes = [pushed for chat in during.samples.values() for pushed, _ in chat]
    inside = sum(first <= p <= last for p in pushes)
    print(
        f"A's video: {sent:,} bytes downloaded in {last - first:.2f} s "
        f"({sent / (last - first) / 1e6:.2f} MB/s; throttle {RATE / 1e6:g} MB/s); "
        f"getFile -> refusal sent {refused[0].at - get_file.at:.2f} s"
    )
    print(
        f"/start burst {min(pushes) - first:+.2f} s .. {max(pushes) - first:+.2f} s after the "
        f"download's first byte; {inside}/{len(pushes)} pushed while it was downloading"
    )
    print(
        f"CPU during the burst: bot {cpu / elapsed:.0%} of a core, fake {own / elapsed:.0%}, "
        f"other processes {max(others, 0) / elapsed:.0%}"
    )
    report("baseline, no download (3 s)", baseline, b)
    report(f"during A's download ({args.seconds:g} s)", during, b)
    worst = sorted(
        (
            (lat, pushed - first, chat)
            for chat, rows in during.samples.items()
            for pushed, lat in rows
        ),
        reverse=True,
    )[:5]
    print(
        "  slowest: "
        + ", ".join(f"{lat * 1000:.0f} ms at +{at:.2f} s ({chat})" for lat, at, chat in worst)
    )
    p99 = percentile(during.latencies(b.id), 99)
    overlapped = inside == len(pushes) and sent == VIDEO_BYTES
    print(verdict(p99 < TARGET_P99, f"B's p99 {p99 * 1000:.1f} ms < {TARGET_P99 * 1000:.0f} ms"))
    if not overlapped:
        print("WARNING: the burst did not fully overlap the download; the figure is weaker")


if __name__ == "__main__":
    asyncio.run(main())
