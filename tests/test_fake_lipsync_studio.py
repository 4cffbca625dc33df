"""The fake lipsync.studio API, driven with plain httpx.

Why: the bot's lipsync.studio client is tested against this fake, so the fake must keep the
contract of providers.md section 3 (and its documented inferences): auth, validation, credits,
polling, real input downloads, webhooks and injected faults.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bot.media.probe import probe
from tests.conftest import Media
from tests.fakes.lipsync_studio import FakeLipsyncStudio, Fetch, WebhookDelivery, running
from tests.fakes.telegram import serve_asgi

KEY = "sk_test_fake"
AUTH = {"Authorization": f"Bearer {KEY}"}
U = "https://cdn.example.com/x"
FORM = {"video": U, "audio": U}
# Building a client's SSL context costs ~40 ms; every test makes clients, none uses TLS.
SSL = httpx.create_ssl_context()


@dataclass
class Inputs:
    """A tiny media server standing in for the bot's signed links; records every hit."""

    files: dict[str, Path]
    base: str = ""
    hits: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base}/media/{name}"

    async def serve(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.hits.append(name)
        if name == "empty":
            return Response(b"", media_type="audio/mpeg")
        if name not in self.files:
            return JSONResponse({"detail": "gone"}, 404)
        return FileResponse(self.files[name])


@dataclass
class Hooks:
    """A webhook receiver; answers with ``statuses`` in turn, then 200."""

    base: str = ""
    received: list[tuple[float, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base}/hooks/lipsync-studio"

    @property
    def bodies(self) -> list[Any]:
        return [body for _, body in self.received]

    async def receive(self, request: Request) -> Response:
        self.received.append((time.monotonic(), await request.json()))
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
async def inputs(media: Media) -> AsyncIterator[Inputs]:
    srv = Inputs(
        {
            "face.mp4": media.video,
            "face.jpg": media.photo,
            "voice.mp3": media.mp3,
            "long.mp3": media.long_mp3,
        }
    )
    app = Starlette(routes=[Route("/media/{name}", srv.serve, methods=["GET"])])
    async with serve_asgi(app) as url:
        srv.base = url
        yield srv


@pytest.fixture
async def hooks() -> AsyncIterator[Hooks]:
    srv = Hooks()
    app = Starlette(routes=[Route("/hooks/lipsync-studio", srv.receive, methods=["POST"])])
    async with serve_asgi(app) as url:
        srv.base = url
        yield srv


@pytest.fixture
def fake(media: Media) -> FakeLipsyncStudio:
    fk = FakeLipsyncStudio(api_key=KEY, output=media.video)
    fk.render_seconds = 0.05
    fk.webhook_backoff = 0.01
    return fk


@pytest.fixture
async def api(fake: FakeLipsyncStudio) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the fake served on a real socket (as the bot will reach it)."""
    async with (
        running(fake) as url,
        httpx.AsyncClient(base_url=url, headers=AUTH, verify=SSL) as client,
    ):
        yield client


@pytest.fixture
async def local(fake: FakeLipsyncStudio) -> AsyncIterator[httpx.AsyncClient]:
    """A client calling the fake in-process: for request checks that start no job, it saves
    uvicorn's fixed 0.1 s shutdown per test."""
    fake.base_url = "http://lipsync.test"
    transport = httpx.ASGITransport(app=fake.app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=fake.base_url, headers=AUTH, verify=SSL
        ) as client:
            yield client
    finally:
        await fake.aclose()


def video_body(inputs: Inputs, **form: Any) -> dict[str, Any]:
    return {
        "formState": {
            "video": inputs.url("face.mp4"),
            "audio": inputs.url("voice.mp3"),
            "resolution": "480p",
            **form,
        }
    }


async def poll(api: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    """Polls like a client would (faster than the documented 5-10 s)."""
    async with asyncio.timeout(10):
        while True:
            response = await api.get(f"/api/v1/jobs/{job_id}")
            assert response.status_code == 200, response.text
            job: dict[str, Any] = response.json()
            if job["status"] != "processing":
                return job
            await asyncio.sleep(0.02)


async def price(path: Path, rate: int) -> int:
    duration = (await probe(path)).duration
    assert duration is not None
    return max(5, math.ceil(duration)) * rate


# ---------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer abc_test_fake"},
        {"Authorization": "Bearer sk_wrong"},
        {"Authorization": f"Basic {KEY}"},
    ],
    ids=["missing", "empty", "no-sk-prefix", "other-key", "not-bearer"],
)
async def test_bad_auth_is_401(
    local: httpx.AsyncClient, fake: FakeLipsyncStudio, headers: dict[str, str]
) -> None:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(
        transport=transport, base_url=fake.base_url, headers=headers, verify=SSL
    ) as anon:
        created = await anon.post("/api/v1/lipsync-video", json={"formState": FORM})
        polled = await anon.get("/api/v1/jobs/whatever")
    assert (created.status_code, created.json()) == (401, {"error": "Unauthorized"})
    assert (polled.status_code, polled.json()) == (401, {"error": "Unauthorized"})
    assert fake.jobs == {}
    assert [c.status for c in fake.calls] == [401, 401]


# ---------------------------------------------------------------------------- validation

VIDEO, IMAGE, MULTI = "lipsync-video", "lipsync-image", "lipsync-image-multi"


@pytest.mark.parametrize(
    ("endpoint", "body", "message"),
    [
        (VIDEO, [1, 2], "Request body must be a JSON object"),
        (VIDEO, {"webhook": U}, "formState is required"),
        (VIDEO, {"formState": "video"}, "formState must be an object"),
        (VIDEO, {"formState": {"audio": U}}, "formState.video is required"),
        (VIDEO, {"formState": {"video": U}}, "formState.audio is required"),
        (VIDEO, {"formState": {"video": "ftp://x/v.mp4", "audio": U}}, "formState.video must"),
        (VIDEO, {"formState": {"video": U, "audio": "voice.mp3"}}, "formState.audio must"),
        (VIDEO, {"formState": {"video": U, "audio": U, "mask_image": 3}}, "mask_image must"),
        (VIDEO, {"formState": {"video": U, "audio": U, "resolution": "1080p"}}, "resolution"),
        (VIDEO, {"formState": {"video": U, "audio": U, "seed": "42"}}, "seed must"),
        (VIDEO, {"formState": {"video": U, "audio": U, "seed": True}}, "seed must"),
        (VIDEO, {"formState": {"video": U, "audio": U, "prompt": 1}}, "prompt must"),
        (VIDEO, {"webhook": "not a url", "formState": {"video": U, "audio": U}}, "webhook"),
        (IMAGE, {"formState": {"audio": U}}, "formState.image is required"),
        (IMAGE, {"formState": {"image": U}}, "formState.audio is required"),
        (IMAGE, {"formState": {"image": U, "audio": U, "resolution": "360p"}}, "resolution"),
        (MULTI, {"formState": {"image": U, "left_audio": U}}, "formState.right_audio is"),
        (MULTI, {"formState": {"image": U, "right_audio": U}}, "formState.left_audio is"),
        (
            MULTI,
            {"formState": {"image": U, "left_audio": U, "right_audio": U, "order": "both"}},
            "formState.order must",
        ),
    ],
)
async def test_invalid_create_is_400(
    local: httpx.AsyncClient, fake: FakeLipsyncStudio, endpoint: str, body: Any, message: str
) -> None:
    response = await local.post(f"/api/v1/{endpoint}", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert fake.jobs == {}
    assert fake.credits == 100_000


async def test_body_that_is_not_json_is_400(local: httpx.AsyncClient) -> None:
    response = await local.post("/api/v1/lipsync-image", content=b"{nope")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "Request body must be a JSON object"},
    )


# ---------------------------------------------------------------------------- credits


async def test_insufficient_credits_is_402(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs
) -> None:
    fake.credits = 19  # the 5 s minimum costs 10 at 480p, 20 at 720p
    expensive = await api.post("/api/v1/lipsync-video", json=video_body(inputs, resolution="720p"))
    assert (expensive.status_code, expensive.json()) == (402, {"error": "Insufficient credits"})
    assert (fake.credits, fake.jobs) == (19, {})
    cheap = await api.post("/api/v1/lipsync-video", json=video_body(inputs))
    assert cheap.status_code == 200
    assert fake.credits == 9


async def test_charge_is_settled_from_the_probed_audio(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, media: Media
) -> None:
    body = video_body(inputs, audio=inputs.url("long.mp3"), resolution="720p")
    job_id = (await api.post("/api/v1/lipsync-video", json=body)).json()["requestId"]
    assert fake.credits == 100_000 - 20  # reserved: 5 s at 4 credits/s
    assert (await poll(api, job_id))["status"] == "completed"
    assert fake.credits == 100_000 - await price(media.long_mp3, 4)  # ~7 s -> 28+
    assert fake.jobs[job_id].charge == 100_000 - fake.credits


async def test_settlement_beyond_the_balance_fails_and_refunds(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs
) -> None:
    fake.credits = 10  # covers the 5 s reservation, not the ~7 s audio
    body = video_body(inputs, audio=inputs.url("long.mp3"))
    job_id = (await api.post("/api/v1/lipsync-video", json=body)).json()["requestId"]
    job = await poll(api, job_id)
    assert (job["status"], job["error"], job["output"]) == ("failed", "Insufficient credits", None)
    assert fake.credits == 10


# ---------------------------------------------------------------------------- happy path


async def test_create_poll_complete_and_download(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, media: Media
) -> None:
    created = await api.post("/api/v1/lipsync-video", json=video_body(inputs, seed=7))
    assert created.status_code == 200
    answer = created.json()
    job_id = answer["requestId"]
    assert answer == {"requestId": job_id, "id": job_id, "status": "processing"}

    first = (await api.get(f"/api/v1/jobs/{job_id}")).json()
    assert first == {
        "id": job_id,
        "model": "lipsync-video",
        "status": "processing",
        "output": None,
        "error": None,
        "executionTime": None,
        "timings": None,
    }
    job = await poll(api, job_id)
    assert job["status"] == "completed"
    assert job["error"] is None
    assert job["model"] == "lipsync-video"
    assert job["output"] == f"{fake.base_url}/outputs/{job_id}.mp4"
    assert isinstance(job["executionTime"], int)
    assert job["executionTime"] >= 50
    assert set(job["timings"]) == {"inference"}

    async with httpx.AsyncClient(verify=SSL) as cdn:  # the output link needs no key
        video = await cdn.get(job["output"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content == media.video.read_bytes()
    assert fake.output_downloads == [job_id]

    assert sorted(inputs.hits) == ["face.mp4", "voice.mp3"]
    assert fake.fetched == [
        Fetch(job_id, "video", inputs.url("face.mp4"), 200, media.video.stat().st_size),
        Fetch(job_id, "audio", inputs.url("voice.mp3"), 200, media.mp3.stat().st_size),
    ]
    assert fake.credits == 100_000 - await price(media.mp3, 2)
    assert [(c.method, c.path, c.status) for c in fake.calls][:2] == [
        ("POST", "/api/v1/lipsync-video", 200),
        ("GET", f"/api/v1/jobs/{job_id}", 200),
    ]
    assert fake.calls[0].json == video_body(inputs, seed=7)


async def test_image_and_multi_fetch_every_input(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, media: Media
) -> None:
    image = {"image": inputs.url("face.jpg"), "audio": inputs.url("voice.mp3"), "seed": 42}
    multi = {
        "image": inputs.url("face.jpg"),
        "left_audio": inputs.url("voice.mp3"),
        "right_audio": inputs.url("long.mp3"),
        "order": "left_right",
    }
    one = (await api.post("/api/v1/lipsync-image", json={"formState": image})).json()["id"]
    two = (await api.post("/api/v1/lipsync-image-multi", json={"formState": multi})).json()["id"]
    assert (await poll(api, one))["model"] == "lipsync-image"
    assert (await poll(api, two))["model"] == "lipsync-image-multi"
    assert sorted((f.job_id, f.field, f.status) for f in fake.fetched) == sorted(
        [
            (one, "image", 200),
            (one, "audio", 200),
            (two, "image", 200),
            (two, "left_audio", 200),
            (two, "right_audio", 200),
        ]
    )
    assert sorted(inputs.hits) == sorted(
        ["face.jpg", "voice.mp3", "face.jpg", "voice.mp3", "long.mp3"]
    )
    durations = [(await probe(p)).duration or 0 for p in (media.mp3, media.long_mp3)]
    assert fake.jobs[one].charge == await price(media.mp3, 2)
    assert fake.jobs[two].charge == max(5, math.ceil(sum(durations))) * 2  # not meanwhile: sum


async def test_multi_meanwhile_bills_the_longer_audio(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, media: Media
) -> None:
    multi = {
        "image": inputs.url("face.jpg"),
        "left_audio": inputs.url("voice.mp3"),
        "right_audio": inputs.url("long.mp3"),
    }
    job_id = (await api.post("/api/v1/lipsync-image-multi", json={"formState": multi})).json()[
        "id"
    ]
    await poll(api, job_id)
    assert fake.jobs[job_id].charge == await price(media.long_mp3, 2)


async def test_unknown_job_is_404_and_unfinished_output_too(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs
) -> None:
    missing = await api.get("/api/v1/jobs/nope")
    assert (missing.status_code, missing.json()) == (404, {"error": "Job not found"})
    fake.auto_complete = False
    job_id = (await api.post("/api/v1/lipsync-video", json=video_body(inputs))).json()["id"]
    assert (await api.get(f"/outputs/{job_id}.mp4")).status_code == 404
    assert (await api.get("/outputs/nope.mp4")).status_code == 404


# ---------------------------------------------------------------------------- failures


@pytest.mark.parametrize(("name", "field"), [("missing.mp4", "video"), ("empty", "audio")])
async def test_input_that_does_not_load_fails_the_job(
    api: httpx.AsyncClient,
    fake: FakeLipsyncStudio,
    inputs: Inputs,
    hooks: Hooks,
    name: str,
    field: str,
) -> None:
    body = video_body(inputs, **{field: inputs.url(name)}) | {"webhook": hooks.url}
    job_id = (await api.post("/api/v1/lipsync-video", json=body)).json()["id"]
    job = await poll(api, job_id)
    assert job["status"] == "failed"
    assert job["error"] == f"Failed to download input: {field}"
    assert job["output"] is None
    assert fake.credits == 100_000  # refunded
    assert fake.fetched[-1].field == field
    assert fake.fetched[-1].status == (404 if name == "missing.mp4" else 200)
    await fake.wait_idle()
    assert hooks.bodies == [job]  # failure is delivered too [I]


async def test_unreachable_input_fails_the_job(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs
) -> None:
    body = video_body(inputs, video="http://127.0.0.1:9/face.mp4")  # discard port: refused
    job_id = (await api.post("/api/v1/lipsync-video", json=body)).json()["id"]
    job = await fake.wait_for(job_id)
    assert (job.status, job.error) == ("failed", "Failed to download input: video")
    assert fake.fetched == [Fetch(job_id, "video", "http://127.0.0.1:9/face.mp4", 0, 0)]


async def test_fail_next_jobs_then_complete(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs
) -> None:
    fake.fail_next_jobs("Model crashed", times=2)
    ids = [
        (await api.post("/api/v1/lipsync-video", json=video_body(inputs))).json()["id"]
        for _ in range(3)
    ]
    jobs = [await poll(api, job_id) for job_id in ids]
    assert [(j["status"], j["error"]) for j in jobs] == [
        ("failed", "Model crashed"),
        ("failed", "Model crashed"),
        ("completed", None),
    ]
    assert len(fake.fetched) == 6  # failing jobs still download their inputs


async def test_manual_complete_and_fail(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs
) -> None:
    fake.auto_complete = False
    ok, bad = [
        (await api.post("/api/v1/lipsync-video", json=video_body(inputs))).json()["id"]
        for _ in range(2)
    ]
    await asyncio.sleep(0.3)  # well past render_seconds
    assert {fake.jobs[ok].status, fake.jobs[bad].status} == {"processing"}
    fake.complete(ok)
    fake.fail(bad, "GPU on fire")
    assert (await poll(api, ok))["status"] == "completed"
    assert (await poll(api, bad))["error"] == "GPU on fire"
    with pytest.raises(ValueError, match="already completed"):
        fake.complete(ok)


async def test_explicit_complete_beats_fail_next_jobs(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs
) -> None:
    fake.auto_complete = False
    fake.fail_next_jobs("Model crashed")
    job_id = (await api.post("/api/v1/lipsync-video", json=video_body(inputs))).json()["id"]
    fake.complete(job_id)  # before its inputs are even fetched: applied once they are
    assert (await poll(api, job_id))["status"] == "completed"
    assert len(fake.fetched) == 2


# ---------------------------------------------------------------------------- webhooks


async def test_webhook_delivers_the_job_object(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, hooks: Hooks
) -> None:
    body = video_body(inputs) | {"webhook": hooks.url}
    job_id = (await api.post("/api/v1/lipsync-video", json=body)).json()["id"]
    await fake.wait_idle()
    job = await poll(api, job_id)
    assert hooks.bodies == [job]
    assert job["status"] == "completed"
    assert fake.webhook_deliveries == [WebhookDelivery(job_id, hooks.url, 200)]


async def test_webhook_on_failure(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, hooks: Hooks
) -> None:
    fake.auto_complete = False
    body = video_body(inputs) | {"webhook": hooks.url}
    job_id = (await api.post("/api/v1/lipsync-video", json=body)).json()["id"]
    fake.fail(job_id, "Face not detected")
    await fake.wait_idle()
    assert hooks.bodies == [await poll(api, job_id)]
    assert hooks.bodies[0]["error"] == "Face not detected"


async def test_webhook_drop(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, hooks: Hooks
) -> None:
    fake.webhook_mode = "drop"
    body = video_body(inputs) | {"webhook": hooks.url}
    job_id = (await api.post("/api/v1/lipsync-video", json=body)).json()["id"]
    assert (await poll(api, job_id))["status"] == "completed"  # polling still works
    await fake.wait_idle()
    assert hooks.received == []
    assert (fake.dropped_webhooks, fake.webhook_deliveries) == ([job_id], [])


async def test_webhook_duplicate(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, hooks: Hooks
) -> None:
    fake.webhook_mode = "duplicate"
    body = video_body(inputs) | {"webhook": hooks.url}
    job_id = (await api.post("/api/v1/lipsync-video", json=body)).json()["id"]
    await fake.wait_idle()
    assert len(hooks.bodies) == 2
    assert hooks.bodies[0] == hooks.bodies[1] == await poll(api, job_id)


async def test_webhook_delay(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, hooks: Hooks
) -> None:
    fake.webhook_mode, fake.webhook_delay = "delay", 0.4
    body = video_body(inputs) | {"webhook": hooks.url}
    job_id = (await api.post("/api/v1/lipsync-video", json=body)).json()["id"]
    await fake.wait_for(job_id)
    completed_at = time.monotonic()
    assert hooks.received == []
    await fake.wait_idle()
    assert hooks.received[0][0] - completed_at >= 0.3
    assert hooks.bodies[0]["id"] == job_id


async def test_webhook_retries_then_gives_up(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, hooks: Hooks
) -> None:
    hooks.statuses = [500, 200, 503, 502, 500]
    body = video_body(inputs) | {"webhook": hooks.url}
    first = (await api.post("/api/v1/lipsync-video", json=body)).json()["id"]
    await fake.wait_idle()
    second = (await api.post("/api/v1/lipsync-video", json=body)).json()["id"]
    await fake.wait_idle()
    assert [(d.job_id, d.status_code) for d in fake.webhook_deliveries] == [
        (first, 500),
        (first, 200),
        (second, 503),
        (second, 502),
        (second, 500),  # 1 try + webhook_retries (2), then it gives up
    ]


async def test_webhook_to_a_dead_url_is_recorded_as_0(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs
) -> None:
    body = video_body(inputs) | {"webhook": "http://127.0.0.1:9/hook"}
    job_id = (await api.post("/api/v1/lipsync-video", json=body)).json()["id"]
    await fake.wait_idle()
    assert fake.webhook_deliveries == [WebhookDelivery(job_id, "http://127.0.0.1:9/hook", 0)] * 3


# ---------------------------------------------------------------------------- fault injection


async def test_fail_next_429_with_retry_after(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs
) -> None:
    fake.fail_next("POST /api/v1/lipsync-video", 429, retry_after=7)
    limited = await api.post("/api/v1/lipsync-video", json=video_body(inputs))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json() == {"error": "Too Many Requests"}
    assert fake.jobs == {}
    assert fake.credits == 100_000
    image = {"formState": {"image": inputs.url("face.jpg"), "audio": inputs.url("voice.mp3")}}
    assert (await api.post("/api/v1/lipsync-image", json=image)).status_code == 200  # other route
    again = await api.post("/api/v1/lipsync-video", json=video_body(inputs))
    assert again.status_code == 200
    assert [c.status for c in fake.calls] == [429, 200, 200]


async def test_fail_next_503_on_polls_by_prefix(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs
) -> None:
    job_id = (await api.post("/api/v1/lipsync-video", json=video_body(inputs))).json()["id"]
    fake.fail_next("GET /api/v1/jobs", 503, {"error": "upstream"}, times=2)
    for _ in range(2):
        down = await api.get(f"/api/v1/jobs/{job_id}")
        assert (down.status_code, down.json()) == (503, {"error": "upstream"})
        assert "Retry-After" not in down.headers
    assert (await poll(api, job_id))["status"] == "completed"


@pytest.mark.parametrize(
    ("status", "error"), [(402, "Insufficient credits"), (401, "Unauthorized"), (500, None)]
)
async def test_fail_next_other_statuses(
    api: httpx.AsyncClient, fake: FakeLipsyncStudio, inputs: Inputs, status: int, error: str | None
) -> None:
    fake.fail_next("POST /api/v1/lipsync", status)  # prefix: any create endpoint
    response = await api.post("/api/v1/lipsync-video", json=video_body(inputs))
    assert response.status_code == status
    assert response.json() == {"error": error or "Internal Server Error"}
    assert fake.jobs == {}


# ---------------------------------------------------------------------------- lifecycle


async def test_aclose_cancels_jobs_in_flight(fake: FakeLipsyncStudio, inputs: Inputs) -> None:
    fake.auto_complete = False
    async with (
        running(fake) as url,
        httpx.AsyncClient(base_url=url, headers=AUTH, verify=SSL) as api,
    ):
        for _ in range(3):
            await api.post("/api/v1/lipsync-video", json=video_body(inputs))
        await asyncio.sleep(0.1)
        assert len(fake._tasks) == 3
    assert fake._tasks == set()  # running() called aclose()
    assert {job.status for job in fake.jobs.values()} == {"processing"}


async def test_many_jobs_in_flight(local: httpx.AsyncClient, fake: FakeLipsyncStudio) -> None:
    """A smoke test of the benchmark mode: no downloads, 1,000 jobs sleeping at once."""
    fake.fetch_inputs = False
    fake.render_seconds = 0.5
    started = time.monotonic()
    for _ in range(1000):
        created = await local.post("/api/v1/lipsync-video", json={"formState": FORM})
        assert created.status_code == 200
    assert len(fake._tasks) == 1000
    assert {job.status for job in fake.jobs.values()} == {"processing"}
    await fake.wait_idle()
    assert time.monotonic() - started < 8
    assert {job.status for job in fake.jobs.values()} == {"completed"}
    assert fake.credits == 100_000 - 1000 * 10
