"""The fake Magic Hour's voice generator: ``POST /v1/ai-voice-generator`` and
``GET /v1/audio-projects/{id}`` (providers.md 2.7), served by tests/fakes/magichour.py (its
auth, fault injection and call recording wrap these handlers).

[C] Body ``{"name"?, "style": {"prompt", "voice_name"}}``; ``prompt`` required, at most 1,000
characters; ``voice_name`` one of a closed set of presets (1,264 in the SDK; a handful here,
:data:`VOICES`); the answer ``{id, credits_charged}``; the audio project object with ``type``
``VOICE_GENERATOR`` and ``downloads`` filled once ``complete``; errors ``{"message"}``.
[I] Credits: 0.05 a character, rounded up (the docs also say 0.1), taken at create (402 when
short) and refunded on error; statuses ``queued -> rendering -> complete | error`` paced by the
fake's ``queue_seconds``/``render_seconds``; the audio is a real MP3 (a tone) lasting the
prompt at 15 characters a second; no ``audio.*`` webhooks are sent.

Knobs: ``fail_next_jobs(times, outcome)``; recorded: ``jobs`` (prompt and voice of each),
``downloads`` (project ids whose audio was fetched).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import secrets
import shutil
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from tests import media as make

if TYPE_CHECKING:
    from tests.fakes.magichour import FakeMagicHour

#: A few of the SDK's preset voice names.
VOICES = frozenset({"Morgan Freeman", "Barack Obama", "Elon Musk", "David Attenborough"})
MAX_PROMPT = 1000
CREDITS_PER_CHARACTER = 0.05
CHARACTERS_PER_SECOND = 15.0
#: (code, message) of a failed project.
Outcome = tuple[str, str]


@dataclass(slots=True)
class AudioJob:
    id: str
    name: str | None
    prompt: str
    voice_name: str
    credits_charged: int
    created_at: str
    status: str = "queued"
    error: Outcome | None = None
    planned: Outcome | None = None


class AudioProjects:
    def __init__(self, fake: FakeMagicHour) -> None:
        self.fake = fake
        self.jobs: dict[str, AudioJob] = {}
        self.downloads: list[str] = []
        self.next_outcomes: deque[Outcome] = deque()
        self._folder: Path | None = None

    def fail_next_jobs(
        self, times: int = 1, outcome: Outcome = ("unknown_error", "Voice generation failed")
    ) -> None:
        """The next ``times`` projects end in ``error`` with ``outcome``."""
        self.next_outcomes.extend([outcome] * times)

    def project(self, job: AudioJob) -> dict[str, Any]:
        downloads: list[dict[str, str]] = []
        if job.status == "complete":
            expires = _iso(time.time() + 24 * 3600)
            url = f"{self.fake._base()}/_audio/{job.id}.mp3"
            downloads = [{"url": url, "expires_at": expires}]
        return {
            "id": job.id,
            "name": job.name,
            "status": job.status,
            "type": "VOICE_GENERATOR",
            "created_at": job.created_at,
            "enabled": True,
            "credits_charged": job.credits_charged,
            "error": {"code": job.error[0], "message": job.error[1]} if job.error else None,
            "downloads": downloads,
        }

    async def create(self, request: Request, body: Any) -> Response:
        if not isinstance(body, dict):
            return _message(400, "Missing request body")
        style = body.get("style")
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            return _message(400, "name must be a string")
        if not isinstance(style, dict):
            return _message(400, "style is required and must be an object")
        prompt, voice = style.get("prompt"), style.get("voice_name")
        if not isinstance(prompt, str) or not prompt:
            return _message(400, "style.prompt is required")
        if len(prompt) > MAX_PROMPT:
            return _message(400, f"style.prompt must be at most {MAX_PROMPT} characters")
        if voice not in VOICES:
            return _message(400, "style.voice_name must be one of the preset voices")
        charge = math.ceil(round(len(prompt) * CREDITS_PER_CHARACTER, 6))
        if self.fake.credits < charge:
            return _message(402, "Payment required")
        self.fake.credits -= charge
        job = AudioJob(
            id="cm" + secrets.token_hex(12)[:23],
            name=name,
            prompt=prompt,
            voice_name=voice,
            credits_charged=charge,
            created_at=_iso(time.time()),
            planned=self.next_outcomes.popleft() if self.next_outcomes else None,
        )
        self.jobs[job.id] = job
        self.fake._spawn(self._run(job))
        return JSONResponse({"id": job.id, "credits_charged": charge})

    async def get(self, request: Request, _: Any) -> Response:
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            return _message(404, "Not Found")
        return JSONResponse(self.project(job))

    async def output(self, request: Request, _: Any) -> Response:
        """The download host: no auth (real URLs are signed links), complete projects only."""
        job = self.jobs.get(request.path_params["job_id"])
        if job is None or job.status != "complete":
            return Response("NoSuchKey", 404, media_type="text/plain")
        self.downloads.append(job.id)
        seconds = max(1.0, round(len(job.prompt) / CHARACTERS_PER_SECOND, 1))
        return FileResponse(await asyncio.to_thread(self._mp3, seconds), media_type="audio/mpeg")

    async def _run(self, job: AudioJob) -> None:
        await asyncio.sleep(self.fake.queue_seconds)
        job.status = "rendering"
        await asyncio.sleep(self.fake.render_seconds)
        if job.planned is None:
            job.status = "complete"
        else:
            job.status, job.error = "error", job.planned
            self.fake.credits += job.credits_charged
            job.credits_charged = 0

    def _mp3(self, seconds: float) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="fake-magichour-audio-"))
        path = self._folder / f"speech-{seconds:g}.mp3"
        if not path.exists():
            partial = path.with_suffix(".partial")
            make.make_mp3(partial, seconds=seconds)
            partial.rename(path)
        return path

    def aclose(self) -> None:
        if self._folder is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self._folder)
            self._folder = None


def _message(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status)


def _iso(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
