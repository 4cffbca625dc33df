"""Downloading a provider's finished video: streamed to disk, capped, and only from public
https addresses (a provider answer must not make the bot fetch from its own network)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from bot.errors import UnsafeURL
from bot.media import limits
from bot.media.streaming import BodyTooLarge, save_body
from bot.untrusted import ascii_int

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
    http: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    allow_private: bool,
    resolve: Resolver | None = None,
    limit: int = MAX_OUTPUT_BYTES,
    slots: limits.WorkLimit | None = None,
) -> Path:
    """Stream ``url`` to ``dest`` (via a ``.part`` file, renamed when complete), at most
    ``limit`` bytes (an avatar's still needs far less than a result), in one of ``slots``
    (limits.DOWNLOADS unless given: avatar stills have their own).

    Raises:
        UnsafeURL: not https, or a host resolving to a private, loopback or link-local address
            (unless ``allow_private``, for tests against local fakes), or not a valid URL.
        OutputFetchError: HTTP error, too big, too slow, or too many redirects.
    """
    partial = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The slot first: DOWNLOAD_TIMEOUT is for downloading, not for waiting in line.
        async with (slots or limits.DOWNLOADS).slot(), asyncio.timeout(DOWNLOAD_TIMEOUT):
            await _fetch(
                http, url, partial, allow_private=allow_private, resolve=resolve, limit=limit
            )
    except TimeoutError:
        partial.unlink(missing_ok=True)
        raise OutputFetchError("download timed out") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(dest)
    return dest


async def _fetch(
    http: httpx.AsyncClient,
    url: str,
    out: Path,
    *,
    allow_private: bool,
    resolve: Resolver | None,
    limit: int,
) -> None:
    for _ in range(MAX_REDIRECTS + 1):
        pinned = await check_url(url, allow_private=allow_private, resolve=resolve)
        try:
            async with _opened(http, pinned.request("GET")) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != httpx.codes.OK:
                    raise OutputFetchError(
                        f"result download answered {response.status_code}", response.status_code
                    )
                declared = ascii_int(response.headers.get("content-length", "")) or 0
                if declared > limit:
                    raise OutputFetchError(f"result is {declared} bytes")
                if await save_body(response, out, limit=limit) == 0:
                    raise OutputFetchError("result is empty")
                return
        except BodyTooLarge:
            raise OutputFetchError("result is too big") from None
        except httpx.HTTPError as exc:
            raise OutputFetchError(f"result download failed ({type(exc).__name__})") from None
    raise OutputFetchError("too many redirects")


@contextlib.asynccontextmanager
async def _opened(
    http: httpx.AsyncClient, request: httpx.Request
) -> AsyncIterator[httpx.Response]:
    response = await http.send(request, stream=True, follow_redirects=False)
    try:
        yield response
    finally:
        await response.aclose()


#: Looks a host name up: ``(host, port)`` -> the addresses a connection could go to.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve_host(host: str, port: int) -> list[str]:
    """The system's answer (literal and odd spellings such as 2130706433 or 0x7f.1 included)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in infos]


@dataclass(frozen=True)
class PinnedURL:
    """A URL whose host was looked up and checked once, to be requested at that very address.

    Letting httpx look the name up again would let a provider-controlled DNS server answer a
    public address to the check and 127.0.0.1 to the connection (DNS rebinding). The request
    goes to the checked address; the name still travels in the ``Host`` header and as the TLS
    server name (httpcore's ``sni_hostname`` extension, which is also the name the
    certificate is verified against).
    """

    url: httpx.URL
    host: str
    server_name: str

    def request(
        self,
        method: str,
        *,
        headers: dict[str, str] | None = None,
        content: AsyncIterator[bytes] | bytes | None = None,
    ) -> httpx.Request:
        return httpx.Request(
            method,
            self.url,
            headers={"Host": self.host, **(headers or {})},
            content=content,
            extensions={"sni_hostname": self.server_name},
        )


async def check_url(
    url: str, *, allow_private: bool, resolve: Resolver | None = None
) -> PinnedURL:
    """Refuse URLs the bot must not fetch; pin the others to the address that was checked.

    Args:
        url: from a provider's answer (untrusted).
        allow_private: accept http and any address (tests against local fakes).
        resolve: the name lookup (:func:`resolve_host` unless a test fakes DNS).

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
    if not allow_private and parts.scheme != "https":
        raise UnsafeURL("not https")
    name = parts.hostname
    try:
        addresses = await (resolve or resolve_host)(
            name, port or (443 if parts.scheme == "https" else 80)
        )
        checked = [ipaddress.ip_address(address) for address in addresses]
    except (OSError, UnicodeError, ValueError) as exc:
        if not allow_private:
            raise UnsafeURL(f"cannot resolve {name}: {type(exc).__name__}") from None
        checked = []  # tests: a made-up name that a mock transport serves
    if not allow_private and not checked:
        raise UnsafeURL(f"{name} has no address")
    if not allow_private and not all(_is_public(address) for address in checked):
        raise UnsafeURL(f"{name} resolves to a non-public address")
    try:
        # httpx's reading of the URL is the one that is sent: a URL it refuses (a NUL byte,
        # say) is refused here, not raised from the request.
        parsed = httpx.URL(url)
        pinned = parsed.copy_with(host=str(checked[0])) if checked else parsed
    except httpx.InvalidURL:
        raise UnsafeURL("not a valid URL") from None
    return PinnedURL(
        url=pinned,
        host=parsed.netloc.decode("ascii"),
        server_name=parsed.raw_host.decode("ascii"),
    )


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
