"""Verified provider webhooks waiting to be confirmed with the provider.

A burst of webhooks (say 10,000 at once) must not become 10,000 concurrent provider reads and
database queries: they wait in a queue that a few workers drain (bench/inflight_jobs.py).
Webhooks about the same job that wait together are confirmed once, since a confirmation reads
the provider and the newest state wins either way; one that arrives while its job is being
confirmed is queued again, so no news is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable

from bot.models import RemoteJob
from bot.tasks import BackgroundTasks, Busy

log = logging.getLogger(__name__)

#: Confirmations (a provider read each) running at once.
WORKERS = 8

#: confirm(provider name, what the webhook claims, our job id when its URL names it)
Confirm = Callable[[str, RemoteJob, int | None], Awaitable[None]]


class WebhookInbox:
    def __init__(self, confirm: Confirm, tasks: BackgroundTasks, busy: Busy) -> None:
        self._confirm = confirm
        self._tasks = tasks
        self._busy = busy
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._pending: dict[str, tuple[str, RemoteJob, int | None]] = {}
        self._workers = 0
        self._worker_ids = itertools.count()

    def put(self, provider_name: str, hint: RemoteJob, job_id: int | None) -> None:
        """Queue a verified webhook's confirmation and return at once."""
        key = f"{provider_name}:{job_id if job_id is not None else hint.provider_job_id}"
        queued = key in self._pending
        self._pending[key] = (provider_name, hint, job_id)
        if not queued:
            self._queue.put_nowait(key)
            self._busy.add(+1)
        # Workers stop when the queue is empty; start as many as there is work for.
        while self._workers < min(WORKERS, self._queue.qsize()):
            self._workers += 1
            self._tasks.spawn(f"confirm-worker:{next(self._worker_ids)}", self._work())

    async def _work(self) -> None:
        try:
            while not self._queue.empty():
                key = self._queue.get_nowait()
                provider_name, hint, job_id = self._pending.pop(key)
                try:
                    await self._confirm(provider_name, hint, job_id)
                except Exception:
                    log.exception("Confirming a %s webhook failed", provider_name)
                finally:
                    self._busy.add(-1)
        finally:
            self._workers -= 1
