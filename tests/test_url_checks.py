"""check_url: addresses that smuggle a private IPv4 inside IPv6, odd host spellings, and URLs
that do not even parse. Literal addresses resolve locally, so no test touches the network."""

from __future__ import annotations

import pytest

from bot.errors import UnsafeURL
from bot.media.outputs import check_url


@pytest.mark.parametrize(
    "host",
    [
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:7f00:1]",  # the same, in hex
        "[::127.0.0.1]",  # IPv4-compatible (deprecated, still routed by some stacks)
        "[::10.0.0.1]",
        "[64:ff9b::127.0.0.1]",  # NAT64 well-known prefix
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254 (cloud metadata)
        "[64:ff9b:1::7f00:1]",  # NAT64 local-use prefix (RFC 8215)
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
        "[2002:a9fe:a9fe::]",  # 6to4 of 169.254.169.254
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
        "2130706433",  # 127.0.0.1 as one decimal number
        "0177.0.0.1",  # octal
        "0x7f.1",  # hex, short form
        "127.1",
        "0",
        "[::]",
    ],
)
async def test_embedded_and_odd_private_addresses_are_refused(host: str) -> None:
    with pytest.raises(UnsafeURL, match="non-public"):
        await check_url(f"https://{host}/o.mp4", allow_private=False)


@pytest.mark.parametrize(
    "host",
    [
        "93.184.215.14",
        "[::ffff:93.184.215.14]",
        "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]",
    ],
)
async def test_public_literal_addresses_pass(host: str) -> None:
    await check_url(f"https://{host}/o.mp4", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1/o.mp4",  # unbalanced bracket
        "https://93.184.215.14:99999/o.mp4",  # port out of range
        "https://93.184.215.14:port/o.mp4",
        "https://" + "a" * 70 + ".example/o.mp4",  # label too long: refused before any lookup
    ],
)
async def test_urls_that_do_not_parse_are_refused_not_crashed(url: str) -> None:
    with pytest.raises(UnsafeURL):
        await check_url(url, allow_private=False)
