"""The fake Creatify API, driven with plain httpx.

Why: the bot's Creatify client and its end-to-end tests trust this fake, so the fake must keep
the contract of providers.md section 1 and its documented inferences: both auth headers,
trailing slashes, DRF-style validation errors, the four job kinds and their life cycles, real
downloads of every input URL, credits, webhooks, the ``?ids=`` batch read and faults on demand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from bot.media.probe import probe
from tests import media as make
from tests.fakes.creatify import FakeCreatify, running
from tests.fakes.creatify_media import sniff
from tests.fakes.telegram import serve_asgi

ID, KEY = "fake-api-id", "fake-api-key"
AUTH = {"X-API-ID": ID, "X-API-KEY": KEY}
NOWHERE = "http://127.0.0.1:9/voice.mp3"  # the discard port: connection refused


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs the site serves, by name (made once per module)."""
    folder = tmp_path_factory.mktemp("creatify")
    wav = folder / "voice.wav"
    make.ffmpeg("-f", "lavfi", "-i", "sine=f=300:d=2", "-f", "wav", wav)
    return {
        "face.jpg": make.make_photo(folder / "face.jpg", 320, 240),
        "face.png": make.make_photo(folder / "face.png", 320, 240, fmt="png"),
        "voice.mp3": make.make_mp3(folder / "voice.mp3", seconds=4.0),
        "voice.wav": wav,
        "long.mp3": make.make_mp3(folder / "long.mp3", seconds=61.0),
        "voice.ogg": make.make_voice_ogg(folder / "voice.ogg", seconds=2.0),
        "photo-as-audio.mp3": folder / "face.jpg",
        "audio-as-photo.png": folder / "voice.mp3",
    }


@dataclass
class Site:
    """The bot's side: a media host for input URLs and a webhook endpoint."""

    files: dict[str, Path]
    base: str = ""
    hooks: list[tuple[float, Any]] = field(default_factory=list)
    hook_statuses: list[int] = field(default_factory=list)
    served: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base}/media/{name}"

    @property
    def hook_url(self) -> str:
        return f"{self.base}/hooks/creatify"

    def bodies(self) -> list[Any]:
        return [body for _, body in self.hooks]

    async def file(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.served.append(name)
        if name == "empty.mp3":
            return Response(b"", media_type="audio/mpeg")
        path = self.files.get(name)
        return Response(status_code=404) if path is None else FileResponse(path)

    async def hook(self, request: Request) -> Response:
        self.hooks.append((time.monotonic(), await request.json()))
        return Response(status_code=self.hook_statuses.pop(0) if self.hook_statuses else 200)


@pytest.fixture
async def site(files: dict[str, Path], fake: FakeCreatify) -> AsyncIterator[Site]:
    srv = Site(files)
    app = Starlette(
        routes=[
            Route("/media/{name}", srv.file, methods=["GET"]),
            Route("/hooks/creatify", srv.hook, methods=["POST"]),
        ]
    )
    async with serve_asgi(app) as url:
        srv.base = url
        yield srv
        await fake.aclose()  # drops its keep-alive connections here: this server stops at once


@pytest.fixture
def fake() -> FakeCreatify:
    fk = FakeCreatify()
    fk.pending_seconds, fk.queue_seconds, fk.render_seconds = 0.0, 0.01, 0.05
    return fk


@pytest.fixture
async def api(fake: FakeCreatify) -> AsyncIterator[httpx.AsyncClient]:
    async with running(fake) as url, httpx.AsyncClient(base_url=url, headers=AUTH) as client:
        yield client


@pytest.fixture
async def local(fake: FakeCreatify) -> AsyncIterator[httpx.AsyncClient]:
    """The fake in-process, for request checks (no socket, no uvicorn shutdown to wait)."""
    fake.base_url = "http://creatify.test"
    transport = httpx.ASGITransport(app=fake.app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=fake.base_url, headers=AUTH
        ) as client:
            yield client
    finally:
        await fake.aclose()


def avatar(fake: FakeCreatify, n: int = 0) -> str:
    return list(fake.personas)[n]


def v1(fake: FakeCreatify, **fields: Any) -> dict[str, Any]:
    return {"aspect_ratio": "9x16", "creator": avatar(fake), "text": "Hello there!", **fields}


def scene(fake: FakeCreatify, text: str = "Hi.", **voice: Any) -> dict[str, Any]:
    spoken = voice or {"type": "text", "input_text": text}
    return {"character": {"type": "avatar", "avatar_id": avatar(fake)}, "voice": spoken}


async def created(api: httpx.AsyncClient, path: str, body: Any) -> dict[str, Any]:
    answer = await api.post(path, json=body)
    assert answer.status_code == 201, answer.text
    job: dict[str, Any] = answer.json()
    return job


async def finished(api: httpx.AsyncClient, fake: FakeCreatify, path: str, body: Any) -> Any:
    """Creates a job, waits for its end, returns its object as GET answers it."""
    job = await created(api, path, body)
    await fake.wait_for(job["id"])
    answer = await api.get(f"{path}{job['id']}/")
    assert answer.status_code == 200
    return answer.json()


# ---------------------------------------------------------------------- auth and routing

ROUTES = [
    ("GET", "/api/personas/"),
    ("GET", "/api/personas/paginated/"),
    ("GET", "/api/voices/"),
    ("POST", "/api/lipsyncs/"),
    ("GET", "/api/lipsyncs/3c90c3cc-0d44-4b50-8888-8dd25736052a/"),
    ("POST", "/api/lipsyncs_v2/"),
    ("GET", "/api/lipsyncs_v2/?ids=3c90c3cc-0d44-4b50-8888-8dd25736052a"),
    ("POST", "/api/aurora/"),
    ("POST", "/api/text_to_speech/"),
    ("GET", "/api/remaining_credits/"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_wants_both_headers(local: httpx.AsyncClient, method, path):
    missing = "Authentication credentials were not provided."
    wrong = "Incorrect authentication credentials."
    for headers, detail in (
        ({"X-API-ID": "", "X-API-KEY": ""}, missing),
        ({"X-API-ID": ID, "X-API-KEY": ""}, missing),
        ({"X-API-ID": "", "X-API-KEY": KEY}, missing),
        ({"X-API-ID": ID, "X-API-KEY": "nope"}, wrong),
        ({"X-API-ID": "nope", "X-API-KEY": KEY}, wrong),
        ({"X-API-ID": KEY, "X-API-KEY": ID}, wrong),
    ):
        answer = await local.request(method, path, headers=headers, json={})
        assert (answer.status_code, answer.json()) == (401, {"detail": detail})


async def test_paths_need_their_trailing_slash_and_methods_are_checked(local, fake):
    for path in ("/api/personas", "/api/lipsyncs", "/api/remaining_credits", "/api/nothing/"):
        answer = await local.get(path)
        assert answer.status_code == 404  # not a 301: a redirected POST would lose its body
        assert "text/html" in answer.headers["content-type"]
    no_slash = await local.post("/api/lipsyncs", json=v1(fake))
    assert no_slash.status_code == 404
    assert not fake.jobs
    wrong = await local.get("/api/aurora/")
    assert (wrong.status_code, wrong.json()) == (405, {"detail": 'Method "GET" not allowed.'})
    assert (await local.get("/api/lipsyncs/3c90c3cc-0d44-4b50-8888-8dd25736052a/")).json() == {
        "detail": "Not found."
    }


async def test_bad_bodies_are_answered_like_drf(local, fake):
    broken = await local.post(
        "/api/lipsyncs/", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["detail"].startswith("JSON parse error")
    listed = await local.post("/api/lipsyncs/", json=[v1(fake)])
    assert listed.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }
    text = await local.post(
        "/api/lipsyncs/", content=b"hi", headers={"Content-Type": "text/plain"}
    )
    assert text.status_code == 415
    assert not fake.jobs


# ---------------------------------------------------------------------- personas and voices


async def test_personas_list_filters_and_pages(local, fake):
    everyone = (await local.get("/api/personas/")).json()
    assert isinstance(everyone, list)
    assert len(everyone) == 6
    first = everyone[0]
    assert first["creator_name"] == "Jessica"
    assert first["gender"] == "f"
    assert first["preview_image_9_16"].startswith("http://creatify.test/_media/persona/")
    women = (await local.get("/api/personas/", params={"gender": "f"})).json()
    assert women
    assert {p["gender"] for p in women} == {"f"}
    mixed = (await local.get("/api/personas/", params={"gender": "m,nb"})).json()
    assert {p["gender"] for p in mixed} == {"m", "nb"}
    seniors = (await local.get("/api/personas/", params={"age_range": "senior"})).json()
    assert [p["creator_name"] for p in seniors] == ["Rafael"]
    bad = await local.get("/api/personas/", params={"gender": "x"})
    assert bad.status_code == 400
    assert "gender" in bad.json()

    fake.seed_personas(25)
    page1 = (await local.get("/api/personas/paginated/", params={"page_size": 10})).json()
    assert page1["count"] == 25
    assert len(page1["results"]) == 10
    assert page1["previous"] is None
    page2 = (await local.get(page1["next"])).json()
    assert page2["results"][0]["creator_name"] == "Jessica 2"
    page3 = (await local.get(page2["next"])).json()
    assert len(page3["results"]) == 5
    assert page3["next"] is None
    assert "page=" not in page2["previous"]
    assert (await local.get("/api/personas/paginated/?page=4")).status_code == 404
    assert (await local.get("/api/personas/paginated/?page=abc")).json() == {
        "detail": "Invalid page."
    }
    one = await local.get(f"/api/personas/{avatar(fake, 3)}/")
    assert one.json()["creator_name"] == "Rafael"
    assert (await local.get("/api/personas/nobody/")).status_code == 404


async def test_previews_and_voices_are_real_media(api, fake):
    persona = (await api.get(f"/api/personas/{avatar(fake)}/")).json()
    image = await api.get(persona["preview_image_9_16"])
    assert image.status_code == 200
    assert sniff(image.content[:16]) == "jpeg"
    clip = await api.get(persona["preview_video_16_9"])
    assert sniff(clip.content[:16]) == "mp4"
    voices = (await api.get("/api/voices/")).json()
    accents = [a for v in voices for a in v["accents"]]
    assert {"id", "accent_name", "preview_url"} <= set(accents[0])
    assert any("Portuguese" in a["accent_name"] for a in accents)
    sample = await api.get(accents[0]["preview_url"])
    assert sniff(sample.content[:16]) == "mp3"


# ---------------------------------------------------------------------- lipsync v1


def over(n: int) -> str:
    return "x" * n


def hook(length: int) -> str:
    """A webhook URL exactly ``length`` characters long."""
    return "https://h.example/" + over(length - len("https://h.example/"))


V1_ERRORS = [
    ({"aspect_ratio": "9:16"}, {"aspect_ratio": ['"9:16" is not a valid choice.']}),
    ({"aspect_ratio": None}, {"aspect_ratio": ["This field may not be null."]}),
    (
        {"creator": "3c90c3cc-0d44-4b50-8888-8dd25736052a"},
        {
            "creator": [
                'Invalid pk "3c90c3cc-0d44-4b50-8888-8dd25736052a" - object does not exist.'
            ]
        },
    ),
    ({"creator": "jessica"}, {"creator": ["Must be a valid UUID."]}),
    ({"text": over(8001)}, {"text": ["Ensure this field has no more than 8000 characters."]}),
    ({"text": "   "}, {"text": ["This field may not be blank."]}),
    (
        {"webhook_url": hook(201)},
        {"webhook_url": ["Ensure this field has no more than 200 characters."]},
    ),
    ({"webhook_url": "not a url"}, {"webhook_url": ["Enter a valid URL."]}),
    ({"audio": "ftp://x/y.mp3"}, {"audio": ["Enter a valid URL."]}),
    (
        {"accent": "3c90c3cc-0d44-4b50-8888-8dd25736052a"},
        {"accent": ['Invalid pk "3c90c3cc-0d44-4b50-8888-8dd25736052a" - object does not exist.']},
    ),
    ({"no_music": "maybe"}, {"no_music": ["Must be a valid boolean."]}),
]


@pytest.mark.parametrize(("change", "errors"), V1_ERRORS)
async def test_lipsync_v1_validation(local, fake, change, errors):
    answer = await local.post("/api/lipsyncs/", json=v1(fake, **change))
    assert (answer.status_code, answer.json()) == (400, errors)
    assert not fake.jobs
    assert fake.credits == 10_000


async def test_lipsync_v1_required_fields_all_at_once(local, fake):
    answer = await local.post("/api/lipsyncs/", json={})
    required = ["This field is required."]
    assert answer.json() == {"aspect_ratio": required, "creator": required}
    neither = await local.post(
        "/api/lipsyncs/", json={"aspect_ratio": "1x1", "creator": avatar(fake)}
    )
    assert neither.json() == {"non_field_errors": ["Either audio or text is required."]}


async def test_limits_are_inclusive(local, fake):
    body = v1(fake, text=over(8000), webhook_url=hook(200))
    assert len(body["webhook_url"]) == 200
    assert (await local.post("/api/lipsyncs/", json=body)).status_code == 201


async def test_the_ratio_format_is_a_knob(local, fake):
    fake.aspect_ratio_format = "colon"
    assert (
        await local.post("/api/lipsyncs/", json=v1(fake, aspect_ratio="9x16"))
    ).status_code == 400
    job = await created(local, "/api/lipsyncs/", v1(fake, aspect_ratio="9:16"))
    assert job["aspect_ratio"] == "9:16"
    assert fake.jobs[job["id"]].ratio == "9x16"


async def test_lipsync_v1_text_life_cycle(api, fake, site):
    fake.render_seconds = 0.4
    fake.webhook_intermediate = True
    body = v1(fake, text=over(600), accent=fake.accent_ids()[0], webhook_url=site.hook_url)
    job = await created(api, "/api/lipsyncs/", body)
    assert (job["status"], job["progress"], job["output"], job["credits_used"]) == (
        "pending",
        "0",
        None,
        0,
    )
    assert fake.credits == 10_000 - 10  # 40 s of speech: two started 30 s blocks
    await fake.wait_for(job["id"], "running")
    seen = []
    for _ in range(3):
        seen.append(float((await api.get(f"/api/lipsyncs/{job['id']}/")).json()["progress"]))
        await asyncio.sleep(0.08)
    assert 0 <= seen[0] < seen[1] < seen[2] < 1
    await fake.wait_for(job["id"])
    done = (await api.get(f"/api/lipsyncs/{job['id']}/")).json()
    assert done["status"] == "done"
    assert done["progress"] == "1"
    assert (done["duration"], done["credits_used"], done["failed_reason"]) == (40, 10, None)
    video = await api.get(done["output"])
    assert video.status_code == 200
    assert sniff(video.content[:16]) == "mp4"
    thumb = await api.get(done["video_thumbnail"])
    assert sniff(thumb.content[:16]) == "jpeg"
    await fake.drain_webhooks()
    statuses = [b["status"] for b in site.bodies()]
    assert statuses == ["in_queue", "running", "done"]
    assert site.bodies()[-1] == {
        "id": job["id"],
        "status": "done",
        "failed_reason": None,
        "output": done["output"],
    }


async def test_output_matches_the_ratio(api, fake, tmp_path):
    done = await finished(api, fake, "/api/lipsyncs/", v1(fake, aspect_ratio="9x16"))
    path = tmp_path / "out.mp4"
    path.write_bytes((await api.get(done["output"])).content)
    info = await probe(path)
    assert (info.width, info.height) == (360, 640)


async def test_audio_wins_over_text_and_is_billed_by_its_length(api, fake, site):
    body = v1(fake, text=over(3000), audio=site.url("long.mp3"))
    done = await finished(api, fake, "/api/lipsyncs/", body)
    assert done["status"] == "done"
    assert done["duration"] == 61
    assert done["credits_used"] == 15
    assert done["audio_url"] == site.url("long.mp3")
    assert fake.credits == 10_000 - 15
    assert [(f.field, f.status, f.format) for f in fake.fetched] == [("audio", 200, "mp3")]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("missing.mp3", "Could not load audio: HTTP 404"),
        ("empty.mp3", "Could not load audio: the file is empty"),
        ("photo-as-audio.mp3", "Could not load audio: unsupported format (jpeg)"),
        (None, "Could not load audio: connection failed"),
    ],
)
async def test_inputs_that_do_not_load_fail_the_job(api, fake, site, name, why):
    url = NOWHERE if name is None else site.url(name)
    done = await finished(
        api, fake, "/api/lipsyncs/", v1(fake, audio=url, webhook_url=site.hook_url)
    )
    assert (done["status"], done["failed_reason"], done["output"]) == ("failed", why, None)
    assert done["credits_used"] == 0
    assert fake.credits == 10_000
    await fake.drain_webhooks()
    assert site.bodies() == [
        {"id": done["id"], "status": "failed", "failed_reason": why, "output": None}
    ]


async def test_background_image_is_downloaded_too(api, fake, site):
    body = v1(fake, background_asset_image_url=site.url("audio-as-photo.png"))
    done = await finished(api, fake, "/api/lipsyncs/", body)
    assert (
        done["failed_reason"]
        == "Could not load background_asset_image_url: unsupported format (mp3)"
    )


# ---------------------------------------------------------------------- lipsync v2


async def test_lipsync_v2_scenes_life_cycle(api, fake, site):
    scenes = [
        scene(fake, over(450)),
        scene(fake, type="audio", audio_url=site.url("voice.wav")),
    ]
    scenes[1]["background"] = {"type": "image", "url": site.url("face.png")}
    body = {"video_inputs": scenes, "aspect_ratio": "1x1", "webhook_url": site.hook_url}
    done = await finished(api, fake, "/api/lipsyncs_v2/", body)
    assert done["status"] == "done"
    assert done["progress"] == "1"
    assert done["video_inputs"] == scenes
    assert done["aspect_ratio"] == "1x1"
    assert done["duration"] == 32
    assert done["credits_used"] == 10
    fields = [f.field for f in fake.fetched]
    assert fields == ["video_inputs[1].voice.audio_url", "video_inputs[1].background.url"]


async def test_lipsync_v2_errors_are_nested_per_scene(local, fake):
    good = scene(fake)
    body = {
        "video_inputs": [
            good,
            {"character": {"type": "avatar"}, "voice": {"type": "audio"}},
            {"character": {"type": "photo", "avatar_id": avatar(fake)}, "voice": {"type": "text"}},
            "scene",
        ],
        "aspect_ratio": "4x3",
    }
    answer = await local.post("/api/lipsyncs_v2/", json=body)
    required = ["This field is required."]
    assert answer.json() == {
        "aspect_ratio": ['"4x3" is not a valid choice.'],
        "video_inputs": [
            {},
            {"character": {"avatar_id": required}, "voice": {"audio_url": required}},
            {
                "character": {"type": ['"photo" is not a valid choice.']},
                "voice": {"input_text": required},
            },
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
        ],
    }
    empty = await local.post("/api/lipsyncs_v2/", json={"video_inputs": []})
    assert empty.json() == {"video_inputs": {"non_field_errors": ["This list may not be empty."]}}
    long_text = await local.post(
        "/api/lipsyncs_v2/", json={"video_inputs": [scene(fake, over(8001))]}
    )
    assert long_text.json()["video_inputs"][0]["voice"]["input_text"]
    assert not fake.jobs


async def test_lipsync_v2_ids_list(local, fake):
    fake.auto_complete = False
    ids = [(await created(local, "/api/lipsyncs_v2/", {"video_inputs": [scene(fake)]}))["id"]]
    ids.append((await created(local, "/api/lipsyncs_v2/", {"video_inputs": [scene(fake)]}))["id"])
    other = (await created(local, "/api/lipsyncs/", v1(fake)))["id"]
    unknown = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    before = fake.requests["GET /api/lipsyncs_v2/"]
    listed = await local.get("/api/lipsyncs_v2/", params={"ids": ",".join([*ids, unknown, other])})
    assert [job["id"] for job in listed.json()] == ids[::-1]  # newest first, strangers left out
    assert set(listed.json()[0]) == {
        "id",
        "name",
        "status",
        "progress",
        "output",
        "preview",
        "failed_reason",
        "credits_used",
        "media_job",
        "webhook_url",
        "created_at",
        "updated_at",
    }
    assert isinstance(listed.json()[0]["progress"], str)
    assert fake.requests["GET /api/lipsyncs_v2/"] == before + 1
    too_many = ",".join([ids[0]] * 101)
    refused = await local.get(f"/api/lipsyncs_v2/?ids={too_many}")
    assert refused.status_code == 400
    assert "100" in refused.json()["ids"][0]
    assert (await local.get("/api/lipsyncs_v2/?ids=1,2")).status_code == 400
    assert (
        await local.get(f"/api/lipsyncs_v2/?ids={','.join([ids[0]] * 100)}")
    ).status_code == 200
    assert len((await local.get("/api/lipsyncs_v2/")).json()) == 2


async def test_thousands_of_v2_jobs_in_flight_stay_cheap(local, fake):
    """A scaled-down benchmark: jobs waiting in running cost no polling of their own."""
    fake.auto_complete, fake.record_calls = False, False
    ids = []
    for _ in range(1000):
        ids.append(
            (await created(local, "/api/lipsyncs_v2/", {"video_inputs": [scene(fake)]}))["id"]
        )
    await fake.wait_for(ids[-1], "running")
    started = time.perf_counter()
    seen = 0
    for n in range(0, 1000, 100):
        answer = await local.get("/api/lipsyncs_v2/", params={"ids": ",".join(ids[n : n + 100])})
        seen += len(answer.json())
    assert seen == 1000
    assert time.perf_counter() - started < 5
    assert fake.requests["GET /api/lipsyncs_v2/"] == 10
    assert not fake.calls


# ---------------------------------------------------------------------- aurora and TTS


async def test_aurora_life_cycle_and_price(api, fake, site):
    body = {
        "image": site.url("face.png"),
        "audio": site.url("voice.mp3"),
        "webhook_url": site.hook_url,
    }
    job = await created(api, "/api/aurora/", body)
    assert job["progress"] == 0
    assert job["video_output"] is None
    assert job["status"] == "pending"
    await fake.wait_for(job["id"])
    done = (await api.get(f"/api/aurora/{job['id']}/")).json()
    assert done["status"] == "done"
    assert done["progress"] == 1
    assert done["credits_used"] == 4
    assert done["model_version"] == "aurora_v1"
    assert sniff((await api.get(done["video_output"])).content[:16]) == "mp4"
    await fake.drain_webhooks()
    assert site.bodies() == [
        {
            "id": job["id"],
            "status": "done",
            "failed_reason": None,
            "video_output": done["video_output"],
        }
    ]
    fast = {**body, "model_version": "aurora_v1_fast", "image": site.url("face.jpg")}
    assert (await finished(api, fake, "/api/aurora/", fast))["credits_used"] == 2
    assert fake.credits == 10_000 - 6


async def test_aurora_refuses_formats_and_long_audio(api, fake, site):
    refused = await api.post(
        "/api/aurora/", json={"image": site.url("face.gif"), "audio": site.url("voice.ogg")}
    )
    assert refused.status_code == 400
    assert set(refused.json()) == {"image", "audio"}
    assert (await api.post("/api/aurora/", json={})).json() == {
        "image": ["This field is required."],
        "audio": ["This field is required."],
    }
    disguised = {"image": site.url("audio-as-photo.png"), "audio": site.url("voice.mp3")}
    failed = await finished(api, fake, "/api/aurora/", disguised)
    assert failed["failed_reason"] == "Could not load image: unsupported format (mp3)"
    long = {"image": site.url("face.jpg"), "audio": site.url("long.mp3")}
    too_long = await finished(api, fake, "/api/aurora/", long)
    assert too_long["status"] == "failed"
    assert "too long" in too_long["failed_reason"]
    assert fake.credits == 10_000


async def test_aurora_takes_a_form_body(api, fake, site):
    form = {"image": site.url("face.jpg"), "audio": site.url("voice.wav")}
    answer = await api.post("/api/aurora/", data=form)
    assert answer.status_code == 201
    assert answer.json()["audio"] == form["audio"]


async def test_text_to_speech(api, fake, site, tmp_path):
    script = over(150)  # 10 s at 15 characters a second
    body = {"script": script, "accent": fake.accent_ids()[-1], "webhook_url": site.hook_url}
    job = await created(api, "/api/text_to_speech/", body)
    assert job["output"] == ""
    assert "progress" not in job
    await fake.wait_for(job["id"])
    done = (await api.get(f"/api/text_to_speech/{job['id']}/")).json()
    assert done["duration"] == 10
    assert done["credits_used"] == 1
    path = tmp_path / "speech.mp3"
    path.write_bytes((await api.get(done["output"])).content)
    assert abs(((await probe(path)).duration or 0) - 10) < 0.2
    await fake.drain_webhooks()
    assert site.bodies()[0]["video_output"] == done["output"]
    assert (await api.post("/api/text_to_speech/", json={"script": over(8001)})).status_code == 400
    assert (await api.post("/api/text_to_speech/", json={})).json() == {
        "script": ["This field is required."]
    }


# ---------------------------------------------------------------------- credits


async def test_credits_and_their_shortage(local, fake):
    assert (await local.get("/api/remaining_credits/")).json() == {"remaining_credits": 10_000.0}
    fake.credits = 4.5
    short = await local.post("/api/lipsyncs/", json=v1(fake))
    assert (short.status_code, short.json()) == (400, {"detail": "Insufficient credits"})
    fake.insufficient_status = 402
    assert (await local.post("/api/lipsyncs/", json=v1(fake))).status_code == 402
    tts = await created(local, "/api/text_to_speech/", {"script": "Hi."})
    assert tts["id"] in fake.jobs
    assert not any(j.kind == "lipsync" for j in fake.jobs.values())
    assert (await local.get("/api/remaining_credits/")).json() == {"remaining_credits": 3.5}


async def test_measured_audio_the_balance_cannot_cover_fails_the_job(api, fake, site):
    fake.credits = 5  # the reservation (5 s assumed) fits; 61 s costs 15
    done = await finished(api, fake, "/api/lipsyncs/", v1(fake, audio=site.url("long.mp3")))
    assert (done["status"], done["failed_reason"]) == ("failed", "Insufficient credits")
    assert fake.credits == 5


# ---------------------------------------------------------------------- planned outcomes


async def test_planned_failures_rejections_and_manual_control(local, fake):
    fake.fail_next_jobs(reason="No face found")
    fake.fail_next_jobs(status="rejected", reason="Content moderation")
    failed = await created(local, "/api/lipsyncs/", v1(fake))
    rejected = await created(local, "/api/lipsyncs/", v1(fake))
    assert (await fake.wait_for(failed["id"])).failed_reason == "No face found"
    assert (await fake.wait_for(rejected["id"])).status == "rejected"
    assert fake.credits == 10_000
    fake.auto_complete = False
    held = await created(local, "/api/lipsyncs/", v1(fake))
    await fake.wait_for(held["id"], "running")
    await asyncio.sleep(0.1)
    assert fake.jobs[held["id"]].status == "running"
    assert (await local.get(f"/_media/output/{held['id']}.mp4")).status_code == 404
    fake.complete(held["id"])
    assert (await fake.wait_for(held["id"])).status == "done"
    other = await created(local, "/api/lipsyncs/", v1(fake))
    fake.fail(other["id"], "Render farm on fire")
    assert (await fake.wait_for(other["id"])).failed_reason == "Render farm on fire"


# ---------------------------------------------------------------------- webhooks


async def test_webhook_modes(api, fake, site):
    fake.webhook_mode = "duplicate"
    one = await finished(api, fake, "/api/lipsyncs/", v1(fake, webhook_url=site.hook_url))
    await fake.drain_webhooks()
    assert [b["id"] for b in site.bodies()] == [one["id"], one["id"]]
    assert site.bodies()[0] == site.bodies()[1]

    fake.webhook_mode = "drop"
    two = await finished(api, fake, "/api/lipsyncs/", v1(fake, webhook_url=site.hook_url))
    await fake.drain_webhooks()
    assert len(site.hooks) == 2
    assert (two["id"], "done") in fake.webhook_events

    fake.webhook_mode, fake.webhook_delay = "delay", 0.3
    three = await created(api, "/api/lipsyncs/", v1(fake, webhook_url=site.hook_url))
    await fake.wait_for(three["id"])
    ended = time.monotonic()
    await fake.drain_webhooks()
    assert site.hooks[-1][0] - ended >= 0.25


async def test_a_refused_webhook_is_not_retried_unless_told(api, fake, site):
    site.hook_statuses = [500, 500, 503]
    first = await finished(api, fake, "/api/lipsyncs/", v1(fake, webhook_url=site.hook_url))
    await fake.drain_webhooks()
    assert [d.status_code for d in fake.webhook_deliveries] == [500]
    fake.webhook_retry_delays = (0.01, 0.01)
    await finished(api, fake, "/api/lipsyncs/", v1(fake, webhook_url=site.hook_url))
    await fake.drain_webhooks()
    assert [d.status_code for d in fake.webhook_deliveries] == [500, 500, 503, 200]
    assert fake.webhook_deliveries[0].job_id == first["id"]


# ---------------------------------------------------------------------- errors on demand


async def test_errors_on_demand(local, fake):
    fake.fail_next("POST /api/lipsyncs/", 429)
    throttled = await local.post("/api/lipsyncs/", json=v1(fake))
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert "throttled" in throttled.json()["detail"]
    assert not fake.jobs
    assert (await local.post("/api/lipsyncs/", json=v1(fake))).status_code == 201

    fake.fail_next("/api/", 503, times=2)
    for path in ("/api/remaining_credits/", "/api/personas/"):
        answer = await local.get(path)
        assert answer.status_code == 503
        assert "text/html" in answer.headers["content-type"]
    assert (await local.get("/api/personas/")).status_code == 200

    fake.fail_next("GET /api/lipsyncs_v2/", 500)
    crashed = await local.get("/api/lipsyncs_v2/")
    assert crashed.status_code == 500
    assert "Server Error (500)" in crashed.text
    fake.fail_next("GET /api/voices/", 401)
    assert (await local.get("/api/voices/")).json() == {
        "detail": "Incorrect authentication credentials."
    }
    fake.fail_next("GET /api/voices/", 402)
    assert (await local.get("/api/voices/")).json() == {"detail": "Insufficient credits"}

    fake.fail_next("POST /api/lipsyncs/", 502, after_processing=True)
    lost = await local.post("/api/lipsyncs/", json=v1(fake))
    assert lost.status_code == 502
    assert len(fake.jobs) == 2


async def test_calls_are_recorded(local, fake):
    await local.post("/api/lipsyncs/", json={"aspect_ratio": "1:1"})
    await local.get("/api/lipsyncs_v2/?ids=")
    assert [(c.method, c.path, c.status) for c in fake.calls] == [
        ("POST", "/api/lipsyncs/", 400),
        ("GET", "/api/lipsyncs_v2/", 200),
    ]
    assert fake.calls[0].json == {"aspect_ratio": "1:1"}
    assert fake.calls[1].query == "ids="


async def test_the_shared_fixture_serves_a_ready_fake(creatify: FakeCreatify):
    headers = {"X-API-ID": creatify.api_id, "X-API-KEY": creatify.api_key}
    async with httpx.AsyncClient(base_url=creatify.base_url, headers=headers) as client:
        done = await finished(client, creatify, "/api/lipsyncs/", v1(creatify))
    assert done["status"] == "done"
