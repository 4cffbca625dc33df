"""The fake Creatify's outgoing side: downloading job inputs and POSTing webhooks.

Why a separate piece: the real service downloads every media URL itself, so the fake does too,
with one shared ``httpx.AsyncClient`` behind a semaphore (10,000 requests queued inside
httpcore's pool would cost seconds of blocked event loop; queued on the semaphore they cost
nothing), and probes spoken audio with the bot's own ``bot.media.probe`` to bill its length.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import NamedTuple

import httpx

from bot.errors import MediaError
from bot.media.probe import probe
from tests.fakes import creatify_media as media
from tests.fakes.creatify_forms import Input

CHUNK = 64 * 1024
HEAD = 16


class Fetch(NamedTuple):
    """One input download; ``status`` is 0 when the connection failed, ``format`` what the
    first bytes looked like (creatify_media.sniff)."""

    job_id: str
    field: str
    url: str
    status: int
    size: int
    format: str | None


class Outgoing:
    """Made lazily by the fake; ``concurrency`` and ``probe_concurrency`` are read once."""

    def __init__(self, concurrency: int, probe_concurrency: int) -> None:
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, pool=None),
            limits=httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            ),
            follow_redirects=True,
            headers={"User-Agent": "fake-creatify"},
        )
        self._gate = asyncio.Semaphore(concurrency)
        self._probe_gate = asyncio.Semaphore(probe_concurrency)
        self._tmp: Path | None = None

    async def aclose(self) -> None:
        await self.client.aclose()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    async def load(
        self, job_id: str, inputs: tuple[Input, ...], *, measure: bool, fetched: list[Fetch]
    ) -> tuple[str | None, float]:
        """Downloads every input; returns (why one failed, seconds of spoken audio measured).

        A connection error, a non-2xx answer, an empty body or content of the wrong kind fails
        the job, naming the field; with ``measure``, spoken audio is probed for its length."""
        seconds = 0.0
        for item in inputs:
            keep = measure and item.measure
            status, size, head, path = await self._fetch(item.url, keep=keep)
            found = media.sniff(head)
            fetched.append(Fetch(job_id, item.field, item.url, status, size, found))
            why = None
            if status == 0:
                why = "connection failed"
            elif not 200 <= status < 300:
                why = f"HTTP {status}"
            elif size == 0:
                why = "the file is empty"
            elif found not in item.formats:
                why = f"unsupported format ({found or 'unrecognised'})"
            elif path is not None:
                length = await self._duration(path)
                if length is None:
                    why = "not a playable audio file"
                seconds += length or 0.0
            if path is not None:
                path.unlink(missing_ok=True)
            if why is not None:
                return f"Could not load {item.field}: {why}", seconds
        return None, seconds

    async def post(self, url: str, body: bytes) -> int:
        """POSTs a webhook body; the HTTP status, or 0 when the connection failed."""
        async with self._gate:
            try:
                headers = {"Content-Type": "application/json"}
                return (await self.client.post(url, content=body, headers=headers)).status_code
            except httpx.HTTPError:
                return 0

    async def _fetch(self, url: str, *, keep: bool) -> tuple[int, int, bytes, Path | None]:
        """GETs ``url``: (status, size, first bytes, the body spooled to a file if ``keep``)."""
        size, head, parts = 0, b"", []
        async with self._gate:
            try:
                async with self.client.stream("GET", url) as response:
                    async for chunk in response.aiter_bytes(CHUNK):
                        if len(head) < HEAD:
                            head = (head + chunk)[:HEAD]
                        size += len(chunk)
                        if keep:
                            parts.append(chunk)
                    status = response.status_code
            except httpx.HTTPError:
                return 0, size, head, None
        if not keep or not 200 <= status < 300 or not size:
            return status, size, head, None
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="fake-creatify-inputs-"))
        path = self._tmp / uuid.uuid4().hex
        await asyncio.to_thread(path.write_bytes, b"".join(parts))
        return status, size, head, path

    async def _duration(self, path: Path) -> float | None:
        async with self._probe_gate:
            try:
                info = await probe(path)
            except MediaError:
                return None
        return info.duration if info.has_audio and info.duration else None
