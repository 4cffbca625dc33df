"""Dialogues at the providers (issue 9), each client against its fake over 127.0.0.1:
lipsync.studio's ``lipsync-image-multi`` (one photo, the left and right voices, ``order``;
the fake fetches all three, bills image-multi's way, and refuses an image with fewer than two
faces, with its reason), and Creatify's ``lipsyncs_v2`` with two avatars (their paragraphs in
turn, each read by its own speaker's voice, ten scenes at most)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bot.errors import ProviderRejected
from bot.models import (
    AspectRatio,
    AudioVoice,
    AvatarFace,
    Dialogue,
    FaceKind,
    FileFace,
    JobStatus,
    Order,
    Probe,
    RemoteJob,
    TextVoice,
    Turns,
)
from bot.providers.base import Inputs, RemoteProvider
from bot.providers.creatify import CreatifyProvider
from bot.providers.creatify_jobs import MAX_SCENES
from bot.providers.http import ProviderHTTP, RetryPolicy
from bot.providers.lipsync_studio import LipsyncStudioProvider
from tests import media as make
from tests.conftest import Media
from tests.fakes import lipsync_studio
from tests.fakes.creatify import FakeCreatify
from tests.fakes.lipsync_studio import FakeLipsyncStudio
from tests.fakes.telegram import serve_asgi

STILL = Probe(duration=None, width=640, height=480, has_video=True, is_image=True)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http_client:
        yield http_client


async def finished(api: RemoteProvider, job_id: str) -> RemoteJob:
    async with asyncio.timeout(10):
        while True:
            job = await api.fetch(job_id)
            if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                return job
            await asyncio.sleep(0.02)


# --- lipsync.studio ---------------------------------------------------------------------------


@pytest.fixture
async def voices(tmp_path: Path) -> tuple[Path, Path]:
    """A 3 s and a 7 s recording: 'the left speaker's' and 'the right's'."""
    left = make.make_mp3(tmp_path / "left.mp3", seconds=3.0)
    right = make.make_mp3(tmp_path / "right.mp3", seconds=7.0)
    return left, right


@pytest.fixture
async def hosted(media: Media, voices: tuple[Path, Path]) -> AsyncIterator[str]:
    """The bot's hosted inputs, stood in for by a tiny server: its base URL."""
    files = {"face.jpg": media.photo, "voice.mp3": voices[0], "voice2.mp3": voices[1]}

    async def serve(request: Request) -> Response:
        name = request.path_params["name"]
        return FileResponse(files[name]) if name in files else JSONResponse({}, 404)

    async with serve_asgi(Starlette(routes=[Route("/media/{name}", serve)])) as url:
        yield url


@pytest.fixture
async def studio(media: Media) -> AsyncIterator[FakeLipsyncStudio]:
    fake = FakeLipsyncStudio(output=media.video)
    fake.render_seconds = 0.05
    async with lipsync_studio.running(fake):
        yield fake


def studio_api(fake: FakeLipsyncStudio, client: httpx.AsyncClient) -> LipsyncStudioProvider:
    http = ProviderHTTP("lipsync_studio", client, policy=RetryPolicy(attempts=2, base=0.01))
    return LipsyncStudioProvider(http, fake.base_url, fake.api_key)


def two_faces(turns: Turns, voices: tuple[Path, Path]) -> Order:
    left = AudioVoice(path=str(voices[0]), probe=Probe(duration=3.0, has_audio=True))
    right = TextVoice(
        text="Hello there",
        language="en",
        path=str(voices[1]),
        probe=Probe(duration=7.0, has_audio=True),
    )
    return Order(
        face=FileFace(kind=FaceKind.PHOTO, path="face.jpg", probe=STILL),
        voice=left,
        ratio=AspectRatio.SQUARE,
        dialogue=Dialogue(voice=right, turns=turns),
    )


def hosted_inputs(base: str) -> Inputs:
    return Inputs(
        face=Path("face.jpg"),
        voice=Path("voice.mp3"),
        voice2=Path("voice2.mp3"),
        face_url=f"{base}/media/face.jpg",
        voice_url=f"{base}/media/voice.mp3",
        voice2_url=f"{base}/media/voice2.mp3",
    )


@pytest.mark.parametrize(
    ("turns", "order", "billed"),
    [
        # 480p: 2 credits a second; the longer voice at once, the sum in turn (3.7).
        (Turns.AT_THE_SAME_TIME, "meanwhile", 7 * 2),
        (Turns.ONE_AFTER_THE_OTHER, "left_right", 10 * 2),
    ],
)
async def test_a_photo_of_two_goes_to_image_multi_with_both_voices(
    studio: FakeLipsyncStudio,
    client: httpx.AsyncClient,
    hosted: str,
    voices: tuple[Path, Path],
    turns: Turns,
    order: str,
    billed: int,
) -> None:
    api = studio_api(studio, client)
    dialogue = two_faces(turns, voices)
    before = studio.credits
    job = await api.submit(dialogue, hosted_inputs(hosted), name="n", webhook_url=None)
    done = await finished(api, job.provider_job_id)
    [create] = [c for c in studio.calls if c.method == "POST"]
    assert create.path == "/api/v1/lipsync-image-multi"
    assert create.json["formState"] == {
        "image": f"{hosted}/media/face.jpg",
        "left_audio": f"{hosted}/media/voice.mp3",
        "right_audio": f"{hosted}/media/voice2.mp3",
        "order": order,
        "resolution": "480p",
    }
    fetched = {f.field: f.status for f in studio.fetched}
    assert fetched == {"image": 200, "left_audio": 200, "right_audio": 200}
    assert done.status is JobStatus.SUCCEEDED
    assert before - studio.credits == billed
    # The bot's own estimate agrees with what the fake charged.
    assert api.estimate_cost(dialogue) == billed


async def test_a_photo_with_fewer_than_two_faces_fails_with_the_reason(
    studio: FakeLipsyncStudio, client: httpx.AsyncClient, hosted: str, voices: tuple[Path, Path]
) -> None:
    studio.faces_seen = 1
    api = studio_api(studio, client)
    before = studio.credits
    order = two_faces(Turns.AT_THE_SAME_TIME, voices)
    job = await api.submit(order, hosted_inputs(hosted), name="n", webhook_url=None)
    done = await finished(api, job.provider_job_id)
    assert done.status is JobStatus.FAILED
    assert done.error == "Fewer than two faces were detected in the image (found 1)"
    assert {f.field for f in studio.fetched} == {"image", "left_audio", "right_audio"}
    assert studio.credits == before  # refunded


async def test_a_single_speaker_photo_still_goes_to_lipsync_image(
    studio: FakeLipsyncStudio, client: httpx.AsyncClient, hosted: str, voices: tuple[Path, Path]
) -> None:
    api = studio_api(studio, client)
    single = two_faces(Turns.AT_THE_SAME_TIME, voices).model_copy(update={"dialogue": None})
    await api.submit(single, hosted_inputs(hosted), name="n", webhook_url=None)
    [create] = [c for c in studio.calls if c.method == "POST"]
    assert create.path == "/api/v1/lipsync-image"
    assert set(create.json["formState"]) == {"image", "audio", "resolution"}


# --- Creatify -------------------------------------------------------------------------------


def creatify_api(fake: FakeCreatify, client: httpx.AsyncClient) -> CreatifyProvider:
    http = ProviderHTTP("creatify", client, policy=RetryPolicy(attempts=2, base=0.01))
    return CreatifyProvider(http, fake.base_url, fake.api_id, fake.api_key, public=True)


def avatars(fake: FakeCreatify) -> tuple[AvatarFace, AvatarFace]:
    first, second = list(fake.personas.values())[:2]
    return (
        AvatarFace(provider="creatify", avatar_id=first.id, name=first.creator_name),
        AvatarFace(provider="creatify", avatar_id=second.id, name=second.creator_name),
    )


def typed(text: str, voice_id: str | None = None) -> TextVoice:
    probe = Probe(duration=4.0, has_audio=True)
    return TextVoice(text=text, language="en", voice_id=voice_id, path="said.mp3", probe=probe)


def two_avatars(fake: FakeCreatify, first: TextVoice, second: TextVoice) -> Order:
    a, b = avatars(fake)
    turns = Turns.ONE_AFTER_THE_OTHER
    return Order(
        face=a,
        voice=first,
        ratio=AspectRatio.PORTRAIT,
        dialogue=Dialogue(voice=second, avatar=b, turns=turns),
    )


TEXT_ONLY = Inputs(face=None, voice=Path("said.mp3"))


async def test_two_avatars_take_turns_scene_by_scene(
    creatify: FakeCreatify, client: httpx.AsyncClient
) -> None:
    api = creatify_api(creatify, client)
    accent = creatify.accent_ids()[1]
    first = typed("Hi Bob!\n\nHow was the trip?\n\nAnd the food?", f"creatify:{accent}")
    second = typed("Hello Ann.")  # the avatar's own voice
    order = two_avatars(creatify, first, second)
    job = await api.submit(order, TEXT_ONLY, name="n", webhook_url=None)
    [create] = [c for c in creatify.calls if c.method == "POST"]
    assert create.path == "/api/lipsyncs_v2/"
    a, b = avatars(creatify)
    said = [
        (s["character"]["avatar_id"], s["voice"]["input_text"], s["voice"].get("voice_id"))
        for s in create.json["video_inputs"]
    ]
    assert said == [
        (a.avatar_id, "Hi Bob!", accent),
        (b.avatar_id, "Hello Ann.", None),
        (a.avatar_id, "How was the trip?", accent),  # the longer text's extra lines: last
        (a.avatar_id, "And the food?", accent),
    ]
    assert job.provider_job_id.startswith("v2_")
    assert (await finished(api, job.provider_job_id)).status is JobStatus.SUCCEEDED


async def test_a_long_dialogue_makes_at_most_ten_scenes_losing_no_line(
    creatify: FakeCreatify, client: httpx.AsyncClient
) -> None:
    api = creatify_api(creatify, client)
    a_lines = [f"A{n}." for n in range(12)]
    b_lines = ["B0.", "B1."]
    order = two_avatars(creatify, typed("\n\n".join(a_lines)), typed("\n\n".join(b_lines)))
    await api.submit(order, TEXT_ONLY, name="n", webhook_url=None)
    [create] = [c for c in creatify.calls if c.method == "POST"]
    spoken = [s["voice"]["input_text"] for s in create.json["video_inputs"]]
    assert len(spoken) == MAX_SCENES
    assert spoken[:4] == ["A0.", "B0.", "A1.", "B1."]
    assert spoken[-1] == "\n\n".join(a_lines[7:])  # the rest of A's lines join A's last
    assert "".join(spoken).count("A") == 12


async def test_a_creatify_dialogue_it_cannot_make_is_refused_before_any_request(
    creatify: FakeCreatify, client: httpx.AsyncClient
) -> None:
    api = creatify_api(creatify, client)
    recorded = AudioVoice(path="v.mp3", probe=Probe(duration=2.0, has_audio=True))
    spoken = two_avatars(creatify, typed("Hi"), typed("Hello"))
    assert spoken.dialogue is not None
    with_recording = spoken.model_copy(
        update={"dialogue": spoken.dialogue.model_copy(update={"voice": recorded})}
    )
    one_photo = spoken.model_copy(
        update={
            "face": FileFace(kind=FaceKind.PHOTO, path="p.jpg", probe=STILL),
            "dialogue": spoken.dialogue.model_copy(update={"avatar": None}),
        }
    )
    for order in (with_recording, one_photo):
        with pytest.raises(ProviderRejected):
            await api.submit(order, TEXT_ONLY, name="n", webhook_url=None)
    assert not [c for c in creatify.calls if c.method == "POST"]
