"""Downloading a provider's finished video: streamed to disk, capped, and only from public
https addresses (a provider answer must not make the bot fetch from its own network)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from bot.errors import UnsafeURL
from bot.media import limits
from bot.media.streaming import BodyTooLarge, save_body

#: Largest result accepted. Bigger than Telegram's 50 MB upload limit on purpose: a too-big
#: result is re-encoded to fit rather than refused.
MAX_OUTPUT_BYTES = 1024 * 1024 * 1024
#: Whole-download time limit (seconds).
DOWNLOAD_TIMEOUT = 600
MAX_REDIRECTS = 3


class OutputFetchError(Exception):
    """The result could not be downloaded; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


async def download_output(
    http: httpx.AsyncClient, url: str, dest: Path, *, allow_private: bool
) -> Path:
    """Stream ``url`` to ``dest`` (via a ``.part`` file, renamed when complete).

    Raises:
        UnsafeURL: not https, or a host resolving to a private, loopback or link-local address
            (unless ``allow_private``, for tests against local fakes).
        OutputFetchError: HTTP error, too big, too slow, or too many redirects.
    """
    partial = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The slot first: DOWNLOAD_TIMEOUT is for downloading, not for waiting in line.
        async with limits.DOWNLOADS.slot(), asyncio.timeout(DOWNLOAD_TIMEOUT):
            await _fetch(http, url, partial, allow_private=allow_private)
    except TimeoutError:
        partial.unlink(missing_ok=True)
        raise OutputFetchError("download timed out") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(dest)
    return dest


async def _fetch(http: httpx.AsyncClient, url: str, out: Path, *, allow_private: bool) -> None:
    for _ in range(MAX_REDIRECTS + 1):
        await check_url(url, allow_private=allow_private)
        try:
            async with http.stream("GET", url, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != httpx.codes.OK:
                    raise OutputFetchError(
                        f"result download answered {response.status_code}", response.status_code
                    )
                declared = int(response.headers.get("content-length") or 0)
                if declared > MAX_OUTPUT_BYTES:
                    raise OutputFetchError(f"result is {declared} bytes")
                if await save_body(response, out, limit=MAX_OUTPUT_BYTES) == 0:
                    raise OutputFetchError("result is empty")
                return
        except BodyTooLarge:
            raise OutputFetchError("result is too big") from None
        except httpx.HTTPError as exc:
            raise OutputFetchError(f"result download failed ({type(exc).__name__})") from None
    raise OutputFetchError("too many redirects")


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs the bot must not fetch.

    Raises:
        UnsafeURL: with the reason.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURL(f"not a web URL: {parts.scheme}://")
    if allow_private:
        return
    if parts.scheme != "https":
        raise UnsafeURL("not https")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise UnsafeURL(f"cannot resolve {parts.hostname}: {exc}") from None
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            raise UnsafeURL(f"{parts.hostname} resolves to a non-public address")
