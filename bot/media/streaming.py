"""Writing an HTTP response body to disk in chunks, with a size cap."""

from __future__ import annotations

from pathlib import Path

import httpx

CHUNK = 256 * 1024


class BodyTooLarge(Exception):
    """The body passed the cap; nothing more was read."""


async def save_body(response: httpx.Response, out: Path, *, limit: int) -> int:
    """Stream ``response``'s body into ``out``; returns its size in bytes.

    Raises:
        BodyTooLarge: more than ``limit`` bytes (the file then holds a partial body; the
            caller removes it).
    """
    size = 0
    with out.open("wb") as handle:
        async for chunk in response.aiter_bytes(CHUNK):
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(size)
            handle.write(chunk)
    return size
