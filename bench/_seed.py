"""Magic Hour jobs as an earlier run of the bot would have left them, and timing their completion.

The benchmarks that start with many jobs in flight write them straight into the bot's SQLite
and into the fake provider's memory: creating thousands of jobs through the API would measure
the fake's create path, not the bot. Both fakes run in the benchmark's process, so one clock
times a completion webhook and the bot's ``sendVideo`` that follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import BenchFake, bot_env, free_port, wait_until

from tests.fakes.magichour import FakeMagicHour, VideoJob
from tests.fakes.magichour import running as running_magichour
from tests.fakes.telegram import running as running_telegram

#: The probe stored for the seeded face photo (the bot does not probe it again).
PHOTO_PROBE = {"duration": None, "width": 640, "height": 480, "has_video": True, "is_image": True}


def order_data(face: Path, voice: Path, seconds: float) -> str:
    """The stored order: ``face`` as a photo, ``voice`` as a recording of ``seconds``, 9:16."""
    return json.dumps(
        {
            "face": {"kind": "photo", "path": str(face), "probe": PHOTO_PROBE},
            "voice": {
                "kind": "audio",
                "path": str(voice),
                "probe": {"duration": seconds, "has_audio": True},
            },
            "ratio": "9:16",
        }
    )


@dataclass(frozen=True)
class SeededJob:
    """One row of ``jobs``: a private chat in English, a photo and a voice, 9:16."""

    chat_id: int
    provider: str
    status: str
    voice: Path
    voice_seconds: float
    provider_job_id: str | None = None
    #: None: an hour from now (the bot's own deadline and poll schedule take over).
    next_poll_at: datetime | None = None
    submit_started_at: datetime | None = None


def create_schema(db: Path) -> None:
    """The schema, made by the bot's own migrations."""
    from storage.migrations import MIGRATIONS

    with sqlite3.connect(db) as conn:
        for number, script in enumerate(MIGRATIONS, start=1):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")


def insert_jobs(db: Path, jobs: Iterable[SeededJob], *, face: Path) -> None:
    """Write ``jobs`` (the user is the chat) with ``face`` as every job's photo."""
    now = datetime.now(UTC)
    later = (now + timedelta(hours=1)).isoformat()

    def stamp(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    conn = sqlite3.connect(db, timeout=5)
    conn.executemany(
        """
        INSERT INTO jobs (chat_id, user_id, chat_type, locale, provider, status, order_data,
            provider_job_id, submit_started_at, deadline_at, next_poll_at, created_at,
            updated_at)
        VALUES (?, ?, 'private', 'en', ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            (
                job.chat_id,
                job.chat_id,
                job.provider,
                job.status,
                order_data(face, job.voice, job.voice_seconds),
                job.provider_job_id,
                stamp(job.submit_started_at),
                later,
                stamp(job.next_poll_at) or later,
                now.isoformat(),
                now.isoformat(),
            )
            for job in jobs
        ],
    )
    conn.commit()
    conn.close()


def seed_provider(fake: FakeMagicHour, jobs: int) -> None:
    """Jobs ``mh0`` .. ``mh<jobs - 1>`` rendering at the fake (3 s talking photos)."""
    stamp = datetime.now(UTC).isoformat()
    for n in range(jobs):
        fake.jobs[f"mh{n}"] = VideoJob(
            id=f"mh{n}",
            type="TALKING_PHOTO",
            name=f"lipsync-bot #{n + 1}",
            created_at=stamp,
            start_seconds=0,
            end_seconds=3,
            fps=30,
            multiplier=1,
            credits_charged=90,
            inputs=(),
            planned=None,
            status="rendering",
        )


@dataclass
class MagicHourRun:
    """The two fakes, running, and the environment for a bot that uses them."""

    tg: BenchFake
    mh: FakeMagicHour
    port: int
    env: dict[str, str]


@contextlib.asynccontextmanager
async def magichour_fakes(
    folder: Path, output: Path, rendering_jobs: int, **extra_env: str
) -> AsyncIterator[MagicHourRun]:
    """Fake Telegram and fake Magic Hour (``rendering_jobs`` seeded, completed only when the
    benchmark says, webhooks to the bot's port), and the bot's environment for them."""
    tg = BenchFake()
    tg.strict_chats = False  # the seeded users "wrote to the bot" in an earlier life
    mh = FakeMagicHour(output=output)
    mh.auto_complete = False
    async with running_telegram(tg) as tg_url, running_magichour(mh) as mh_url:
        seed_provider(mh, rendering_jobs)
        port = free_port()
        mh.webhook_url = f"http://127.0.0.1:{port}/hooks/magichour"
        env = bot_env(
            tg_url,
            folder,
            HTTP_PORT=str(port),
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            MAGICHOUR_API_KEY=mh.api_key,
            MAGICHOUR_WEBHOOK_SECRET=mh.webhook_secret,
            MAGICHOUR_API_URL=mh_url,
            ALLOW_PRIVATE_URLS="true",
            **extra_env,
        )
        yield MagicHourRun(tg, mh, port, env)


async def time_completions(
    run: MagicHourRun,
    chat_base: int,
    jobs: range,
    *,
    gap: float,
    timeout: float,  # noqa: ASYNC109
) -> list[float]:
    """Complete the seeded jobs ``jobs`` one by one, ``gap`` seconds apart; seconds from each
    completion webhook to the whole (answered) sendVideo in its chat, ``chat_base + n``."""
    sent_at: dict[int, float] = {}
    for n in jobs:
        sent_at[chat_base + n] = time.monotonic()
        run.mh._finish(run.mh.jobs[f"mh{n}"], None)
        await asyncio.sleep(gap)

    def uploads() -> dict[int, float]:
        return {
            int(call.params.get("chat_id") or 0): call.at
            for call in run.tg.calls
            if call.method == "sendVideo" and call.status == 200
        }

    await wait_until(
        lambda: all(chat in uploads() for chat in sent_at),
        timeout,
        "every completed job to be in its chat",
    )
    done = uploads()
    return [done[chat] - sent for chat, sent in sent_at.items()]
