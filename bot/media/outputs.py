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
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURL(f"not a web URL: {parts.scheme}://")
    if allow_private:
        return
    if parts.scheme != "https":
        raise UnsafeURL("not https")
    try:
        # Literal and odd spellings (2130706433, 0177.0.0.1) resolve here, locally, to the
        # address the connection would really use.
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port or 443, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"cannot resolve {parts.hostname}: {exc}") from None
    for *_, sockaddr in infos:
        if not _is_public(ipaddress.ip_address(sockaddr[0])):
            raise UnsafeURL(f"{parts.hostname} resolves to a non-public address")


#: IPv6 prefixes of NAT64 translators (RFC 6052): the IPv4 destination is the last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: Local-use NAT64 (RFC 8215) translates into the operator's own network by definition.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable, including any IPv4 address an IPv6 one leads to (translators and
    tunnels deliver to that IPv4, so ``[64:ff9b::127.0.0.1]`` is as local as 127.0.0.1)."""
    if isinstance(address, ipaddress.IPv4Address):
        return address.is_global
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_global
    if address in _LOCAL_NAT64:
        return False
    embedded = [address.sixtofour, *(address.teredo or ())]
    if int(address) >> 32 == 0 or address in _NAT64:  # IPv4-compatible ::a.b.c.d, or NAT64
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return address.is_global and all(v4.is_global for v4 in embedded if v4 is not None)
