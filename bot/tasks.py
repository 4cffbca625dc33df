"""Background work (downloads, ffmpeg, jobs) that must not hold up the update queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Keeps a reference to every task, one per key, and cancels them all on shutdown.

    Work here is always resumable from the database, so shutdown cancels rather than waits:
    a restart picks up every draft check and every job again.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(self, key: str, coro: Coroutine[Any, Any, None], *, replace: bool = False) -> bool:
        """Run ``coro`` in the background under ``key``.

        Args:
            key: identifies the work (``job:12``); at most one task runs per key.
            coro: the work.
            replace: cancel a running task with the same key first (a user restarted a step).

        Returns:
            False when a task with that key is already running and ``replace`` is off (``coro``
            is closed without running).
        """
        running = self._tasks.get(key)
        if running is not None and not running.done():
            if not replace:
                coro.close()
                return False
            running.cancel()
        task = asyncio.create_task(self._guard(key, coro), name=key)
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        # A task canceled before its first step (a shutdown right after a spawn) never runs
        # _guard, so nothing awaits ``coro``: close it (a no-op once it ran), or Python warns
        # "coroutine was never awaited" when it is collected.
        task.add_done_callback(lambda _: coro.close())
        return True

    def cancel(self, key: str) -> None:
        task = self._tasks.get(key)
        if task is not None:
            task.cancel()

    def running(self, key: str) -> bool:
        task = self._tasks.get(key)
        return task is not None and not task.done()

    async def close(self) -> None:
        """Cancel everything and wait until it has stopped."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def wait_idle(self) -> None:
        """Wait until no task is running (tests and benchmarks)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    @staticmethod
    async def _guard(key: str, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            # The work itself reports failures to users; this only keeps the traceback.
            log.exception("Background task %s failed", key)


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel one of our never-ending loops (a refresh, a watch, a sweep) and wait until it
    has ended; such loops live outside BackgroundTasks, whose wait_idle would never return."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Busy:
    """Counts urgent work under way, so less urgent work can wait for a quiet moment."""

    def __init__(self) -> None:
        self._count = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    def add(self, change: int) -> None:
        """Record ``change`` more (or, negative, fewer) pieces of urgent work."""
        self._count += change
        if self._count:
            self._quiet.clear()
        else:
            self._quiet.set()

    async def quiet(self, limit: float) -> None:
        """Wait until no urgent work is under way, or ``limit`` seconds at most."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), limit)
