"""A provider's URL is looked up once: the address that passed the check is the one the bot
connects to (DNS rebinding: a provider's DNS server could answer a public address to the check
and 127.0.0.1 to the connection), for result downloads and Magic Hour's upload PUT alike. The
name still goes in the Host header and as the TLS server name. Malformed URLs are refused."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.errors import UnsafeURL
from bot.media.outputs import OutputFetchError, check_url, download_output
from bot.providers.http import ProviderHTTP, RetryPolicy
from bot.providers.magichour import MagicHourProvider
from tests.fakes.telegram import serve_asgi

PUBLIC = "93.184.215.14"
VIDEO = b"\x00\x00\x00\x18ftypisom" + b"v" * 100


class RebindingDNS:
    """Answers each name with the next address of ``answers`` (the last one for ever after)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return [self.answers[min(len(self.asked), len(self.answers)) - 1]]


async def test_a_download_goes_to_the_checked_address_with_the_name_for_host_and_tls(
    tmp_path: Path,
) -> None:
    dns = RebindingDNS(PUBLIC, "127.0.0.1")
    seen: list[httpx.Request] = []

    def cdn(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=VIDEO)

    async with httpx.AsyncClient(transport=httpx.MockTransport(cdn)) as http:
        await download_output(
            http,
            "https://cdn.example:8443/out.mp4?sig=1",
            tmp_path / "out.mp4",
            allow_private=False,
            resolve=dns,
        )
    assert dns.asked == [("cdn.example", 8443)]
    [request] = seen
    assert request.url.host == PUBLIC
    assert request.url.port == 8443
    assert request.url.raw_path == b"/out.mp4?sig=1"
    assert request.headers["host"] == "cdn.example:8443"
    assert request.extensions["sni_hostname"] == "cdn.example"
    assert (tmp_path / "out.mp4").read_bytes() == VIDEO


async def test_a_redirect_is_looked_up_and_checked_again(tmp_path: Path) -> None:
    dns = RebindingDNS(PUBLIC, "127.0.0.1")
    seen: list[httpx.Request] = []

    def cdn(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"location": "https://inside.example/x.mp4"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(cdn)) as http:
        with pytest.raises(UnsafeURL, match="non-public"):
            await download_output(
                http,
                "https://cdn.example/out.mp4",
                tmp_path / "out.mp4",
                allow_private=False,
                resolve=dns,
            )
    assert len(seen) == 1
    assert not (tmp_path / "out.mp4.part").exists()


async def test_over_http_a_local_server_is_reached_at_the_looked_up_address(
    tmp_path: Path,
) -> None:
    """ALLOW_PRIVATE_URLS (tests): http and local addresses pass, and the lookup is still
    done once: the name below does not exist, so only the pinned address can reach the
    server, and a second lookup would answer an address where nothing listens."""
    hosts: list[str] = []

    async def serve(request: Request) -> Response:
        hosts.append(request.headers["host"])
        return Response(VIDEO, media_type="video/mp4")

    app = Starlette(routes=[Route("/out.mp4", serve)])
    async with serve_asgi(app) as base, httpx.AsyncClient() as http:
        port = httpx.URL(base).port
        assert port is not None
        dns = RebindingDNS("127.0.0.1", "127.0.0.2")
        await download_output(
            http,
            f"http://results.invalid:{port}/out.mp4",
            tmp_path / "out.mp4",
            allow_private=True,
            resolve=dns,
        )
    assert hosts == [f"results.invalid:{port}"]
    assert len(dns.asked) == 1
    assert (tmp_path / "out.mp4").read_bytes() == VIDEO


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.exa\x00mple/out.mp4",
        "https://cdn.example/out\x00.mp4",
        "https://cdn.example:0x50/out.mp4",
        "https://[::1]x/out.mp4",
    ],
)
async def test_a_malformed_result_url_is_refused_not_crashed(tmp_path: Path, url: str) -> None:
    dns = RebindingDNS(PUBLIC)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200))
    ) as http:
        with pytest.raises((UnsafeURL, OutputFetchError)):
            await download_output(
                http, url, tmp_path / "out.mp4", allow_private=False, resolve=dns
            )
    assert not (tmp_path / "out.mp4").exists()


async def test_check_url_refuses_a_name_with_any_private_address() -> None:
    async def both(host: str, port: int) -> list[str]:
        return [PUBLIC, "10.0.0.7"]

    with pytest.raises(UnsafeURL, match="non-public"):
        await check_url("https://cdn.example/out.mp4", allow_private=False, resolve=both)


async def test_magic_hour_puts_its_inputs_to_the_checked_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns = RebindingDNS(PUBLIC, PUBLIC, "127.0.0.1")  # one lookup per upload, then rebinds
    monkeypatch.setattr("bot.media.outputs.resolve_host", dns)
    puts: list[tuple[httpx.Request, bytes]] = []

    async def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/files/upload-urls":
            return httpx.Response(
                200,
                json={
                    "items": [
                        {"upload_url": "https://uploads.example/a?X-Sig=1", "file_path": "a"},
                        {"upload_url": "https://uploads.example/b?X-Sig=2", "file_path": "b"},
                    ]
                },
            )
        puts.append((request, await request.aread()))
        return httpx.Response(200)

    face, voice = tmp_path / "face.jpg", tmp_path / "voice.mp3"
    face.write_bytes(b"jpeg")
    voice.write_bytes(b"mp3")
    async with httpx.AsyncClient(transport=httpx.MockTransport(api)) as client:
        http = ProviderHTTP("magichour", client, policy=RetryPolicy(attempts=1))
        provider = MagicHourProvider(http, "https://api.example", "key", None)
        paths = await provider._upload([("image", face), ("audio", voice)])
    assert paths == ["a", "b"]
    assert len(dns.asked) == 2
    assert [(r.url.host, r.headers["host"], r.extensions["sni_hostname"]) for r, _ in puts] == [
        (PUBLIC, "uploads.example", "uploads.example")
    ] * 2
    assert [body for _, body in puts] == [b"jpeg", b"mp3"]
    assert puts[0][0].url.raw_path == b"/a?X-Sig=1"
