"""The hosted-file sweep lists and deletes folders in worker threads, never on the event loop
(a slow disk or thousands of folders would stall every chat), and deletes the right ones."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.media import hosting
from bot.media.hosting import GRACE_SECONDS, MediaHost
from bot.models import Job
from bot.signing import Signer
from storage.db import now


async def test_the_sweep_touches_the_disk_only_in_worker_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "hosted"
    for job_id in (1, 2, 3):
        (root / str(job_id)).mkdir(parents=True)
        (root / str(job_id) / "voice.mp3").write_bytes(b"mp3")
    (root / "not-a-job").mkdir()
    loop_thread = threading.get_ident()
    threads: list[tuple[str, int]] = []
    real_iterdir, real_rmtree = Path.iterdir, shutil.rmtree

    def iterdir(self: Path) -> Iterator[Path]:
        if self == root:
            threads.append(("list", threading.get_ident()))
        return real_iterdir(self)

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        threads.append(("delete", threading.get_ident()))
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    monkeypatch.setattr(hosting.shutil, "rmtree", rmtree)

    at = now()
    ended = at - timedelta(seconds=GRACE_SECONDS + 1)
    recent = at - timedelta(seconds=GRACE_SECONDS - 60)

    async def lookup(job_id: int) -> Job | None:
        if job_id == 3:
            return None  # the job is gone: its files go too
        finished = ended if job_id == 1 else recent
        return cast(Job, SimpleNamespace(id=job_id, finished_at=finished))

    host = MediaHost(root, "https://bot.example", Signer.from_token("1:abc"))
    assert await host.sweep(lookup, at=at) == 2
    assert sorted(p.name for p in real_iterdir(root)) == ["2", "not-a-job"]
    assert [kind for kind, _ in threads] == ["list", "delete", "delete"]
    assert all(thread != loop_thread for _, thread in threads)
