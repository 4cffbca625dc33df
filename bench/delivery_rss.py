"""Peak memory of the bot while it uploads a finished 45 MB video to Telegram.

What is measured: the bot process's RSS at rest and its peak while delivering a real
45,000,000-byte (42.9 MiB) H.264 MP4 with sendVideo. Target: peak < idle + 60 MB. Delivery
streams the file from disk through httpx's multipart encoder (bot/telegram/files.py); reading
it whole, as PTB's own ``InputFile`` does, would add the file's size to the peak.

How, and why that way:

* The bot runs as a subprocess (``python -m bot``), so its RSS is its own: the fake Telegram
  server, which receives and stores the upload, runs in this process and is not counted.
  The kernel's own peak counter (VmHWM in /proc/<pid>/status) gives the true peak, however
  short; VmRSS is also sampled every 10 ms to show the curve's top.
* Getting the bot to deliver a 45 MB file: the preview renders small files, so the job is
  written straight into the bot's SQLite database (storage API) as ``succeeded`` with
  ``output_path`` set, before the bot starts; on start ``JobService.resume()`` delivers it,
  exactly as after a restart.
* Idle baseline, twice: run 1 starts the bot on an empty database and samples it for 3 s
  once it polls. Run 2 (with the job) holds the bot's first editMessageText ("sending...")
  open in the fake for 3 s: the bot has started and loaded the job, the upload has not begun;
  its RSS is sampled, VmHWM is reset (``clear_refs``), then the fake answers and the upload
  runs. The verdict uses the larger delta.
* Delivery first runs ffprobe on the file: a child process, not in the bot's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sqlite3
import statistics
import struct
import threading
import time
from pathlib import Path

from _common import (
    OUR_BOT,
    BenchFake,
    BotProcess,
    User,
    bot_env,
    machine,
    raise_priority,
    serve_fake,
    verdict,
    wait_polling,
    wait_until,
    workdir,
)

from bot.models import JobStatus, NewJob, Probe
from storage import Database, JobRepository
from tests.job_rows import photo_order
from tests.media import MB, make_big_video

VIDEO_BYTES = 45_000_000
SECONDS = 30.0
TARGET = 60_000_000  # bytes above idle (60 MB, decimal: the stricter reading)
REST = 3.0  # seconds sampled at rest


def make_video(path: Path) -> Path:
    """A real MP4 of exactly VIDEO_BYTES: an encode a little smaller (re-done smaller if the
    encoder overshoots), then a top-level ``free`` box, which MP4 readers skip, up to size."""
    target = VIDEO_BYTES * 0.95
    for _ in range(4):
        make_big_video(path, target / MB, SECONDS)
        made = path.stat().st_size
        if made <= VIDEO_BYTES - 8:
            break
        target *= VIDEO_BYTES * 0.95 / made
    else:
        raise RuntimeError(f"could not encode under {VIDEO_BYTES} bytes (last {made})")
    missing = VIDEO_BYTES - made
    with path.open("ab") as out:
        out.write(struct.pack(">I", missing) + b"free" + bytes(missing - 8))
    return path


class Sampler(threading.Thread):
    """VmRSS of ``bot`` every 10 ms until stopped (a thread: the event loop may be busy)."""

    def __init__(self, bot: BotProcess) -> None:
        super().__init__(daemon=True)
        self.bot = bot
        self.samples: list[int] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.01):
            try:
                self.samples.append(self.bot.status_kb("VmRSS")["VmRSS"])
            except (OSError, KeyError):
                return


async def sample_rest(bot: BotProcess, seconds: float) -> int:
    """Median VmRSS (kB) over ``seconds`` at rest."""
    values = []
    for _ in range(round(seconds / 0.01)):
        values.append(bot.status_kb("VmRSS")["VmRSS"])
        await asyncio.sleep(0.01)
    return int(statistics.median(values))


async def insert_job(db_path: Path, video: Path, chat_id: int, status_message_id: int) -> int:
    db = await Database.open(db_path)
    try:
        await db.migrate()
        repo = JobRepository(db)
        face = Probe(duration=None, width=1280, height=720, has_video=True, is_image=True)
        job = await repo.create(
            NewJob(
                chat_id=chat_id,
                user_id=chat_id,
                chat_type="private",
                locale="en",
                provider="preview",
                order=photo_order(
                    str(video),
                    str(video),
                    face_probe=face,
                    voice_probe=Probe(duration=SECONDS, has_audio=True),
                    ratio="16:9",
                ),
            ),
        )
        await repo.update(job.id, status_message_id=status_message_id)
        moved = await repo.transition(
            job.id, [JobStatus.SUBMITTING], JobStatus.SUCCEEDED, output_path=str(video)
        )
        assert moved
        return job.id
    finally:
        await db.close()


def job_status(db_path: Path, job_id: int) -> str:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return str(row[0]) if row else ""


async def idle_run(folder: Path) -> tuple[int, int]:
    """Run 1: (median VmRSS at rest, VmHWM) in kB of a bot with nothing to do."""
    fake = BenchFake()
    try:
        async with serve_fake(fake) as url:
            bot = BotProcess(OUR_BOT, bot_env(url, folder), folder / "bot.log")
            bot.start()
            try:
                await wait_polling(fake, bot)
                await asyncio.sleep(1.0)  # let start-up work (commands menu, resume) finish
                rest = await sample_rest(bot, REST)
                peak = bot.status_kb("VmHWM")["VmHWM"]
            except BaseException:
                print(f"--- bot log ---\n{bot.tail()}")
                raise
            finally:
                await bot.stop()
    finally:
        await fake.aclose()
    return rest, peak


async def delivery_run(folder: Path, video: Path) -> dict[str, float]:
    """Run 2: the bot resumes a succeeded job and uploads ``video``."""
    user = User(800_001, "Ann", language_code="en")
    fake = BenchFake()
    fake.edit_gate = asyncio.Event()
    status = fake._bot_message(fake.chat_for(user), {}, {"text": "Job queued"})
    db_path = folder / "bot.db"
    job_id = await insert_job(db_path, video, user.id, status["message_id"])
    figures: dict[str, float] = {}
    try:
        async with serve_fake(fake) as url:
            bot = BotProcess(OUR_BOT, bot_env(url, folder), folder / "bot.log")
            bot.start()
            try:
                await wait_polling(fake, bot)

                def edit_waiting() -> bool:
                    return any(c.method == "editMessageText" for c in fake.calls)

                await wait_until(edit_waiting, 30, "the 'sending' status edit", bot)
                figures["startup_hwm"] = bot.status_kb("VmHWM")["VmHWM"]
                figures["rest"] = await sample_rest(bot, REST)
                figures["reset"] = bot.reset_peak_rss()
                sampler = Sampler(bot)
                sampler.start()
                started = time.monotonic()
                fake.edit_gate.set()
                sent = await fake.wait_for("sendVideo", timeout=90)
                answered = time.monotonic()
                await wait_until(
                    lambda: job_status(db_path, job_id) == JobStatus.DELIVERED,
                    30,
                    "the job to be marked delivered",
                    bot,
                )
                figures["hwm"] = bot.status_kb("VmHWM")["VmHWM"]
                sampler.halt.set()
                sampler.join()
                figures["sampled_max"] = max(sampler.samples)
                figures["samples"] = len(sampler.samples)
                figures["upload_seconds"] = answered - sent[0].at
                figures["release_to_answer"] = answered - started
                figures["status"] = sent[0].status or 0
                params = sent[0].params
                figures |= {k: float(params.get(k) or 0) for k in ("duration", "width", "height")}
            except BaseException:
                print(f"--- bot log ---\n{bot.tail()}")
                raise
            finally:
                await bot.stop()
        uploads = [u for u in fake.uploads if u.method == "sendVideo"]
        figures["upload_bytes"] = uploads[-1].size if uploads else 0
        figures["same_bytes"] = bool(uploads) and digest(uploads[-1].path) == digest(video)
    finally:
        await fake.aclose()
    return figures


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def mib(kb: float) -> str:
    return f"{kb / 1024:6.1f} MiB"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.parse_args()
    print(f"delivery_rss: {machine()}; {raise_priority()}")
    with workdir("rss") as folder:
        video = await asyncio.to_thread(make_video, folder / "big.mp4")
        size = video.stat().st_size
        print(f"video: {size:,} bytes ({size / MB:.2f} MiB), {SECONDS:g} s H.264 + AAC")
        (folder / "run1").mkdir()
        (folder / "run2").mkdir()
        idle, idle_hwm = await idle_run(folder / "run1")
        run = await delivery_run(folder / "run2", video)
    delivery_peak = run["hwm"] if run["reset"] else max(run["hwm"], run["sampled_max"])
    print(f"run 1, idle:   VmRSS {mib(idle)} (median of {REST:g} s)   VmHWM {mib(idle_hwm)}")
    print(
        f"run 2, before the upload: VmRSS {mib(run['rest'])}   "
        f"VmHWM since start {mib(run['startup_hwm'])}"
    )
    print(
        f"run 2, delivering: VmHWM {mib(run['hwm'])} "
        f"({'reset before the upload' if run['reset'] else 'NOT reset: includes start-up'})   "
        f"sampled max VmRSS {mib(run['sampled_max'])} ({run['samples']:.0f} samples)"
    )
    print(
        f"upload: fake received {run['upload_bytes']:,.0f} bytes "
        f"({'identical to the file' if run['same_bytes'] else 'NOT the same bytes'}), "
        f"sendVideo ({run['width']:.0f}x{run['height']:.0f}, {run['duration']:.0f} s as probed "
        f"by the bot) answered {run['status']:.0f}; request to answer {run['upload_seconds']:.2f} "
        f"s, status edit released to answer {run['release_to_answer']:.2f} s (ffprobe first)"
    )
    deltas = {"run 1 idle": idle, "run 2 before upload": run["rest"]}
    worst = 0.0
    for name, base in deltas.items():
        delta = (delivery_peak - base) * 1024
        worst = max(worst, delta)
        print(f"peak - {name}: {delta / 1e6:6.1f} MB ({delta / MB:.1f} MiB)")
    ok = worst < TARGET and bool(run["same_bytes"])
    print(verdict(ok, f"peak over idle {worst / 1e6:.1f} MB < {TARGET / 1e6:.0f} MB"))


if __name__ == "__main__":
    asyncio.run(main())
