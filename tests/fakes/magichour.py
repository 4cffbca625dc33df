"""A fake Magic Hour API (``/v1``) plus its upload and download hosts, for offline tests.

Why it exists: the bot's Magic Hour client must be tested against the wire protocol (bearer
auth, presigned upload URLs, ``lip-sync`` / ``ai-talking-photo`` creates, polling
``video-projects``, signed dashboard webhooks), not against mocks of our own assumptions. The
official ``magic-hour`` SDK runs against this fake in tests/test_fake_magichour.py, which is what
lets the bot's tests trust it. Contract: /work/shared/providers.md section 2.

What the fake does, and how sure we are (tags as in providers.md):

* [C] ``Authorization: Bearer <key>`` on every ``/v1`` route, else 401 ``Unauthorized``; error
  bodies are ``{"message": ...}``; creates answer 200 ``{id, credits_charged,
  estimated_frame_cost}``; the video project object has every required field of 2.6, with
  ``downloads``/``download`` filled only when ``complete``; DELETE answers 204 and sets
  ``enabled: false``; ``GET /v1/account`` is the 2.8 object with the live balance.
* [C] Upload flow: ``POST /v1/files/upload-urls`` hands out ``upload_url`` (on this server,
  ``/_uploads/api-assets/<cuid>/<n>.<ext>?auth-value=<token>``), ``file_path`` and
  ``expires_at`` (15 minutes, ``upload_url_ttl``); the PUT body is streamed to a temp file.
* [C] Credits: a per-frame estimate at 30 fps is taken when the job is queued
  (``ceil((end - start) * 30)``, twice that for lip-sync ``pro``); 402 ``Payment required`` when
  the balance is short; settled on completion to the frames actually rendered (only
  ``max_fps_limit`` below 30 changes that here); refunded on error, ``credits_charged`` -> 0.
* [C] Webhooks (configured in the dashboard, so ``webhook_url`` is a fake-wide attribute):
  ``video.started`` on entering ``rendering``, then ``video.completed`` or ``video.errored``;
  body ``{"type", "payload": <project>}``; ``magic-hour-event-signature`` = hex
  HMAC-SHA256(secret, f"{timestamp}." + raw body), ``magic-hour-event-timestamp`` = Unix
  seconds. A ``canceled`` job (``cancel()``) sends no webhook.
* [I] Our choices where the sources say nothing:
  - talking-photo credits use the same 30-fps per-frame estimate (1 credit a frame) over the
    audio trim; its clip limit (realistic 300 s, prompted 45 s) is enforced with a 400;
  - lip-sync ``pro`` on the ``free`` tier answers 402 (docs: pro needs Creator or above);
  - inputs are checked when the job leaves the queue: an ``api-assets/`` path that was never
    uploaded fails the job with ``file_not_found``; a URL is really fetched (GET) and a non-2xx
    answer, a connection error, an empty body, a URL path without a media extension (docs:
    "whose path includes a supported file extension"), unrecognised content or the wrong kind
    (an image as ``video_file_path``) fails it with ``unknown_error`` /
    ``Could not load input ...``. Such jobs go ``queued -> error`` without ``video.started``;
  - an upload PUT without ``Content-Length`` (chunked) is refused with 411, as presigned
    storage PUTs commonly are; a wrong/expired ``auth-value`` gets 403;
  - webhook retries: ``webhook_retry_delays`` (0.05, 0.1, 0.2 s: the real 1, 2, 4 s ... for
    up to 24 h, scaled down), each attempt re-signed with a fresh timestamp, events of one job
    delivered in order;
  - ``width``/``height`` are ``output_size`` (the output file is the same for every job).

Knobs are plain attributes read when they matter: ``queue_seconds``, ``render_seconds``,
``auto_complete`` (False: jobs wait in ``rendering`` for ``complete()``/``fail()``),
``next_outcomes`` / ``outcome`` / ``fail_next_jobs()`` (planned job failures),
``check_inputs``, ``require_url_extension``, ``require_content_length``, ``upload_url_ttl``,
``tier``, ``webhook_url``, ``webhook_mode`` (deliver|drop|duplicate|delay), ``webhook_delay``,
``webhook_retry_delays``, ``record_calls``. The voice generator (``ai-voice-generator`` and
``audio-projects``) is ``audio``, in tests/fakes/magichour_audio.py.

Scale: a job is one small slotted record and one task that mostly sleeps; project objects are
built on demand, so ~10,000 jobs in flight are fine (set ``record_calls = False`` for long
benchmarks: every poll is otherwise recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import http
import itertools
import json
import math
import re
import secrets
import shutil
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from tests.fakes.magichour_audio import AudioProjects
from tests.fakes.telegram import serve_asgi

Json = dict[str, Any]
WebhookMode = Literal["deliver", "drop", "duplicate", "delay"]
#: A job failure: (error code, error message), as in the project's ``error`` object.
Outcome = tuple[str, str]
#: ``complete()`` stores this as a job's decision; ``fail()`` stores an Outcome.
COMPLETE: Literal["complete"] = "complete"

CHUNK = 64 * 1024
#: Upload bytes are written to disk in batches of this size (one thread hop per batch).
FLUSH = 1024 * 1024
#: Bytes kept from the start of each input to recognise its format.
HEAD = 32
ESTIMATE_FPS = 30
TERMINAL = frozenset({"complete", "error", "canceled"})
SIGNATURE_HEADER = "magic-hour-event-signature"
TIMESTAMP_HEADER = "magic-hour-event-timestamp"
#: The documented face failure (providers.md 2.6), handy for fail_next_jobs().
NO_FACE: Outcome = ("no_source_face", "Please use an image with a detectable face")

#: Extensions per upload type (SDK 0.90 upload-urls description; "mpeg" from older docs;
#: "gif" is accepted for video because face swap takes GIFs as video_file_path).
UPLOAD_EXTENSIONS: dict[str, frozenset[str]] = {
    "video": frozenset({"mp4", "m4v", "mov", "webm", "gif"}),
    "audio": frozenset(
        {"mp3", "mpeg", "wav", "aac", "flac", "webm", "weba", "m4a", "opus", "ogg", "oga"}
        | {"aiff", "amr"}
    ),
    "image": frozenset(
        {"png", "jpg", "jpeg", "jfif", "heic", "heif", "webp", "avif", "jp2", "tiff", "tif"}
        | {"bmp"}
    ),
}
MEDIA_EXTENSIONS = frozenset().union(*UPLOAD_EXTENSIONS.values())
EXTENSION_PATTERN = re.compile(r"^[a-z0-9]+$")
LIP_SYNC_MODES = {"lite": 1, "standard": 1, "pro": 2}  # credits per frame
#: Talking-photo modes, deprecated aliases included, mapped to the current two.
TALKING_PHOTO_MODES = {
    "realistic": "realistic",
    "prompted": "prompted",
    "pro": "realistic",
    "stable": "realistic",
    "standard": "prompted",
    "expressive": "prompted",
}
TALKING_PHOTO_MAX_SECONDS = {"realistic": 300.0, "prompted": 45.0}
RESOLUTIONS = ("480p", "720p")
PLAN_PRICES = {"creator": 1500, "pro": 4900, "business": 24900}  # minor units, made up
#: Which detected content kinds each asset field accepts (audio may come from a video).
FIELD_KINDS = {
    "video_file_path": frozenset({"video"}),
    "image_file_path": frozenset({"image"}),
    "audio_file_path": frozenset({"audio", "video"}),
}


class Call(NamedTuple):
    """One request to the fake; ``json`` is the parsed body (None for GET, PUT or bad JSON)."""

    method: str
    path: str
    json: Any
    status: int


class Fetch(NamedTuple):
    """One input URL download by a job; ``status`` is 0 when the connection failed."""

    job_id: str
    field: str
    url: str
    status: int
    size: int


class WebhookDelivery(NamedTuple):
    """One webhook POST attempt; ``status_code`` is 0 when the connection failed."""

    event_type: str
    job_id: str
    status_code: int


@dataclass(slots=True)
class Upload:
    """An issued upload slot; ``path`` is None until the PUT arrives."""

    file_path: str
    type: str
    token: str
    expires: float  # time.time()
    path: Path | None = None
    size: int = 0
    head: bytes = b""


@dataclass(slots=True)
class VideoJob:
    """Per-job state, kept small so benchmarks can hold ~10,000 of them."""

    id: str
    type: str  # LIP_SYNC | TALKING_PHOTO
    name: str
    created_at: str
    start_seconds: float
    end_seconds: float
    fps: float
    multiplier: int  # credits per frame
    credits_charged: int
    inputs: tuple[tuple[str, str], ...]  # (asset field, file path or URL) to check
    planned: Outcome | None  # from next_outcomes / outcome: fail like this when rendered
    status: str = "queued"
    error: Outcome | None = None
    enabled: bool = True
    decision: Outcome | Literal["complete"] | None = None  # from complete()/fail()
    wake: asyncio.Event | None = None  # exists while rendering


@dataclass(slots=True)
class _Fault:
    method: str | None  # None: any method
    prefix: str
    status: int
    body: Json | str  # a str is sent as it is, as HTML (a proxy's page, not JSON)
    times: int
    retry_after: int | None
    delay: float
    after_processing: bool

    def response(self) -> Response:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        if isinstance(self.body, str):
            return Response(self.body, self.status, headers=headers, media_type="text/html")
        return JSONResponse(self.body, self.status, headers=headers)


class _Reject(Exception):
    """An error answer ``{"message": ...}`` with ``status`` (400 unless told)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


Handler = Callable[[Request, Any], Awaitable[Response]]


class FakeMagicHour:
    """All state of the fake Magic Hour API; ``app`` is the ASGI app to serve (``running``).

    Set ``base_url`` to the served address after starting (``running`` does it): upload and
    download URLs are built from it (else from the first request's own address).
    """

    def __init__(
        self,
        *,
        api_key: str = "mhk_live_test",
        webhook_secret: str = "whsec_test",
        credits: int = 100_000,
        output: Path,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.credits = credits
        self.output = Path(output)
        self.base_url = ""
        # Behaviour knobs (see the module docstring).
        self.queue_seconds = 0.05
        self.render_seconds = 0.2
        self.auto_complete = True
        self.next_outcomes: deque[Outcome | None] = deque()  # per created job, in order
        self.outcome: Callable[[VideoJob], Outcome | None] | None = None  # when deque empty
        self.check_inputs = True
        self.require_url_extension = True
        self.require_content_length = True
        self.upload_url_ttl = 15 * 60.0
        self.tier = "creator"
        self.account_id = "acct_fake"
        self.email: str | None = "dev@example.com"
        self.output_size = (640, 360)
        self.webhook_url: str | None = None
        self.webhook_mode: WebhookMode = "deliver"
        self.webhook_delay = 0.5
        self.webhook_retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2)
        self.fetch_concurrency = 64
        self.record_calls = True
        # Recorded state.
        self.jobs: dict[str, VideoJob] = {}
        self.uploads: dict[str, Upload] = {}  # by file_path
        self.calls: list[Call] = []
        self.fetched: list[Fetch] = []
        self.webhook_events: list[tuple[str, str]] = []  # (event, job id), every mode
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.output_downloads: list[str] = []  # job ids
        # Internals.
        self._faults: list[_Fault] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._chains: dict[str, asyncio.Task[None]] = {}  # last webhook delivery per job
        self._client: httpx.AsyncClient | None = None
        self._fetch_gate: asyncio.Semaphore | None = None
        self._changed: asyncio.Event | None = None
        self._dir: Path | None = None  # uploads; created on the first PUT
        self._names = itertools.count(1)
        self._seen_base = ""
        #: The voice generator (tests/fakes/magichour_audio.py).
        self.audio = AudioProjects(self)
        api: list[tuple[str, str, Handler]] = [
            ("POST", "/v1/files/upload-urls", self._upload_urls),
            ("POST", "/v1/lip-sync", self._lip_sync),
            ("POST", "/v1/ai-talking-photo", self._talking_photo),
            ("GET", "/v1/video-projects/{job_id}", self._get_project),
            ("DELETE", "/v1/video-projects/{job_id}", self._delete_project),
            ("GET", "/v1/account", self._account),
            ("POST", "/v1/ai-voice-generator", self.audio.create),
            ("GET", "/v1/audio-projects/{job_id}", self.audio.get),
        ]
        any_method = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.app = Starlette(
            routes=[
                *(Route(p, self._endpoint(h, api=True), methods=[m]) for m, p, h in api),
                Route("/v1/{rest:path}", self._endpoint(_not_found, api=True), methods=any_method),
                Route("/_uploads/{path:path}", self._endpoint(self._put_upload), methods=["PUT"]),
                Route(
                    "/_audio/{job_id}.mp3",
                    self._endpoint(self.audio.output),
                    methods=["GET", "HEAD"],
                ),
                Route(
                    "/_outputs/{job_id}.mp4",
                    self._endpoint(self._get_output),
                    methods=["GET", "HEAD"],
                ),
            ]
        )

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Cancels job tasks and webhook deliveries, closes the HTTP client, removes uploads."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self.audio.aclose()

    async def wait_for(
        self,
        job_id: str,
        *statuses: str,
        timeout: float = 10.0,  # noqa: ASYNC109 - the harness API takes a plain timeout
    ) -> VideoJob:
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

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # No pool timeout: with thousands of jobs, requests queue for a connection.
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(30.0, pool=None),
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
                follow_redirects=True,
                headers={"User-Agent": "fake-magic-hour"},
            )
        return self._client

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _changed_now(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

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
        """Answers the next ``times`` requests matching ``route`` with ``status`` and ``body``.

        ``route`` is ``"METHOD /path-prefix"`` (``"GET /v1/video-projects"`` matches every
        id) or just ``"/path-prefix"`` for any method; upload PUTs (``"PUT /_uploads"``) and
        output GETs (``"GET /_outputs"``) match too. Checked before auth. By default the
        request is not processed (no job, no credits taken); ``after_processing=True``
        processes it and then answers the fault instead, like a response lost after the
        server acted. ``delay`` seconds pass before answering (client timeouts).
        ``body`` defaults to ``{"message": <reason>}`` (``Payment required`` for 402,
        ``Unauthorized`` for 401); a str body is sent as HTML, not JSON; ``retry_after`` adds
        a ``Retry-After`` header.
        """
        method, _, prefix = route.strip().rpartition(" ")
        if not prefix.startswith("/"):
            raise ValueError(f"route must look like 'GET /v1/video-projects', got {route!r}")
        if body is None:
            body = {"message": _reason(status)}
        self._faults.append(
            _Fault(
                method=method.upper() or None,
                prefix=prefix,
                status=status,
                body=body,
                times=times,
                retry_after=retry_after,
                delay=delay,
                after_processing=after_processing,
            )
        )

    def fail_next_jobs(self, times: int = 1, outcome: Outcome = NO_FACE) -> None:
        """The next ``times`` created jobs check their inputs and render, then fail with
        ``outcome`` (code, message) instead of completing."""
        self.next_outcomes.extend([outcome] * times)

    def complete(self, job_id: str) -> None:
        """Completes a job now if it is rendering, else as soon as it starts rendering."""
        self._decide(job_id, COMPLETE)

    def fail(
        self, job_id: str, code: str = "unknown_error", message: str = "Rendering failed"
    ) -> None:
        """Fails a job now if it is rendering, else as soon as it starts rendering."""
        self._decide(job_id, (code, message))

    def cancel(self, job_id: str) -> None:
        """Cancels a job as the web app would: status ``canceled``, credits refunded [I],
        and no webhook (providers.md 2.6)."""
        job = self.jobs[job_id]
        if job.status in TERMINAL:
            raise ValueError(f"job {job_id} is already {job.status}")
        job.status = "canceled"
        self._refund(job)
        if job.wake is not None:
            job.wake.set()
        self._changed_now()

    def _decide(self, job_id: str, decision: Outcome | Literal["complete"]) -> None:
        job = self.jobs[job_id]
        if job.status in TERMINAL:
            raise ValueError(f"job {job_id} is already {job.status}")
        job.decision = decision
        if job.wake is not None:
            job.wake.set()

    def project(self, job_id: str) -> Json:
        """The video project object of ``GET /v1/video-projects/{id}`` (providers.md 2.6)."""
        job = self.jobs[job_id]
        downloads: list[Json] = []
        if job.status == "complete" and job.enabled:
            expires = _iso(time.time() + 24 * 3600)
            downloads = [{"url": f"{self._base()}/_outputs/{job.id}.mp4", "expires_at": expires}]
        error = {"code": job.error[0], "message": job.error[1]} if job.error else None
        width, height = self.output_size
        return {
            "id": job.id,
            "name": job.name,
            "status": job.status,
            "type": job.type,
            "created_at": job.created_at,
            "width": width,
            "height": height,
            "enabled": job.enabled,
            "start_seconds": job.start_seconds,
            "end_seconds": job.end_seconds,
            "fps": job.fps,
            "credits_charged": job.credits_charged,
            "total_frame_cost": job.credits_charged,
            "error": error,
            "downloads": downloads,
            "download": downloads[0] if downloads else None,
        }

    # ------------------------------------------------------------------ webhook helpers

    def sign(self, body: bytes, timestamp: int) -> str:
        """The ``magic-hour-event-signature`` of ``body`` sent at ``timestamp``."""
        message = f"{timestamp}.".encode() + body
        return hmac.new(self.webhook_secret.encode(), message, hashlib.sha256).hexdigest()

    def webhook_body(self, event_type: str, job_id: str) -> bytes:
        """The raw body the fake would send now for ``event_type`` about ``job_id``."""
        event = {"type": event_type, "payload": self.project(job_id)}
        return json.dumps(event, separators=(",", ":")).encode()

    async def post_forged(
        self,
        body: bytes | Json,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        secret: str | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """POSTs a webhook the way Magic Hour does, with parts of it forged; returns the HTTP
        status (0 if the connection failed). Not recorded in ``webhook_deliveries``.

        ``timestamp`` defaults to now; ``signature`` defaults to the correct one for
        ``secret`` (default: the real secret), and ``""`` leaves the header out. So: a wrong
        secret is ``secret="whsec_other"``, a replay is an old ``timestamp``, tampering is a
        ``body`` changed after signing with ``signature=fake.sign(original, ts)``.
        """
        target = url or self.webhook_url
        if not target:
            raise AssertionError("no webhook_url set and no url given")
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        if signature is None:
            key = (self.webhook_secret if secret is None else secret).encode()
            signature = hmac.new(key, f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
        sent = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(stamp)}
        if signature:
            sent[SIGNATURE_HEADER] = signature
        sent |= dict(headers or {})
        try:
            response = await self._http().post(target, content=raw, headers=sent)
        except httpx.HTTPError:
            return 0
        return response.status_code

    async def drain_webhooks(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Waits until every scheduled webhook delivery (retries included) has finished."""
        async with asyncio.timeout(timeout):
            while self._chains:
                await asyncio.gather(*list(self._chains.values()), return_exceptions=True)

    # ------------------------------------------------------------------ HTTP layer

    def _base(self) -> str:
        return self.base_url or self._seen_base

    def _endpoint(
        self, handler: Handler, *, api: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wraps a handler: records the call, injects faults, checks auth on ``/v1``, turns
        ``_Reject`` into ``{"message": ...}`` answers."""

        async def endpoint(request: Request) -> Response:
            if not self._seen_base:
                self._seen_base = str(request.base_url).rstrip("/")
            body: Any = None
            invalid = False
            if api and request.method in ("POST", "PUT", "PATCH"):
                raw = await request.body()
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    invalid = True
            fault = self._take_fault(request.method, request.url.path)
            if fault is not None and fault.delay:
                await asyncio.sleep(fault.delay)
            if fault is not None and not fault.after_processing:
                response = fault.response()
            elif api and not self._authorized(request):
                response = _message(401, "Unauthorized")
            else:
                try:
                    if invalid:
                        raise _Reject("Request body is not valid JSON")
                    response = await handler(request, body)
                except _Reject as exc:
                    response = _message(exc.status, str(exc))
                if fault is not None:
                    response = fault.response()
            if self.record_calls:
                self.calls.append(
                    Call(request.method, request.url.path, body, response.status_code)
                )
            return response

        return endpoint

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in (None, method) and path.startswith(fault.prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        return (
            scheme.lower() == "bearer"
            and bool(token)
            and hmac.compare_digest(token.encode(), self.api_key.encode())
        )

    # ------------------------------------------------------------------ upload flow

    async def _upload_urls(self, request: Request, body: Any) -> Response:
        data = _body_object(body)
        items = data.get("items")
        if not isinstance(items, list) or not items:
            raise _Reject("items must be a non-empty array")
        checked: list[tuple[str, str]] = []
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                raise _Reject(f"items[{n}] must be an object")
            kind, ext = item.get("type"), item.get("extension")
            if not isinstance(kind, str) or kind not in UPLOAD_EXTENSIONS:
                raise _Reject(f"items[{n}].type must be one of: video, audio, image")
            if not isinstance(ext, str) or not EXTENSION_PATTERN.match(ext):
                raise _Reject(f"items[{n}].extension must match ^[a-z0-9]+$ (no leading dot)")
            if ext not in UPLOAD_EXTENSIONS[kind]:
                raise _Reject(f"items[{n}].extension {ext!r} is not supported for {kind}")
            checked.append((kind, ext))
        folder = _cuid()
        expires = time.time() + self.upload_url_ttl
        answer = []
        for n, (kind, ext) in enumerate(checked):
            file_path = f"api-assets/{folder}/{n}.{ext}"
            token = secrets.token_urlsafe(24)
            self.uploads[file_path] = Upload(file_path, kind, token, expires)
            answer.append(
                {
                    "upload_url": f"{self._base()}/_uploads/{file_path}?auth-value={token}",
                    "expires_at": _iso(expires),
                    "file_path": file_path,
                }
            )
        return JSONResponse({"items": answer})

    async def _put_upload(self, request: Request, _: Any) -> Response:
        """The storage host: presigned PUT, body streamed to disk (uploads may be large)."""
        upload = self.uploads.get(request.path_params["path"])
        given = request.query_params.get("auth-value", "")
        if (
            upload is None
            or not hmac.compare_digest(given.encode(), upload.token.encode())
            or time.time() > upload.expires
        ):
            return Response("AccessDenied", 403, media_type="text/plain")
        if self.require_content_length and "content-length" not in request.headers:
            return Response("MissingContentLength", 411, media_type="text/plain")
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="fake-magichour-"))
        dest = self._dir / f"{next(self._names)}.{upload.file_path.rsplit('.', 1)[-1]}"
        handle = await asyncio.to_thread(dest.open, "wb")
        size, head, buffer = 0, b"", bytearray()
        try:
            async for chunk in request.stream():
                if len(head) < HEAD:
                    head = (head + chunk)[:HEAD]
                size += len(chunk)
                buffer += chunk
                if len(buffer) >= FLUSH:
                    data, buffer = buffer, bytearray()
                    await asyncio.to_thread(handle.write, data)
            if buffer:
                await asyncio.to_thread(handle.write, buffer)
        except ClientDisconnect:
            await asyncio.to_thread(handle.close)
            dest.unlink(missing_ok=True)
            return Response(status_code=400)
        await asyncio.to_thread(handle.close)
        if upload.path is not None:  # a second PUT replaces the object, as on S3
            upload.path.unlink(missing_ok=True)
        upload.path, upload.size, upload.head = dest, size, head
        return Response(status_code=200)

    # ------------------------------------------------------------------ creates

    async def _lip_sync(self, request: Request, body: Any) -> Response:
        data = _body_object(body)
        assets = _object(data, "assets")
        source = assets.get("video_source")
        if source not in ("file", "youtube"):
            raise _Reject("assets.video_source must be one of: file, youtube")
        inputs: list[tuple[str, str]] = []
        if source == "file":
            inputs.append(("video_file_path", _asset(assets, "video_file_path", "file")))
        elif not isinstance(assets.get("youtube_url"), str) or not assets["youtube_url"]:
            raise _Reject("assets.youtube_url is required when video_source is youtube")
        inputs.append(("audio_file_path", _asset(assets, "audio_file_path")))
        start, end = _trim(data)
        style = _object(data, "style", required=False)
        mode = style.get("generation_mode", "lite")
        if not isinstance(mode, str) or mode not in LIP_SYNC_MODES:
            raise _Reject("style.generation_mode must be one of: lite, standard, pro")
        max_fps = _number(data, "max_fps_limit", required=False, minimum=1)
        for key in ("width", "height"):  # deprecated and ignored, but typed
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise _Reject(f"{key} must be an integer or null")
        if mode == "pro" and self.tier == "free":
            raise _Reject("Payment required", 402)
        fps = min(float(ESTIMATE_FPS), max_fps) if max_fps is not None else float(ESTIMATE_FPS)
        name = _name(data, "Lip Sync")
        return self._create("LIP_SYNC", name, start, end, fps, LIP_SYNC_MODES[mode], inputs)

    async def _talking_photo(self, request: Request, body: Any) -> Response:
        data = _body_object(body)
        assets = _object(data, "assets")
        inputs = [
            ("image_file_path", _asset(assets, "image_file_path")),
            ("audio_file_path", _asset(assets, "audio_file_path")),
        ]
        start, end = _trim(data)
        resolution = data.get("resolution")
        if resolution is not None and resolution not in RESOLUTIONS:
            raise _Reject("resolution must be one of: 480p, 720p")
        max_resolution = data.get("max_resolution")
        if max_resolution is not None and (
            isinstance(max_resolution, bool) or not isinstance(max_resolution, int)
        ):
            raise _Reject("max_resolution must be an integer")
        style = _object(data, "style", required=False)
        given = style.get("generation_mode", "realistic")
        mode = TALKING_PHOTO_MODES.get(given) if isinstance(given, str) else None
        if mode is None:
            raise _Reject(
                f"style.generation_mode must be one of: {', '.join(TALKING_PHOTO_MODES)}"
            )
        if "prompt" in style and not isinstance(style["prompt"], str):
            raise _Reject("style.prompt must be a string")
        _number(style, "intensity", required=False, label="style.intensity")
        limit = TALKING_PHOTO_MAX_SECONDS[mode]
        if end - start > limit:
            raise _Reject(f"The clip may be at most {limit:g} seconds long in {mode} mode")
        name = _name(data, "Talking Photo")
        return self._create("TALKING_PHOTO", name, start, end, float(ESTIMATE_FPS), 1, inputs)

    def _create(
        self,
        kind: str,
        name: str,
        start: float,
        end: float,
        fps: float,
        multiplier: int,
        inputs: list[tuple[str, str]],
    ) -> Response:
        """Charges the 30-fps estimate, stores the job and starts its task."""
        frames = _frames(end - start, ESTIMATE_FPS)
        charge = frames * multiplier
        if self.credits < charge:
            raise _Reject("Payment required", 402)
        self.credits -= charge
        job = VideoJob(
            id=_cuid(),
            type=kind,
            name=name,
            created_at=_iso(time.time()),
            start_seconds=start,
            end_seconds=end,
            fps=fps,
            multiplier=multiplier,
            credits_charged=charge,
            inputs=tuple(inputs),
            planned=None,
        )
        if self.next_outcomes:
            job.planned = self.next_outcomes.popleft()
        elif self.outcome is not None:
            job.planned = self.outcome(job)
        self.jobs[job.id] = job
        self._spawn(self._run(job))
        answer = {"id": job.id, "credits_charged": charge, "estimated_frame_cost": frames}
        return JSONResponse(answer)

    # ------------------------------------------------------------------ reads

    async def _get_project(self, request: Request, _: Any) -> Response:
        job_id = request.path_params["job_id"]
        if job_id not in self.jobs:
            raise _Reject("Not Found", 404)
        return JSONResponse(self.project(job_id))

    async def _delete_project(self, request: Request, _: Any) -> Response:
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            raise _Reject("Not Found", 404)
        job.enabled = False
        return Response(status_code=204)

    async def _account(self, request: Request, _: Any) -> Response:
        subscription: Json | None = None
        if self.tier != "free":
            subscription = {
                "name": self.tier.title(),
                "status": "active",
                "billing_interval": "month",
                "current_period_end": _iso(time.time() + 30 * 24 * 3600),
                "cancel_at_period_end": False,
                "price": {"amount": PLAN_PRICES.get(self.tier, 0), "currency": "usd"},
                "discount": None,
            }
        return JSONResponse(
            {
                "id": self.account_id,
                "email": self.email,
                "credits": self.credits,
                "tier": self.tier,
                "subscription": subscription,
            }
        )

    async def _get_output(self, request: Request, _: Any) -> Response:
        """The download host: no auth (the real URLs are signed links), complete jobs only."""
        job = self.jobs.get(request.path_params["job_id"])
        if job is None or job.status != "complete" or not job.enabled:
            return Response("NoSuchKey", 404, media_type="text/plain")
        self.output_downloads.append(job.id)
        return FileResponse(self.output, media_type="video/mp4")

    # ------------------------------------------------------------------ job task

    async def _run(self, job: VideoJob) -> None:
        """queued -> (inputs checked) -> rendering -> complete | error."""
        await asyncio.sleep(self.queue_seconds)
        if job.status != "queued":  # canceled meanwhile
            return
        problem = await self._check_inputs(job) if self.check_inputs else None
        if job.status != "queued":
            return
        if problem is None:
            job.status = "rendering"
            self._changed_now()
            self._emit("video.started", job)
            if job.decision is None:
                job.wake = asyncio.Event()
                if self.auto_complete:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.render_seconds):
                            await job.wake.wait()
                else:
                    await job.wake.wait()
                job.wake = None
            if job.status != "rendering":  # canceled meanwhile
                return
            if job.decision is None:
                problem = job.planned
            elif job.decision != COMPLETE:
                problem = job.decision
        self._finish(job, problem)

    def _finish(self, job: VideoJob, problem: Outcome | None) -> None:
        if problem is None:
            # Settle to the frames rendered: only max_fps_limit < 30 makes that differ here.
            settled = _frames(job.end_seconds - job.start_seconds, job.fps) * job.multiplier
            self.credits += job.credits_charged - settled
            job.credits_charged = settled
            job.status = "complete"
            self._emit("video.completed", job)
        else:
            job.status, job.error = "error", problem
            self._refund(job)
            self._emit("video.errored", job)
        self._changed_now()

    def _refund(self, job: VideoJob) -> None:
        self.credits += job.credits_charged
        job.credits_charged = 0

    async def _check_inputs(self, job: VideoJob) -> Outcome | None:
        """Loads every input like the real renderer would; returns why one failed, if any."""
        for field, value in job.inputs:
            if value.startswith("api-assets/"):
                upload = self.uploads.get(value)
                if upload is None or upload.path is None:
                    return ("file_not_found", f"File not found: {value}")
                size, head = upload.size, upload.head
            else:  # an http(s) URL (checked at create)
                if self.require_url_extension and not _has_media_extension(value):
                    why = "the URL path has no supported file extension"
                    return ("unknown_error", f"Could not load input {field}: {why}")
                status, size, head = await self._fetch(value)
                self.fetched.append(Fetch(job.id, field, value, status, size))
                if not 200 <= status < 300:
                    why = "connection failed" if status == 0 else f"HTTP {status}"
                    return ("unknown_error", f"Could not load input {field}: {why}")
            if size == 0:
                return ("unknown_error", f"Could not load input {field}: the file is empty")
            kind = _media_kind(head)
            if kind not in FIELD_KINDS[field]:
                what = "unrecognised or corrupt media" if kind is None else f"got {kind}"
                return ("unknown_error", f"Could not load input {field}: {what}")
        return None

    async def _fetch(self, url: str) -> tuple[int, int, bytes]:
        """GETs ``url``, discarding the body; returns (status, size, first bytes)."""
        if self._fetch_gate is None:
            self._fetch_gate = asyncio.Semaphore(self.fetch_concurrency)
        size, head = 0, b""
        async with self._fetch_gate:
            try:
                async with self._http().stream("GET", url) as response:
                    async for chunk in response.aiter_bytes(CHUNK):
                        if len(head) < HEAD:
                            head = (head + chunk)[:HEAD]
                        size += len(chunk)
                    return response.status_code, size, head
            except httpx.HTTPError:
                return 0, size, head

    # ------------------------------------------------------------------ webhooks

    def _emit(self, event_type: str, job: VideoJob) -> None:
        """Snapshots the event body now and schedules its delivery after the job's previous
        ones (so one job's events arrive in order)."""
        self.webhook_events.append((event_type, job.id))
        url = self.webhook_url
        if not url or self.webhook_mode == "drop":
            return
        body = self.webhook_body(event_type, job.id)
        copies = 2 if self.webhook_mode == "duplicate" else 1
        delay = self.webhook_delay if self.webhook_mode == "delay" else 0.0
        previous = self._chains.get(job.id)
        task = self._spawn(self._deliver(previous, url, event_type, job.id, body, copies, delay))
        self._chains[job.id] = task

        def unchain(done: asyncio.Task[None]) -> None:
            if self._chains.get(job.id) is done:
                del self._chains[job.id]

        task.add_done_callback(unchain)

    async def _deliver(
        self,
        previous: asyncio.Task[None] | None,
        url: str,
        event_type: str,
        job_id: str,
        body: bytes,
        copies: int,
        delay: float,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        if delay:
            await asyncio.sleep(delay)
        for _ in range(copies):
            await self._post_with_retries(url, event_type, job_id, body)

    async def _post_with_retries(
        self, url: str, event_type: str, job_id: str, body: bytes
    ) -> None:
        """One delivery: retried on non-2xx or connection errors, re-signed each attempt."""
        for pause in (0.0, *self.webhook_retry_delays):
            if pause:
                await asyncio.sleep(pause)
            stamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: self.sign(body, stamp),
                TIMESTAMP_HEADER: str(stamp),
            }
            try:
                response = await self._http().post(url, content=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            self.webhook_deliveries.append(WebhookDelivery(event_type, job_id, status))
            if 200 <= status < 300:
                return


# ---------------------------------------------------------------------- helpers


async def _not_found(request: Request, _: Any) -> Response:
    raise _Reject("Not Found", 404)


def _message(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status)


def _reason(status: int) -> str:
    special = {401: "Unauthorized", 402: "Payment required", 404: "Not Found"}
    if status in special:
        return special[status]
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _cuid() -> str:
    """An id shaped like Magic Hour's cuids (25 lowercase letters and digits, "c" first);
    hex keeps it cheap for benchmarks creating thousands of jobs."""
    return "cm" + secrets.token_hex(12)[:23]


def _iso(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _frames(seconds: float, fps: float) -> int:
    # Rounded first so 0.3 - 0.1 = 0.19999999999999998 s does not cost an extra frame.
    return math.ceil(round(seconds * fps, 6))


def _body_object(body: Any) -> Json:
    if body is None:
        raise _Reject("Missing request body")
    if not isinstance(body, dict):
        raise _Reject("Request body must be a JSON object")
    return body


def _object(data: Json, key: str, *, required: bool = True) -> Json:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _Reject(f"{key} is required and must be an object")
    return value


def _asset(assets: Json, key: str, source: str | None = None) -> str:
    value = assets.get(key)
    if not isinstance(value, str) or not value:
        when = f" when video_source is {source}" if source else ""
        raise _Reject(f"assets.{key} is required{when}")
    if not value.startswith("api-assets/") and not _is_url(value):
        raise _Reject(f"assets.{key} must be a URL or a file_path from the upload-urls API")
    return value


def _number(
    data: Json,
    key: str,
    *,
    required: bool = True,
    minimum: float | None = None,
    label: str | None = None,
) -> float | None:
    label = label or key
    value = data.get(key)
    if value is None:
        if required:
            raise _Reject(f"{label} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Reject(f"{label} must be a number")
    if minimum is not None and value < minimum:
        raise _Reject(f"{label} must be greater than or equal to {minimum:g}")
    return float(value)


def _trim(data: Json) -> tuple[float, float]:
    start = _number(data, "start_seconds", minimum=0) or 0.0
    end = _number(data, "end_seconds", minimum=0.1) or 0.0  # required: never None here
    if end <= start:
        raise _Reject("end_seconds must be greater than start_seconds")
    return start, end


def _name(data: Json, tool: str) -> str:
    name = data.get("name")
    if name is None:
        return f"{tool} - {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M:%S')}"
    if not isinstance(name, str):
        raise _Reject("name must be a string")
    return name


def _is_url(value: str) -> bool:
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def _has_media_extension(url: str) -> bool:
    last = httpx.URL(url).path.rsplit("/", 1)[-1]
    return "." in last and last.rsplit(".", 1)[-1].lower() in MEDIA_EXTENSIONS


def _media_kind(head: bytes) -> str | None:
    """Recognises the container from its first bytes: "video", "audio", "image" or None."""
    box = head[4:8]
    if box == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"):
            return "image"
        if brand in (b"M4A ", b"M4B "):
            return "audio"
        return "video"
    if box in (b"moov", b"mdat", b"wide", b"free", b"skip"):  # QuickTime without ftyp
        return "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska / WebM
        return "video"
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")):
        return "image"
    if head.startswith(b"\x00\x00\x00\x0cjP  "):  # JPEG 2000
        return "image"
    if head.startswith(b"RIFF"):
        return {b"WAVE": "audio", b"WEBP": "image", b"AVI ": "video"}.get(head[8:12])
    if head.startswith((b"ID3", b"OggS", b"fLaC", b"#!AMR", b"FORM")):
        return "audio"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # MPEG audio / ADTS
        return "audio"
    return None


@contextlib.asynccontextmanager
async def running(fake: FakeMagicHour) -> AsyncIterator[str]:
    """Serves ``fake`` on a free 127.0.0.1 port, sets ``fake.base_url``, yields it; on exit
    stops the server, then ``fake.aclose()`` (cancels jobs and deliveries)."""
    try:
        async with serve_asgi(fake.app) as url:
            fake.base_url = url
            yield url
    finally:
        await fake.aclose()
