"""Process-wide caps on heavy media work: ffmpeg encodes and result downloads.

Five users starting five x264 encoders on a two-core machine make every one of them five
times slower (and may trip their timeouts); past the number of cores, more at once only adds
memory and contention. Probes are not limited: they take milliseconds and a user waits on them.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


def _cores() -> int:
    return os.cpu_count() or 2


class WorkLimit:
    """At most ``size`` holders of a slot at once; the others wait without blocking the loop.

    An asyncio.Semaphore belongs to the event loop that first waits on it, so one made at
    import time breaks under a second loop (every test has its own). This keeps one
    semaphore per running loop instead; a running bot has exactly one loop, so for it the
    limit is process-wide.
    """

    def __init__(self, size: int | None = None) -> None:
        self.size = size if size is not None else _cores()
        if self.size < 1:
            raise ValueError(f"a work limit needs at least one slot, not {self.size}")
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.size)
        return semaphore

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the body, waiting for one to free up first if all are taken."""
        async with self._semaphore():
            yield


#: ffmpeg encodes: renders, normalisation for providers, re-encodes to fit Telegram's limit.
ENCODES = WorkLimit()
#: Downloads of providers' finished videos (up to a gigabyte each, written to disk).
DOWNLOADS = WorkLimit()
