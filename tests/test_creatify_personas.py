"""Custom avatars at Creatify (providers.md 1.9): the fake's ``personas_v2`` (multipart, its
checks, the JSON form, the slow build, failures with a reason, the slot count, the webhook,
the list) and the bot's client for it (bot/providers/creatify_personas.py) against the fake."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from bot.errors import ProviderRejected, ProviderUnavailable
from bot.models import Gender
from bot.providers.creatify import CreatifyProvider
from bot.providers.creatify_personas import PersonaStatus
from bot.providers.http import ProviderHTTP, RetryPolicy
from tests import media as make
from tests.fakes.creatify import FakeCreatify
from tests.fakes.creatify_personas import FULL
from tests.fakes.telegram import serve_asgi


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("personas")
    training = make.make_video(folder / "training.mp4", width=320, height=240, seconds=2.0)
    consent = make.make_video(folder / "consent.mp4", width=320, height=240, seconds=1.0)
    photo = make.make_photo(folder / "face.jpg", 320, 240)
    fake_mp4 = folder / "photo.mp4"  # a JPEG in an MP4's clothes
    fake_mp4.write_bytes(photo.read_bytes())
    return {"training": training, "consent": consent, "photo.mp4": fake_mp4}


@pytest.fixture
def fake(creatify: FakeCreatify) -> FakeCreatify:
    creatify.custom.build_seconds = 0.2
    return creatify


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http_client:
        yield http_client


@pytest.fixture
def api(fake: FakeCreatify, client: httpx.AsyncClient) -> CreatifyProvider:
    http = ProviderHTTP("creatify", client, policy=RetryPolicy(attempts=3, base=0.01))
    return CreatifyProvider(http, fake.base_url, fake.api_id, fake.api_key, public=True)


class Hooks:
    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files
        self.bodies: list[Any] = []
        self.base = ""

    async def hook(self, request: Request) -> Response:
        self.bodies.append(await request.json())
        return Response(status_code=200)

    async def file(self, request: Request) -> Response:
        path = self.files.get(request.path_params["name"])
        return Response(status_code=404) if path is None else FileResponse(path)


@pytest.fixture
async def site(videos: dict[str, Path]) -> AsyncIterator[Hooks]:
    hooks = Hooks(videos)
    app = Starlette(
        routes=[
            Route("/hook", hooks.hook, methods=["POST"]),
            Route("/media/{name}", hooks.file, methods=["GET"]),
        ]
    )
    async with serve_asgi(app) as url:
        hooks.base = url
        yield hooks


def auth(fake: FakeCreatify) -> dict[str, str]:
    return {"X-API-ID": fake.api_id, "X-API-KEY": fake.api_key}


def multipart(videos: dict[str, Path], **parts: tuple[str, bytes, str] | None) -> dict[str, Any]:
    files: dict[str, Any] = {
        "lipsync_input": ("t.mp4", videos["training"].read_bytes(), "video/mp4"),
        "consent_video": ("c.mp4", videos["consent"].read_bytes(), "video/mp4"),
    }
    for name, part in parts.items():
        if part is None:
            files.pop(name)
        else:
            files[name] = part
    return files


FIELDS = {"creator_name": "Ann", "gender": "f", "video_scene": "other"}


async def test_an_upload_is_built_slowly_then_listed_as_custom(
    fake: FakeCreatify, api: CreatifyProvider, videos: dict[str, Path], site: Hooks
) -> None:
    assert await api.persona_slots() == (0, 3)
    persona_id = await api.create_persona(
        "Ann", Gender.FEMALE, videos["training"], videos["consent"], f"{site.base}/hook"
    )
    build = fake.custom.builds[persona_id]
    # The very bytes of both files arrived, as video parts.
    training, consent = build.fields["lipsync_input"], build.fields["consent_video"]
    assert training.size == videos["training"].stat().st_size
    assert training.content_type == consent.content_type == "video/mp4"
    assert build.fields["video_scene"] == "other"
    assert build.fields["webhook_url"] == f"{site.base}/hook"
    assert (await api.get_persona(persona_id)).status is PersonaStatus.PENDING
    assert await api.persona_slots() == (1, 3)  # a pending avatar takes its slot
    assert persona_id not in {a.avatar_id for a in await api.avatars()}
    await fake.custom.wait_for(persona_id)
    state = await api.get_persona(persona_id)
    assert state.status is PersonaStatus.READY
    assert state.avatar is not None
    assert state.avatar.avatar_id == persona_id
    assert state.avatar.preview_images
    async with asyncio.timeout(5):
        while not site.bodies:
            await asyncio.sleep(0.01)
    assert site.bodies[0]["id"] == persona_id
    assert site.bodies[0]["process_status"] == "done"
    # Built avatars are in GET /api/personas/ as "custom", never as stock avatars.
    async with httpx.AsyncClient(base_url=fake.base_url, headers=auth(fake)) as plain:
        every = (await plain.get("/api/personas/")).json()
    assert {p["id"]: p["type"] for p in every}[persona_id] == "custom"
    assert persona_id not in {a.avatar_id for a in await api.avatars()}


async def test_a_failed_build_has_a_reason_and_frees_its_slot(
    fake: FakeCreatify, api: CreatifyProvider, videos: dict[str, Path]
) -> None:
    fake.custom.next_failures.append("The face is too small in the video.")
    persona_id = await api.create_persona(
        "Bob", Gender.MALE, videos["training"], videos["consent"], None
    )
    await fake.custom.wait_for(persona_id)
    state = await api.get_persona(persona_id)
    assert state.status is PersonaStatus.FAILED
    assert state.reason == "The face is too small in the video."
    assert await api.persona_slots() == (0, 3)


async def test_a_full_account_refuses_a_create(
    fake: FakeCreatify, api: CreatifyProvider, videos: dict[str, Path]
) -> None:
    fake.custom.max_count = 1
    await api.create_persona("A", Gender.FEMALE, videos["training"], videos["consent"], None)
    assert await api.persona_slots() == (1, 1)
    with pytest.raises(ProviderRejected) as refused:
        await api.create_persona("B", Gender.FEMALE, videos["training"], videos["consent"], None)
    assert refused.value.status_code == 400
    assert FULL in refused.value.reason


async def test_a_lost_answer_is_maybe_done(
    fake: FakeCreatify, api: CreatifyProvider, videos: dict[str, Path]
) -> None:
    fake.fail_next("POST /api/personas_v2/", 502, after_processing=True)
    with pytest.raises(ProviderUnavailable) as lost:
        await api.create_persona("A", Gender.FEMALE, videos["training"], videos["consent"], None)
    assert lost.value.maybe_done
    assert len(fake.custom.builds) == 1  # made once, never sent again


@pytest.mark.parametrize(
    ("parts", "field", "message"),
    [
        ({"lipsync_input": None}, "lipsync_input", "No file was submitted."),
        ({"consent_video": None}, "consent_video", "No file was submitted."),
        ({"lipsync_input": ("t.mp4", b"", "video/mp4")}, "lipsync_input", "empty"),
        ({"lipsync_input": ("t.gif", b"GIF89a....", "image/gif")}, "lipsync_input", "type"),
        (
            {"consent_video": ("c.mp4", b"\xff\xd8\xff" + b"0" * 64, "video/mp4")},
            "consent_video",
            "valid video",
        ),
    ],
)
async def test_uploads_are_checked(
    fake: FakeCreatify,
    videos: dict[str, Path],
    parts: dict[str, Any],
    field: str,
    message: str,
) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url, headers=auth(fake)) as plain:
        answer = await plain.post(
            "/api/personas_v2/", data=FIELDS, files=multipart(videos, **parts)
        )
    assert answer.status_code == 400
    assert message in answer.json()[field][0]
    assert not fake.custom.builds


async def test_fields_are_checked_and_big_files_refused(
    fake: FakeCreatify, videos: dict[str, Path]
) -> None:
    fake.custom.max_upload_bytes = 1000
    async with httpx.AsyncClient(base_url=fake.base_url, headers=auth(fake)) as plain:
        answer = await plain.post(
            "/api/personas_v2/",
            data={"gender": "x", "creator_name": "A" * 256},
            files=multipart(videos),
        )
        as_text = await plain.post("/api/personas_v2/", data={**FIELDS, "lipsync_input": "x"})
    errors = answer.json()
    assert answer.status_code == 400
    assert set(errors) == {
        "gender",
        "creator_name",
        "video_scene",
        "lipsync_input",
        "consent_video",
    }
    assert "File too large" in errors["lipsync_input"][0]
    assert "not a file" in as_text.json()["lipsync_input"][0]


async def test_the_json_form_downloads_its_videos(fake: FakeCreatify, site: Hooks) -> None:
    body = {
        **FIELDS,
        "lipsync_input": f"{site.base}/media/training",
        "consent_video": f"{site.base}/media/photo.mp4",
    }
    async with httpx.AsyncClient(base_url=fake.base_url, headers=auth(fake)) as plain:
        made = await plain.post("/api/personas/", json=body)
        assert made.status_code == 201
        persona = await fake.custom.wait_for(made.json()["id"])
        good = await plain.post(
            "/api/personas/", json={**body, "consent_video": f"{site.base}/media/consent"}
        )
        done = await fake.custom.wait_for(good.json()["id"])
    assert persona.process_status == "failed"
    assert "consent_video" in persona.failed_reason
    assert done.process_status == "done"
    assert {f.field for f in fake.fetched} == {"lipsync_input", "consent_video"}


async def test_the_client_reads_odd_answers_defensively() -> None:
    from bot.providers.creatify_personas import parse_persona, parse_slots

    assert parse_persona({"id": "p", "process_status": "weird"}).status is PersonaStatus.PENDING
    assert parse_persona({"id": "p", "is_active": "true"}).status is PersonaStatus.PENDING
    failed = parse_persona({"id": "p", "process_status": "Rejected", "failed_reason": "a\nb"})
    assert failed.status is PersonaStatus.FAILED
    assert failed.reason == "a b"
    shapes: tuple[object, ...] = ({}, {"id": "../x"}, [], "x")
    for shape in shapes:
        with pytest.raises(ProviderUnavailable):
            parse_persona(shape)
    for bad in (
        {"max_count": 3},
        {"max_count": True, "current_count": 0},
        {"max_count": -1, "current_count": 0},
        None,
    ):
        with pytest.raises(ProviderUnavailable):
            parse_slots(bad)


async def test_the_upload_opens_and_reads_its_files_off_the_event_loop(
    fake: FakeCreatify,
    api: CreatifyProvider,
    videos: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two videos of up to 20 MB each: read a chunk at a time in worker threads, so the bot
    keeps answering while they go."""
    loop_thread = threading.get_ident()
    used: list[tuple[str, int, int]] = []  # (what, thread, bytes asked)
    real_open = Path.open
    wanted = {videos["training"], videos["consent"]}

    class Recorded:
        def __init__(self, handle: Any) -> None:
            self._handle = handle

        def read(self, size: int = -1) -> bytes:
            used.append(("read", threading.get_ident(), size))
            return bytes(self._handle.read(size))

        def __getattr__(self, name: str) -> Any:
            return getattr(self._handle, name)

    def recording_open(path: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(path, *args, **kwargs)
        if path not in wanted:
            return handle
        used.append(("open", threading.get_ident(), 0))
        return Recorded(handle)

    monkeypatch.setattr(Path, "open", recording_open)
    persona_id = await api.create_persona(
        "Ann", Gender.FEMALE, videos["training"], videos["consent"], None
    )
    monkeypatch.undo()
    build = fake.custom.builds[persona_id]
    assert build.fields["lipsync_input"].size == videos["training"].stat().st_size
    assert build.fields["consent_video"].size == videos["consent"].stat().st_size
    assert build.fields["creator_name"] == "Ann"
    assert {what for what, _, _ in used} == {"open", "read"}
    assert all(thread != loop_thread for _, thread, _ in used), used
    assert all(0 < size <= 64 * 1024 for what, _, size in used if what == "read")
