"""The fake sync.so, driven by the official ``syncsdk`` and by plain httpx.

Why: the bot's sync.so tests trust this fake, so it must answer the real client the way sync.so
does (providers.md section 4). The SDK part proves the wire protocol (paths, the ``x-api-key``
header, bodies, answers its pydantic models read); the httpx part pins what the bot relies on:
idempotency keys, errors, the life cycle with real input downloads, signed webhooks, faults
and the charges a test counts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from sync import AsyncSync
from sync.common import Audio, Video
from sync.common.errors import BadRequestError, NotFoundError, UnauthorizedError
from sync.core.api_error import ApiError

from tests.conftest import Media
from tests.fakes import sync as fake_module
from tests.fakes.sync import FakeSync, running
from tests.fakes.telegram import serve_asgi

KEY = "sk-sync-test"
SECRET = "whsec_sync_test"


@dataclass
class Receiver:
    """The bot's side: a webhook endpoint, and its media host serving the inputs."""

    media: Media
    url: str = ""
    hooks: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)  # answers for the next hooks

    async def hook(self, request: Request) -> Response:
        self.hooks.append((dict(request.headers), await request.body()))
        return Response(status_code=self.statuses.popleft() if self.statuses else 200)

    async def file(self, request: Request) -> Response:
        files = {"face.mp4": self.media.video, "voice.mp3": self.media.mp3}
        path = files.get(request.path_params["name"])
        return Response(status_code=404) if path is None else FileResponse(path)

    def body(self, video: str = "face.mp4", audio: str = "voice.mp3", **extra: Any) -> Any:
        return {
            "model": "lipsync-2",
            "input": [
                {"type": "video", "url": f"{self.url}/files/{video}"},
                {"type": "audio", "url": f"{self.url}/files/{audio}"},
            ],
            "options": {"sync_mode": "cut_off"},
            "webhookUrl": f"{self.url}/hook",
            **extra,
        }


@pytest.fixture
async def fake(media: Media) -> AsyncIterator[FakeSync]:
    fk = FakeSync(output=media.video)
    fk.pending_seconds, fk.render_seconds = 0.02, 0.05
    async with running(fk):
        yield fk


@pytest.fixture
async def receiver(media: Media, fake: FakeSync) -> AsyncIterator[Receiver]:
    rc = Receiver(media)
    app = Starlette(
        routes=[
            Route("/hook", rc.hook, methods=["POST"]),
            Route("/files/{name}", rc.file, methods=["GET"]),
        ]
    )
    async with serve_asgi(app) as url:
        rc.url = url
        yield rc
        await fake.aclose()  # its keep-alive connections closed: this server stops at once


@pytest.fixture
async def api(fake: FakeSync) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=fake.base_url, headers={"x-api-key": KEY}, timeout=10
    ) as client:
        yield client


@pytest.fixture
async def sdk(fake: FakeSync) -> AsyncIterator[AsyncSync]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield AsyncSync(base_url=fake.base_url, api_key=KEY, httpx_client=client)


def verify_as_documented(headers: dict[str, str], raw: bytes) -> bool:
    """sync.so's own Python example: the signature over the re-serialised JSON body."""
    match = re.match(r"t=(\d+),v1=(.+)", headers["sync-signature"])
    assert match is not None
    stamp, given = match.groups()
    payload = json.loads(raw)
    message = f"{stamp}.{json.dumps(payload, separators=(',', ':'))}"
    expected = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)


# ---------------------------------------------------------------------- the official SDK


async def test_sdk_create_status_list_and_cost(
    sdk: AsyncSync, fake: FakeSync, receiver: Receiver
) -> None:
    video = Video(url=f"{receiver.url}/files/face.mp4")
    audio = Audio(url=f"{receiver.url}/files/voice.mp3")
    created = await sdk.generations.create(
        model="lipsync-2",
        input=[video, audio],
        webhook_url=f"{receiver.url}/hook",
        output_file_name="reply-42",
        request_options={"additional_headers": {"Idempotency-Key": "job-42.a~b"}},
    )
    assert created.status == "PENDING"
    assert created.model == "lipsync-2"
    await fake.wait_for(created.id)
    done = await sdk.generations.get(created.id)
    assert done.status == "COMPLETED"
    assert done.output_url
    assert done.output_url.endswith("/reply-42.mp4")
    assert done.output_duration
    assert done.output_duration > 3
    listed = await sdk.generations.list(ids=[created.id, "00000000-0000-0000-0000-000000000000"])
    assert [g.id for g in listed] == [created.id]
    (quote,) = await sdk.generations.estimate_cost(model="lipsync-2", input=[video, audio])
    assert quote.estimated_frame_count >= 100  # the 4 s MP3 at 25 fps
    assert quote.estimated_generation_cost == pytest.approx(
        quote.estimated_frame_count * 0.05 / 25
    )
    async with httpx.AsyncClient() as client:
        output = await client.get(done.output_url)
    assert output.status_code == 200
    assert output.content == fake.output.read_bytes()
    # The SDK sent the key it was given, and the fake bound the generation to it.
    assert fake.creates()[0].key == "job-42.a~b"
    assert fake.keys["job-42.a~b"][1] == created.id
    assert [charge.generation_id for charge in fake.charges] == [created.id]


async def test_sdk_sees_error_answers(sdk: AsyncSync, fake: FakeSync) -> None:
    with pytest.raises(BadRequestError) as bad:
        await sdk.generations.create(model="lipsync-2", input=[Audio(url="https://x.test/a")])
    assert bad.value.status_code == 400
    assert "exactly one video" in str(bad.value.body)
    with pytest.raises(NotFoundError):
        await sdk.generations.get("no-such-generation")
    async with httpx.AsyncClient(timeout=10) as client:
        wrong = AsyncSync(base_url=fake.base_url, api_key="sk-wrong", httpx_client=client)
        with pytest.raises(UnauthorizedError):
            await wrong.generations.get("anything")
    fake.balance = 0
    with pytest.raises(ApiError) as broke:
        await sdk.generations.create(
            model="lipsync-2",
            input=[Video(url="https://x.test/v.mp4"), Audio(url="https://x.test/a.mp3")],
        )
    assert broke.value.status_code == 402


# ---------------------------------------------------------------------- idempotency


async def test_the_same_key_and_body_answer_the_same_generation_charged_once(
    api: httpx.AsyncClient, fake: FakeSync, receiver: Receiver
) -> None:
    body = receiver.body(outputFileName="lipsync-bot-7-abc")
    first = await api.post("/v2/generate", json=body, headers={"Idempotency-Key": "k-7"})
    again = await api.post("/v2/generate", json=body, headers={"Idempotency-Key": "k-7"})
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    await fake.wait_idle()
    later = await api.post("/v2/generate", json=body, headers={"Idempotency-Key": "k-7"})
    assert later.json()["status"] == "COMPLETED"  # the generation as it is now
    assert len(fake.generations) == 1
    assert len(fake.charges) == 1
    assert fake.replays == [first.json()["id"]] * 2
    # Without a key, the same body is a second generation.
    other = await api.post("/v2/generate", json=body)
    assert other.json()["id"] != first.json()["id"]


async def test_a_key_with_another_body_or_malformed_is_refused(
    api: httpx.AsyncClient, fake: FakeSync, receiver: Receiver
) -> None:
    body = receiver.body()
    assert (await api.post("/v2/generate", json=body, headers={"Idempotency-Key": "k"})).is_success
    changed = await api.post(
        "/v2/generate", json=receiver.body(audio="other.mp3"), headers={"Idempotency-Key": "k"}
    )
    assert changed.status_code == 422
    assert changed.json()["errorCode"] == "IDEMPOTENCY_KEY_REUSED"
    for bad in ("", "has space", "x" * 129, "ключ"):
        answer = await api.post(
            "/v2/generate", json=body, headers=[(b"Idempotency-Key", bad.encode())]
        )
        assert answer.status_code == 400, bad
        assert answer.json()["errorCode"] == "INVALID_IDEMPOTENCY_KEY"
    twice = await api.post(
        "/v2/generate", json=body, headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "a")]
    )
    assert twice.status_code == 400
    # A refused request binds no key: fixed, it is made under that key.
    refused = await api.post(
        "/v2/generate", json={**body, "model": "lipsync-9"}, headers={"Idempotency-Key": "z"}
    )
    assert refused.status_code == 400
    assert (await api.post("/v2/generate", json=body, headers={"Idempotency-Key": "z"})).is_success
    assert len(fake.generations) == 2


async def test_validation_answers_400_with_a_list(api: httpx.AsyncClient) -> None:
    cases: list[Any] = [
        [],
        {"model": "lipsync-2", "input": []},
        {"model": "lipsync-2", "input": [{"type": "video", "url": "https://a/v.mp4"}] * 2},
        {
            "model": "lipsync-2",
            "input": [{"type": "video", "url": "https://a/v"}, {"type": "audio"}],
        },
    ]
    base = {
        "model": "lipsync-2",
        "input": [
            {"type": "video", "url": "https://a/v"},
            {"type": "audio", "url": "https://a/a"},
        ],
    }
    cases += [
        {**base, "model": "lipsync-1.9"},
        {**base, "options": {"sync_mode": "stretch"}},
        {**base, "options": {"temperature": 2}},
        {**base, "outputFileName": "../x"},
        {**base, "webhookUrl": 5},
    ]
    for body in cases:
        answer = await api.post("/v2/generate", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["statusCode"] == 400
        assert isinstance(answer.json()["message"], list)


async def test_every_v2_route_needs_the_key(fake: FakeSync) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        for method, path in [
            ("POST", "/v2/generate"),
            ("GET", "/v2/generate/x"),
            ("GET", "/v2/generations"),
            ("POST", "/v2/analyze/cost"),
        ]:
            for headers in ({}, {"x-api-key": "sk-wrong"}, {"Authorization": f"Bearer {KEY}"}):
                answer = await client.request(method, path, json={}, headers=headers)
                assert answer.status_code == 401, (method, path, headers)
                assert answer.json() == {
                    "statusCode": 401,
                    "message": "Unauthorized",
                    "error": "Unauthorized",
                }


# ---------------------------------------------------------------------- life cycle, webhooks


async def test_inputs_are_fetched_and_a_missing_one_fails_the_generation(
    api: httpx.AsyncClient, fake: FakeSync, receiver: Receiver
) -> None:
    good = (await api.post("/v2/generate", json=receiver.body())).json()["id"]
    gone = (await api.post("/v2/generate", json=receiver.body(audio="gone.mp3"))).json()["id"]
    await fake.wait_idle()
    assert [(f.kind, f.status) for f in fake.fetched if f.generation_id == good] == [
        ("video", 200),
        ("audio", 200),
    ]
    failed = (await api.get(f"/v2/generate/{gone}")).json()
    assert failed["status"] == "FAILED"
    assert failed["error_code"] == "generation_input_fetch_failed"
    assert failed["outputUrl"] is None
    assert [charge.generation_id for charge in fake.charges] == [good]  # failures are free


async def test_audio_over_the_limit_fails(
    api: httpx.AsyncClient,
    fake: FakeSync,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fake_module, "MAX_AUDIO_SECONDS", 2.0)  # the MP3 is 4 s
    gen_id = (await api.post("/v2/generate", json=receiver.body())).json()["id"]
    generation = await fake.wait_for(gen_id)
    assert generation.error_code == "generation_audio_length_exceeded"


async def test_webhooks_are_signed_as_documented(
    api: httpx.AsyncClient, fake: FakeSync, receiver: Receiver
) -> None:
    gen_id = (await api.post("/v2/generate", json=receiver.body())).json()["id"]
    await fake.wait_idle()
    ((headers, raw),) = receiver.hooks
    assert verify_as_documented(headers, raw)
    stamp = int(re.match(r"t=(\d+)", headers["sync-signature"]).group(1))  # type: ignore[union-attr]
    assert abs(time.time() - stamp) < 10
    payload = json.loads(raw)
    assert payload["id"] == gen_id
    assert payload["status"] == "COMPLETED"
    assert payload["outputUrl"] == payload["outputMediaUrl"]
    # A failure is posted too, with its reason.
    fake.next_outcomes.append(("REJECTED", "content_policy", "Refused by moderation"))
    await api.post("/v2/generate", json=receiver.body())
    await fake.wait_idle()
    rejected = json.loads(receiver.hooks[-1][1])
    assert (rejected["status"], rejected["error"]) == ("REJECTED", "Refused by moderation")


async def test_webhook_drop_duplicate_and_retry(
    api: httpx.AsyncClient, fake: FakeSync, receiver: Receiver
) -> None:
    fake.webhook_mode = "drop"
    await api.post("/v2/generate", json=receiver.body())
    await fake.wait_idle()
    assert receiver.hooks == []
    assert fake.webhook_deliveries == []
    fake.webhook_mode = "duplicate"
    await api.post("/v2/generate", json=receiver.body())
    await fake.wait_idle()
    assert len(receiver.hooks) == 2
    assert receiver.hooks[0][1] == receiver.hooks[1][1]
    fake.webhook_mode = "deliver"
    receiver.statuses.extend([500, 503])
    gen_id = (await api.post("/v2/generate", json=receiver.body())).json()["id"]
    await fake.wait_idle()
    codes = [d.status_code for d in fake.webhook_deliveries if d.generation_id == gen_id]
    assert codes == [500, 503, 200]


async def test_manual_completion_and_failure(
    api: httpx.AsyncClient, fake: FakeSync, receiver: Receiver
) -> None:
    fake.auto_complete = False
    first = (await api.post("/v2/generate", json=receiver.body())).json()["id"]
    second = (await api.post("/v2/generate", json=receiver.body())).json()["id"]
    await fake.wait_for(first, "PROCESSING")
    fake.fail(first, "TIMED_OUT", "generation_timeout", "Took too long")
    fake.complete(second)
    assert (await fake.wait_for(first)).status == "TIMED_OUT"
    assert (await fake.wait_for(second)).status == "COMPLETED"
    with pytest.raises(ValueError, match="already"):
        fake.complete(first)


# ---------------------------------------------------------------------- faults


async def test_faults_rate_limit_lost_answers_and_cut_connections(
    api: httpx.AsyncClient, fake: FakeSync, receiver: Receiver
) -> None:
    fake.fail_next("POST /v2/generate", 429, retry_after=7)
    limited = await api.post("/v2/generate", json=receiver.body())
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json()["errorCode"] == "rate_limit_exceeded"
    assert not fake.generations  # refused before anything was made
    fake.fail_next("POST /v2/generate", 500, after_processing=True)
    lost = await api.post("/v2/generate", json=receiver.body())
    assert lost.status_code == 500
    assert len(fake.generations) == 1  # made, though the answer said otherwise
    fake.drop_next("POST /v2/generate")
    with pytest.raises(httpx.RemoteProtocolError):
        await api.post("/v2/generate", json=receiver.body())
    assert len(fake.generations) == 2
    fake.fail_next("GET /v2/generations", 503)
    assert (await api.get("/v2/generations")).status_code == 503
    assert (await api.get("/v2/generations")).status_code == 200


async def test_cost_fetches_the_audio(
    api: httpx.AsyncClient, fake: FakeSync, receiver: Receiver
) -> None:
    answer = await api.post("/v2/analyze/cost", json=receiver.body(model="sync-3"))
    ((quote),) = answer.json()
    assert quote["estimatedGenerationCost"] == round(quote["estimatedFrameCount"] * 0.133 / 25, 4)
    missing = await api.post("/v2/analyze/cost", json=receiver.body(audio="gone.mp3"))
    assert missing.status_code == 400
    assert not fake.generations
    assert not fake.charges
