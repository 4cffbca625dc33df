"""Custom avatars of the fake Creatify API (providers.md 1.9): ``fake.custom``.

Confirmed [C] and followed here: ``POST /api/personas_v2/`` takes multipart files
(``lipsync_input``, ``consent_video``) with ``creator_name`` (at most 255), ``gender``
(m|f|nb), ``video_scene`` and ``webhook_url`` (at most 200), videos as ``video/mp4`` or
``video/quicktime``, and answers 201 with the create object (``process_status: "pending"``);
``POST /api/personas/`` takes the same with URLs (JSON); ``GET /api/personas/{id}/`` shows
``is_active`` false while under review, true once ready; ``GET /api/personas_v2/count/`` is
``{"max_count", "current_count"}``; built avatars appear in ``GET /api/personas/``.

Inferred [I] (knobs where it matters):
  - ``video_scene`` and, as in the newer guide, ``consent_video`` are required
    (``consent_required``); DRF's FileField messages for a missing, non-file or empty part;
    a part whose declared type is not a video, or whose bytes are not an MP4/QuickTime, is
    400 ``Unsupported file type.``/``Upload a valid video file.``; over ``max_upload_bytes``
    is 400 ``File too large. ...``;
  - a create when the account is full (``max_count``; failed avatars free their slot) is
    ``full_status`` (400) ``{"detail": "You have reached the maximum number of custom
    avatars."}``, checked after the fields;
  - building takes ``build_seconds`` (``auto_complete = False``: until ``complete()`` or
    ``fail()``); ``next_failures`` fails the next builds with those reasons; a URL create
    downloads its videos when the build starts (a bad one fails it, naming the field);
  - built: ``process_status`` ``done`` and ``is_active``; failed: ``failed`` with
    ``failed_reason``; custom avatars have ``type: "custom"``;
  - ``create_delay`` seconds pass between an upload's arrival and its avatar being made (an
    upload still on its way, as the bot sees it);
  - on either end a webhook ``{id, status, process_status, is_active, failed_reason}`` is
    POSTed once to ``webhook_url`` (``webhook_mode = "drop"`` loses it).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes import creatify_media as media
from tests.fakes.creatify_app import Refusal, Upload
from tests.fakes.creatify_catalog import GENDERS, Persona, persona_object
from tests.fakes.creatify_forms import Fields, Input, expect_object

if TYPE_CHECKING:
    from tests.fakes.creatify import FakeCreatify

Json = dict[str, Any]
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
VIDEO = frozenset({"mp4", "mov"})
FILE_FIELDS = ("lipsync_input", "consent_video")
FULL = "You have reached the maximum number of custom avatars."


@dataclass(slots=True)
class Build:
    """One custom avatar being built."""

    persona_id: str
    webhook: str | None
    inputs: tuple[Input, ...]  # URLs to download (the JSON form)
    fields: Json  # what the create received (uploads as Upload records)
    created: float
    decision: tuple[str, str | None] | None = None  # ("done" | "failed", reason)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class CustomPersonas:
    """State and routes of the fake's custom avatars (see the module docstring)."""

    def __init__(self, fake: FakeCreatify) -> None:
        self.fake = fake
        # Knobs.
        self.max_count = 3
        self.build_seconds = 0.2
        self.auto_complete = True
        self.next_failures: deque[str] = deque()
        self.consent_required = True
        self.max_upload_bytes = 50 * 1024 * 1024
        self.full_status = 400
        self.webhook_mode: Literal["deliver", "drop"] = "deliver"
        self.create_delay = 0.0
        # Recorded.
        self.builds: dict[str, Build] = {}
        self.webhooks: list[tuple[str, str, int]] = []  # (persona id, status, HTTP status)

    # ------------------------------------------------------------------ routes

    async def count(self, request: Request, _: Any) -> Response:
        return JSONResponse({"max_count": self.max_count, "current_count": self.used()})

    async def list_own(self, request: Request, _: Any) -> Response:
        """``GET /api/personas_v2/``: the account's custom avatars, every state."""
        base = self.fake.base()
        own = [p for p in self.fake.personas.values() if p.type == "custom"]
        return JSONResponse([persona_object(p, base) for p in own])

    async def create_from_files(self, request: Request, body: Any) -> Response:
        if self.create_delay:
            await asyncio.sleep(self.create_delay)
        form = expect_object(body)
        checks = Fields(form)
        for name in FILE_FIELDS:
            self._file(checks, name, required=name == "lipsync_input" or self.consent_required)
        return self._create(checks, form, inputs=())

    async def create_from_urls(self, request: Request, body: Any) -> Response:
        checks = Fields(expect_object(body))
        inputs = []
        for name in FILE_FIELDS:
            required = name == "lipsync_input" or self.consent_required
            if (url := checks.url(name, required=required)) is not None:
                inputs.append(Input(name, url, VIDEO, measure=False))
        return self._create(checks, checks.data, inputs=tuple(inputs))

    def _create(self, checks: Fields, given: Json, inputs: tuple[Input, ...]) -> Response:
        name = checks.text("creator_name", required=True, max_length=255)
        gender = checks.choice("gender", GENDERS, required=True)
        scene = checks.text("video_scene", required=True, max_length=255)
        webhook = checks.url("webhook_url", max_length=200)
        checks.check()
        if self.used() >= self.max_count:
            raise Refusal(self.full_status, FULL)
        assert name is not None
        assert scene is not None
        persona = Persona(
            str(uuid.uuid4()),
            name,
            gender,
            video_scene=scene,
            type="custom",
            is_active=False,
            process_status="pending",
        )
        self.fake.personas[persona.id] = persona
        build = Build(persona.id, webhook, inputs, dict(given), time.time())
        self.builds[persona.id] = build
        self.fake._spawn(self._build(build))
        base = self.fake.base()
        answer: dict[str, Any] = {
            "id": persona.id,
            "gender": gender,
            "creator_name": name,
            "video_scene": scene,
            "keywords": "",
            "lipsync_input": f"{base}/_media/persona/{persona.id}/lipsync.mp4",
            "consent_video": f"{base}/_media/persona/{persona.id}/consent.mp4",
            "lipsync_input_url": f"{base}/_media/persona/{persona.id}/lipsync.mp4",
            "matching_voice_non_null": "",
            "process_status": "pending",
            "failed_reason": None,
            "gdown_url": None,
            "labels": [],
            "webhook_url": webhook,
            "created_at": persona.created_at,
            "updated_at": persona.created_at,
        }
        return JSONResponse(answer, 201)

    def _file(self, checks: Fields, name: str, *, required: bool) -> None:
        """DRF's FileField, plus Creatify's two video types (by header and by content)."""
        value = checks.data.get(name)
        if value is None:
            if required:
                checks.fail(name, "No file was submitted.")
            return
        if not isinstance(value, Upload):
            message = "The submitted data was not a file. Check the encoding type on the form."
            checks.fail(name, message)
        elif value.size == 0:
            checks.fail(name, "The submitted file is empty.")
        elif value.size > self.max_upload_bytes:
            mb = self.max_upload_bytes // (1024 * 1024)
            checks.fail(name, f"File too large. Max size is {mb} MB.")
        elif value.content_type.lower() not in VIDEO_TYPES:
            checks.fail(name, "Unsupported file type.")
        elif media.sniff(value.head) not in VIDEO:
            checks.fail(name, "Upload a valid video file.")

    # ------------------------------------------------------------------ lifecycle

    def used(self) -> int:
        """Slots taken: custom avatars being built or built (a failed one frees its slot)."""
        return sum(
            1
            for p in self.fake.personas.values()
            if p.type == "custom" and p.process_status != "failed"
        )

    def complete(self, persona_id: str) -> None:
        self._decide(persona_id, ("done", None))

    def fail(self, persona_id: str, reason: str = "The face is not clearly visible.") -> None:
        self._decide(persona_id, ("failed", reason))

    def _decide(self, persona_id: str, decision: tuple[str, str | None]) -> None:
        build = self.builds[persona_id]
        build.decision = decision
        build.wake.set()

    async def wait_for(self, persona_id: str, *statuses: str, timeout: float = 10.0) -> Persona:  # noqa: ASYNC109
        """Waits until the avatar's ``process_status`` is one of ``statuses`` (default: an
        end)."""
        wanted = statuses or ("done", "failed")
        async with asyncio.timeout(timeout):
            while self.fake.personas[persona_id].process_status not in wanted:
                await asyncio.sleep(0.01)
        return self.fake.personas[persona_id]

    async def _build(self, build: Build) -> None:
        if self.auto_complete:
            try:
                async with asyncio.timeout(self.build_seconds):
                    await build.wake.wait()
            except TimeoutError:
                pass
        else:
            await build.wake.wait()
        decision = build.decision
        if build.inputs:
            why, _ = await self.fake._outgoing().load(
                build.persona_id, build.inputs, measure=False, fetched=self.fake.fetched
            )
            if why is not None:
                decision = ("failed", why)
        if decision is None:
            failure = self.next_failures.popleft() if self.next_failures else None
            decision = ("failed", failure) if failure else ("done", None)
        persona = self.fake.personas[build.persona_id]
        persona.process_status, persona.failed_reason = decision[0], decision[1] or ""
        persona.is_active = decision[0] == "done"
        await self._tell(build, persona)

    async def _tell(self, build: Build, persona: Persona) -> None:
        if build.webhook is None or self.webhook_mode == "drop":
            return
        body = {
            "id": persona.id,
            "status": persona.process_status,
            "process_status": persona.process_status,
            "is_active": persona.is_active,
            "failed_reason": persona.failed_reason or None,
        }
        code = await self.fake._outgoing().post(build.webhook, json.dumps(body).encode())
        self.webhooks.append((persona.id, persona.process_status, code))


__all__ = ["FULL", "Build", "CustomPersonas"]
