"""A fake Creatify API (``/api/...``) with its media host, for offline tests and benchmarks.

Why it exists: the bot's Creatify client must be tested against the wire protocol (two auth
headers, trailing-slash paths, DRF-style errors, string progress, URL inputs the service
downloads itself, unsigned webhooks, the ``?ids=`` batch read [S]), not against mocks of our own
assumptions. Contract: /work/shared/providers.md section 1; tags as there.

Confirmed [C] and followed here: ``X-API-ID`` + ``X-API-KEY`` on every route; the paths and
their trailing slash; ``POST /api/lipsyncs/`` fields (``aspect_ratio`` ``16x9|1x1|9x16``
required, ``text`` or ``audio``, audio winning when both, ``accent`` from ``GET
/api/voices/``, ``webhook_url`` at most 200 characters); the v1, v2, Aurora and TTS job
objects (v1/v2 ``progress`` a string, Aurora's a number, Aurora's output in ``video_output``,
TTS ``output`` ``""`` until done); statuses ``pending -> in_queue -> running -> done|failed``
(``rejected`` from an older snapshot: ``fail_next_jobs(status="rejected")``); personas (bare
array with comma filters ``gender``/``age_range``, and ``paginated/`` with ``{count, next,
previous, results}``); voices with ``accents[]``; ``{"remaining_credits": float}``; Aurora's
formats (png/jpg/jpeg/webp; mp3/wav, 60 s max) and prices (1 credit/s for ``aurora_v1``,
0.5 for ``_fast``, partial seconds rounded up, failed videos refunded); TTS 1 credit per 30 s
and ``script`` at most 8,000 characters; webhook bodies ``{id, status, failed_reason,
output}`` (``video_output`` for TTS and Aurora), no signature.

Inferred [I] (the sources are silent; each is a knob or easy to change):
  - errors are DRF's: 401 ``{"detail": "Authentication credentials were not provided."}`` or
    ``"Incorrect authentication credentials."``; 400 field maps with DRF's default messages
    (tests/fakes/creatify_forms.py); 404 ``{"detail": "Not found."}``; 405 for a wrong method;
    a path without its trailing slash is 404 (Django's HTML page), not Django's APPEND_SLASH
    301: a 301 would turn the client's POST into a GET and lose the body, which the bot must
    never depend on, so a forgotten slash fails loudly here;
  - insufficient credits: 400 ``{"detail": "Insufficient credits"}`` (``insufficient_status``
    = 402 for the other guess), checked at create against an estimate (typed text at
    ``speech_chars_per_second``, audio at ``assumed_seconds``), settled once the audio is
    downloaded and probed; lipsyncs cost 5 credits per started 30 s [3P], all refunded on
    failure; ``credits_used`` is filled when done;
  - creates answer 201 with the job object; ``creator``/``accent``/``avatar_id``/``voice_id``
    must be known UUIDs; lipsync texts are capped at 8,000 characters like TTS scripts;
  - a v2 audio voice is ``{"type": "audio", "audio_url": <url>}``; v2 ``aspect_ratio``
    defaults to 16x9; ``GET /api/lipsyncs_v2/`` answers a bare array of list items (the
    documented list fields only, newest first); ``?ids=`` takes at most 100 comma-separated
    UUIDs (more: 400, a malformed one: 400), unknown ids are left out;
  - Aurora refuses URLs without an allowed extension at create (``aurora_check_extensions``);
  - every input URL is downloaded when the job leaves the queue; a connection error, a non-2xx
    answer, an empty body or the wrong kind of content fails the job (``failed_reason`` says
    which field); Aurora audio over the limit fails it too;
  - progress runs 0..1 (``progress_scale = 100`` for percent), rising while ``running``;
  - webhooks are tried once (``webhook_retry_delays`` adds retries); ``rejected`` sends one;
  - v1 ``audio_url`` echoes the input ``audio``; ``media_job`` stays null; v2
    ``word_alignments`` is ``[]``; ``duration`` is whole seconds of the billed length;
  - media: outputs are a fixed 2 s clip sized for the job's ratio (or ``output``), TTS audio
    is a tone as long as the script takes to say (``speech_chars_per_second``), previews are
    test patterns; all under ``/_media/`` on the fake itself, without auth.

Knobs (plain attributes, read when they matter): ``pending_seconds``, ``queue_seconds``,
``render_seconds``, ``auto_complete`` (False: jobs wait in ``running`` for ``complete()`` /
``fail()``), ``next_outcomes`` / ``outcome`` / ``fail_next_jobs()``, ``fetch_inputs``,
``probe_audio``, ``assumed_seconds``, ``speech_chars_per_second``, ``aspect_ratio_format``
(``"x"`` | ``"colon"`` | ``"both"``), ``aurora_check_extensions``, ``insufficient_status``,
``create_status``, ``progress_scale``, ``webhook_mode`` (deliver|drop|duplicate|delay),
``webhook_delay``, ``webhook_intermediate``, ``webhook_retry_delays``, ``record_calls``;
``seed_personas(n)``, ``add_persona()``, ``voices``, ``credits``; ``fail_next()`` for HTTP
errors on demand. Custom avatars (``personas_v2``, the slot count) are ``fake.custom``, with
knobs of their own (tests/fakes/creatify_personas.py).

Scale: a job is one slotted record and one task that mostly sleeps; objects are built on
demand; ``requests`` counts every request by route even when ``record_calls = False``. The
default 10,000 credits cover 2,000 lipsyncs: benchmarks pass ``credits=1e9``. Measured: 10,000
v2 jobs in ``running`` polled 100 ids a request take 100 requests and ~0.3 s in all.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import hmac
import itertools
import json
import math
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes import creatify_forms as forms
from tests.fakes.creatify_app import Fault, Handler, Refusal, build_app, default_body
from tests.fakes.creatify_catalog import Persona, Voice, stock_personas, stock_voices
from tests.fakes.creatify_forms import Input, Invalid
from tests.fakes.creatify_io import Fetch, Outgoing
from tests.fakes.creatify_personas import CustomPersonas
from tests.fakes.telegram import serve_asgi

__all__ = ["FakeCreatify", "Fetch", "Job", "WebhookDelivery", "running"]

Json = dict[str, Any]
WebhookMode = Literal["deliver", "drop", "duplicate", "delay"]
#: A planned or forced job end: (``"failed"`` | ``"rejected"``, failed_reason).
Outcome = tuple[str, str]
DONE: Literal["done"] = "done"
TERMINAL = frozenset({"done", "failed", "rejected"})
RATIOS = {
    "x": {"16x9": "16x9", "1x1": "1x1", "9x16": "9x16"},
    "colon": {"16:9": "16x9", "1:1": "1x1", "9:16": "9x16"},
}
RATIOS["both"] = RATIOS["x"] | RATIOS["colon"]
MAX_IDS = 100
LIST_FIELDS = (  # the documented GET /api/lipsyncs_v2/ item
    *("id", "name", "status", "progress", "output", "preview", "failed_reason"),
    *("credits_used", "media_job", "webhook_url", "created_at", "updated_at"),
)


class Call(NamedTuple):
    """One request; ``json`` is the parsed body (None for GET or an unparsable body)."""

    method: str
    path: str
    query: str
    json: Any
    status: int


class WebhookDelivery(NamedTuple):
    """One webhook POST attempt about ``job_status``; ``status_code`` 0: connection failed."""

    job_id: str
    job_status: str
    url: str
    status_code: int


@dataclass(slots=True)
class Job:
    """Per-job state, small enough for 10,000 in flight; objects are built from it on read."""

    id: str
    seq: int
    kind: str  # lipsync | lipsync_v2 | aurora | tts
    echo: Json  # the validated request fields the object repeats
    webhook: str | None
    inputs: tuple[Input, ...]
    ratio: str
    rate: float  # credits per started ``unit`` seconds
    unit: float
    text_seconds: float
    seconds: float  # billed length: estimated at create, measured after downloading
    max_seconds: float | None
    reserved: float  # credits taken from the balance now
    created: float  # time.time()
    planned: Outcome | None
    status: str = "pending"
    updated: float = 0.0
    started: float = 0.0  # time.monotonic() on entering running
    progress: float = 0.0  # 0..1, frozen when the job leaves running
    failed_reason: str | None = None
    credits_used: float = 0.0
    decision: Outcome | Literal["done"] | None = None
    wake: asyncio.Event | None = None


class _ActivePersonas:
    """``creator in ...`` without building a set per request (benchmarks seed hundreds)."""

    __slots__ = ("personas",)

    def __init__(self, personas: dict[str, Persona]) -> None:
        self.personas = personas

    def __contains__(self, key: object) -> bool:
        persona = self.personas.get(key) if isinstance(key, str) else None
        return persona is not None and persona.is_active


class FakeCreatify:
    """All state of the fake Creatify API; ``app`` is the ASGI app to serve (``running``).

    ``output`` is the video every finished job serves; by default one is made per aspect
    ratio. ``base_url`` is set by ``running``; media URLs are built from it.
    """

    def __init__(
        self,
        *,
        api_id: str = "fake-api-id",
        api_key: str = "fake-api-key",
        credits: float = 10_000.0,
        output: Path | None = None,
        personas: int = 6,
    ) -> None:
        self.api_id = api_id
        self.api_key = api_key
        self.credits = float(credits)
        self.output = output
        self.base_url = ""
        # Behaviour knobs (see the module docstring).
        self.pending_seconds = 0.01
        self.queue_seconds = 0.05
        self.render_seconds = 0.2
        self.auto_complete = True
        self.next_outcomes: deque[Outcome | None] = deque()
        self.outcome: Callable[[Job], Outcome | None] | None = None
        self.fetch_inputs = True
        self.probe_audio = True
        self.assumed_seconds = 5.0
        self.speech_chars_per_second = 15.0
        self.aspect_ratio_format: Literal["x", "colon", "both"] = "x"
        self.aurora_check_extensions = True
        self.insufficient_status = 400
        self.create_status = 201
        self.progress_scale = 1.0
        self.webhook_mode: WebhookMode = "deliver"
        self.webhook_delay = 0.5
        self.webhook_intermediate = False
        self.webhook_retry_delays: tuple[float, ...] = ()
        self.fetch_concurrency = 32  # read when the first download or webhook starts
        self.probe_concurrency = 4
        self.record_calls = True
        # Catalog.
        self.personas: dict[str, Persona] = {}
        self.seed_personas(personas)
        self.voices: list[Voice] = stock_voices()
        # Recorded state.
        self.jobs: dict[str, Job] = {}
        self.calls: list[Call] = []
        self.requests: collections.Counter[str] = collections.Counter()  # "GET /api/x/{id}/"
        self.fetched: list[Fetch] = []
        self.webhook_events: list[tuple[str, str]] = []  # (job id, status), every mode
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.output_downloads: list[str] = []  # job ids
        # Internals.
        self._faults: list[Fault] = []
        self._seq = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()
        self._chains: dict[str, asyncio.Task[None]] = {}  # last webhook delivery per job
        self._io: Outgoing | None = None
        self._changed: asyncio.Event | None = None
        self._seen_base = ""
        #: Custom avatars (personas_v2): routes, knobs and records of their own.
        self.custom = CustomPersonas(self)
        self.app = build_app(self)

    # ------------------------------------------------------------------ catalog

    def seed_personas(self, count: int) -> list[str]:
        """Replaces every persona with ``count`` stock ones (deterministic ids); returns ids."""
        self.personas = {p.id: p for p in stock_personas(count)}
        return list(self.personas)

    def add_persona(self, creator_name: str, gender: str = "f", **fields: Any) -> Persona:
        """Adds a persona, e.g. ``type="custom", is_active=False, process_status="pending"``."""
        persona = Persona(str(uuid.uuid4()), creator_name, gender, **fields)
        self.personas[persona.id] = persona
        return persona

    def accent_ids(self) -> list[str]:
        return [accent_id for voice in self.voices for accent_id, _ in voice.accents]

    def _rules(self) -> forms.Rules:
        return forms.Rules(
            personas=_ActivePersonas(self.personas),
            accents=frozenset(self.accent_ids()),
            ratios=RATIOS[self.aspect_ratio_format],
            chars_per_second=self.speech_chars_per_second,
            aurora_extensions=self.aurora_check_extensions,
        )

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Cancels job tasks and webhook deliveries, closes the HTTP client, removes files."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._io is not None:
            await self._io.aclose()
            self._io = None

    async def wait_for(
        self,
        job_id: str,
        *statuses: str,
        timeout: float = 10.0,  # noqa: ASYNC109 - the harness API takes a plain timeout
    ) -> Job:
        """Waits until the job's status is one of ``statuses`` (default: a terminal one)."""
        wanted = statuses or tuple(TERMINAL)
        async with asyncio.timeout(timeout):
            while self.jobs[job_id].status not in wanted:
                if self._changed is None:
                    self._changed = asyncio.Event()
                await self._changed.wait()
        return self.jobs[job_id]

    async def wait_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - harness API
        """Waits until every job task and webhook delivery has finished."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def drain_webhooks(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Waits until every scheduled webhook delivery (retries included) has finished."""
        async with asyncio.timeout(timeout):
            while self._chains:
                await asyncio.gather(*list(self._chains.values()), return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _outgoing(self) -> Outgoing:
        if self._io is None:
            self._io = Outgoing(self.fetch_concurrency, self.probe_concurrency)
        return self._io

    # ------------------------------------------------------------------ test controls

    def fail_next(
        self,
        route: str,
        status: int,
        body: Json | str | None = None,
        *,
        times: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
        after_processing: bool = False,
    ) -> None:
        """Answers the next ``times`` requests matching ``route`` with ``status``.

        ``route`` is ``"METHOD /path-prefix"`` (``"GET /api/lipsyncs_v2/"`` matches the list
        and every job) or ``"/path-prefix"`` for any method (``"/api/"``: every API call;
        ``"GET /_media/output"``: output downloads). Checked before auth. The request is not
        processed (no job, no credits), unless ``after_processing``: then it is, and the
        answer is lost, as when a proxy fails after the server acted. ``delay`` seconds pass
        first. Default bodies: DRF ``{"detail": ...}`` (402 ``Insufficient credits``; 429
        ``Request was throttled...`` with ``Retry-After``, 1 unless given); 500 is Django's
        HTML page and 502/503/504 a proxy's; a str ``body`` is sent as HTML.
        """
        method, _, prefix = route.strip().rpartition(" ")
        if not prefix.startswith("/"):
            raise ValueError(f"route must look like 'GET /api/lipsyncs/', got {route!r}")
        if status == 429 and retry_after is None:
            retry_after = 1
        if body is None:
            body = default_body(status, retry_after)
        only = method.upper() or None
        fault = Fault(only, prefix, status, body, times, retry_after, delay, after_processing)
        self._faults.append(fault)

    def fail_next_jobs(
        self, times: int = 1, reason: str = "Failed to generate video", status: str = "failed"
    ) -> None:
        """The next ``times`` created jobs download their inputs and run, then end
        ``status`` (``failed`` or ``rejected``) with ``reason`` instead of ``done``."""
        if status not in ("failed", "rejected"):
            raise ValueError("status must be failed or rejected")
        self.next_outcomes.extend([(status, reason)] * times)

    def complete(self, job_id: str) -> None:
        """Finishes a job now if it is running, else as soon as it starts running."""
        self._decide(job_id, DONE)

    def fail(
        self, job_id: str, reason: str = "Failed to generate video", status: str = "failed"
    ) -> None:
        """Fails (or rejects) a job now if it is running, else as soon as it starts running."""
        self._decide(job_id, (status, reason))

    def _decide(self, job_id: str, decision: Outcome | Literal["done"]) -> None:
        job = self.jobs[job_id]
        if job.status in TERMINAL:
            raise ValueError(f"job {job_id} is already {job.status}")
        job.decision = decision
        if job.wake is not None:
            job.wake.set()

    # ------------------------------------------------------------------ objects

    def base(self) -> str:
        """The fake's own address, for the media URLs it hands out."""
        return self.base_url or self._seen_base

    def job_object(self, job_id: str) -> Json:
        """The object ``GET .../{id}/`` answers now for this job."""
        job = self.jobs[job_id]
        done = job.status == DONE
        media = f"{self.base()}/_media"
        stamps = {"created_at": _iso(job.created), "updated_at": _iso(job.updated)}
        billed = {
            "credits_used": _plain(job.credits_used) if done else 0,
            "duration": max(1, round(job.seconds)) if done else 0,
            "failed_reason": job.failed_reason,
            "media_job": None,
            "webhook_url": job.webhook,
        }
        output = f"{media}/output/{job.id}.mp4" if done else None
        state: Json
        if job.kind == "tts":
            state = {"status": job.status, "output": f"{media}/tts/{job.id}.mp3" if done else ""}
            return {"id": job.id, **job.echo, **state, **billed, "is_hidden": False, **stamps}
        progress = self._progress(job)
        if job.kind == "aurora":
            state = {"status": job.status, "progress": _plain(progress), "video_output": output}
            more = {"preview": None, "editor_url": None, "is_hidden": False}
            return {"id": job.id, **job.echo, **state, **more, **billed, **stamps}
        state = {
            "status": job.status,
            "progress": f"{progress:g}",
            "output": output,
            "video_thumbnail": f"{media}/output/{job.id}.jpg" if done else None,
            "preview": None,
            "editor_url": None,
        }
        if job.kind == "lipsync_v2":
            return {"id": job.id, **job.echo, **state, "word_alignments": [], **billed, **stamps}
        more = {"preview_audio": None, "is_hidden": False}
        return {"id": job.id, **job.echo, **state, **more, **billed, **stamps}

    def _progress(self, job: Job) -> float:
        value = job.progress
        if job.status == "running":
            elapsed = time.monotonic() - job.started
            value = min(0.95, elapsed / self.render_seconds) if self.render_seconds > 0 else 0.5
        return round(value * self.progress_scale, 2)

    def webhook_payload(self, job_id: str) -> Json:
        """The body the fake would POST about this job now."""
        job = self.jobs[job_id]
        current = self.job_object(job_id)
        output = current["video_output" if job.kind == "aurora" else "output"] or None
        key = "video_output" if job.kind in ("tts", "aurora") else "output"
        return {
            "id": job.id,
            "status": job.status,
            "failed_reason": job.failed_reason,
            key: output,
        }

    # ------------------------------------------------------------------ job routes

    def creator(self, kind: str, check: Callable[[Any, forms.Rules], forms.Checked]) -> Handler:
        """The create handler of one job kind: checks, reserves credits, starts the job."""

        async def create(request: Request, body: Any) -> Response:
            checked = check(body, self._rules())
            spoken = sum(1 for item in checked.inputs if item.measure)
            estimate = checked.text_seconds + self.assumed_seconds * spoken
            reserve = _cost(checked.rate, checked.unit, estimate)
            if reserve > self.credits + 1e-9:
                raise Refusal(self.insufficient_status, "Insufficient credits")
            self.credits -= reserve
            now = time.time()
            job = Job(
                id=str(uuid.uuid4()),
                seq=next(self._seq),
                kind=kind,
                echo=checked.echo,
                webhook=checked.webhook,
                inputs=checked.inputs,
                ratio=checked.ratio,
                rate=checked.rate,
                unit=checked.unit,
                text_seconds=checked.text_seconds,
                seconds=estimate,
                max_seconds=checked.max_seconds,
                reserved=reserve,
                created=now,
                updated=now,
                planned=None,
            )
            if self.next_outcomes:
                job.planned = self.next_outcomes.popleft()
            elif self.outcome is not None:
                job.planned = self.outcome(job)
            self.jobs[job.id] = job
            self._spawn(self._run(job))
            return JSONResponse(self.job_object(job.id), self.create_status)

        return create

    def getter(self, kind: str) -> Handler:
        async def get(request: Request, _: Any) -> Response:
            job = self.jobs.get(request.path_params["id"])
            if job is None or job.kind != kind:
                raise Refusal(404, "Not found.")
            return JSONResponse(self.job_object(job.id))

        return get

    async def lipsyncs_v2_list(self, request: Request, _: Any) -> Response:
        """Newest first; ``?ids=`` picks up to 100 jobs, unknown ids left out [S]/[I]."""
        raw = request.query_params.get("ids")
        if raw is None:
            chosen = [job for job in self.jobs.values() if job.kind == "lipsync_v2"]
        else:
            ids = [part.strip() for part in raw.split(",") if part.strip()]
            if len(ids) > MAX_IDS:
                message = f"Ensure this field has no more than {MAX_IDS} elements."
                raise Invalid({"ids": [message]})
            for value in ids:
                try:
                    uuid.UUID(value)
                except ValueError:
                    raise Invalid({"ids": [f'"{value}" is not a valid UUID.']}) from None
            found = (self.jobs.get(job_id) for job_id in dict.fromkeys(ids))
            chosen = [job for job in found if job is not None and job.kind == "lipsync_v2"]
        chosen.sort(key=lambda job: -job.seq)
        items = []
        for job in chosen:
            full = self.job_object(job.id)
            items.append({key: full[key] for key in LIST_FIELDS})
        return JSONResponse(items)

    # ------------------------------------------------------------------ HTTP plumbing

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.method in (None, method) and path.startswith(fault.prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def authenticate(self, request: Request) -> Response | None:
        """None when both headers match; else DRF's 401."""
        given_id = request.headers.get("x-api-id", "").encode()
        given_key = request.headers.get("x-api-key", "").encode()
        if not given_id or not given_key:
            message = "Authentication credentials were not provided."
        else:
            # Both compared every time: which header was wrong must not show in the timing.
            right_id = hmac.compare_digest(given_id, self.api_id.encode())
            right_key = hmac.compare_digest(given_key, self.api_key.encode())
            if right_id and right_key:
                return None
            message = "Incorrect authentication credentials."
        return JSONResponse({"detail": message}, 401, headers={"WWW-Authenticate": "X-API-KEY"})

    def record(self, request: Request, body: Any, status: int) -> None:
        if not self._seen_base:
            self._seen_base = str(request.base_url).rstrip("/")
        if self.record_calls:
            call = Call(request.method, request.url.path, request.url.query, body, status)
            self.calls.append(call)

    # ------------------------------------------------------------------ job task

    def _move(self, job: Job, status: str) -> None:
        job.status, job.updated = status, time.time()
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        if self.webhook_intermediate or status in TERMINAL:
            self._emit(job)

    async def _run(self, job: Job) -> None:
        """pending -> in_queue -> (inputs downloaded) -> running -> done | failed | rejected."""
        await asyncio.sleep(self.pending_seconds)
        self._move(job, "in_queue")
        await asyncio.sleep(self.queue_seconds)
        problem: Outcome | None = None
        if self.fetch_inputs and job.inputs:
            why, spoken = await self._outgoing().load(
                job.id, job.inputs, measure=self.probe_audio, fetched=self.fetched
            )
            if why is not None:
                problem = ("failed", why)
            elif self.probe_audio:
                job.seconds = job.text_seconds + spoken
        problem = problem or self._settle(job)
        if problem is None:
            job.started = time.monotonic()
            self._move(job, "running")
            if job.decision is None:
                job.wake = asyncio.Event()
                if self.auto_complete:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.render_seconds):
                            await job.wake.wait()
                else:
                    await job.wake.wait()
                job.wake = None
            if job.decision is None:
                problem = job.planned
            elif job.decision != DONE:
                problem = job.decision
        if problem is None:
            job.progress, job.credits_used = 1.0, job.reserved
            self._move(job, DONE)
        else:
            job.progress = self._progress(job) / self.progress_scale
            job.failed_reason = problem[1]
            self.credits += job.reserved  # failed videos are refunded [C: Aurora]
            job.reserved = 0.0
            self._move(job, problem[0])

    def _settle(self, job: Job) -> Outcome | None:
        """Charges the measured length (the create reserved an estimate)."""
        if job.max_seconds is not None and job.seconds > job.max_seconds:
            why = f"Audio is too long: {job.seconds:.1f} s, at most {job.max_seconds:g} s"
            return ("failed", why)
        cost = _cost(job.rate, job.unit, job.seconds)
        if cost - job.reserved > self.credits + 1e-9:
            return ("failed", "Insufficient credits")
        self.credits -= cost - job.reserved
        job.reserved = cost
        return None

    # ------------------------------------------------------------------ webhooks

    def _emit(self, job: Job) -> None:
        """Snapshots the payload now and delivers it after the job's earlier ones."""
        self.webhook_events.append((job.id, job.status))
        url = job.webhook
        if not url or self.webhook_mode == "drop":
            return
        body = json.dumps(self.webhook_payload(job.id)).encode()
        copies = 2 if self.webhook_mode == "duplicate" else 1
        delay = self.webhook_delay if self.webhook_mode == "delay" else 0.0
        previous = self._chains.get(job.id)
        task = self._spawn(self._deliver(previous, url, job.id, job.status, body, copies, delay))
        self._chains[job.id] = task

        def unchain(done: asyncio.Task[None]) -> None:
            if self._chains.get(job.id) is done:
                del self._chains[job.id]

        task.add_done_callback(unchain)

    async def _deliver(
        self,
        previous: asyncio.Task[None] | None,
        url: str,
        job_id: str,
        status: str,
        body: bytes,
        copies: int,
        delay: float,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        if delay:
            await asyncio.sleep(delay)
        for _ in range(copies):
            for pause in (0.0, *self.webhook_retry_delays):
                if pause:
                    await asyncio.sleep(pause)
                code = await self._outgoing().post(url, body)
                self.webhook_deliveries.append(WebhookDelivery(job_id, status, url, code))
                if 200 <= code < 300:
                    break


def _cost(rate: float, unit: float, seconds: float) -> float:
    """``rate`` credits per started ``unit`` seconds (rounded first: 30.000000001 s is 30)."""
    return rate * max(1, math.ceil(round(seconds / unit, 6)))


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _iso(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@contextlib.asynccontextmanager
async def running(fake: FakeCreatify) -> AsyncIterator[str]:
    """Serves ``fake`` on a free 127.0.0.1 port, sets ``fake.base_url``, yields it; on exit
    stops the server, then ``fake.aclose()`` (cancels jobs and deliveries)."""
    try:
        async with serve_asgi(fake.app) as url:
            fake.base_url = url
            yield url
    finally:
        await fake.aclose()
