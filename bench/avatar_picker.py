"""The avatar picker's first page: tap -> edit latency with 500 avatars, with and without a
refresh of the catalogue running at the same time (issue 8: p99 < 300 ms; a refresh never
delays a tap).

What is measured: ``--users`` users (20) each at the MEDIA step tap [Avatars] (the first
page of 500 avatars, edited in place), then [Back], ``--rounds`` times, ``--think`` seconds
(1) apart. A sample is the time from the moment the fake Telegram server has the tap ready
for getUpdates to the moment it receives the bot's editMessageText with the page. [Back]'s
edits are timed too and shown apart.

How, and why that way:

* The bot runs as ``python -m bot``'s code in a child process (its own interpreter and core,
  as in bench/start_latency.py); the fake Telegram and the fake Creatify (500 personas, each
  answer built in this process) run here, so one ``time.monotonic()`` stamps both ends.
* Two trials, each with a fresh bot, database and data folder. "quiet": the bot lists the
  avatars once at start (the bench waits for its copy on disk), then the catalogue is left
  alone. "refreshing": the same, but the bot asks Creatify for all 500 avatars again every
  ``--refresh`` seconds (0.25) for the whole trial: every refresh downloads, parses and
  cleans the list, swaps it in and writes it to disk, so taps land during refreshes all the
  time. The interval is shortened by starting the bot through a one-line wrapper that sets
  ``bot.avatars.catalog.REFRESH_EVERY`` (read when the catalogue is made); nothing else
  differs.
* The users are spread over one think time, and the think time keeps each chat under
  Telegram's pace of about one message a second (the bot paces its edits; a faster user
  would measure the pacing, not the picker). 20 users at 1 s make about 20 edits/s, within
  the 30/s overall.
* Printed: p50/p99/max per trial, the ratio refreshing/quiet, refreshes done during the
  refreshing trial, and the bot's CPU per tap.

Run: ``.venv/bin/python bench/avatar_picker.py [--users 20 --rounds 12 --think 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    BenchFake,
    BotProcess,
    Call,
    User,
    bot_env,
    machine,
    percentile,
    raise_priority,
    serve_fake,
    summary_ms,
    verdict,
    wait_polling,
    wait_until,
    workdir,
)

from tests.fakes.creatify import FakeCreatify
from tests.fakes.creatify import running as serve_creatify

AVATARS = 500
TARGET_P99 = 0.300
#: The bot, with the catalogue's refresh interval set first (``argv[1]``, seconds).
WRAPPED_BOT = (
    "-c",
    "import sys, bot.avatars.catalog as c; c.REFRESH_EVERY = float(sys.argv.pop(1)); "
    "from bot.cli import main; sys.exit(main(sys.argv[1:]))",
)


@dataclass
class Trial:
    name: str
    first_page: list[float] = field(default_factory=list)
    back: list[float] = field(default_factory=list)
    refreshes: int = 0
    bot_cpu: float = 0.0
    seconds: float = 0.0


def _to(chat_id: int, contains: str) -> Callable[[Call], bool]:
    def match(call: Call) -> bool:
        return (
            call.status == 200
            and call.params.get("chat_id") == chat_id
            and contains in str(call.params.get("text", ""))
        )

    return match


def _data(message: dict, label: str) -> str:
    return next(data for text, data in BenchFake.buttons(message) if text.startswith(label))


async def _user(
    fake: BenchFake, user: User, trial: Trial, rounds: int, think: float, delay: float
) -> None:
    """/new, then [Avatars] and [Back] ``rounds`` times (the first round not counted)."""
    mark = fake.mark()
    fake.send_command(user, "/new")
    prompt = (await fake.wait_for("sendMessage", _to(user.id, "Send a photo"), since=mark))[0]
    message = prompt.result
    await asyncio.sleep(delay)
    for n in range(rounds + 1):
        for label, shows, samples in (
            ("Avatars", "page 1 of", trial.first_page),
            ("Back", "Send a photo", trial.back),
        ):
            mark = fake.mark()
            pushed = time.monotonic()
            fake.press(user, message, _data(message, label))
            call = (await fake.wait_for("editMessageText", _to(user.id, shows), since=mark))[0]
            if n:
                samples.append(call.at - pushed)
            message = call.result
            await asyncio.sleep(think)


async def trial(name: str, refresh: float | None, args: argparse.Namespace) -> Trial:
    result = Trial(name)
    users = [User(700_000 + i, f"User{i}", language_code="en") for i in range(args.users)]
    with workdir("avatars") as folder:
        fake, creatify = BenchFake(), FakeCreatify(personas=AVATARS)
        creatify.record_calls = False
        async with serve_fake(fake) as url, serve_creatify(creatify) as creatify_url:
            env = bot_env(
                url,
                folder,
                CREATIFY_API_ID=creatify.api_id,
                CREATIFY_API_KEY=creatify.api_key,
                CREATIFY_API_URL=creatify_url,
                ALLOW_PRIVATE_URLS="true",
            )
            interval = str(refresh if refresh is not None else 6 * 3600)
            command = (*WRAPPED_BOT, interval, "--env-file", os.devnull)
            bot = BotProcess(command, env, folder / "bot.log")
            bot.start()
            try:
                await wait_polling(fake, bot)
                kept = Path(folder / "data" / "avatars" / "creatify.json")
                await wait_until(kept.exists, 30, "the avatars on disk", bot)
                asked = creatify.requests["GET /api/personas/"]
                cpu, started = bot.cpu_seconds(), time.monotonic()
                await asyncio.gather(
                    *(
                        _user(
                            fake,
                            user,
                            result,
                            args.rounds,
                            args.think,
                            args.think * i / len(users),
                        )
                        for i, user in enumerate(users)
                    )
                )
                result.seconds = time.monotonic() - started
                result.bot_cpu = bot.cpu_seconds() - cpu
                result.refreshes = creatify.requests["GET /api/personas/"] - asked
            finally:
                code = await bot.stop()
                if code not in (0, None):
                    print(f"  the bot exited with {code}:\n{bot.tail()}")
    return result


def report(trial: Trial) -> None:
    taps = len(trial.first_page) + len(trial.back)
    print(
        f"{trial.name}: {trial.refreshes} refreshes of {AVATARS} avatars in {trial.seconds:.1f} s"
    )
    print(f"  first page  {summary_ms(trial.first_page)}")
    print(f"  back        {summary_ms(trial.back)}")
    print(f"  bot CPU {trial.bot_cpu * 1000 / taps:.2f} ms per tap (refreshes included)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--refresh", type=float, default=0.25, help="seconds between refreshes")
    args = parser.parse_args()
    print(machine())
    print(raise_priority())
    quiet = await trial("quiet", None, args)
    report(quiet)
    busy = await trial("refreshing", args.refresh, args)
    report(busy)
    p99_quiet, p99_busy = percentile(quiet.first_page, 99), percentile(busy.first_page, 99)
    p50_quiet, p50_busy = percentile(quiet.first_page, 50), percentile(busy.first_page, 50)
    print(
        f"ratio refreshing/quiet: p50 {p50_busy / p50_quiet:.2f}x, p99 {p99_busy / p99_quiet:.2f}x"
    )
    print(
        verdict(
            p99_quiet < TARGET_P99, f"first page p99 {p99_quiet * 1000:.1f} ms < 300 ms (quiet)"
        )
    )
    every = f"refreshing every {args.refresh:g} s"
    print(
        verdict(
            p99_busy < TARGET_P99, f"first page p99 {p99_busy * 1000:.1f} ms < 300 ms ({every})"
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
