"""The fake Magic Hour API, driven by the official ``magic-hour`` SDK and by plain httpx.

Why: the bot's Magic Hour tests trust this fake, so the fake must answer the real client the way
Magic Hour does (providers.md section 2). The SDK part proves the wire protocol (paths, bodies,
upload PUTs, response shapes the SDK's pydantic models accept); the httpx part pins the error
answers, the job life cycle, the signed webhooks and the fault injection the bot's tests rely on.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from magic_hour import AsyncClient  # type: ignore[import-untyped]  # ships no py.typed
from make_api_request import ApiError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from tests.conftest import Media
from tests.fakes.magichour import NO_FACE, FakeMagicHour, WebhookDelivery, running
from tests.fakes.telegram import serve_asgi

KEY = "mhk_live_test"
SECRET = "whsec_test"


@dataclass
class Receiver:
    """The bot's side: a webhook endpoint and a media host for URL inputs."""

    media: Media
    url: str = ""
    hooks: list[tuple[dict[str, str], bytes, float]] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)  # answers for the next hooks

    async def hook(self, request: Request) -> Response:
        self.hooks.append((dict(request.headers), await request.body(), time.monotonic()))
        return Response(status_code=self.statuses.popleft() if self.statuses else 200)

    async def file(self, request: Request) -> Response:
        files = {"face.mp4": self.media.video, "voice.mp3": self.media.mp3}
        files |= {"face.jpg": self.media.photo, "photo-as-video.mp4": self.media.photo}
        path = files.get(request.path_params["name"])
        return Response(status_code=404) if path is None else FileResponse(path)

    def events(self) -> list[tuple[str, str]]:
        return [(e["type"], e["payload"]["status"]) for e in map(json.loads, self.bodies())]

    def bodies(self) -> list[bytes]:
        return [body for _, body, _ in self.hooks]


@pytest.fixture
async def fake(media: Media) -> AsyncIterator[FakeMagicHour]:
    fk = FakeMagicHour(output=media.video)
    fk.queue_seconds, fk.render_seconds = 0.02, 0.05
    async with running(fk):
        yield fk


@pytest.fixture
async def api(fake: FakeMagicHour) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
async def receiver(media: Media, fake: FakeMagicHour) -> AsyncIterator[Receiver]:
    rc = Receiver(media)
    app = Starlette(
        routes=[
            Route("/hook", rc.hook, methods=["POST"]),
            Route("/files/{name}", rc.file, methods=["GET"]),
        ]
    )
    async with serve_asgi(app) as url:
        rc.url = url
        fake.webhook_url = f"{url}/hook"
        yield rc
        await fake.aclose()  # closes its keep-alive connections: this server stops at once


async def upload(api: httpx.AsyncClient, *files: tuple[str, Path]) -> list[str]:
    """The documented two-step upload; returns the file_paths."""
    items = [{"type": kind, "extension": path.suffix[1:]} for kind, path in files]
    answer = await api.post("/v1/files/upload-urls", json={"items": items})
    assert answer.status_code == 200, answer.text
    slots = answer.json()["items"]
    async with httpx.AsyncClient() as storage:  # no auth header: the URL carries it
        for slot, (_, path) in zip(slots, files, strict=True):
            put = await storage.put(slot["upload_url"], content=path.read_bytes())
            assert put.status_code == 200
    return [slot["file_path"] for slot in slots]


def lip_sync_body(video: str, audio: str, **extra: Any) -> dict[str, Any]:
    assets = {"video_source": "file", "video_file_path": video, "audio_file_path": audio}
    return {"start_seconds": 0, "end_seconds": 2.0, "assets": assets, **extra}


async def create_lip_sync(api: httpx.AsyncClient, media: Media, **extra: Any) -> str:
    video, audio = await upload(api, ("video", media.video), ("audio", media.mp3))
    answer = await api.post("/v1/lip-sync", json=lip_sync_body(video, audio, **extra))
    assert answer.status_code == 200, answer.text
    job_id: str = answer.json()["id"]
    return job_id


# ---------------------------------------------------------------------- the official SDK


@pytest.fixture
async def sdk(fake: FakeMagicHour) -> AsyncIterator[AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield AsyncClient(base_url=fake.base_url, token=KEY, httpx_client=http)


async def poll(sdk: AsyncClient, job_id: str) -> Any:
    for _ in range(200):
        project = await sdk.v1.video_projects.get(id=job_id)
        if project.status in ("complete", "error", "canceled"):
            return project
        await asyncio.sleep(0.02)
    raise AssertionError(f"{job_id} never finished")


async def test_sdk_lip_sync_upload_create_poll_download_delete(
    sdk: AsyncClient, fake: FakeMagicHour, media: Media
) -> None:
    video = await sdk.v1.files.upload_file(media.video)
    audio = await sdk.v1.files.upload_file(str(media.mp3))
    assert video.startswith("api-assets/")
    assert video.endswith(".mp4")
    assert fake.uploads[audio].size == media.mp3.stat().st_size
    created = await sdk.v1.lip_sync.create(
        assets={"video_source": "file", "video_file_path": video, "audio_file_path": audio},
        start_seconds=0.0,
        end_seconds=2.0,
        name="chat-reply-42",
        style={"generation_mode": "lite"},
    )
    assert (created.credits_charged, created.estimated_frame_cost) == (60, 60)
    project = await poll(sdk, created.id)
    assert (project.status, project.type_, project.name) == (
        "complete",
        "LIP_SYNC",
        "chat-reply-42",
    )
    assert project.error is None
    assert project.download is not None
    async with httpx.AsyncClient() as cdn:
        got = await cdn.get(project.downloads[0].url)
    assert got.content == media.video.read_bytes()
    account = await sdk.v1.account.list()
    assert (account.credits, account.tier) == (100_000 - 60, "creator")
    await sdk.v1.video_projects.delete(id=created.id)
    project = await sdk.v1.video_projects.get(id=created.id)
    assert project.enabled is False
    assert project.downloads == []


async def test_sdk_talking_photo_with_upload_urls(
    sdk: AsyncClient, fake: FakeMagicHour, media: Media
) -> None:
    slots = await sdk.v1.files.upload_urls.create(
        items=[{"extension": "jpg", "type_": "image"}, {"extension": "mp3", "type_": "audio"}]
    )
    async with httpx.AsyncClient() as storage:
        for slot, path in zip(slots.items, (media.photo, media.mp3), strict=True):
            (await storage.put(slot.upload_url, content=path.read_bytes())).raise_for_status()
    created = await sdk.v1.ai_talking_photo.create(
        assets={
            "image_file_path": slots.items[0].file_path,
            "audio_file_path": slots.items[1].file_path,
        },
        start_seconds=0.0,
        end_seconds=3.5,
        resolution="720p",
        style={"generation_mode": "realistic"},
    )
    assert created.credits_charged == 105  # ceil(3.5 s * 30 fps), 1 credit a frame [I]
    project = await poll(sdk, created.id)
    assert (project.status, project.type_, project.end_seconds) == (
        "complete",
        "TALKING_PHOTO",
        3.5,
    )


async def test_sdk_generate_helper_uploads_waits_and_downloads(
    sdk: AsyncClient,
    fake: FakeMagicHour,
    media: Media,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The SDK's async wait loop sleeps with a blocking time.sleep (0.5 s by default).
    monkeypatch.setenv("MAGIC_HOUR_POLL_INTERVAL", "0.01")
    result = await sdk.v1.lip_sync.generate(
        assets={
            "video_source": "file",
            "video_file_path": str(media.video),
            "audio_file_path": str(media.mp3),
        },
        start_seconds=0.0,
        end_seconds=1.0,
        download_directory=str(tmp_path),
    )
    assert result.status == "complete"
    assert result.downloaded_paths
    assert Path(result.downloaded_paths[0]).read_bytes() == media.video.read_bytes()
    assert fake.output_downloads == [result.id]


async def test_sdk_sees_error_answers(sdk: AsyncClient, fake: FakeMagicHour) -> None:
    assets = {"video_source": "file", "video_file_path": "https://x/a.mp4", "audio_file_path": ""}
    with pytest.raises(ApiError) as bad:
        await sdk.v1.lip_sync.create(assets=assets, start_seconds=0.0, end_seconds=1.0)
    assert (bad.value.status_code, bad.value.body) == (
        400,
        {"message": "assets.audio_file_path is required"},
    )
    with pytest.raises(ApiError) as missing:
        await sdk.v1.video_projects.get(id="cm-nope")
    assert (missing.value.status_code, missing.value.body) == (404, {"message": "Not Found"})
    fake.credits = 10
    assets["audio_file_path"] = "https://x/b.mp3"
    with pytest.raises(ApiError) as broke:
        await sdk.v1.lip_sync.create(assets=assets, start_seconds=0.0, end_seconds=1.0)
    assert (broke.value.status_code, broke.value.body) == (402, {"message": "Payment required"})
    async with httpx.AsyncClient() as http:
        stranger = AsyncClient(base_url=fake.base_url, token="mhk_live_other", httpx_client=http)
        with pytest.raises(ApiError) as denied:
            await stranger.v1.account.list()
    assert (denied.value.status_code, denied.value.body) == (401, {"message": "Unauthorized"})


# ---------------------------------------------------------------------- errors over httpx


async def test_every_v1_route_needs_the_bearer_key(fake: FakeMagicHour) -> None:
    routes = [
        ("POST", "/v1/files/upload-urls"),
        ("POST", "/v1/lip-sync"),
        ("POST", "/v1/ai-talking-photo"),
        ("GET", "/v1/video-projects/x"),
        ("DELETE", "/v1/video-projects/x"),
        ("GET", "/v1/account"),
    ]
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        for auth in (None, "Bearer wrong", f"Basic {KEY}", KEY):
            headers = {"Authorization": auth} if auth else {}
            for method, path in routes:
                answer = await client.request(method, path, headers=headers, json={})
                assert answer.status_code == 401, (auth, method, path)
                assert answer.json() == {"message": "Unauthorized"}


V, A, F = "https://h/v.mp4", "https://h/a.mp3", "https://h/f.jpg"
PHOTO_ASSETS = {"image_file_path": F, "audio_file_path": A}
YOUTUBE_ASSETS = {"video_source": "youtube", "audio_file_path": A}
#: (path, body, message) of each documented or inferred 400 (providers.md 2.3-2.5, 2.11).
INVALID: list[tuple[str, Any, str]] = [
    ("/v1/lip-sync", None, "Missing request body"),
    ("/v1/lip-sync", [], "Request body must be a JSON object"),
    (
        "/v1/lip-sync",
        lip_sync_body(V, A, end_seconds=0),
        "end_seconds must be greater than or equal to 0.1",
    ),
    (
        "/v1/lip-sync",
        lip_sync_body(V, A, start_seconds=2),
        "end_seconds must be greater than start_seconds",
    ),
    (
        "/v1/lip-sync",
        lip_sync_body(V, A, start_seconds=-1),
        "start_seconds must be greater than or equal to 0",
    ),
    ("/v1/lip-sync", lip_sync_body(V, A, start_seconds=True), "start_seconds must be a number"),
    (
        "/v1/lip-sync",
        {"start_seconds": 0, "end_seconds": 1},
        "assets is required and must be an object",
    ),
    ("/v1/lip-sync", lip_sync_body(V, ""), "assets.audio_file_path is required"),
    (
        "/v1/lip-sync",
        lip_sync_body("", A),
        "assets.video_file_path is required when video_source is file",
    ),
    (
        "/v1/lip-sync",
        lip_sync_body("/tmp/v.mp4", A),
        "assets.video_file_path must be a URL or a file_path from the upload-urls API",
    ),
    (
        "/v1/lip-sync",
        {"start_seconds": 0, "end_seconds": 1, "assets": YOUTUBE_ASSETS},
        "assets.youtube_url is required when video_source is youtube",
    ),
    (
        "/v1/lip-sync",
        lip_sync_body(V, A, style={"generation_mode": "ultra"}),
        "style.generation_mode must be one of: lite, standard, pro",
    ),
    (
        "/v1/lip-sync",
        lip_sync_body(V, A, style={"generation_mode": ["pro"]}),
        "style.generation_mode must be one of: lite, standard, pro",
    ),
    (
        "/v1/lip-sync",
        lip_sync_body(V, A, max_fps_limit=0.5),
        "max_fps_limit must be greater than or equal to 1",
    ),
    (
        "/v1/ai-talking-photo",
        {"start_seconds": 0, "end_seconds": 1, "resolution": "1080p", "assets": PHOTO_ASSETS},
        "resolution must be one of: 480p, 720p",
    ),
    (
        "/v1/ai-talking-photo",
        {
            "start_seconds": 0,
            "end_seconds": 50,
            "style": {"generation_mode": "prompted"},
            "assets": PHOTO_ASSETS,
        },
        "The clip may be at most 45 seconds long in prompted mode",
    ),
    (
        "/v1/ai-talking-photo",
        {"start_seconds": 0, "end_seconds": 1, "assets": {"audio_file_path": A}},
        "assets.image_file_path is required",
    ),
    ("/v1/files/upload-urls", {"items": []}, "items must be a non-empty array"),
    (
        "/v1/files/upload-urls",
        {"items": [{"type": "gif", "extension": "gif"}]},
        "items[0].type must be one of: video, audio, image",
    ),
    (
        "/v1/files/upload-urls",
        {"items": [{"type": "video", "extension": ".mp4"}]},
        "items[0].extension must match ^[a-z0-9]+$ (no leading dot)",
    ),
    (
        "/v1/files/upload-urls",
        {"items": [{"type": "audio", "extension": "exe"}]},
        "items[0].extension 'exe' is not supported for audio",
    ),
]


async def test_validation_answers_400(api: httpx.AsyncClient, fake: FakeMagicHour) -> None:
    # One server for all cases (a parametrized test would start 20 servers).
    for path, body, message in INVALID:
        content = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        answer = await api.post(path, content=content, headers=headers)
        assert (answer.status_code, answer.json()) == (400, {"message": message}), body
    assert fake.jobs == {}
    assert fake.credits == 100_000


async def test_invalid_json_is_400(api: httpx.AsyncClient) -> None:
    answer = await api.post(
        "/v1/lip-sync", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.json()) == (
        400,
        {"message": "Request body is not valid JSON"},
    )


async def test_credits_estimate_402_and_refund_on_error(
    api: httpx.AsyncClient, fake: FakeMagicHour, media: Media
) -> None:
    fake.credits = 119
    pro = await api.post(
        "/v1/lip-sync",
        json=lip_sync_body("https://h/v.mp4", "https://h/a.mp3", style={"generation_mode": "pro"}),
    )
    assert (pro.status_code, pro.json()) == (402, {"message": "Payment required"})  # 2 s * 30 * 2
    assert fake.credits == 119
    assert fake.jobs == {}
    fake.fail_next_jobs(1, NO_FACE)
    job_id = await create_lip_sync(api, media, max_fps_limit=24)
    assert fake.credits == 119 - 60
    job = await fake.wait_for(job_id)
    project = (await api.get(f"/v1/video-projects/{job_id}")).json()
    assert project["status"] == job.status == "error"
    assert project["error"] == {
        "code": "no_source_face",
        "message": "Please use an image with a detectable face",
    }
    assert (project["credits_charged"], project["downloads"], project["download"]) == (0, [], None)
    assert fake.credits == 119
    fake.tier = "free"
    pro = await api.post(
        "/v1/lip-sync",
        json=lip_sync_body(
            "https://h/v.mp4", "https://h/a.mp3", style={"generation_mode": "pro"}, end_seconds=0.5
        ),
    )
    assert pro.status_code == 402  # pro needs a paid tier
    # max_fps_limit settles the 30-fps estimate to the frames rendered.
    fake.tier = "creator"
    job_id = await create_lip_sync(api, media, max_fps_limit=24)
    await fake.wait_for(job_id)
    project = (await api.get(f"/v1/video-projects/{job_id}")).json()
    assert (project["status"], project["fps"], project["credits_charged"]) == ("complete", 24, 48)
    account = (await api.get("/v1/account")).json()
    assert account["credits"] == fake.credits == 119 - 48
    assert account["subscription"]["status"] == "active"


async def test_unknown_project_is_404(api: httpx.AsyncClient) -> None:
    for method in ("GET", "DELETE"):
        answer = await api.request(method, "/v1/video-projects/cm-unknown")
        assert (answer.status_code, answer.json()) == (404, {"message": "Not Found"})
    answer = await api.get("/v1/no-such-thing")
    assert (answer.status_code, answer.json()) == (404, {"message": "Not Found"})


async def test_upload_url_auth_expiry_and_length(
    api: httpx.AsyncClient, fake: FakeMagicHour, media: Media
) -> None:
    answer = await api.post(
        "/v1/files/upload-urls", json={"items": [{"type": "video", "extension": "mp4"}]}
    )
    slot = answer.json()["items"][0]
    assert slot["upload_url"].startswith(
        f"{fake.base_url}/_uploads/{slot['file_path']}?auth-value="
    )
    assert slot["expires_at"].endswith("Z")
    wrong = slot["upload_url"].split("?")[0] + "?auth-value=guess"
    async with httpx.AsyncClient() as storage:
        assert (await storage.put(wrong, content=b"x")).status_code == 403
        assert (
            await storage.put(slot["upload_url"].split("?")[0], content=b"x")
        ).status_code == 403

        async def chunks() -> AsyncIterator[bytes]:
            yield b"abc"

        assert (await storage.put(slot["upload_url"], content=chunks())).status_code == 411
        assert fake.uploads[slot["file_path"]].path is None
        assert (await storage.put(slot["upload_url"], content=b"data")).status_code == 200
        fake.upload_url_ttl = 0
        answer = await api.post(
            "/v1/files/upload-urls", json={"items": [{"type": "audio", "extension": "mp3"}]}
        )
        late = answer.json()["items"][0]["upload_url"]
        await asyncio.sleep(0.01)
        assert (await storage.put(late, content=b"x")).status_code == 403


async def test_inputs_are_checked_when_the_job_starts(
    api: httpx.AsyncClient, fake: FakeMagicHour, receiver: Receiver, media: Media
) -> None:
    base = f"{receiver.url}/files"
    cases = {
        "ok": lip_sync_body(f"{base}/face.mp4", f"{base}/voice.mp3"),
        "404": lip_sync_body(f"{base}/missing.mp4", f"{base}/voice.mp3"),
        "refused": lip_sync_body("http://127.0.0.1:9/face.mp4", f"{base}/voice.mp3"),
        "not uploaded": lip_sync_body("api-assets/cmnothere/0.mp4", f"{base}/voice.mp3"),
        "no extension": lip_sync_body(f"{base}/face", f"{base}/voice.mp3"),
        "photo as video": lip_sync_body(f"{base}/photo-as-video.mp4", f"{base}/voice.mp3"),
    }
    ids = {}
    for case, body in cases.items():
        answer = await api.post("/v1/lip-sync", json=body)
        assert answer.status_code == 200, answer.text
        ids[case] = answer.json()["id"]
    jobs = {case: await fake.wait_for(job_id) for case, job_id in ids.items()}
    assert jobs["ok"].status == "complete"
    assert jobs["404"].error == ("unknown_error", "Could not load input video_file_path: HTTP 404")
    assert jobs["refused"].error == (
        "unknown_error",
        "Could not load input video_file_path: connection failed",
    )
    assert jobs["not uploaded"].error == (
        "file_not_found",
        "File not found: api-assets/cmnothere/0.mp4",
    )
    assert jobs["no extension"].error is not None
    assert "extension" in jobs["no extension"].error[1]
    assert jobs["photo as video"].error == (
        "unknown_error",
        "Could not load input video_file_path: got image",
    )
    fetched = {(f.job_id, f.field): (f.status, f.size) for f in fake.fetched}
    assert fetched[ids["ok"], "video_file_path"] == (200, media.video.stat().st_size)
    assert fetched[ids["404"], "video_file_path"][0] == 404
    assert fake.credits == 100_000 - 60  # failed jobs refunded
    # An input failure never started rendering: only video.errored was sent.
    await fake.drain_webhooks()
    assert [e for e, j in fake.webhook_events if j == ids["404"]] == ["video.errored"]


# ---------------------------------------------------------------------- webhooks


async def test_webhooks_are_signed_and_ordered(
    api: httpx.AsyncClient, fake: FakeMagicHour, receiver: Receiver, media: Media
) -> None:
    job_id = await create_lip_sync(api, media)
    await fake.wait_for(job_id)
    await fake.drain_webhooks()
    assert receiver.events() == [("video.started", "rendering"), ("video.completed", "complete")]
    for headers, body, _ in receiver.hooks:
        stamp = headers["magic-hour-event-timestamp"]
        assert abs(int(stamp) - time.time()) < 5
        expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        assert headers["magic-hour-event-signature"] == expected.hexdigest()
        assert headers["content-type"] == "application/json"
    final = json.loads(receiver.bodies()[-1])["payload"]
    assert final == (await api.get(f"/v1/video-projects/{job_id}")).json() | {
        "downloads": final["downloads"],
        "download": final["download"],
    }
    assert final["downloads"][0]["url"] == f"{fake.base_url}/_outputs/{job_id}.mp4"
    assert fake.webhook_deliveries == [
        WebhookDelivery("video.started", job_id, 200),
        WebhookDelivery("video.completed", job_id, 200),
    ]
    fake.fail_next_jobs(1, ("unknown_error", "boom"))
    failed = await create_lip_sync(api, media)
    await fake.wait_for(failed)
    await fake.drain_webhooks()
    assert receiver.events()[-1] == ("video.errored", "error")
    assert json.loads(receiver.bodies()[-1])["payload"]["error"] == {
        "code": "unknown_error",
        "message": "boom",
    }


async def test_webhook_drop_duplicate_delay_and_retries(
    api: httpx.AsyncClient, fake: FakeMagicHour, receiver: Receiver, media: Media
) -> None:
    fake.webhook_mode = "drop"
    dropped = await create_lip_sync(api, media)
    await fake.wait_for(dropped)
    await fake.wait_idle()
    assert receiver.hooks == []
    assert fake.webhook_deliveries == []
    assert fake.webhook_events == [("video.started", dropped), ("video.completed", dropped)]

    fake.webhook_mode = "duplicate"
    twice = await create_lip_sync(api, media)
    await fake.wait_for(twice)
    await fake.drain_webhooks()
    assert [e for e, _ in receiver.events()] == ["video.started"] * 2 + ["video.completed"] * 2

    receiver.hooks.clear()
    fake.webhook_mode, fake.webhook_delay = "delay", 0.3
    late = await create_lip_sync(api, media)
    done = time.monotonic()
    await fake.wait_for(late)
    assert receiver.hooks == []  # the job finished before its first webhook arrived
    await fake.drain_webhooks()
    assert receiver.hooks[0][2] - done >= 0.3
    assert [e for e, _ in receiver.events()] == ["video.started", "video.completed"]

    receiver.hooks.clear()
    fake.webhook_mode = "deliver"
    fake.webhook_deliveries.clear()
    receiver.statuses.extend([500, 503, 200] + [500] * 4)  # started: 2 failures, then ok;
    retried = await create_lip_sync(api, media)  # completed: 4 failures, then given up
    await fake.wait_for(retried)
    await fake.drain_webhooks()
    assert [d.status_code for d in fake.webhook_deliveries] == [500, 503, 200, 500, 500, 500, 500]
    assert (
        receiver.events()
        == [("video.started", "rendering")] * 3 + [("video.completed", "complete")] * 4
    )


async def test_post_forged_and_sign(fake: FakeMagicHour, receiver: Receiver) -> None:
    body = b'{"type":"video.completed","payload":{"id":"x"}}'
    assert await fake.post_forged(body, timestamp=1730742038, secret="whsec_other") == 200
    headers, got, _ = receiver.hooks[-1]
    assert got == body
    assert headers["magic-hour-event-timestamp"] == "1730742038"
    assert headers["magic-hour-event-signature"] != fake.sign(body, 1730742038)
    await fake.post_forged(body, signature="")
    assert "magic-hour-event-signature" not in receiver.hooks[-1][0]
    stamp = int(time.time())
    await fake.post_forged(body, timestamp=stamp)
    assert receiver.hooks[-1][0]["magic-hour-event-signature"] == fake.sign(body, stamp)


# ---------------------------------------------------------------------- control


async def test_fail_next_429_with_retry_after_and_500(
    api: httpx.AsyncClient, fake: FakeMagicHour, media: Media
) -> None:
    video, audio = await upload(api, ("video", media.video), ("audio", media.mp3))
    fake.fail_next("POST /v1/lip-sync", 429, retry_after=7)
    limited = await api.post("/v1/lip-sync", json=lip_sync_body(video, audio))
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    assert limited.json() == {"message": "Too Many Requests"}
    assert fake.jobs == {}
    created = await api.post("/v1/lip-sync", json=lip_sync_body(video, audio))
    job_id = created.json()["id"]
    fake.fail_next("GET /v1/video-projects", 500, times=2)
    statuses = [(await api.get(f"/v1/video-projects/{job_id}")).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    fake.fail_next("POST /v1/lip-sync", 502, after_processing=True)
    lost = await api.post("/v1/lip-sync", json=lip_sync_body(video, audio))
    assert (lost.status_code, lost.json()) == (502, {"message": "Bad Gateway"})
    assert len(fake.jobs) == 2  # the server acted, the answer was lost
    assert [(c.method, c.path, c.status) for c in fake.calls if c.path == "/v1/lip-sync"] == [
        ("POST", "/v1/lip-sync", 429),
        ("POST", "/v1/lip-sync", 200),
        ("POST", "/v1/lip-sync", 502),
    ]
    assert fake.calls[-1].json == lip_sync_body(video, audio)


async def test_manual_completion_failure_and_cancel(
    api: httpx.AsyncClient, fake: FakeMagicHour, receiver: Receiver, media: Media
) -> None:
    fake.auto_complete = False
    first, second, third = [await create_lip_sync(api, media) for _ in range(3)]
    for job_id in (first, second, third):
        await fake.wait_for(job_id, "rendering")
    await asyncio.sleep(0.1)
    assert {fake.jobs[j].status for j in (first, second, third)} == {"rendering"}
    output = await api.get(f"/_outputs/{first}.mp4")
    assert output.status_code == 404  # not complete yet
    fake.complete(first)
    fake.fail(second, "no_source_face", "Please use an image with a detectable face")
    fake.cancel(third)
    assert (await fake.wait_for(first)).status == "complete"
    assert (await fake.wait_for(second)).error == NO_FACE
    assert fake.jobs[third].status == "canceled"
    assert fake.credits == 100_000 - 60
    await fake.drain_webhooks()
    assert ("video.completed", third) not in fake.webhook_events  # canceled: no webhook
    assert ("video.errored", third) not in fake.webhook_events
    output = await api.get(f"/_outputs/{first}.mp4")
    assert output.status_code == 200
    assert output.content == media.video.read_bytes()


async def test_a_thousand_jobs_stay_cheap(media: Media) -> None:
    fake = FakeMagicHour(output=media.video)
    fake.queue_seconds, fake.render_seconds = 0.05, 0.1
    transport = httpx.ASGITransport(app=fake.app)
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://mh", headers=headers
        ) as api:
            video, audio = await upload_in_process(api, fake, media)
            body = lip_sync_body(video, audio, end_seconds=0.5)
            answers = await asyncio.gather(
                *(api.post("/v1/lip-sync", json=body) for _ in range(1000))
            )
            assert {a.status_code for a in answers} == {200}
            for answer in answers:
                await fake.wait_for(answer.json()["id"])
        assert {job.status for job in fake.jobs.values()} == {"complete"}
        assert fake.credits == 100_000 - 1000 * 15
    finally:
        await fake.aclose()


async def upload_in_process(
    api: httpx.AsyncClient, fake: FakeMagicHour, media: Media
) -> list[str]:
    items = [{"type": "video", "extension": "mp4"}, {"type": "audio", "extension": "mp3"}]
    slots = (await api.post("/v1/files/upload-urls", json={"items": items})).json()["items"]
    for slot, path in zip(slots, (media.video, media.mp3), strict=True):
        put = await api.put(slot["upload_url"], content=path.read_bytes())
        assert put.status_code == 200
    return [slot["file_path"] for slot in slots]
