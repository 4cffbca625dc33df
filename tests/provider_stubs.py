"""Provider clients with a canned answer instead of a server, and an order to submit to them,
for tests of how the bot reads providers' answers."""

from __future__ import annotations

from pathlib import Path

import httpx

from bot.models import Order, Probe
from bot.providers.base import Inputs
from bot.providers.http import ProviderHTTP, RetryPolicy
from tests.job_rows import photo_order as stored_order


def answering_http(
    answer: httpx.Response, seen: list[httpx.Request] | None = None, *, kind: str = "acme"
) -> ProviderHTTP:
    """A provider HTTP client (no retries) that answers every request with ``answer`` and
    records the requests in ``seen``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ProviderHTTP(kind, client, policy=RetryPolicy(attempts=1))


def photo_order(folder: Path) -> tuple[Order, Inputs]:
    """Job 1: a photo and a voice in ``folder`` (the files need not exist), 9:16, with the
    public links a provider would fetch them from."""
    probe = Probe(duration=3.0, width=640, height=480, has_video=True)
    order = stored_order(
        str(folder / "face.jpg"), str(folder / "voice.mp3"), face_probe=probe, voice_probe=probe
    )
    inputs = Inputs(
        face=folder / "face.jpg",
        voice=folder / "voice.mp3",
        face_url="https://bot.example/media/1/face.jpg",
        voice_url="https://bot.example/media/1/voice.mp3",
    )
    return order, inputs
