"""Provider answers the bot cannot trust: Retry-After values that would overflow a schedule,
ids that would change a request's path, and 2xx create answers it cannot read (the provider
may have made, and charged for, the job)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pytest

from bot.errors import ProviderRejected, ProviderUnavailable, WebhookRejected
from bot.providers.base import identifier
from bot.providers.http import MAX_RETRY_AFTER_SECONDS
from bot.providers.lipsync_studio import LipsyncStudioProvider
from bot.providers.magichour import MagicHourProvider
from tests.provider_stubs import answering_http, photo_order

URL = "https://api.example/v1/thing"


# --- Retry-After ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "inf",
        "Infinity",
        "1e12",
        "1e400",
        "nan",
        "-5",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "99999999999999999999999999",
    ],
)
async def test_a_retry_after_is_finite_and_capped(header: str) -> None:
    http = answering_http(httpx.Response(503, headers={"Retry-After": header}))
    with pytest.raises(ProviderUnavailable) as info:
        await http.send(httpx.Request("GET", URL))
    wait = info.value.retry_after
    assert wait is not None
    assert math.isfinite(wait)
    assert 0 <= wait <= MAX_RETRY_AFTER_SECONDS


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("0", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None)],
)
async def test_a_sane_retry_after_is_kept(header: str, expected: float | None) -> None:
    http = answering_http(httpx.Response(429, headers={"Retry-After": header}))
    with pytest.raises(ProviderUnavailable) as info:
        await http.send(httpx.Request("GET", URL))
    assert info.value.retry_after == expected


# --- 2xx answers a create cannot read ----------------------------------------------------------


async def test_a_create_answered_2xx_with_a_body_that_is_not_json_may_have_been_made() -> None:
    page = httpx.Response(200, text="<html>gateway</html>")
    with pytest.raises(ProviderUnavailable) as created:
        await answering_http(page).json(httpx.Request("POST", URL), idempotent=False)
    assert created.value.maybe_done
    with pytest.raises(ProviderUnavailable) as read:
        await answering_http(page).json(httpx.Request("GET", URL))
    assert not read.value.maybe_done  # a read changes nothing at the provider


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"status": "processing"}),
        httpx.Response(201, json=["j1"]),
        httpx.Response(200, json={"requestId": "../../account"}),
        httpx.Response(202, text="accepted"),
    ],
    ids=["no-id", "not-an-object", "bad-id", "not-json"],
)
async def test_a_lipsync_studio_create_answer_without_a_usable_id_may_have_been_made(
    answer: httpx.Response, tmp_path: Path
) -> None:
    provider = LipsyncStudioProvider(answering_http(answer), "https://ls.example", "sk_key")
    order, inputs = photo_order(tmp_path)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(order, inputs, name="n", webhook_url=None)
    assert info.value.maybe_done


# --- ids that would change a request's path ------------------------------------------------------

HOSTILE_IDS = ["../account", "a/b", "a?b=1", "a#b", "a b", "..", "é", "x" * 129, "a%2Fb", ""]


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_ids_that_could_change_a_path_are_refused(value: str) -> None:
    assert identifier(value) is None


@pytest.mark.parametrize(
    "value", ["cm0123456789abcdefghijklm", "3c90c3cc-0d44-4b50-8888-8dd25736052a", "a_B-9"]
)
def test_the_ids_real_providers_use_are_accepted(value: str) -> None:
    assert identifier(value) == value
    assert identifier(42) == "42"


@pytest.mark.parametrize("value", ["../account", "a?b", "x/y"])
async def test_a_hostile_id_in_a_webhook_is_refused(value: str) -> None:
    http = answering_http(httpx.Response(500))
    magichour = MagicHourProvider(http, "https://mh.example", "k", "whsec")
    body = {"type": "video.completed", "payload": {"id": value, "status": "complete"}}
    with pytest.raises(WebhookRejected):
        magichour.webhook_job(json.dumps(body).encode())
    studio = LipsyncStudioProvider(http, "https://ls.example", "sk_key")
    with pytest.raises(WebhookRejected):
        studio.webhook_job(json.dumps({"id": value, "status": "completed"}).encode())


@pytest.mark.parametrize("value", ["../account", "a?b", "x/y"])
async def test_a_hostile_id_never_reaches_a_request_path(value: str) -> None:
    seen: list[httpx.Request] = []
    http = answering_http(httpx.Response(200, json={"id": "p1", "status": "queued"}), seen)
    for provider in (
        MagicHourProvider(http, "https://mh.example", "k", None),
        LipsyncStudioProvider(http, "https://ls.example", "sk_key"),
    ):
        with pytest.raises(ProviderRejected):
            await provider.fetch(value)
    assert seen == []
