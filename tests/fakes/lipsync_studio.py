"""A fake lipsync.studio API (``/api/v1``) for offline tests and benchmarks.

Why it exists: the bot's lipsync.studio client must be tested against the wire protocol (bearer
auth, JSON bodies with ``formState``, ``requestId`` polling, webhooks) and against the media
links the bot itself serves, because the real service downloads every input from a public URL.
So this fake really fetches each input URL with httpx and fails the job when one does not load,
exactly the failure a broken signed link would cause in production.

What is documented and what is not (see /work/shared/providers.md section 3):

* Documented [C]: base path ``/api/v1``; ``Authorization: Bearer sk_...``; the three create
  endpoints and their ``formState`` fields (``video``/``audio``/``resolution``/``mask_image``/
  ``prompt``/``seed``; ``image``/``audio``/``resolution``/``seed``; ``image``/``left_audio``/
  ``right_audio``/``order``); optional top-level ``webhook``; polling ``GET /api/v1/jobs/{id}``
  until ``completed``; pricing (5 s minimum, 2 credits/s at 480p, 4 at 720p; the multi endpoint
  bills the longer audio for ``order="meanwhile"``, else their sum).
* Third-party / brief [3P]/[S]: the job object ``{id, model, status, output, error,
  executionTime, timings}``, statuses ``processing|completed|failed``, the webhook payload being
  that same job object.
* Inferred [I] (the real API documents no errors at all; every choice below is ours):
  - error bodies are ``{"error": "<message>"}``: 401 ``Unauthorized`` (missing header, key not
    starting with ``sk_``, or a different key), 400 for a malformed body, 402
    ``Insufficient credits``, 404 ``Job not found``;
  - the create answer is HTTP ``create_status`` (200) with
    ``{"requestId": id, "id": id, "status": "processing"}``;
  - ``resolution`` defaults to 480p and is also accepted by the multi endpoint; ``order``
    defaults to ``meanwhile`` and may be ``left_right``/``right_left`` (WaveSpeed InfiniteTalk);
  - ``model`` is the endpoint name (``lipsync-video`` ...), ``executionTime`` is milliseconds
    from creation to the end, ``timings`` is ``{"inference": ms}``;
  - ``lipsync-video`` bills the audio length (the output follows the audio: a longer video is
    trimmed, a shorter one extended);
  - the webhook is also POSTed when a job fails, without any signature header, and is retried
    ``webhook_retries`` times with exponential backoff on a non-2xx answer or a connection error;
  - a failed job's credits are refunded; the webhook URL may be plain http (the docs say HTTPS,
    but tests run on 127.0.0.1);
  - unknown ``formState`` fields are ignored; redirects of input URLs are followed;
  - ``lipsync-image-multi`` needs two faces in its image: the fake "sees" ``faces_seen`` (2)
    and, with fewer, fails the job once its inputs are fetched, with FEW_FACES_ERROR (worded
    after InfiniteTalk-style detectors; the real wording is unknown) and a refund.

Credits: the fake cannot know the audio length before downloading it, so a create reserves the
charge for ``assumed_seconds`` (the 5 s minimum) and answers 402 if the balance cannot cover that;
after downloading, the job task probes the audio with the bot's own ``bot.media.probe.probe`` and
settles the difference (the job fails with ``Insufficient credits`` and is refunded if the balance
cannot cover it). ``probe_audio = False`` skips probing (benchmarks): the reservation stands.

Scale: a job is one small slotted record plus one task that mostly sleeps, so ~10,000 jobs in
flight are fine. Downloads and webhooks share one lazily created ``httpx.AsyncClient`` and are
capped at ``outgoing_concurrency`` requests at a time; ffmpeg probes at ``probe_concurrency``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http
import itertools
import json
import math
import shutil
import ssl
import tempfile
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bot.errors import CorruptMedia
from bot.media.probe import probe
from tests.fakes.telegram import serve_asgi

Json = dict[str, Any]
WebhookMode = Literal["deliver", "drop", "duplicate", "delay"]
CHUNK = 64 * 1024
#: formState fields that hold media URLs, in the order the fake downloads them.
URL_FIELDS = ("video", "image", "audio", "left_audio", "right_audio", "mask_image")
AUDIO_FIELDS = ("audio", "left_audio", "right_audio")
ORDERS = frozenset({"meanwhile", "left_right", "right_left"})
#: Why an image-multi job fails when its image shows fewer than two faces [I].
FEW_FACES_ERROR = "Fewer than two faces were detected in the image (found {found})"


class ApiCall(NamedTuple):
    """One request to ``/api/v1``; ``json`` is the parsed body (None for GET or bad JSON)."""

    method: str
    path: str
    json: Any
    status: int


class Fetch(NamedTuple):
    """One input download by a job; ``status`` is 0 when the connection failed."""

    job_id: str
    field: str
    url: str
    status: int
    size: int


class WebhookDelivery(NamedTuple):
    """One webhook POST attempt; ``status_code`` is 0 when the connection failed."""

    job_id: str
    url: str
    status_code: int


@dataclass(slots=True)
class Job:
    """Per-job state, kept small so benchmarks can hold ~10,000 of them."""

    id: str
    model: str
    form_state: Json
    webhook: str | None
    rate: int  # credits per second for the resolution
    created: float  # time.monotonic()
    charge: int  # credits currently taken for this job
    forced_error: str | None = None  # from fail_next_jobs()
    status: str = "processing"
    output: str | None = None
    error: str | None = None
    execution_time: int | None = None
    timings: dict[str, int] | None = None
    decision: tuple[str, str | None] | None = None  # from complete()/fail()
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def as_dict(self) -> Json:
        """The job object of providers.md 3.5 (also the webhook payload)."""
        return {
            "id": self.id,
            "model": self.model,
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "executionTime": self.execution_time,
            "timings": self.timings,
        }


@dataclass(slots=True)
class _Fault:
    method: str
    prefix: str
    status: int
    body: Json
    times: int
    retry_after: int | None


class _Invalid(Exception):
    """A 400 answer; the message goes into ``{"error": ...}``."""


class FakeLipsyncStudio:
    """All state of the fake lipsync.studio API; ``app`` is the ASGI app to serve.

    Set ``base_url`` to the served address after starting (``running`` does it): output URLs are
    built from it. Knobs are plain attributes, read when they matter:

    * ``render_seconds``: how long a job "renders" after its inputs are fetched;
    * ``auto_complete``: when False (read as a job finishes fetching), jobs stay ``processing``
      until ``complete(id)`` or ``fail(id, error)``;
    * ``fetch_inputs`` / ``probe_audio``: skip downloads / ffmpeg probes (benchmarks);
    * ``webhook_mode`` (``deliver|drop|duplicate|delay``), ``webhook_delay``,
      ``webhook_retries``, ``webhook_backoff``;
    * ``resolutions``: allowed resolution -> credits per second (tests may add ``"360p"``);
    * ``faces_seen``: faces "detected" in an image-multi job's image (fewer than two: the
      job fails with FEW_FACES_ERROR after fetching its inputs);
    * ``record_calls``: append every API request to ``calls``.
    """

    def __init__(
        self, *, api_key: str = "sk_test_fake", output: Path, credits: int = 100_000
    ) -> None:
        if not api_key.startswith("sk_"):
            raise ValueError("lipsync.studio keys start with sk_")
        self.api_key = api_key
        self.output = Path(output)
        self.credits = credits
        self.base_url = ""
        # Behaviour knobs.
        self.render_seconds = 0.1
        self.auto_complete = True
        self.fetch_inputs = True
        self.probe_audio = True
        self.assumed_seconds = 5.0
        self.resolutions: dict[str, int] = {"480p": 2, "720p": 4}
        self.faces_seen = 2
        self.create_status = 200
        self.webhook_mode: WebhookMode = "deliver"
        self.webhook_delay = 0.5
        self.webhook_retries = 2
        self.webhook_backoff = 0.05
        # Few: httpcore rescans its whole pool per request, so more connections cost more CPU.
        self.outgoing_concurrency = 16  # read when the first outgoing request is made
        self.probe_concurrency = 4
        self.record_calls = True
        # Recorded state.
        self.jobs: dict[str, Job] = {}
        self.calls: list[ApiCall] = []
        self.fetched: list[Fetch] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.dropped_webhooks: list[str] = []  # job ids whose webhook "drop" mode swallowed
        self.output_downloads: list[str] = []  # job ids whose output was downloaded
        # Internals.
        self._faults: list[_Fault] = []
        self._job_errors: deque[str] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._out_gate: asyncio.Semaphore | None = None
        self._probe_gate: asyncio.Semaphore | None = None
        self._tmp: Path | None = None
        self._tmp_names = itertools.count(1)
        self._seen_base = ""
        self._changed: asyncio.Event | None = None  # set (and dropped) when a job finishes
        models = ("lipsync-video", "lipsync-image", "lipsync-image-multi")
        self.app = Starlette(
            routes=[
                *(Route(f"/api/v1/{m}", self._create, methods=["POST"]) for m in models),
                Route("/api/v1/jobs/{job_id}", self._get_job, methods=["GET"]),
                Route("/outputs/{job_id}.mp4", self._get_output, methods=["GET", "HEAD"]),
            ]
        )

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Cancels every job task (renders, downloads, webhooks), closes the HTTP client and
        removes the temporary directory used for probing."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    async def wait_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - harness API
        """Waits until every job task (including its webhook deliveries) has finished."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def wait_for(
        self,
        job_id: str,
        *statuses: str,
        timeout: float = 10.0,  # noqa: ASYNC109 - the harness API takes a plain timeout
    ) -> Job:
        """Waits until the job's status is one of ``statuses`` (default: a terminal one)."""
        wanted = statuses or ("completed", "failed")
        async with asyncio.timeout(timeout):
            while self.jobs[job_id].status not in wanted:
                if self._changed is None:
                    self._changed = asyncio.Event()
                await self._changed.wait()
        return self.jobs[job_id]

    @contextlib.asynccontextmanager
    async def _outgoing(self) -> AsyncIterator[httpx.AsyncClient]:
        """The shared client, entered through a semaphore: httpcore's pool rescans every queued
        request against every connection, so 10,000 requests queued inside it cost seconds of
        blocked event loop; queued on the semaphore they cost nothing."""
        if self._out_gate is None:
            self._out_gate = asyncio.Semaphore(self.outgoing_concurrency)
        async with self._out_gate:
            yield self._http()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            n = self.outgoing_concurrency
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(30.0, pool=None),
                limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                follow_redirects=True,
                verify=_ssl_context(),
                headers={"User-Agent": "fake-lipsync-studio"},
            )
        return self._client

    # ------------------------------------------------------------------ test controls

    def fail_next(
        self,
        route: str,
        status: int,
        body: Json | None = None,
        *,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Answers the next ``times`` calls matching ``route`` with ``status`` and ``body``.

        ``route`` is ``"METHOD /path-prefix"``, e.g. ``"POST /api/v1/lipsync-video"`` or
        ``"GET /api/v1/jobs"`` (matches every job id). Checked before auth; the failed call
        creates no job and takes no credits. ``body`` defaults to ``{"error": <reason>}``
        (``Insufficient credits`` for 402); ``retry_after`` adds a ``Retry-After`` header.
        """
        method, _, prefix = route.strip().partition(" ")
        if not prefix.startswith("/"):
            raise ValueError(f"route must look like 'GET /api/v1/jobs', got {route!r}")
        if body is None:
            reason = "Insufficient credits" if status == 402 else http.HTTPStatus(status).phrase
            body = {"error": reason}
        self._faults.append(
            _Fault(method.upper(), prefix.strip(), status, body, times, retry_after)
        )

    def fail_next_jobs(self, error: str, *, times: int = 1) -> None:
        """The next ``times`` created jobs still fetch their inputs, then go ``failed`` with
        ``error`` when they would have completed."""
        self._job_errors.extend([error] * times)

    def complete(self, job_id: str) -> None:
        """Completes a ``processing`` job now (or as soon as its inputs are fetched)."""
        self._decide(job_id, ("completed", None))

    def fail(self, job_id: str, error: str = "Generation failed") -> None:
        """Fails a ``processing`` job now (or as soon as its inputs are fetched)."""
        self._decide(job_id, ("failed", error))

    def _decide(self, job_id: str, decision: tuple[str, str | None]) -> None:
        job = self.jobs[job_id]
        if job.status != "processing":
            raise ValueError(f"job {job_id} is already {job.status}")
        job.decision = decision
        job.wake.set()

    # ------------------------------------------------------------------ HTTP layer

    def _record(self, request: Request, body: Any, response: Response) -> Response:
        if self.record_calls:
            self.calls.append(
                ApiCall(request.method, request.url.path, body, response.status_code)
            )
        return response

    def _injected(self, request: Request) -> Response | None:
        for fault in self._faults:
            if fault.method == request.method and request.url.path.startswith(fault.prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                headers: dict[str, str] = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                return JSONResponse(fault.body, fault.status, headers=headers)
        return None

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        return scheme.lower() == "bearer" and token.startswith("sk_") and token == self.api_key

    async def _create(self, request: Request) -> Response:
        model = request.url.path.rsplit("/", 1)[-1]
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        injected = self._injected(request)
        if injected is not None:
            return self._record(request, body, injected)
        if not self._authorized(request):
            return self._record(request, body, _error(401, "Unauthorized"))
        try:
            form, webhook, rate = self._validate(model, body)
        except _Invalid as exc:
            return self._record(request, body, _error(400, str(exc)))
        charge = max(5, math.ceil(self.assumed_seconds)) * rate
        if self.credits < charge:
            return self._record(request, body, _error(402, "Insufficient credits"))
        self.credits -= charge
        self._seen_base = str(request.base_url).rstrip("/")
        job = Job(
            id=str(uuid.uuid4()),
            model=model,
            form_state=form,
            webhook=webhook,
            rate=rate,
            created=time.monotonic(),
            charge=charge,
            forced_error=self._job_errors.popleft() if self._job_errors else None,
        )
        self.jobs[job.id] = job
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        answer = {"requestId": job.id, "id": job.id, "status": "processing"}
        return self._record(request, body, JSONResponse(answer, self.create_status))

    def _validate(self, model: str, body: Any) -> tuple[Json, str | None, int]:
        """Checks a create body; returns (formState, webhook, credits per second)."""
        if not isinstance(body, dict):
            raise _Invalid("Request body must be a JSON object")
        webhook = body.get("webhook")
        if webhook is not None and not _is_url(webhook):
            raise _Invalid("webhook must be an http(s) URL")
        form = body.get("formState")
        if form is None:
            raise _Invalid("formState is required")
        if not isinstance(form, dict):
            raise _Invalid("formState must be an object")
        required = {
            "lipsync-video": ("video", "audio"),
            "lipsync-image": ("image", "audio"),
            "lipsync-image-multi": ("image", "left_audio", "right_audio"),
        }[model]
        for name in required:
            if form.get(name) in (None, ""):
                raise _Invalid(f"formState.{name} is required")
        for name in URL_FIELDS:
            if name in form and form[name] is not None and not _is_url(form[name]):
                raise _Invalid(f"formState.{name} must be an http(s) URL")
        resolution = form.get("resolution", "480p")
        if resolution not in self.resolutions:
            allowed = ", ".join(self.resolutions)
            raise _Invalid(f"formState.resolution must be one of: {allowed}")
        seed = form.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise _Invalid("formState.seed must be an integer")
        prompt = form.get("prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise _Invalid("formState.prompt must be a string")
        if model == "lipsync-image-multi" and form.get("order", "meanwhile") not in ORDERS:
            raise _Invalid("formState.order must be one of: meanwhile, left_right, right_left")
        return form, webhook, self.resolutions[resolution]

    async def _get_job(self, request: Request) -> Response:
        injected = self._injected(request)
        if injected is not None:
            return self._record(request, None, injected)
        if not self._authorized(request):
            return self._record(request, None, _error(401, "Unauthorized"))
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            return self._record(request, None, _error(404, "Job not found"))
        return self._record(request, None, JSONResponse(job.as_dict()))

    async def _get_output(self, request: Request) -> Response:
        """The "CDN": no auth (output URLs are plain links), completed jobs only."""
        job = self.jobs.get(request.path_params["job_id"])
        if job is None or job.status != "completed":
            return _error(404, "Not found")
        self.output_downloads.append(job.id)
        return FileResponse(self.output, media_type="video/mp4")

    # ------------------------------------------------------------------ job task

    async def _run(self, job: Job) -> None:
        audio_files: dict[str, Path] = {}
        try:
            error = await self._fetch_all(job, audio_files) if self.fetch_inputs else None
            if error is None and job.model == "lipsync-image-multi" and self.faces_seen < 2:
                error = FEW_FACES_ERROR.format(found=max(0, self.faces_seen))
            if error is None and audio_files:
                error = await self._settle(job, audio_files)
            for path in audio_files.values():
                path.unlink(missing_ok=True)
            audio_files.clear()
            rendering = time.monotonic()
            if error is None:
                if self.auto_complete and job.decision is None:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.render_seconds):
                            await job.wake.wait()
                else:
                    await job.wake.wait()
            self._finish(job, error, rendering)
            await self._webhook(job)
        finally:
            for path in audio_files.values():
                path.unlink(missing_ok=True)

    def _finish(self, job: Job, error: str | None, rendering: float) -> None:
        now = time.monotonic()
        if error is None:  # an explicit complete()/fail() beats fail_next_jobs()
            error = job.decision[1] if job.decision is not None else job.forced_error
        job.execution_time = round((now - job.created) * 1000)
        job.timings = {"inference": round((now - rendering) * 1000)}
        if error is None:
            base = self.base_url or self._seen_base
            job.status, job.output = "completed", f"{base}/outputs/{job.id}.mp4"
        else:
            job.status, job.error = "failed", error
            self.credits += job.charge  # refund [I]
            job.charge = 0
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _fetch_all(self, job: Job, audio_files: dict[str, Path]) -> str | None:
        """Downloads every media URL of the job; returns the failure text, if any."""
        for name in URL_FIELDS:
            url = job.form_state.get(name)
            if url is None:
                continue
            keep = self.probe_audio and name in AUDIO_FIELDS
            status, data, size = await self._fetch(url, keep=keep)
            self.fetched.append(Fetch(job.id, name, url, status, size))
            if status != 200 or size == 0:
                return f"Failed to download input: {name}"
            if keep:
                audio_files[name] = await self._spool(data)
        return None

    async def _fetch(self, url: str, *, keep: bool) -> tuple[int, bytes, int]:
        """GETs ``url``; returns (status, body if ``keep`` else b"", body size)."""
        parts: list[bytes] = []
        size = 0
        async with self._outgoing() as client:
            try:
                async with client.stream("GET", url) as response:
                    async for chunk in response.aiter_bytes(CHUNK):
                        size += len(chunk)
                        if keep:
                            parts.append(chunk)
                    return response.status_code, b"".join(parts), size
            except httpx.HTTPError:
                return 0, b"", size

    async def _spool(self, data: bytes) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="fake-lipsync-studio-"))
        path = self._tmp / f"{next(self._tmp_names)}.audio"
        await asyncio.to_thread(path.write_bytes, data)
        return path

    async def _settle(self, job: Job, audio_files: dict[str, Path]) -> str | None:
        """Probes the audio, charges the real price (see module docstring)."""
        if self._probe_gate is None:
            self._probe_gate = asyncio.Semaphore(self.probe_concurrency)
        lengths: dict[str, float] = {}
        for name, path in audio_files.items():
            try:
                async with self._probe_gate:
                    duration = (await probe(path)).duration
            except CorruptMedia:
                duration = None
            if not duration:
                return f"Failed to process input: {name}"
            lengths[name] = duration
        if job.model == "lipsync-image-multi":
            if job.form_state.get("order", "meanwhile") == "meanwhile":
                seconds = max(lengths.values())
            else:
                seconds = sum(lengths.values())
        else:
            seconds = lengths["audio"]
        price = max(5, math.ceil(seconds)) * job.rate
        extra = price - job.charge
        if extra > self.credits:
            return "Insufficient credits"
        self.credits -= extra
        job.charge = price
        return None

    async def _webhook(self, job: Job) -> None:
        url = job.webhook
        if url is None:
            return
        mode = self.webhook_mode
        if mode == "drop":
            self.dropped_webhooks.append(job.id)
            return
        if mode == "delay":
            await asyncio.sleep(self.webhook_delay)
        payload = job.as_dict()
        for _ in range(2 if mode == "duplicate" else 1):
            await self._post_webhook(job.id, url, payload)

    async def _post_webhook(self, job_id: str, url: str, payload: Json) -> None:
        """POSTs with retries on non-2xx / connection errors, then gives up [I]."""
        for attempt in range(self.webhook_retries + 1):
            if attempt:
                await asyncio.sleep(self.webhook_backoff * 2 ** (attempt - 1))
            async with self._outgoing() as client:
                try:
                    status = (await client.post(url, json=payload)).status_code
                except httpx.HTTPError:
                    status = 0
            self.webhook_deliveries.append(WebhookDelivery(job_id, url, status))
            if 200 <= status < 300:
                return


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One context per process: building one (loading the CA bundle) costs ~40 ms, which a
    fresh fake per test would otherwise pay every time."""
    return httpx.create_ssl_context()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


@contextlib.asynccontextmanager
async def running(fake: FakeLipsyncStudio) -> AsyncIterator[str]:
    """Serves ``fake`` on a free 127.0.0.1 port, sets ``fake.base_url``, yields it; on exit
    stops the server, then ``fake.aclose()``."""
    try:
        async with serve_asgi(fake.app) as url:
            fake.base_url = url
            yield url
    finally:
        await fake.aclose()
