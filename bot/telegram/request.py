"""The HTTP client PTB uses for Bot API calls, with a cap on requests in flight."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.request import HTTPXRequest

#: Bot API calls in flight at once. Updates from many chats are handled concurrently, but
#: with ~50 requests open httpx's pool spent more CPU rescanning its connections than the
#: bot spent on everything else (bench/start_latency.py, py-spy: 1.9 ms per reply); beyond
#: this many, calls wait on a semaphore, which costs nothing while waiting.
MAX_IN_FLIGHT = 8


class BoundedRequest(HTTPXRequest):
    def __init__(self, max_in_flight: int = MAX_IN_FLIGHT, **kwargs: Any) -> None:
        super().__init__(connection_pool_size=max_in_flight, **kwargs)
        self._slots = asyncio.Semaphore(max_in_flight)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        async with self._slots:
            return await super().do_request(*args, **kwargs)
