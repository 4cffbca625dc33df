"""Signed media links and output URL safety."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.errors import UnsafeURL
from bot.media.hosting import LINK_TTL_SECONDS, LinkDenied, MediaHost
from bot.media.outputs import check_url
from bot.signing import Signer


@pytest.fixture
def host(tmp_path: Path) -> MediaHost:
    folder = tmp_path / "hosted" / "7"
    folder.mkdir(parents=True)
    (folder / "voice.mp3").write_bytes(b"mp3")
    return MediaHost(tmp_path / "hosted", "https://bot.example", Signer.from_token("1:abc"))


def _parts(url: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url)
    _, _, job_id, name = parts.path.split("/")
    query = parse_qs(parts.query)
    return job_id, name, query["exp"][0], query["sig"][0]


def test_a_signed_link_resolves(host: MediaHost) -> None:
    url = host.link(7, "voice.mp3", now=1000)
    assert url.startswith("https://bot.example/media/7/voice.mp3?exp=")
    assert host.resolve(*_parts(url), now=1000).read_bytes() == b"mp3"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda j, n, e, s: (j, n, e, "0" * 32),  # forged
        lambda j, n, e, s: (j, n, str(int(e) + 60), s),  # expiry pushed back
        lambda j, n, e, s: ("8", n, e, s),  # another job's file
        lambda j, n, e, s: (j, "face.jpg", e, s),  # another file of the job
    ],
)
def test_altered_links_are_forbidden(host: MediaHost, tamper) -> None:
    url = host.link(7, "voice.mp3", now=1000)
    with pytest.raises(LinkDenied) as info:
        host.resolve(*tamper(*_parts(url)), now=1000)
    assert info.value.status == 403


def test_expired_links_are_forbidden(host: MediaHost) -> None:
    url = host.link(7, "voice.mp3", now=1000)
    with pytest.raises(LinkDenied) as info:
        host.resolve(*_parts(url), now=1000 + LINK_TTL_SECONDS + 1)
    assert info.value.status == 403


@pytest.mark.parametrize(
    ("job_id", "name"), [("7", "../../bot.db"), ("7/..", "voice.mp3"), ("7", "secret.txt")]
)
def test_path_tricks_are_not_found(host: MediaHost, job_id: str, name: str) -> None:
    with pytest.raises(LinkDenied) as info:
        host.resolve(job_id, name, "9999999999", "0" * 32)
    assert info.value.status == 404


def test_webhook_tokens_are_per_job_and_provider() -> None:
    signer = Signer.from_token("1:abc")
    token = signer.webhook_token("lipsync_studio", 5)
    assert signer.verify("hook:lipsync_studio:5", token)
    assert not signer.verify("hook:lipsync_studio:6", token)
    assert token != Signer.from_token("1:other").webhook_token("lipsync_studio", 5)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://cdn.example.com/o.mp4", "not https"),
        ("https://127.0.0.1/o.mp4", "non-public"),
        ("https://10.1.2.3/o.mp4", "non-public"),
        ("https://169.254.169.254/latest/meta-data", "non-public"),
        ("https://[::1]/o.mp4", "non-public"),
        ("file:///etc/passwd", "not a web URL"),
    ],
)
async def test_unsafe_output_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURL, match=reason):
        await check_url(url, allow_private=False)


async def test_private_urls_are_allowed_for_tests_only() -> None:
    await check_url("http://127.0.0.1:9/o.mp4", allow_private=True)
    await check_url("https://93.184.215.14/o.mp4", allow_private=False)  # a public literal IP
