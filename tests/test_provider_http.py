"""ProviderHTTP: retries, backoff, Retry-After and the error tree, against MockTransport."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from bot.errors import (
    ProviderAuthError,
    ProviderOutOfCredits,
    ProviderRejected,
    ProviderUnavailable,
    WebhookRejected,
)
from bot.providers.http import ProviderHTTP, RetryPolicy
from bot.providers.magichour import MagicHourProvider

URL = "https://api.example/v1/thing"


def _http(
    answers: list[httpx.Response | Exception], attempts: int = 4
) -> tuple[ProviderHTTP, list]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    policy = RetryPolicy(attempts=attempts, base=0.001, cap=0.05)
    return ProviderHTTP("acme", client, policy=policy, rand=lambda: 1.0), seen


async def test_429_is_retried_after_retry_after() -> None:
    http, seen = _http(
        [httpx.Response(429, headers={"Retry-After": "0.01"}), httpx.Response(200, json={"ok": 1})]
    )
    assert await http.json(httpx.Request("GET", URL)) == {"ok": 1}
    assert len(seen) == 2


async def test_5xx_is_retried_then_gives_up() -> None:
    http, seen = _http([httpx.Response(503, json={"message": "busy"})] * 3, attempts=3)
    with pytest.raises(ProviderUnavailable, match="busy") as info:
        await http.send(httpx.Request("GET", URL))
    assert info.value.status_code == 503
    assert len(seen) == 3


async def test_a_create_is_not_repeated_after_a_5xx() -> None:
    """The first POST may have created (and charged) the job: repeating it could pay twice."""
    http, seen = _http([httpx.Response(500), httpx.Response(200, json={})])
    with pytest.raises(ProviderUnavailable):
        await http.send(httpx.Request("POST", URL), idempotent=False)
    assert len(seen) == 1


async def test_a_create_is_repeated_after_a_429_or_no_connection() -> None:
    http, seen = _http(
        [
            httpx.ConnectError("refused"),
            httpx.Response(429),
            httpx.Response(200, json={"id": "x"}),
        ]
    )
    assert await http.json(httpx.Request("POST", URL), idempotent=False) == {"id": "x"}
    assert len(seen) == 3


async def test_a_create_is_not_repeated_after_a_read_timeout() -> None:
    http, seen = _http([httpx.ReadTimeout("slow"), httpx.Response(200, json={})])
    with pytest.raises(ProviderUnavailable, match="no answer"):
        await http.send(httpx.Request("POST", URL), idempotent=False)
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("status", "body", "error", "reason"),
    [
        (401, {"message": "Unauthorized"}, ProviderAuthError, "Unauthorized"),
        (402, {"message": "Payment required"}, ProviderOutOfCredits, "Payment required"),
        (422, {"message": "Unable to create video"}, ProviderRejected, "Unable to create video"),
        (400, {"error": "formState.audio is required"}, ProviderRejected, "formState.audio"),
        (404, None, ProviderRejected, "HTTP 404 Not Found"),
    ],
)
async def test_errors_map_to_the_domain_tree(status, body, error, reason) -> None:
    answer = httpx.Response(status, json=body) if body else httpx.Response(status)
    http, seen = _http([answer])
    with pytest.raises(error, match=reason):
        await http.send(httpx.Request("GET", URL))
    assert len(seen) == 1  # permanent errors are not retried


def test_backoff_is_capped_exponential_with_jitter() -> None:
    policy = RetryPolicy(attempts=10, base=0.5, cap=4.0)
    assert [policy.delay(n, None, lambda: 1.0) for n in range(1, 6)] == [0.5, 1, 2, 4, 4]
    assert policy.delay(3, None, lambda: 0.25) == 0.5
    assert policy.delay(1, 100.0, lambda: 1.0) == 4.0  # Retry-After is capped too


def _magichour(secret: str | None = "whsec_test") -> MagicHourProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    return MagicHourProvider(ProviderHTTP("magichour", client), "https://mh", "mhk", secret)


def _signed(body: bytes, stamp: int, secret: str = "whsec_test") -> dict[str, str]:
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"magic-hour-event-signature": signature, "magic-hour-event-timestamp": str(stamp)}


def test_magic_hour_signature_is_checked_before_reading() -> None:
    body = json.dumps({"type": "video.completed", "payload": {"id": "p1"}}).encode()
    provider = _magichour()
    provider.verify_webhook(_signed(body, 1_000_000), body, now=1_000_100)
    with pytest.raises(WebhookRejected, match="does not match"):
        provider.verify_webhook(_signed(body, 1_000_000), body + b" ", now=1_000_100)
    with pytest.raises(WebhookRejected, match="does not match"):
        provider.verify_webhook(_signed(body, 1_000_000, "other"), body, now=1_000_100)
    with pytest.raises(WebhookRejected, match="tolerance"):
        provider.verify_webhook(_signed(body, 1_000_000), body, now=1_000_000 + 301)
    with pytest.raises(WebhookRejected, match="missing"):
        provider.verify_webhook({}, body, now=1_000_000)
    with pytest.raises(WebhookRejected, match="MAGICHOUR_WEBHOOK_SECRET"):
        _magichour(None).verify_webhook(_signed(body, 1_000_000), body, now=1_000_000)


def test_magic_hour_project_statuses() -> None:
    provider = _magichour()

    def status(payload: dict) -> str:
        return provider.webhook_job(json.dumps({"payload": payload}).encode()).status

    assert status({"id": "a", "status": "queued"}) == "queued"
    assert status({"id": "a", "status": "rendering"}) == "running"
    assert status({"id": "a", "status": "complete", "downloads": []}) == "running"
    done = provider.webhook_job(
        json.dumps(
            {
                "payload": {
                    "id": "a",
                    "status": "complete",
                    "downloads": [{"url": "https://x/o.mp4"}],
                }
            }
        ).encode()
    )
    assert done.output_url == "https://x/o.mp4"
    failed = provider.webhook_job(
        json.dumps(
            {
                "payload": {
                    "id": "a",
                    "status": "error",
                    "error": {"code": "no_source_face", "message": "No face"},
                }
            }
        ).encode()
    )
    assert (failed.status, failed.error) == ("failed", "No face")
    with pytest.raises(WebhookRejected, match="unknown status 'something-new'"):
        status({"id": "a", "status": "something-new"})
    with pytest.raises(WebhookRejected):
        provider.webhook_job(b"not json")


@pytest.mark.parametrize(
    ("answer", "maybe_done"),
    [
        (httpx.Response(502), True),
        (httpx.ReadTimeout("slow"), True),
        (httpx.ConnectError("refused"), False),
        (httpx.Response(429), False),
    ],
)
async def test_a_failed_create_says_whether_it_may_have_run(answer, maybe_done: bool) -> None:
    http, _ = _http([answer] * 4)
    with pytest.raises(ProviderUnavailable) as info:
        await http.send(httpx.Request("POST", URL), idempotent=False)
    assert info.value.maybe_done is maybe_done
