"""Shared helpers for the benchmarks: the instrumented fake, bot subprocesses, /proc readers.

Every benchmark runs the bot under test as a subprocess (``python -m bot`` for ours,
``bench/_echo_bot.py`` for the PTB baseline) and the fake Telegram server in the benchmark's
own process. That keeps the two apart on this 2-core machine (each has its own interpreter,
GIL and core), lets the benchmark read the bot's CPU time and RSS from ``/proc/<pid>``, and
still gives one clock for latencies: the fake stamps both the moment an update is pushed and
the moment the bot's reply arrives (``Call.at``), with ``time.monotonic()`` of one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ first, not the project root
    sys.path.insert(0, str(ROOT))
# PTB 22 warns when it builds a RetryAfter unless told to use timedeltas (as the app does).
os.environ.setdefault("PTB_TIMEDELTA", "1")

from tests.fakes.telegram import Call, FakeTelegram, StoredFile, User  # noqa: E402
from tests.fakes.telegram import running as serve_fake  # noqa: E402

TOKEN = "4242:BENCH-token-abcdef"
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")

__all__ = [
    "ECHO_BOT",
    "OUR_BOT",
    "PROFILE_RATE",
    "PYTHON",
    "ROOT",
    "TOKEN",
    "BenchFake",
    "BotProcess",
    "Call",
    "FifoLatencies",
    "RssSampler",
    "StoredFile",
    "User",
    "bot_env",
    "free_port",
    "machine",
    "percentile",
    "profile_table",
    "raise_priority",
    "reset_peak_rss",
    "serve_fake",
    "start_profiler",
    "status_kb",
    "stop_profiler",
    "summary_ms",
    "system_cpu_seconds",
    "verdict",
    "wait_polling",
    "wait_until",
    "workdir",
]


class BenchFake(FakeTelegram):
    """The tests' fake with hooks a benchmark needs and the tests do not.

    * ``on_message``: called with every answered sendMessage call, inside the request, so a
      closed-loop user can push its next update the moment it "sees" the reply.
    * ``streams``: (file_path, first byte time, last byte time, bytes) of every download.
    * ``edit_gate``: while set and not open, editMessageText waits for it (holds a bot
      request open, so a benchmark can sample the bot at rest before it goes on).
    """

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(token)
        self.on_message: Callable[[Call], None] | None = None
        self.streams: list[tuple[str, float, float, int]] = []
        self.edit_gate: asyncio.Event | None = None

    async def _send_message(self, call: Call) -> Any:
        result = await super()._send_message(call)
        if self.on_message is not None:
            self.on_message(call)
        return result

    async def _edit_message_text(self, call: Call) -> Any:
        if self.edit_gate is not None:
            await self.edit_gate.wait()
        return await super()._edit_message_text(call)

    async def _stream(self, stored: StoredFile) -> AsyncIterator[bytes]:
        started, sent = time.monotonic(), 0
        async for chunk in super()._stream(stored):
            sent += len(chunk)
            yield chunk
        self.streams.append((stored.file_path, started, time.monotonic(), sent))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary folder for the database, data and logs of one bot run."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-") as folder:
        yield Path(folder)


def bot_env(base_url: str, folder: Path, **extra: str) -> dict[str, str]:
    """The environment both bots get (the echo bot reads only the token and the URL)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "DATABASE_", "HTTP_", "DATA_DIR", "LOG_LEVEL"))
    }
    env |= {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": base_url,
        "DATABASE_URL": f"sqlite:///{folder / 'bot.db'}",
        "DATA_DIR": str(folder / "data"),
        "HTTP_PORT": str(free_port()),
        "LOG_LEVEL": "WARNING",
        "PTB_TIMEDELTA": "1",
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    return env


OUR_BOT = ("-m", "bot", "--env-file", os.devnull)
ECHO_BOT = (str(ROOT / "bench" / "_echo_bot.py"),)


@dataclass
class BotProcess:
    """A bot running as a child process; its output goes to ``log``."""

    args: Sequence[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [PYTHON, *self.args],
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def stop(self, timeout: float = 15.0) -> int | None:  # noqa: ASYNC109
        """SIGTERM (the bots stop cleanly on it), SIGKILL after ``timeout`` seconds."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            await wait_until(lambda: not self.alive(), timeout, "the bot to exit", None, False)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def status_kb(self, *keys: str) -> dict[str, int]:
        """Fields of /proc/<pid>/status in kB (VmRSS, VmHWM, ...)."""
        return status_kb(self.pid, *keys)

    def reset_peak_rss(self) -> bool:
        """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
        return reset_peak_rss(self.pid)


def status_kb(pid: int, *keys: str) -> dict[str, int]:
    """Fields of /proc/<pid>/status in kB (VmRSS, VmHWM, ...)."""
    wanted, found = set(keys), {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in wanted:
            found[name] = int(value.split()[0])
    return found


def reset_peak_rss(pid: int) -> bool:
    """Reset ``pid``'s VmHWM to its current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler(threading.Thread):
    """VmRSS (kB) of ``pid`` every 10 ms until ``halt`` is set (a thread: this process's
    event loop may be busy, serving the fake the measured process talks to)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[int] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.01):
            try:
                self.samples.append(status_kb(self.pid, "VmRSS")["VmRSS"])
            except (OSError, KeyError):
                return


async def wait_until(
    check: Callable[[], bool],
    timeout: float,  # noqa: ASYNC109
    what: str,
    bot: BotProcess | None = None,
    fail: bool = True,
) -> None:
    """Poll ``check`` every 10 ms; on timeout raise (with the bot's log tail) or return."""
    deadline = time.monotonic() + timeout
    while not check():
        if bot is not None and not bot.alive():
            raise RuntimeError(f"the bot exited while waiting for {what}:\n{bot.tail()}")
        if time.monotonic() > deadline:
            if not fail:
                return
            tail = f"\nbot log:\n{bot.tail()}" if bot is not None else ""
            raise TimeoutError(f"gave up after {timeout:g}s waiting for {what}{tail}")
        await asyncio.sleep(0.01)


async def wait_polling(fake: FakeTelegram, bot: BotProcess, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Until the bot has called getUpdates once (it is then ready for updates)."""

    def polling() -> bool:
        return any(c.method == "getUpdates" for c in fake.calls)

    await wait_until(polling, timeout, "the first getUpdates", bot)


def system_cpu_seconds() -> float:
    """CPU time used by everything on the machine so far (all cores, from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), linear between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(values: Sequence[float]) -> str:
    """``p50 / p99 / max`` of seconds, shown in milliseconds."""
    return (
        f"p50 {percentile(values, 50) * 1000:7.2f} ms   p99 {percentile(values, 99) * 1000:7.2f} "
        f"ms   max {max(values) * 1000:7.2f} ms   (n={len(values)})"
    )


def verdict(ok: bool, what: str) -> str:
    return f"{'PASS' if ok else 'FAIL'}: {what}"


def raise_priority(niceness: int = -10) -> str:
    """Run this process and the bots it starts (children inherit it) ahead of other work on
    the machine, to shrink the noise of other processes sharing the 2 cores; needs root."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except PermissionError:
        return f"priority: normal (nice {os.getpriority(os.PRIO_PROCESS, 0)}; not root)"
    return f"priority: nice {niceness} (bots inherit it)"


def machine() -> str:
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"Python {sys.version.split()[0]}, {os.uname().sysname} {os.uname().release}"
    )


class FifoLatencies:
    """Push time per chat, matched first-in first-out with the bot's replies to that chat.

    A chat's updates are answered in order (our bot locks per chat, PTB's default runs one
    update at a time), so the n-th reply to a chat answers its n-th pushed update.
    """

    def __init__(self) -> None:
        self.pending: dict[int, deque[float]] = {}
        self.samples: dict[int, list[tuple[float, float]]] = {}  # chat -> (pushed, latency)

    def pushed(self, chat_id: int, at: float) -> None:
        self.pending.setdefault(chat_id, deque()).append(at)

    def replied(self, chat_id: int, at: float) -> float | None:
        queue = self.pending.get(chat_id)
        if not queue:
            return None
        sent = queue.popleft()
        self.samples.setdefault(chat_id, []).append((sent, at - sent))
        return at - sent

    def latencies(self, chat_id: int | None = None) -> list[float]:
        chats = [chat_id] if chat_id is not None else list(self.samples)
        return [lat for chat in chats for _, lat in self.samples.get(chat, [])]

    def outstanding(self) -> int:
        return sum(len(q) for q in self.pending.values())


# --------------------------------------------------------------------------- profiling

PY_SPY = Path(PYTHON).with_name("py-spy")
#: py-spy samples per second.
PROFILE_RATE = 200


def start_profiler(bot: BotProcess, out: Path | None) -> subprocess.Popen[bytes] | None:
    """Attach py-spy to the bot, if asked: samples of the threads holding the GIL (what
    competes for the bot's one core), as collapsed stacks in ``out``."""
    if out is None:
        return None
    if not PY_SPY.exists():
        raise RuntimeError(f"profiling needs py-spy: {PYTHON} -m pip install py-spy")
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [str(PY_SPY), "record", "--pid", str(bot.pid), "--rate", str(PROFILE_RATE)]
    command += ["--gil", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def stop_profiler(spy: subprocess.Popen[bytes] | None) -> None:
    """SIGINT makes py-spy write its file; wait for that (bounded)."""
    if spy is None:
        return
    spy.send_signal(signal.SIGINT)
    for _ in range(200):
        if spy.poll() is not None:
            return
        await asyncio.sleep(0.05)
    spy.kill()


def _inclusive(path: Path) -> tuple[dict[str, int], int]:
    """Samples per function (any line, counted once per stack) and the total."""
    counts: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        n = int(number)
        total += n
        for frame in {frame.rsplit(":", 1)[0] + ")" for frame in stack.split(";")}:
            counts[frame] = counts.get(frame, 0) + n
    return counts, total


#: Frames worth showing when comparing the bots: entry points of each layer.
PROFILE_FRAMES = (
    "Handle._run (asyncio/events.py)",
    "Updater._start_polling.<locals>.polling_action_cb (telegram/ext/_updater.py)",
    "Application.process_update (telegram/ext/_application.py)",
    "_remember_user (handlers/__init__.py)",
    "Database.transaction (storage/db.py)",
    "_connection_worker_thread (aiosqlite/core.py)",
    "start (handlers/commands.py)",
    "start (_echo_bot.py)",
    "AIORateLimiter.process_request (telegram/ext/_aioratelimiter.py)",
    "Bot._send_message (telegram/_bot.py)",
    "AsyncClient.request (httpx/_client.py)",
    "AsyncConnectionPool._assign_requests_to_connections (httpcore/_async/connection_pool.py)",
    "current_async_library (httpcore/_synchronization.py)",
    "Message.de_json (telegram/_message.py)",
)


def profile_table(files: dict[str, Path], replies: dict[str, int], rate: int) -> str:
    """GIL-holding time per reply (ms) in selected frames, one column per bot."""
    loaded = {name: _inclusive(path) for name, path in files.items() if path.exists()}
    if not loaded:
        return "  (no profile files: is py-spy allowed to attach?)"

    def ms(name: str, samples: int) -> str:
        return f"{samples * 1000 / rate / replies[name]:7.2f}"

    names = list(loaded)
    lines = ["  " + "".join(f"{name:>8}" for name in names) + "   ms of GIL per reply in"]
    lines.append("  " + "".join(ms(n, loaded[n][1]) + " " for n in names) + "  everything")
    for frame in PROFILE_FRAMES:
        row = [loaded[n][0].get(frame, 0) for n in names]
        if any(row):
            cells = "".join(ms(n, c) + " " for n, c in zip(names, row, strict=True))
            lines.append(f"  {cells}  {frame}")
    return "\n".join(lines)
