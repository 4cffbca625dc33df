"""ProviderHTTP: retries, backoff, Retry-After and the error tree, against MockTransport; and
hostile answers (nested too deep, too big, too slow, refusals in odd shapes, odd numbers)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import math
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.errors import (
    ProviderAuthError,
    ProviderOutOfCredits,
    ProviderRejected,
    ProviderUnavailable,
    WebhookRejected,
)
from bot.providers import http as provider_http
from bot.providers.base import number
from bot.providers.http import (
    MAX_ANSWER_BYTES,
    MAX_RETRY_AFTER_SECONDS,
    ProviderHTTP,
    RetryPolicy,
)
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


# --- hostile answers: too deep, too big, too slow --------------------------------------------

DEEP = b"[" * 100_000


async def test_an_answer_nested_too_deep_is_unreadable_not_a_crash() -> None:
    http, _ = _http([httpx.Response(200, content=DEEP)])
    with pytest.raises(ProviderUnavailable, match="not JSON") as read:
        await http.json(httpx.Request("GET", URL))
    assert not read.value.maybe_done
    http, _ = _http([httpx.Response(201, content=DEEP)])
    with pytest.raises(ProviderUnavailable) as created:
        await http.json(httpx.Request("POST", URL), idempotent=False)
    assert created.value.maybe_done  # accepted, so the job may exist


async def test_an_error_nested_too_deep_still_maps_its_status() -> None:
    http, _ = _http([httpx.Response(400, content=DEEP)])
    with pytest.raises(ProviderRejected, match="HTTP 400 Bad Request"):
        await http.send(httpx.Request("GET", URL))


def _endless(pulled: list[int], chunk: bytes = b" " * 65536) -> httpx.Response:
    """A 200 whose body never ends (a JSON document of spaces); ``pulled`` counts the chunks
    the client asked for."""

    async def body() -> AsyncIterator[bytes]:
        yield b"{"
        while True:
            pulled.append(len(chunk))
            yield chunk

    return httpx.Response(200, content=body())


async def test_an_answer_over_the_cap_is_cut_off_and_unreadable() -> None:
    pulled: list[int] = []
    http, seen = _http([_endless(pulled) for _ in range(4)])
    with pytest.raises(ProviderUnavailable, match="over 4 MB") as info:
        await http.json(httpx.Request("GET", URL))
    assert sum(pulled) <= MAX_ANSWER_BYTES + 65536  # stopped at the cap, not at the end
    assert len(seen) == 1  # the same answer would come again: not retried
    assert not info.value.maybe_done
    with pytest.raises(ProviderUnavailable, match="over 4 MB") as created:
        await http.json(httpx.Request("POST", URL), idempotent=False)
    assert created.value.maybe_done


async def test_a_list_endpoint_may_ask_for_a_larger_cap() -> None:
    big = {"items": ["x" * 1000] * 6000}  # about 6 MB
    http, _ = _http([httpx.Response(200, json=big) for _ in range(2)])
    assert await http.json(httpx.Request("GET", URL), limit=8 * 1024 * 1024) == big
    with pytest.raises(ProviderUnavailable, match="over 1 MB"):
        await http.send(httpx.Request("GET", URL), limit=1024 * 1024)


async def test_a_compressed_answer_is_capped_by_its_unpacked_size() -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))  # 64 KB on the wire
    answer = httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
    http, _ = _http([answer])
    with pytest.raises(ProviderUnavailable, match="over 4 MB"):
        await http.json(httpx.Request("GET", URL))


async def test_a_body_that_does_not_unpack_is_unreadable_not_a_crash() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"not gzip"

    broken = httpx.Response(200, content=body(), headers={"Content-Encoding": "gzip"})
    http, _ = _http([broken], attempts=1)
    with pytest.raises(ProviderUnavailable, match="DecodingError"):
        await http.json(httpx.Request("GET", URL))


async def test_a_huge_error_body_is_not_read_whole() -> None:
    pulled: list[int] = []
    answer = _endless(pulled)
    answer.status_code = 400
    http, _ = _http([answer])
    with pytest.raises(ProviderRejected, match="HTTP 400"):
        await http.send(httpx.Request("GET", URL))
    assert sum(pulled) <= 256 * 1024


async def test_an_answer_dripping_slowly_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider_http, "MAX_READ_SECONDS", 0.2)

    async def drip() -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.05)  # each read in time, the whole never
            yield b" "

    answers: list[httpx.Response | Exception] = [
        httpx.Response(200, content=drip()) for _ in range(2)
    ]
    http, seen = _http(answers, attempts=2)
    with pytest.raises(ProviderUnavailable, match="no answer") as info:
        await http.json(httpx.Request("GET", URL))
    assert len(seen) == 2  # a read is retried like any timeout
    http, seen = _http([httpx.Response(200, content=drip())])
    with pytest.raises(ProviderUnavailable) as created:
        await http.json(httpx.Request("POST", URL), idempotent=False)
    assert created.value.maybe_done
    assert not info.value.maybe_done


# --- reasons: the provider's words, short and clean ------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"aspect_ratio": ['"16:9" is not a valid choice.']}, 'aspect_ratio: "16:9" is not a'),
        ({"non_field_errors": ["Text or audio is required."]}, "Text or audio is required."),
        ({"detail": "Invalid token."}, "Invalid token."),
        ({"message": ["name must be a string"]}, "name must be a string"),
        ({"error": {"code": "x", "message": "No face"}}, "No face"),
        (["Only one of text or audio."], "Only one of text or audio."),
        (
            {"script": ["Too long."], "avatar": ["Unknown avatar."]},
            "script: Too long.; avatar: Unknown avatar.",
        ),
        ({"scenes": [{"text": ["This field is required."]}]}, "scenes: text: This field is"),
        ({"a\n\u202eb": ["line\r\none\x00\ttwo"]}, "a b: line one two"),
        ({"detail": "x" * 5000}, "x" * 299 + "…"),
        ({"id": "abc", "status": 3}, "HTTP 400 Bad Request"),  # not an error shape
        ({"detail": "\n\u200b\x07"}, "HTTP 400 Bad Request"),  # nothing left to show
    ],
)
async def test_a_refusal_carries_the_providers_words(body: object, reason: str) -> None:
    http, _ = _http([httpx.Response(400, json=body)])
    with pytest.raises(ProviderRejected) as info:
        await http.send(httpx.Request("GET", URL))
    assert info.value.reason.startswith(reason)
    assert len(info.value.reason) <= 300
    assert info.value.reason.isprintable()


# --- numbers in answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3.0),
        (2.5, 2.5),
        (10**400, None),
        (-(10**400), None),
        (math.inf, None),
        (-math.inf, None),
        (math.nan, None),
        (True, None),
        ("3", None),
        (None, None),
    ],
    ids=["int", "float", "huge", "huge-negative", "inf", "-inf", "nan", "bool", "str", "none"],
)
def test_a_number_is_finite_or_none(value: object, expected: float | None) -> None:
    assert number(value) == expected


def test_nan_and_infinity_in_json_are_not_numbers() -> None:
    data = json.loads('{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e400}')
    assert [number(v) for v in data.values()] == [None] * 4


# --- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe", "١٢٠".encode(), b"1_0", b"9" * 4000, b"Fri, 31 Dec 9999 23:59:59 GMT"],
)
async def test_a_hostile_retry_after_is_bounded_or_ignored(raw: bytes) -> None:
    http, _ = _http([httpx.Response(503, headers=[(b"Retry-After", raw)])], attempts=1)
    with pytest.raises(ProviderUnavailable) as info:
        await http.send(httpx.Request("GET", URL))
    wait = info.value.retry_after
    assert wait is None or 0 <= wait <= MAX_RETRY_AFTER_SECONDS


@pytest.mark.parametrize("raw", [b"\xff\xfe", "١٢٠".encode(), b"1_0"])
async def test_a_retry_after_not_in_ascii_digits_is_no_hint(raw: bytes) -> None:
    http, _ = _http([httpx.Response(503, headers=[(b"Retry-After", raw)])], attempts=1)
    with pytest.raises(ProviderUnavailable) as info:
        await http.send(httpx.Request("GET", URL))
    assert info.value.retry_after is None
