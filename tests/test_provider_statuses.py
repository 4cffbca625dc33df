"""The shared RemoteProvider hooks: one request builder, one status mapping that raises on words
it does not know (logged once), and the poller keeping such a job alive."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from bot.errors import ProviderUnavailable, UnknownStatus
from bot.models import JobStatus
from bot.providers.base import RemoteProvider
from bot.providers.lipsync_studio import LipsyncStudioProvider
from bot.providers.magichour import MagicHourProvider
from tests.provider_stubs import answering_http, photo_order


def _provider(kind: str, answer: dict, seen: list[httpx.Request]) -> RemoteProvider:
    http = answering_http(httpx.Response(200, json=answer), seen, kind=kind)
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
    order, inputs = photo_order(tmp_path)
    job = await provider.submit(order, inputs, name="n", webhook_url=None)
    assert (job.provider_job_id, job.status) == ("j1", JobStatus.QUEUED)
