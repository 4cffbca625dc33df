"""The Creatify client (bot/providers/creatify.py) against the fake Creatify API over
127.0.0.1 (tests/fakes/creatify.py): which endpoint each order goes to and with what body,
ratio spellings, webhook URLs, errors, reading jobs one by one and 100 at a time, and
answers the bot cannot trust."""

from __future__ import annotations

import asyncio
import json
import logging
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

from bot.config import load_settings
from bot.errors import (
    ConfigError,
    ProviderAuthError,
    ProviderOutOfCredits,
    ProviderRejected,
    ProviderUnavailable,
    UnknownStatus,
    WebhookRejected,
)
from bot.models import (
    AspectRatio,
    AudioVoice,
    AvatarFace,
    FaceKind,
    FileFace,
    Gender,
    JobStatus,
    Order,
    Probe,
    RemoteJob,
    TextVoice,
)
from bot.providers.base import Inputs
from bot.providers.creatify import CreatifyProvider, from_settings
from bot.providers.creatify_jobs import percent
from bot.providers.http import ProviderHTTP, RetryPolicy
from tests.conftest import Media
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import serve_asgi

SPOKEN = Probe(duration=4.0, has_audio=True)
STILL = Probe(duration=None, width=640, height=480, has_video=True, is_image=True)
LONG_URL = "https://bot.example/hooks/creatify/1/" + "t" * 170


@dataclass
class Hosted:
    """The bot's signed links, stood in for by a tiny server; records hits and webhooks."""

    files: dict[str, Path]
    base: str = ""
    hooks: list[bytes] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base}/media/{name}"

    async def serve(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.files:
            return JSONResponse({"detail": "gone"}, 404)
        return FileResponse(self.files[name])

    async def hook(self, request: Request) -> Response:
        self.hooks.append(await request.body())
        return JSONResponse({"ok": True})


@pytest.fixture
def fake(creatify: FakeCreatify) -> FakeCreatify:
    return creatify


@pytest.fixture
async def hosted(media: Media) -> AsyncIterator[Hosted]:
    srv = Hosted({"face.jpg": media.photo, "voice.mp3": media.mp3})
    app = Starlette(
        routes=[
            Route("/media/{name}", srv.serve, methods=["GET"]),
            Route("/hooks/{rest:path}", srv.hook, methods=["POST"]),
        ]
    )
    async with serve_asgi(app) as url:
        srv.base = url
        yield srv


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http_client:
        yield http_client


def provider(
    fake: FakeCreatify, client: httpx.AsyncClient, *, key: str | None = None, **options: Any
) -> CreatifyProvider:
    http = ProviderHTTP("creatify", client, policy=RetryPolicy(attempts=3, base=0.01))
    options.setdefault("public", True)
    return CreatifyProvider(http, fake.base_url, fake.api_id, key or fake.api_key, **options)


@pytest.fixture
def api(fake: FakeCreatify, client: httpx.AsyncClient) -> CreatifyProvider:
    return provider(fake, client)


def avatar(fake: FakeCreatify) -> AvatarFace:
    persona = next(iter(fake.personas.values()))
    return AvatarFace(provider="creatify", avatar_id=persona.id, name=persona.creator_name)


def typed(text: str, voice_id: str | None = None) -> TextVoice:
    return TextVoice(text=text, language="en", voice_id=voice_id, path="said.mp3", probe=SPOKEN)


def order(face: Any, voice: Any, ratio: str = "9:16") -> Order:
    return Order(face=face, voice=voice, ratio=AspectRatio(ratio))


def photo() -> FileFace:
    return FileFace(kind=FaceKind.PHOTO, path="face.jpg", probe=STILL)


def recording() -> AudioVoice:
    return AudioVoice(path="voice.mp3", probe=SPOKEN)


def hosted_inputs(hosted: Hosted, *, face: bool = True) -> Inputs:
    return Inputs(
        face=Path("face.jpg") if face else None,
        voice=Path("voice.mp3"),
        face_url=hosted.url("face.jpg") if face else None,
        voice_url=hosted.url("voice.mp3"),
    )


TEXT_ONLY = Inputs(face=None, voice=Path("said.mp3"))


def created(fake: FakeCreatify) -> tuple[str, Any]:
    """The path and JSON body of the last create."""
    call = [c for c in fake.calls if c.method == "POST"][-1]
    return call.path, call.json


async def finished(api: CreatifyProvider, job_id: str) -> RemoteJob:
    async with asyncio.timeout(10):
        while True:
            job = await api.fetch(job_id)
            if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                return job
            await asyncio.sleep(0.02)


# --- routes ----------------------------------------------------------------------------------


async def test_an_avatar_with_one_paragraph_is_a_v1_text_job(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    accent = fake.accent_ids()[0]
    face = avatar(fake)
    job = await api.submit(
        order(face, typed("Hello there.", f"creatify:{accent}")),
        TEXT_ONLY,
        name="lsb-creatify-1",
        webhook_url=None,
    )
    path, body = created(fake)
    assert path == "/api/lipsyncs/"
    assert body == {
        "creator": face.avatar_id,
        "text": "Hello there.",
        "accent": accent,
        "aspect_ratio": "9x16",
        "name": "lsb-creatify-1",
    }
    assert job.provider_job_id.startswith("v1_")
    assert job.status is JobStatus.QUEUED
    done = await finished(api, job.provider_job_id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.output_url
    assert done.output_url.endswith(".mp4")
    assert done.progress == 100
    assert done.credits == 5
    assert done.provider_job_id == job.provider_job_id


async def test_another_engines_voice_is_never_sent(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    await api.submit(
        order(avatar(fake), typed("Hi.", "en-us+m3")), TEXT_ONLY, name="n", webhook_url=None
    )
    _, body = created(fake)
    assert "accent" not in body
    assert body["text"] == "Hi."


async def test_paragraphs_are_scenes_of_a_v2_job(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    accent = fake.accent_ids()[1]
    face = avatar(fake)
    text = "First part.\n\n\n  Second part.  \r\n\r\nThird."
    job = await api.submit(
        order(face, typed(text, f"creatify:{accent}"), "16:9"),
        TEXT_ONLY,
        name="n",
        webhook_url=None,
    )
    path, body = created(fake)
    assert path == "/api/lipsyncs_v2/"
    assert body["aspect_ratio"] == "16x9"
    scenes = body["video_inputs"]
    assert [scene["voice"]["input_text"] for scene in scenes] == [
        "First part.",
        "Second part.",
        "Third.",
    ]
    assert {scene["character"]["avatar_id"] for scene in scenes} == {face.avatar_id}
    assert {scene["voice"]["voice_id"] for scene in scenes} == {accent}
    assert job.provider_job_id.startswith("v2_")
    done = await finished(api, job.provider_job_id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.output_url


async def test_many_short_paragraphs_make_at_most_ten_scenes(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    words = [f"Word{n}." for n in range(40)]
    await api.submit(
        order(avatar(fake), typed("\n\n".join(words))), TEXT_ONLY, name="n", webhook_url=None
    )
    _, body = created(fake)
    spoken = [scene["voice"]["input_text"] for scene in body["video_inputs"]]
    assert spoken[:9] == words[:9]
    assert spoken[9] == "\n\n".join(words[9:])  # the rest join the last scene: nothing lost
    assert len(spoken) == 10


async def test_an_avatar_with_a_recording_gets_its_url(
    fake: FakeCreatify, api: CreatifyProvider, hosted: Hosted
) -> None:
    face = avatar(fake)
    job = await api.submit(
        order(face, recording(), "1:1"),
        hosted_inputs(hosted, face=False),
        name="n",
        webhook_url=None,
    )
    path, body = created(fake)
    assert path == "/api/lipsyncs/"
    assert body == {
        "creator": face.avatar_id,
        "audio": hosted.url("voice.mp3"),
        "aspect_ratio": "1x1",
        "name": "n",
    }
    assert job.provider_job_id.startswith("v1_")
    assert (await finished(api, job.provider_job_id)).status is JobStatus.SUCCEEDED


@pytest.mark.parametrize("voice", [recording(), typed("Spoken here.")], ids=["audio", "text"])
async def test_a_photo_is_an_aurora_job_with_the_spoken_audio(
    fake: FakeCreatify, api: CreatifyProvider, hosted: Hosted, voice: Any
) -> None:
    job = await api.submit(
        order(photo(), voice), hosted_inputs(hosted), name="n", webhook_url=None
    )
    path, body = created(fake)
    assert path == "/api/aurora/"
    assert body["image"] == hosted.url("face.jpg")
    assert body["audio"] == hosted.url("voice.mp3")
    assert body["model_version"] == "aurora_v1"
    assert "text" not in body
    assert job.provider_job_id.startswith("au_")
    done = await finished(api, job.provider_job_id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.output_url  # Aurora's video_output
    assert done.output_url.endswith(".mp4")


@pytest.mark.parametrize(
    ("the_order", "inputs", "why"),
    [
        (
            order(FileFace(kind=FaceKind.VIDEO, path="f.mp4", probe=STILL), recording()),
            Inputs(face=Path("f.mp4"), voice=Path("v.mp3"), face_url="u", voice_url="u"),
            "video",
        ),
        (order(photo(), recording()), Inputs(face=Path("f"), voice=Path("v")), "PUBLIC_URL"),
        (
            order(AvatarFace(provider="creatify", avatar_id="x", name="X"), recording()),
            Inputs(face=None, voice=Path("v")),
            "PUBLIC_URL",
        ),
        (
            order(AvatarFace(provider="creatify", avatar_id="../x", name="X"), typed("Hi")),
            TEXT_ONLY,
            "avatar",
        ),
        (order(photo(), AudioVoice(path="v", probe=Probe(duration=61.0))), None, "60 seconds"),
        (
            order(AvatarFace(provider="creatify", avatar_id="a", name="A"), typed("x" * 8001)),
            None,
            "8000",
        ),
    ],
)
async def test_orders_it_cannot_take_are_refused_before_any_request(
    fake: FakeCreatify,
    api: CreatifyProvider,
    the_order: Order,
    inputs: Inputs | None,
    why: str,
) -> None:
    with pytest.raises(ProviderRejected, match=why):
        await api.submit(
            the_order, inputs or TEXT_ONLY, name="n", webhook_url="https://bot.example/h"
        )
    assert not fake.calls


# --- ratios and webhooks ---------------------------------------------------------------------


@pytest.mark.parametrize(("style", "sent"), [("x", "9x16"), ("colon", "9:16")])
async def test_ratio_format_matches_what_the_api_takes(
    fake: FakeCreatify, client: httpx.AsyncClient, style: str, sent: str
) -> None:
    fake.aspect_ratio_format = style  # type: ignore[assignment]
    api = provider(fake, client, ratio_format=style)
    job = await api.submit(
        order(avatar(fake), typed("Hi.")), TEXT_ONLY, name="n", webhook_url=None
    )
    assert created(fake)[1]["aspect_ratio"] == sent
    assert job.status is JobStatus.QUEUED


async def test_a_ratio_the_api_does_not_take_is_a_rejection(
    fake: FakeCreatify, client: httpx.AsyncClient
) -> None:
    fake.aspect_ratio_format = "x"
    api = provider(fake, client, ratio_format="colon")
    with pytest.raises(ProviderRejected) as refused:
        await api.submit(order(avatar(fake), typed("Hi.")), TEXT_ONLY, name="n", webhook_url=None)
    assert refused.value.status_code == 400
    assert not fake.jobs


async def test_the_webhook_url_is_sent_and_its_body_names_the_job(
    fake: FakeCreatify, api: CreatifyProvider, hosted: Hosted
) -> None:
    url = f"{hosted.base}/hooks/creatify/7/token"
    job = await api.submit(
        order(photo(), recording()), hosted_inputs(hosted), name="n", webhook_url=url
    )
    assert created(fake)[1]["webhook_url"] == url
    await finished(api, job.provider_job_id)
    await fake.drain_webhooks()
    assert hosted.hooks
    hint = api.webhook_job(hosted.hooks[-1])
    # The body carries Creatify's bare id: the URL names our job, whose stored id is fetched.
    assert job.provider_job_id == f"au_{hint.provider_job_id}"
    assert hint.status is JobStatus.SUCCEEDED
    assert hint.output_url


async def test_a_webhook_url_over_200_characters_is_left_out_and_logged_once(
    fake: FakeCreatify, api: CreatifyProvider, caplog: pytest.LogCaptureFixture
) -> None:
    assert len(LONG_URL) > 200
    with caplog.at_level(logging.WARNING, "bot.providers.creatify"):
        for _ in range(2):
            await api.submit(
                order(avatar(fake), typed("Hi.")), TEXT_ONLY, name="n", webhook_url=LONG_URL
            )
            assert "webhook_url" not in created(fake)[1]
    assert len([r for r in caplog.records if "webhook" in r.getMessage()]) == 1
    assert len(fake.jobs) == 2


# --- errors ----------------------------------------------------------------------------------


async def test_a_wrong_key_is_an_auth_error(fake: FakeCreatify, client: httpx.AsyncClient) -> None:
    api = provider(fake, client, key="wrong")
    with pytest.raises(ProviderAuthError):
        await api.submit(order(avatar(fake), typed("Hi.")), TEXT_ONLY, name="n", webhook_url=None)
    with pytest.raises(ProviderAuthError):
        await api.balance()


@pytest.mark.parametrize("status", [400, 402])
async def test_an_empty_account_is_out_of_credits(
    fake: FakeCreatify, api: CreatifyProvider, status: int
) -> None:
    fake.credits = 0
    fake.insufficient_status = status
    with pytest.raises(ProviderOutOfCredits):
        await api.submit(order(avatar(fake), typed("Hi.")), TEXT_ONLY, name="n", webhook_url=None)


async def test_an_unknown_avatar_is_a_rejection(fake: FakeCreatify, api: CreatifyProvider) -> None:
    face = AvatarFace(
        provider="creatify", avatar_id="0" * 8 + "-0000-4000-8000-" + "0" * 12, name="X"
    )
    with pytest.raises(ProviderRejected):
        await api.submit(order(face, typed("Hi.")), TEXT_ONLY, name="n", webhook_url=None)


async def test_throttled_creates_and_failing_reads_are_retried(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    fake.fail_next("POST /api/lipsyncs/", 429, retry_after=0)
    job = await api.submit(
        order(avatar(fake), typed("Hi.")), TEXT_ONLY, name="n", webhook_url=None
    )
    assert len(fake.jobs) == 1
    fake.fail_next("GET /api/lipsyncs/", 503, times=2)
    assert (await api.fetch(job.provider_job_id)).provider_job_id == job.provider_job_id
    fake.fail_next("GET /api/lipsyncs/", 502, times=3)
    with pytest.raises(ProviderUnavailable):
        await api.fetch(job.provider_job_id)


async def test_a_create_answered_500_may_have_been_made_and_is_not_repeated(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    fake.fail_next("POST /api/lipsyncs/", 500, after_processing=True)
    with pytest.raises(ProviderUnavailable) as lost:
        await api.submit(order(avatar(fake), typed("Hi.")), TEXT_ONLY, name="n", webhook_url=None)
    assert lost.value.maybe_done
    assert len(fake.jobs) == 1  # sent once


# --- reading jobs ----------------------------------------------------------------------------


async def test_a_failed_job_says_why(fake: FakeCreatify, api: CreatifyProvider) -> None:
    fake.fail_next_jobs(reason="  Face not detected  ", status="rejected")
    job = await api.submit(
        order(avatar(fake), typed("Hi.")), TEXT_ONLY, name="n", webhook_url=None
    )
    done = await finished(api, job.provider_job_id)
    assert done.status is JobStatus.FAILED
    assert done.error == "Face not detected"
    assert done.output_url is None


async def test_a_bare_id_is_found_at_its_endpoint_once(
    fake: FakeCreatify, api: CreatifyProvider, hosted: Hosted
) -> None:
    """A job claimed by its webhook after a lost create answer is stored under the webhook's
    bare id: fetch() asks each endpoint, then remembers which one knew it."""
    job = await api.submit(
        order(photo(), recording()), hosted_inputs(hosted), name="n", webhook_url=None
    )
    bare = job.provider_job_id.removeprefix("au_")
    fake.requests.clear()
    first = await api.fetch(bare)
    assert first.provider_job_id == bare
    assert fake.requests["GET /api/lipsyncs/{id}/"] == 1  # 404
    assert fake.requests["GET /api/aurora/{id}/"] == 1
    await api.fetch(bare)
    assert fake.requests["GET /api/aurora/{id}/"] == 2
    assert fake.requests["GET /api/lipsyncs/{id}/"] == 1


async def test_an_unknown_job_is_a_rejection(api: CreatifyProvider) -> None:
    unknown = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    for job_id in (f"v1_{unknown}", f"v2_{unknown}", f"au_{unknown}", unknown):
        with pytest.raises(ProviderRejected) as missing:
            await api.fetch(job_id)
        assert missing.value.status_code == 404


async def test_250_v2_jobs_are_read_in_3_lists_and_the_others_left_to_fetch(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    fake.auto_complete = False
    face = avatar(fake)
    two = order(face, typed("One.\n\nTwo."))
    v2 = await asyncio.gather(
        *(api.submit(two, TEXT_ONLY, name=f"n{i}", webhook_url=None) for i in range(250))
    )
    v1 = [
        await api.submit(order(face, typed("One.")), TEXT_ONLY, name="x", webhook_url=None)
        for _ in range(3)
    ]
    gone = "v1_3c90c3cc-0d44-4b50-8888-8dd25736052a"
    ids = [job.provider_job_id for job in v2 + v1] + [gone]
    # Only v2 jobs are listed: the poller reads v1 and Aurora jobs alone, within its own cap.
    assert [api.listed(job_id) for job_id in ids] == [True] * 250 + [False] * 4
    fake.requests.clear()
    found = await api.fetch_many(ids)
    assert fake.requests["GET /api/lipsyncs_v2/"] == 3
    assert fake.requests["GET /api/lipsyncs/{id}/"] == 0
    assert set(found) == {job.provider_job_id for job in v2}
    assert all(found[job_id].provider_job_id == job_id for job_id in found)
    lists = [c for c in fake.calls if c.path == "/api/lipsyncs_v2/" and c.method == "GET"]
    assert all(len(c.query.split(",")) <= 100 for c in lists)


async def test_a_list_that_fails_fails_the_whole_read(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    two = order(avatar(fake), typed("One.\n\nTwo."))
    job = await api.submit(two, TEXT_ONLY, name="n", webhook_url=None)
    fake.fail_next("GET /api/lipsyncs_v2/", 503, times=3)
    with pytest.raises(ProviderUnavailable):
        await api.fetch_many([job.provider_job_id])
    fake.fail_next("GET /api/lipsyncs_v2/", 400, {"ids": ["bad"]})
    with pytest.raises(ProviderRejected):
        await api.fetch_many([job.provider_job_id])


# --- answers it cannot trust -----------------------------------------------------------------

UUID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


@pytest.mark.parametrize(
    "answer",
    [
        "<html>gateway</html>",
        {"id": "../../account", "status": "running"},
        {"id": ["x"], "status": "running"},
        {"status": "running"},
        "[" * 100_000,
    ],
)
async def test_a_job_answer_without_a_usable_id_is_unreadable(
    fake: FakeCreatify, api: CreatifyProvider, answer: Any
) -> None:
    fake.fail_next("GET /api/lipsyncs/", 200, answer)
    with pytest.raises(ProviderUnavailable):
        await api.fetch(f"v1_{UUID}")


async def test_a_create_answered_2xx_without_an_id_may_have_been_made(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    fake.fail_next("POST /api/lipsyncs/", 201, {"id": "a/b", "status": "pending"})
    with pytest.raises(ProviderUnavailable) as lost:
        await api.submit(order(avatar(fake), typed("Hi.")), TEXT_ONLY, name="n", webhook_url=None)
    assert lost.value.maybe_done


async def test_an_answer_too_big_to_parse_is_unreadable(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    fake.fail_next(
        "GET /api/lipsyncs/", 200, {"id": UUID, "status": "running", "pad": "x" * 5_000_000}
    )
    with pytest.raises(ProviderUnavailable):
        await api.fetch(f"v1_{UUID}")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"progress": "abc"}, {"progress": None}),
        ({"progress": "0.4"}, {"progress": 40}),
        ({"progress": 0.25}, {"progress": 25}),
        ({"progress": "37"}, {"progress": 37}),
        ({"progress": 250}, {"progress": 100}),
        ({"progress": "nan"}, {"progress": None}),
        ({"progress": -3}, {"progress": None}),
        ({"progress": True}, {"progress": None}),
        ({"credits_used": "lots"}, {"credits": None}),
        ({"credits_used": -5}, {"credits": None}),
        ({"status": "done", "output": None}, {"status": JobStatus.RUNNING}),
        ({"status": "done", "output": 42}, {"status": JobStatus.RUNNING}),
        (
            {"status": "failed", "failed_reason": {"x": 1}},
            {"status": JobStatus.FAILED, "error": None},
        ),
        ({"status": "failed", "failed_reason": "x" * 1000}, {"error": "x" * 299 + "…"}),
        ({"status": "IN_QUEUE"}, {"status": JobStatus.QUEUED}),
    ],
)
async def test_odd_fields_are_read_as_absent(
    fake: FakeCreatify,
    api: CreatifyProvider,
    fields: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    fake.fail_next("GET /api/lipsyncs/", 200, {"id": UUID, "status": "running", **fields})
    job = await api.fetch(f"v1_{UUID}")
    assert {key: getattr(job, key) for key in expected} == expected


@pytest.mark.parametrize("status", ["exploded", 7, None, ["done"]])
async def test_an_unknown_status_keeps_polling(
    fake: FakeCreatify, api: CreatifyProvider, status: Any
) -> None:
    fake.fail_next("GET /api/lipsyncs/", 200, {"id": UUID, "status": status})
    with pytest.raises(UnknownStatus):
        await api.fetch(f"v1_{UUID}")


async def test_hostile_list_items_are_left_out(fake: FakeCreatify, api: CreatifyProvider) -> None:
    good = "11111111-0d44-4b50-8888-8dd25736052a"
    items = [
        "junk",
        {"id": "a/b", "status": "running"},
        {"id": UUID, "status": "exploded"},
        {"id": "22222222-0d44-4b50-8888-8dd25736052a", "status": "running"},  # not asked for
        {"id": good, "status": "running", "progress": "0.5"},
    ]
    fake.fail_next("GET /api/lipsyncs_v2/", 200, items)  # type: ignore[arg-type]
    found = await api.fetch_many([f"v2_{UUID}", f"v2_{good}"])
    assert list(found) == [f"v2_{good}"]
    assert found[f"v2_{good}"].progress == 50


def test_progress_is_read_defensively() -> None:
    assert percent("1") == 100
    assert percent("0") == 0
    assert percent(1e400) is None
    assert percent(10**400) is None
    assert percent("9" * 40) is None
    assert percent("²") is None


# --- catalogues, balance, settings -----------------------------------------------------------


async def test_avatars_are_the_active_personas(fake: FakeCreatify, api: CreatifyProvider) -> None:
    fake.add_persona("Hidden", is_active=False)
    avatars = await api.avatars()
    assert {a.avatar_id for a in avatars} == {p.id for p in fake.personas.values() if p.is_active}
    first = avatars[0]
    assert first.provider == "creatify"
    assert first.name
    assert first.gender in set(Gender)
    assert set(first.preview_images) == {"9:16", "1:1", "16:9"}
    assert first.preview_videos["9:16"].endswith("9_16.mp4")


async def test_hostile_personas_are_skipped_or_cleaned(
    fake: FakeCreatify, api: CreatifyProvider
) -> None:
    ok = {"id": UUID, "creator_name": "Ana", "is_active": True}
    items = [
        "junk",
        None,
        {**ok, "id": "a/b"},
        {**ok, "id": 12.5},
        {**ok, "creator_name": ""},
        {**ok, "creator_name": ["Ana"]},
        {**ok, "is_active": "true"},
        {**ok, "is_active": False},
        {
            **ok,
            "creator_name": "  Eve\u202e\n\tlyn " + "z" * 200,
            "gender": "robot",
            "preview_image_9_16": "javascript:alert(1)",
            "preview_image_1_1": "https://cdn.example/a b.jpg",
            "preview_image_16_9": "https://cdn.example/16.jpg",
            "preview_video_9_16": 5,
        },
    ]
    fake.fail_next("GET /api/personas/", 200, items)  # type: ignore[arg-type]
    avatars = await api.avatars()
    assert len(avatars) == 2
    nameless, only = avatars
    # Names as sent: bot.avatars cleans them for display ("Avatar 3c90c3cc" for the empty one).
    assert nameless.name == ""
    assert only.name == "  Eve\u202e\n\tlyn " + "z" * 200
    assert only.gender is None
    assert only.preview_images == {"16:9": "https://cdn.example/16.jpg"}
    assert only.preview_videos == {}
    fake.fail_next("GET /api/personas/", 200, {"detail": "odd"})
    assert await api.avatars() == []


async def test_voices_are_flattened_to_accents(fake: FakeCreatify, api: CreatifyProvider) -> None:
    voices = await api.voices()
    assert [v.accent_id for v in voices] == fake.accent_ids()
    fatima = voices[0]
    assert fatima.name == "Fatima"
    assert fatima.gender is Gender.FEMALE
    assert fatima.accent_name == "American English accent"
    assert fatima.voice_id == f"creatify:{fatima.accent_id}"
    assert fatima.preview_url
    assert fatima.preview_url.endswith(".mp3")


async def test_hostile_voices_are_skipped(fake: FakeCreatify, api: CreatifyProvider) -> None:
    items = [
        "junk",
        {"name": "NoAccents", "gender": "male"},
        {"name": "Bad", "accents": "all"},
        {"name": None, "accents": [{"id": UUID, "accent_name": "x"}]},
        {
            "name": "Mixed",
            "gender": {"x": 1},
            "accents": [
                {"id": "../x", "accent_name": "Bad id"},
                {"id": UUID, "accent_name": ""},
                7,
                {"id": UUID, "accent_name": "Good", "preview_url": "ftp://x"},
            ],
        },
    ]
    fake.fail_next("GET /api/voices/", 200, items)  # type: ignore[arg-type]
    voices = await api.voices()
    assert [(v.name, v.accent_name, v.gender, v.preview_url) for v in voices] == [
        ("Mixed", "Good", None, None)
    ]


async def test_balance(fake: FakeCreatify, api: CreatifyProvider) -> None:
    fake.credits = 412.5
    assert await api.balance() == 412.5
    fake.fail_next("GET /api/remaining_credits/", 200, {"remaining_credits": "lots"})
    assert await api.balance() is None


def test_cost_estimates(
    fake: FakeCreatify, api: CreatifyProvider, client: httpx.AsyncClient
) -> None:
    def said(seconds: float) -> TextVoice:
        return TextVoice(text="x", language="en", path="p", probe=Probe(duration=seconds))

    face = avatar(fake)
    assert api.estimate_cost(order(face, said(0))) == 5
    assert api.estimate_cost(order(face, said(30))) == 5
    assert api.estimate_cost(order(face, said(30.5))) == 10
    assert api.estimate_cost(order(photo(), said(3.2))) == 4
    fast = provider(fake, client, aurora_model="aurora_v1_fast")
    assert fast.estimate_cost(order(photo(), said(3.2))) == 2


def test_capabilities_depend_on_public_url(fake: FakeCreatify, client: httpx.AsyncClient) -> None:
    public = provider(fake, client, public=True).capabilities
    assert public.faces == {FaceKind.AVATAR, FaceKind.PHOTO}
    assert public.audio
    assert public.native_text
    private = provider(fake, client, public=False).capabilities
    assert private.faces == {FaceKind.AVATAR}
    assert not private.audio
    assert private.native_text


def test_from_settings(client: httpx.AsyncClient) -> None:
    http = ProviderHTTP("creatify", client)
    env = {"TELEGRAM_BOT_TOKEN": "1:a", "CREATIFY_API_ID": "id", "CREATIFY_API_KEY": "key"}
    built = from_settings(
        load_settings({**env, "CREATIFY_RATIO_FORMAT": "Colon"}, env_file=None), http
    )
    assert built.auth_headers() == {"X-API-ID": "id", "X-API-KEY": "key"}
    assert built.capabilities.faces == {FaceKind.AVATAR}
    with pytest.raises(ConfigError, match="CREATIFY_API_KEY"):
        from_settings(load_settings({"TELEGRAM_BOT_TOKEN": "1:a"}, env_file=None), http)
    with pytest.raises(ConfigError, match="CREATIFY_RATIO_FORMAT"):
        load_settings({**env, "CREATIFY_RATIO_FORMAT": "slash"}, env_file=None)


def test_webhook_bodies_are_read_defensively(api: CreatifyProvider) -> None:
    hint = api.webhook_job(
        json.dumps({"id": UUID, "status": "done", "output": "https://o/v.mp4"}).encode()
    )
    assert hint.provider_job_id == UUID
    assert hint.status is JobStatus.SUCCEEDED
    for body in (b"[]", b"{}", json.dumps({"id": "a/b", "status": "done"}).encode(), b"\xff"):
        with pytest.raises(WebhookRejected):
            api.webhook_job(body)
