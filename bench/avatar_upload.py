"""A custom avatar's upload (issue 9): the bot's memory, throughput and event loop while it
sends a 200 MB training video to Creatify.

What runs: ``CustomAvatars.create`` as ``open_services`` composes it (the real Creatify
provider from ``build_providers``, the shared httpx client as ``bot/services.py`` makes it, the
SQLite repository), in a child process of its own, so that its RSS is its own. It checks the
videos and the account's slots, copies the videos beside the avatar's row (``keep``, in a
thread), then ``CreatifyProvider.create_persona`` streams the multipart body it builds by hand
(``bot/providers/creatify_personas.py`` ``Upload``: every open and 64 KB read in a worker
thread, Content-Length known). The fake Creatify (``tests/fakes/creatify.py``, its custom
avatars in ``tests/fakes/creatify_personas.py``, upload limit raised) runs in this process,
and checks what it receives: sizes, types, and an MP4 header (the training video is an
``ftyp`` box followed by random bytes).

Measured, per mode, each in a fresh child:

* peak RSS above the child at rest: after a warm-up upload of 1 MB (imports, the connection,
  the thread pool), the child waits; its VmRSS is sampled for 2 s (median), VmHWM is reset
  (``clear_refs``), then the upload runs; VmHWM is read when it has answered. VmRSS is also
  sampled every 10 ms. Target for the bot's code: under 20 MB above rest.
* throughput: body bytes over the POST (from the call to the answer: the fake takes the
  whole body in, then parses and hashes it before it answers, over a second of its own for
  200 MB), and over the time from the body's first chunk to its last one (how fast the
  client hands the body to the socket, the fake reading it as it comes);
* the event loop of the child: a ticker task sleeps 10 ms at a time throughout; a tick's
  lateness is its gap less 10 ms. Reported: the longest gap (stall) and the p99 lateness.
  Target: no stall over 50 ms.

Modes: ``bot`` (the above); ``whole``, a naive baseline (the file read whole in a worker
thread, then posted with httpx ``files=``: the memory a non-streamed upload costs); ``file``,
httpx ``files=`` given the open file (httpx streams it, reading it on the event loop).

Exits 1 when a target is missed. Run: ``.venv/bin/python bench/avatar_upload.py [--mb 200]
[--modes bot,whole,file]`` (about 20 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from _common import (
    PYTHON,
    RssSampler,
    bot_env,
    machine,
    percentile,
    raise_priority,
    reset_peak_rss,
    status_kb,
    verdict,
    workdir,
)

MB = 1_000_000
MIB = 1024 * 1024
#: Peak RSS above rest the bot's upload may add (decimal MB: the stricter reading).
RSS_TARGET = 20 * MB
#: The longest the event loop may stall while it uploads.
STALL_TARGET = 0.050
TICK = 0.010
REST = 2.0
CONSENT_BYTES = 2 * MB
WARM_BYTES = 1 * MB
#: An MP4's first box (``ftyp``, isom): what the fake's content check looks for.
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
MODES = ("bot", "whole", "file")


def make_video(path: Path, size: int) -> Path:
    """``size`` bytes: an MP4 header, then random bytes (nothing compresses them away)."""
    with path.open("wb") as out:
        out.write(MP4_HEAD)
        left = size - len(MP4_HEAD)
        while left > 0:
            step = min(left, 4 * MIB)
            out.write(os.urandom(step))
            left -= step
    return path


# --------------------------------------------------------------------------- the child


class Ticker:
    """Sleeps TICK at a time and keeps every gap between two wake-ups."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            await asyncio.sleep(TICK)
            now = time.monotonic()
            self.gaps.append(now - last)
            last = now

    async def stop(self) -> list[float]:
        self._stop.set()
        if self._task is not None:
            await self._task
        return self.gaps


def stamp_stream(stamps: dict[str, float]) -> None:
    """Stamp the first and last chunk of every Upload body (this process only)."""
    from bot.providers import creatify_personas

    original = creatify_personas.Upload._stream

    async def stamped(
        self: creatify_personas.Upload, pieces: list[bytes | tuple[Path, int]]
    ) -> AsyncIterator[bytes]:
        stamps.pop("last", None)
        async for chunk in original(self, pieces):
            stamps.setdefault("first", time.monotonic())
            yield chunk
        stamps["last"] = time.monotonic()  # the consumer asked past the last chunk: it is sent

    creatify_personas.Upload._stream = stamped  # type: ignore[method-assign]


class StampedBody(httpx.AsyncByteStream):
    """An httpx request body (the baselines'): its first and last chunk stamped."""

    def __init__(self, stream: Any, stamps: dict[str, float]) -> None:
        self._stream = stream
        self._stamps = stamps

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._stamps.setdefault("first", time.monotonic())
            yield chunk
        self._stamps["last"] = time.monotonic()


@contextlib.asynccontextmanager
async def uploader(
    mode: str, consent: Path, stamps: dict[str, float]
) -> AsyncIterator[Callable[[Path], Awaitable[str]]]:
    """What uploads a training video in ``mode`` (and ``consent``); the persona id made."""
    from bot.avatars.catalog import AvatarCatalog
    from bot.avatars.custom import CustomAvatars
    from bot.avatars.custom_setup import persona_makers
    from bot.config import load_settings
    from bot.models import Gender
    from bot.providers import build_providers
    from bot.providers.creatify import CreatifyProvider
    from bot.providers.creatify_personas import CREATE_PATH, form
    from bot.tasks import BackgroundTasks
    from storage.custom_avatars import CustomAvatarRepository
    from storage.db import Database

    settings = load_settings(os.environ, env_file=None)
    db = await Database.open(settings.database_path)
    try:
        await db.migrate()
        # As bot/services.py open_services makes the client every provider shares.
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, read=60.0),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        ) as http:
            providers = build_providers(settings, http)
            creatify = providers["creatify"]
            assert isinstance(creatify, CreatifyProvider)
            create_persona = creatify.create_persona

            async def stamped_create(*args: Any) -> str:
                stamps["post"] = time.monotonic()  # after the checks and the copy
                return await create_persona(*args)

            creatify.create_persona = stamped_create  # type: ignore[method-assign,assignment]
            avatars = CustomAvatars(
                CustomAvatarRepository(db),
                persona_makers(providers),
                AvatarCatalog({}, settings.data_dir / "avatars"),
                BackgroundTasks(),
                settings.data_dir / "custom_avatars",
                who="everyone",
                admins=frozenset(),
                public_url="",
            )
            url = f"{creatify.api_url}{CREATE_PATH}"
            fields = form("Bench", Gender.FEMALE, None)

            async def post(files: Any) -> str:
                request = http.build_request(
                    "POST", url, headers=creatify.auth_headers(), data=fields, files=files
                )
                request.stream = StampedBody(request.stream, stamps)
                stamps["post"] = time.monotonic()
                answer = await http.send(request)
                answer.raise_for_status()
                return str(answer.json()["id"])

            async def upload(video: Path) -> str:
                if mode == "bot":
                    made = await avatars.create(1, 1, "Bench", Gender.FEMALE, video, consent)
                    if not made.training_path or not made.training_path.exists():
                        raise RuntimeError("the training video was not kept beside the avatar")
                    return made.persona_id or ""
                if mode == "whole":
                    data = await asyncio.to_thread(video.read_bytes)
                    extra = await asyncio.to_thread(consent.read_bytes)
                    return await post(
                        {
                            "lipsync_input": ("lipsync_input.mp4", data, "video/mp4"),
                            "consent_video": ("consent_video.mp4", extra, "video/mp4"),
                        }
                    )
                with video.open("rb") as one, consent.open("rb") as two:
                    return await post(
                        {
                            "lipsync_input": ("lipsync_input.mp4", one, "video/mp4"),
                            "consent_video": ("consent_video.mp4", two, "video/mp4"),
                        }
                    )

            yield upload
    finally:
        await db.close()


async def child(mode: str, training: Path, consent: Path, warm: Path) -> None:
    """One mode's upload, driven by lines on stdin (``go``, ``exit``); figures as one JSON
    line on stdout."""
    stamps: dict[str, float] = {}
    stamp_stream(stamps)
    async with uploader(mode, consent, stamps) as upload:
        await upload(warm)
        stamps.clear()
        print("ready", flush=True)
        assert (await asyncio.to_thread(sys.stdin.readline)).strip() == "go"
        ticker = Ticker()
        ticker.start()
        await asyncio.sleep(0.1)  # ticks at rest first
        started = time.monotonic()
        persona = await upload(training)
        answered = time.monotonic()
        gaps = await ticker.stop()
    lates = [max(0.0, gap - TICK) for gap in gaps]
    figures = {
        "persona": persona,
        "call": answered - started,
        "before_post": stamps["post"] - started,
        "post": answered - stamps["post"],
        "sent": stamps["last"] - stamps["first"],
        "answer_after_last": answered - stamps["last"],
        "ticks": len(gaps),
        "stall": max(gaps),
        "late_p50": percentile(lates, 50),
        "late_p99": percentile(lates, 99),
    }
    print(json.dumps(figures), flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "exit": VmHWM has been read


# --------------------------------------------------------------------------- the parent


async def read_line(stream: asyncio.StreamReader, timeout: float) -> str:  # noqa: ASYNC109
    line = await asyncio.wait_for(stream.readline(), timeout)
    if not line:
        raise RuntimeError("the child exited")
    return line.decode().strip()


async def rest_rss(pid: int) -> int:
    """Median VmRSS (kB) over REST seconds."""
    values = []
    for _ in range(round(REST / 0.01)):
        values.append(status_kb(pid, "VmRSS")["VmRSS"])
        await asyncio.sleep(0.01)
    return int(statistics.median(values))


async def run_mode(
    mode: str, env: dict[str, str], folder: Path, videos: tuple[Path, Path, Path]
) -> dict[str, Any]:
    """Start the child, measure it through one upload; its figures and ours."""
    log = folder / f"{mode}.log"
    with log.open("wb") as errors:
        proc = await asyncio.create_subprocess_exec(
            PYTHON,
            __file__,
            "--child",
            mode,
            *map(str, videos),
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        if await read_line(proc.stdout, 60) != "ready":
            raise RuntimeError("the child did not get ready")
        rest = await rest_rss(proc.pid)
        reset = reset_peak_rss(proc.pid)
        sampler = RssSampler(proc.pid)
        sampler.start()
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        figures: dict[str, Any] = json.loads(await read_line(proc.stdout, 600))
        peak = status_kb(proc.pid, "VmHWM")["VmHWM"]
        sampler.halt.set()
        sampler.join()
        proc.stdin.write(b"exit\n")
        await proc.stdin.drain()
        await asyncio.wait_for(proc.wait(), 30)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        print(f"--- {mode} child log ---\n{log.read_text(errors='replace')[-3000:]}")
        raise
    sampled = max(sampler.samples, default=0)
    figures |= {
        "rest": rest,
        "peak": peak if reset else max(peak, sampled),
        "reset": reset,
        "sampled": sampled,
        "samples": len(sampler.samples),
    }
    return figures


def report(mode: str, f: dict[str, Any], body: int, fake_size: int) -> list[bool]:
    added = (f["peak"] - f["rest"]) * 1024
    print(f"{mode}:")
    print(
        f"  RSS at rest {f['rest'] / 1024:.1f} MiB; peak during the upload "
        f"{f['peak'] / 1024:.1f} MiB ({'VmHWM, reset before' if f['reset'] else 'NOT reset'}); "
        f"sampled max {f['sampled'] / 1024:.1f} MiB ({f['samples']} samples); "
        f"peak - rest {added / MB:.1f} MB"
    )
    before = "checks and copy" if mode == "bot" else "file read whole"
    print(
        f"  body {body / MB:.1f} MB; call {f['call']:.2f} s: {f['before_post'] * 1000:.0f} ms "
        f"before the POST ({before if mode != 'file' else 'nothing'}), POST {f['post']:.2f} s "
        f"({body / MB / f['post']:.0f} MB/s; the body handed to the socket in {f['sent']:.2f} "
        f"s, answered {f['answer_after_last'] * 1000:.0f} ms after its last chunk)"
    )
    print(
        f"  event loop: {f['ticks']} ticks of {TICK * 1000:.0f} ms, longest gap "
        f"{f['stall'] * 1000:.1f} ms, lateness p50 {f['late_p50'] * 1000:.2f} ms, p99 "
        f"{f['late_p99'] * 1000:.2f} ms"
    )
    print(f"  the fake received a training video of {fake_size:,} bytes, persona {f['persona']}")
    if mode != "bot":
        return []
    checks = [added < RSS_TARGET, f["stall"] < STALL_TARGET]
    print("  " + verdict(checks[0], f"peak over rest {added / MB:.1f} MB < 20 MB"))
    print("  " + verdict(checks[1], f"longest stall {f['stall'] * 1000:.1f} ms < 50 ms"))
    return checks


async def main() -> int:
    from tests.fakes.creatify import FakeCreatify
    from tests.fakes.creatify import running as running_creatify

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=float, default=200.0, help="training video, decimal MB")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes {sorted(unknown)}")
    print(f"avatar_upload: {machine()}; {raise_priority()}")
    size = int(args.mb * MB)
    ok: list[bool] = []
    with workdir("avatar-upload") as folder:
        started = time.monotonic()
        training = await asyncio.to_thread(make_video, folder / "training.mp4", size)
        consent = await asyncio.to_thread(make_video, folder / "consent.mp4", CONSENT_BYTES)
        warm = await asyncio.to_thread(make_video, folder / "warm.mp4", WARM_BYTES)
        print(
            f"videos: training {size:,} B, consent {CONSENT_BYTES:,} B (an MP4 header, then "
            f"random bytes), made in {time.monotonic() - started:.1f} s"
        )
        fake = FakeCreatify()
        fake.custom.max_upload_bytes = size + MIB
        fake.custom.max_count = 1000
        fake.custom.auto_complete = False  # built only when told: never, here
        async with running_creatify(fake) as url:
            for mode in modes:
                run = folder / mode
                run.mkdir()
                env = bot_env(
                    "http://127.0.0.1:9",  # no Telegram: the child has no bot
                    run,
                    PROVIDERS="creatify",
                    CREATIFY_API_ID=fake.api_id,
                    CREATIFY_API_KEY=fake.api_key,
                    CREATIFY_API_URL=url,
                    CUSTOM_AVATARS="everyone",
                )
                figures = await run_mode(mode, env, folder, (training, consent, warm))
                build = fake.custom.builds[figures["persona"]]
                received = build.fields["lipsync_input"].size
                sent = received + build.fields["consent_video"].size
                ok += report(mode, figures, sent, received)
                if received != size:
                    print(f"  FAIL: the fake received {received:,} bytes, not {size:,}")
                    ok.append(False)
    print("PASS: every target met" if all(ok) else "FAIL: a target was missed")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, *paths = sys.argv[2:]
        training, consent, warm = map(Path, paths)
        asyncio.run(child(mode, training, consent, warm))
    else:
        sys.exit(asyncio.run(main()))
