"""The shared RemoteProvider hooks: one request builder, one status mapping that raises on words
it does not know (logged once), and the poller keeping such a job alive."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from bot.errors import ProviderUnavailable, UnknownStatus
from bot.models import AspectRatio, JobStatus, MediaKind, Order, Probe
from bot.providers.base import Inputs, RemoteProvider
from bot.providers.http import ProviderHTTP, RetryPolicy
from bot.providers.lipsync_studio import LipsyncStudioProvider
from bot.providers.magichour import MagicHourProvider


def _provider(kind: str, answer: dict, seen: list[httpx.Request]) -> RemoteProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    http = ProviderHTTP(kind, client, policy=RetryPolicy(attempts=1))
    if kind == "magichour":
        return MagicHourProvider(http, "https://mh.example/", "mh-key", None)
    return LipsyncStudioProvider(http, "https://ls.example", "sk_key")


CASES = [
    ("magichour", {"id": "p1", "status": "upscaling"}, "/v1/video-projects/p1"),
    ("lipsync_studio", {"id": "p1", "status": "IN_QUEUE"}, "/api/v1/jobs/p1"),
]


@pytest.mark.parametrize(("kind", "answer", "path"), CASES)
async def test_an_unknown_status_raises_a_transient_error_logged_once(
    kind: str, answer: dict, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[httpx.Request] = []
    provider = _provider(kind, answer, seen)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        with pytest.raises(UnknownStatus) as info:
            await provider.fetch("p1")
        assert isinstance(info.value, ProviderUnavailable)  # the poller keeps polling
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert repr(answer["status"]) in warnings[0]
    assert [r.url.path for r in seen] == [path] * 3


@pytest.mark.parametrize(("kind", "answer", "path"), CASES)
async def test_requests_share_one_builder_with_the_auth_hook(
    kind: str, answer: dict, path: str
) -> None:
    seen: list[httpx.Request] = []
    provider = _provider(kind, {**answer, "status": "queued"}, seen)
    assert (await provider.fetch("p1")).status is JobStatus.QUEUED
    (request,) = seen
    assert request.headers["authorization"] in ("Bearer mh-key", "Bearer sk_key")
    assert request.headers["accept"] == "application/json"
    assert str(request.url) == f"{provider.api_url}{path}"


@pytest.mark.parametrize("status", [None, 3, ["complete"], {"a": 1}, ""])
def test_status_words_of_the_wrong_type_are_unknown(status: object) -> None:
    provider = _provider("magichour", {}, [])
    with pytest.raises(UnknownStatus):
        provider.status_of(status)
    assert provider.status_of(" Complete ") is JobStatus.SUCCEEDED


@pytest.mark.parametrize("answer", [{"id": "j1"}, {"id": "j1", "status": "IN_QUEUE"}])
async def test_a_create_answer_without_a_known_status_is_queued_not_lost(
    answer: dict, tmp_path: Path
) -> None:
    """The job exists and is paid for: failing it over a status word would lose it."""
    provider = _provider("lipsync_studio", answer, [])
    probe = Probe(duration=3.0, width=640, height=480, has_video=True)
    order = Order(
        job_id=1,
        media_kind=MediaKind.PHOTO,
        media_path=tmp_path / "face.jpg",
        media_probe=probe,
        voice_path=tmp_path / "voice.mp3",
        voice_probe=probe,
        ratio=AspectRatio.PORTRAIT,
    )
    inputs = Inputs(
        face=tmp_path / "face.jpg",
        voice=tmp_path / "voice.mp3",
        face_url="https://bot.example/media/1/face.jpg",
        voice_url="https://bot.example/media/1/voice.mp3",
    )
    job = await provider.submit(order, inputs, name="n", webhook_url=None)
    assert (job.provider_job_id, job.status) == ("j1", JobStatus.QUEUED)
