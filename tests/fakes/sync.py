"""A fake sync.so API (``/v2``) and its output host, for offline tests.

Why it exists: the bot's sync.so client must be tested against the wire protocol (``x-api-key``,
``POST /v2/generate`` with an ``Idempotency-Key``, ``GET /v2/generate/{id}``, the list, the
cost estimate, signed webhooks), not against mocks of our own assumptions. The official
``syncsdk`` runs against it in tests/test_fake_sync.py. Contract: providers.md section 4.

What it does, and how sure we are (tags as in providers.md):

* [C] ``x-api-key`` on every ``/v2`` route, else 401. Errors are ``{"statusCode", "message"
  (a string, or a list for validation), "error"}``, plus ``errorCode`` where one is known.
* [C] ``POST /v2/generate`` answers 201 with the Generation object (``id, createdAt, status,
  model, input, options, webhookUrl, outputUrl, outputMediaUrl, outputDuration, segments,
  segmentOutputUrl, error, error_code``). Validation (400, a list of messages): ``model`` one of
  the five models; ``input`` exactly one video (``url`` or ``assetId``) and at least one audio
  (``url``/``assetId``) or text input (``provider.name/voiceId/script``, script < 5000);
  ``options.sync_mode`` one of five, ``temperature`` 0-1; ``outputFileName`` letters, digits,
  ``_`` and ``-`` up to 255; ``webhookUrl`` a string.
* [C] ``Idempotency-Key``: 1-128 of ``[A-Za-z0-9._~-]``; empty, malformed or sent twice ->
  400 ``INVALID_IDEMPOTENCY_KEY``. The same key with the same body answers the generation the
  first request made (201, its current state, ``Idempotent-Replayed: true`` [I]), nothing
  made or charged again. [I] (the IETF draft's choice; sync.so's page says only "the same key
  and inputs"): the same key with another body -> 422 ``IDEMPOTENCY_KEY_REUSED``; a request
  refused (400, 401, 402) binds no key.
* [C] Lifecycle ``PENDING -> PROCESSING -> COMPLETED | FAILED | REJECTED`` (and ``CANCELED``,
  ``TIMED_OUT`` on demand). The inputs are really fetched when the generation leaves
  PENDING; [I] one that cannot be fetched fails it (``generation_input_fetch_failed``), audio
  that is not media fails it with ``generation_media_metadata_missing`` [C code], audio over
  300 s with ``generation_audio_length_exceeded`` [C].
* [C] ``GET /v2/generations?ids=A,B&status=X,Y`` (comma-separated, or repeated as the SDK
  sends them) answers a list of Generations. ``POST /v2/analyze/cost`` takes the create's body
  and answers ``[{"estimatedFrameCount", "estimatedGenerationCost"}]``: [I] it fetches and
  probes the audio (frames at 25 fps of its length, priced per model as section 4 says,
  the top of each range; unlisted models at the dearest).
* [I] Billing: a generation is charged when it completes, at that price (``charges``); failed
  ones are free. 402 ``insufficient_credits`` at create when the balance is not above zero.
* [C] Webhooks: on a terminal status, POST the Generation object (compact JSON) to its
  ``webhookUrl`` with ``Sync-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``.
  [I] retried on a non-2xx answer (``webhook_retry_delays``), re-signed each time.

Knobs: ``pending_seconds``, ``render_seconds``, ``auto_complete`` (False: jobs wait in
PROCESSING for ``complete()``/``fail()``), ``next_outcomes`` (planned failures), ``check_inputs``,
``balance``, ``webhook_mode`` (deliver|drop|duplicate), ``webhook_retry_delays``; faults:
``fail_next()`` (an error answer, optionally after processing: a lost answer) and
``drop_next()`` (processed, then the connection cut mid-answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import http
import json
import math
import re
import shutil
import tempfile
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.errors import MediaError
from bot.media.probe import probe
from tests.fakes.telegram import serve_asgi

Json = dict[str, Any]
#: A planned ending: (status, error_code, error message).
Outcome = tuple[str, str, str]
WebhookMode = Literal["deliver", "drop", "duplicate"]

MODELS = ("lipsync-2", "lipsync-2-pro", "sync-3", "lipsync-1.9.0-beta", "react-1")
SYNC_MODES = ("bounce", "loop", "cut_off", "silence", "remap")
USD_PER_SECOND = {"lipsync-2": 0.05, "lipsync-2-pro": 0.083, "sync-3": 0.133}
FPS = 25
MAX_AUDIO_SECONDS = 300.0
TERMINAL = frozenset({"COMPLETED", "FAILED", "REJECTED", "CANCELED", "TIMED_OUT"})
KEY = re.compile(r"[A-Za-z0-9._~-]{1,128}")
FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
SIGNATURE_HEADER = "Sync-Signature"
NO_FACE: Outcome = ("FAILED", "generation_pipeline_failed", "No face was found in the video")


class Call(NamedTuple):
    """One API request; ``key`` is its Idempotency-Key header (None without one)."""

    method: str
    path: str
    json: Any
    status: int
    key: str | None


class Fetch(NamedTuple):
    """One input download; ``status`` is 0 when the connection failed."""

    generation_id: str
    kind: str
    url: str
    status: int


class Charge(NamedTuple):
    generation_id: str
    frames: int
    usd: float


class WebhookDelivery(NamedTuple):
    generation_id: str
    status: str  # the generation's
    status_code: int  # the receiver's answer; 0 when the connection failed


@dataclass(slots=True)
class Generation:
    id: str
    created_at: str
    body: Json
    key: str | None
    status: str = "PENDING"
    error: str | None = None
    error_code: str | None = None
    seconds: float | None = None  # the audio's length, once probed
    planned: Outcome | None = None
    decision: Outcome | Literal["COMPLETED"] | None = None
    wake: asyncio.Event | None = field(default=None)


@dataclass(slots=True)
class _Fault:
    method: str | None
    prefix: str
    status: int  # 0: cut the connection
    body: Any  # a JSON value; None: the usual error body
    times: int
    retry_after: int | None
    delay: float
    after_processing: bool


class _Reject(Exception):
    def __init__(self, status: int, message: str | list[str], code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class FakeSync:
    """All state of the fake sync.so; ``app`` is the ASGI app (served by ``running``)."""

    def __init__(
        self,
        *,
        api_key: str = "sk-sync-test",
        webhook_secret: str = "whsec_sync_test",
        output: Path,
        balance: float = 100.0,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.output = Path(output)
        self.balance = balance
        self.base_url = ""
        self.pending_seconds = 0.05
        self.render_seconds = 0.2
        self.auto_complete = True
        self.check_inputs = True
        self.next_outcomes: deque[Outcome] = deque()
        self.webhook_mode: WebhookMode = "deliver"
        self.webhook_retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2)
        # Recorded state.
        self.generations: dict[str, Generation] = {}
        self.keys: dict[str, tuple[str, str]] = {}  # key -> (body digest, generation id)
        self.replays: list[str] = []  # generation ids answered again under their key
        self.calls: list[Call] = []
        self.fetched: list[Fetch] = []
        self.charges: list[Charge] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._faults: list[_Fault] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._dir: Path | None = None
        routes = [
            ("POST", "/v2/generate", self._create),
            ("GET", "/v2/generate/{gen_id}", self._get),
            ("GET", "/v2/generations", self._list),
            ("POST", "/v2/analyze/cost", self._cost),
        ]
        any_method = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self._starlette = Starlette(
            routes=[
                *(Route(p, self._endpoint(h), methods=[m]) for m, p, h in routes),
                Route("/v2/{rest:path}", self._endpoint(_not_found), methods=any_method),
                Route("/_outputs/{gen_id}/{name}", self._output, methods=["GET", "HEAD"]),
            ]
        )

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            # A plain function: uvicorn takes a bound method for an ASGI 2 app.
            await self._asgi(scope, receive, send)

        self.app = app

    # ------------------------------------------------------------------ lifecycle

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app: Starlette, except that a ``drop_next`` fault lets the request be
        processed and then cuts its answer short (the client sees the connection close)."""
        fault = None
        if scope["type"] == "http":
            fault = self._take_fault(scope["method"], scope["path"], drop=True)
        if fault is None:
            await self._starlette(scope, receive, send)
            return

        async def swallow(message: Any) -> None:
            return None

        # Processed as if all went well: the faults planned for later requests stay theirs.
        await self._starlette({**scope, "fake_dropped": True}, receive, swallow)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"id":', "more_body": True})

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def wait_for(self, gen_id: str, *statuses: str, timeout: float = 10.0) -> Generation:  # noqa: ASYNC109
        wanted = statuses or tuple(TERMINAL)
        async with asyncio.timeout(timeout):
            while self.generations[gen_id].status not in wanted:
                await asyncio.sleep(0.01)
        return self.generations[gen_id]

    async def wait_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ test controls

    def fail_next(
        self,
        route: str,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
        after_processing: bool = False,
    ) -> None:
        """Answer the next ``times`` requests matching ``route`` (``"POST /v2/generate"``,
        or a path prefix for any method) with ``status``; ``after_processing`` makes the
        request take effect first (an answer lost after the server acted); ``delay``
        seconds pass before answering."""
        method, _, prefix = route.strip().rpartition(" ")
        fault = _Fault(
            method.upper() or None,
            prefix,
            status,
            body,
            times,
            retry_after,
            delay,
            after_processing,
        )
        self._faults.append(fault)

    def drop_next(self, route: str, *, times: int = 1) -> None:
        """The next ``times`` requests matching ``route`` take effect, then their answer is
        cut off mid-body (a connection lost after the server acted)."""
        self.fail_next(route, 0, times=times, after_processing=True)

    def complete(self, gen_id: str) -> None:
        self._decide(gen_id, "COMPLETED")

    def fail(
        self,
        gen_id: str,
        status: str = "FAILED",
        code: str = "generation_pipeline_failed",
        message: str = "An error occurred in the generation pipeline.",
    ) -> None:
        self._decide(gen_id, (status, code, message))

    def generation(self, gen_id: str) -> Json:
        """The Generation object of ``GET /v2/generate/{id}``."""
        gen = self.generations[gen_id]
        body = gen.body
        url = None
        if gen.status == "COMPLETED":
            name = body.get("outputFileName") or gen.id
            url = f"{self.base_url}/_outputs/{gen.id}/{name}.mp4"
        return {
            "id": gen.id,
            "createdAt": gen.created_at,
            "status": gen.status,
            "model": body["model"],
            "input": body["input"],
            "options": body.get("options") or {},
            "webhookUrl": body.get("webhookUrl"),
            "outputUrl": url,
            "outputMediaUrl": url,
            "outputDuration": gen.seconds if url else None,
            "segments": None,
            "segmentOutputUrl": None,
            "error": gen.error,
            "error_code": gen.error_code,
        }

    def sign(self, body: bytes, stamp: int, secret: str | None = None) -> str:
        """The ``Sync-Signature`` header for ``body`` sent at ``stamp``."""
        key = (secret or self.webhook_secret).encode()
        digest = hmac.new(key, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={digest}"

    def webhook_body(self, gen_id: str) -> bytes:
        return json.dumps(self.generation(gen_id), separators=(",", ":")).encode()

    def creates(self) -> list[Call]:
        return [call for call in self.calls if call.path == "/v2/generate"]

    # ------------------------------------------------------------------ HTTP layer

    def _endpoint(
        self, handler: Callable[[Request, Any], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not self.base_url:
                self.base_url = str(request.base_url).rstrip("/")
            body: Any = None
            raw = await request.body() if request.method == "POST" else b""
            with contextlib.suppress(ValueError):
                body = json.loads(raw) if raw else None
            fault = None
            if not request.scope.get("fake_dropped"):
                fault = self._take_fault(request.method, request.url.path, drop=False)
            if fault is not None and not fault.after_processing:
                response = _fault_response(fault)
            elif not hmac.compare_digest(
                request.headers.get("x-api-key", "").encode(), self.api_key.encode()
            ):
                response = _error(401, "Unauthorized")
            else:
                try:
                    response = await handler(request, body)
                except _Reject as exc:
                    response = _error(exc.status, exc.message, exc.code)
                if fault is not None and fault.status:
                    response = _fault_response(fault)
            if fault is not None and fault.delay:
                await asyncio.sleep(fault.delay)
            key = request.headers.get("idempotency-key")
            self.calls.append(
                Call(request.method, request.url.path, body, response.status_code, key)
            )
            return response

        return endpoint

    def _take_fault(self, method: str, path: str, *, drop: bool) -> _Fault | None:
        for fault in self._faults:
            if (fault.status == 0) != drop:
                continue
            if fault.method in (None, method) and path.startswith(fault.prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # ------------------------------------------------------------------ routes

    async def _create(self, request: Request, body: Any) -> Response:
        keys = request.headers.getlist("idempotency-key")
        if len(keys) > 1 or (keys and not KEY.fullmatch(keys[0])):
            raise _Reject(400, "Invalid Idempotency-Key header", "INVALID_IDEMPOTENCY_KEY")
        key = keys[0] if keys else None
        data = _validated(body)
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        if key is not None and key in self.keys:
            bound_digest, gen_id = self.keys[key]
            if bound_digest != digest:
                raise _Reject(
                    422,
                    "This Idempotency-Key was used with a different request",
                    "IDEMPOTENCY_KEY_REUSED",
                )
            self.replays.append(gen_id)
            headers = {"Idempotent-Replayed": "true"}
            return JSONResponse(self.generation(gen_id), 201, headers=headers)
        if self.balance <= 0:
            raise _Reject(402, "Insufficient credits: top up your balance", "insufficient_credits")
        gen = Generation(str(uuid.uuid4()), _iso(time.time()), data, key)
        if self.next_outcomes:
            gen.planned = self.next_outcomes.popleft()
        self.generations[gen.id] = gen
        if key is not None:
            self.keys[key] = (digest, gen.id)
        self._spawn(self._run(gen))
        return JSONResponse(self.generation(gen.id), 201)

    async def _get(self, request: Request, _: Any) -> Response:
        gen_id = request.path_params["gen_id"]
        if gen_id not in self.generations:
            raise _Reject(404, "Generation not found")
        return JSONResponse(self.generation(gen_id))

    async def _list(self, request: Request, _: Any) -> Response:
        ids = _listed(request.query_params.getlist("ids"))
        statuses = _listed(request.query_params.getlist("status"))
        found = [
            self.generation(gen.id)
            for gen in self.generations.values()
            if (not ids or gen.id in ids) and (not statuses or gen.status in statuses)
        ]
        return JSONResponse(found)

    async def _cost(self, request: Request, body: Any) -> Response:
        data = _validated(body)
        seconds = 0.0
        for item in data["input"]:
            if item.get("type") == "audio" and item.get("url"):
                status, path = await self._download(item["url"])
                if status != 200 or path is None:
                    raise _Reject(400, f"Could not fetch the audio (HTTP {status})")
                seconds += await _duration(path) or 0.0
        frames = math.ceil(seconds * FPS)
        return JSONResponse(
            [{"estimatedFrameCount": frames, "estimatedGenerationCost": _price(data, frames)}]
        )

    async def _output(self, request: Request) -> Response:
        gen = self.generations.get(request.path_params["gen_id"])
        if gen is None or gen.status != "COMPLETED":
            return Response("NoSuchKey", 404, media_type="text/plain")
        return FileResponse(self.output, media_type="video/mp4")

    # ------------------------------------------------------------------ a generation's life

    async def _run(self, gen: Generation) -> None:
        await asyncio.sleep(self.pending_seconds)
        problem = await self._check(gen) if self.check_inputs else None
        if problem is None:
            gen.status = "PROCESSING"
            if gen.decision is None:
                gen.wake = asyncio.Event()
                if self.auto_complete:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.render_seconds):
                            await gen.wake.wait()
                else:
                    await gen.wake.wait()
                gen.wake = None
            decision = gen.decision or gen.planned or "COMPLETED"
            problem = None if decision == "COMPLETED" else decision
        if problem is None:
            seconds = gen.seconds if gen.seconds is not None else 3.0
            frames = math.ceil(seconds * FPS)
            usd = _price(gen.body, frames)
            self.balance -= usd
            self.charges.append(Charge(gen.id, frames, usd))
            gen.status = "COMPLETED"
        else:
            gen.status, gen.error_code, gen.error = problem
        await self._webhook(gen)

    async def _check(self, gen: Generation) -> Outcome | None:
        """Fetches every input URL (as the renderer would) and probes the audio."""
        for item in gen.body["input"]:
            url = item.get("url")
            if not url:
                continue
            status, path = await self._download(url)
            self.fetched.append(Fetch(gen.id, item["type"], url, status))
            if status != 200 or path is None:
                why = "connection failed" if status == 0 else f"HTTP {status}"
                return ("FAILED", "generation_input_fetch_failed", f"Could not fetch input: {why}")
            if item["type"] == "audio":
                seconds = await _duration(path)
                if seconds is None:
                    return ("FAILED", "generation_media_metadata_missing", "Audio has no duration")
                if seconds > MAX_AUDIO_SECONDS:
                    return (
                        "FAILED",
                        "generation_audio_length_exceeded",
                        "The provided audio exceeds the maximum allowed length.",
                    )
                gen.seconds = seconds
        return None

    async def _download(self, url: str) -> tuple[int, Path | None]:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="fake-sync-"))
        path = self._dir / uuid.uuid4().hex
        try:
            async with self._http().stream("GET", url) as response:
                if response.status_code != 200:
                    return response.status_code, None
                data = b"".join([chunk async for chunk in response.aiter_bytes()])
        except httpx.HTTPError:
            return 0, None
        await asyncio.to_thread(path.write_bytes, data)
        return 200, path if data else None

    async def _webhook(self, gen: Generation) -> None:
        url = gen.body.get("webhookUrl")
        if not url or self.webhook_mode == "drop":
            return
        body = self.webhook_body(gen.id)
        for _ in range(2 if self.webhook_mode == "duplicate" else 1):
            for pause in (0.0, *self.webhook_retry_delays):
                await asyncio.sleep(pause)
                headers = {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: self.sign(body, int(time.time())),
                }
                try:
                    answer = await self._http().post(url, content=body, headers=headers)
                    code = answer.status_code
                except httpx.HTTPError:
                    code = 0
                self.webhook_deliveries.append(WebhookDelivery(gen.id, gen.status, code))
                if 200 <= code < 300:
                    break

    def _decide(self, gen_id: str, decision: Outcome | Literal["COMPLETED"]) -> None:
        gen = self.generations[gen_id]
        if gen.status in TERMINAL:
            raise ValueError(f"generation {gen_id} is already {gen.status}")
        gen.decision = decision
        if gen.wake is not None:
            gen.wake.set()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=30.0, follow_redirects=True)
        return self._client

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


# ---------------------------------------------------------------------- helpers


def _validated(body: Any) -> Json:
    """The create's (or the estimate's) body, checked as sync.so checks it.

    Raises:
        _Reject: 400 with the list of what is wrong.
    """
    if not isinstance(body, dict):
        raise _Reject(400, ["body must be a JSON object"])
    problems = []
    if body.get("model") not in MODELS:
        problems.append(f"model must be one of the following values: {', '.join(MODELS)}")
    items = body.get("input")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        problems.append("input must be an array of objects")
        items = []
    videos = [item for item in items if item.get("type") == "video"]
    voices = [item for item in items if item.get("type") in ("audio", "text")]
    if len(videos) != 1 or not voices or len(videos) + len(voices) != len(items):
        problems.append("input must include exactly one video and at least one audio or text")
    for item in videos + voices:
        if item["type"] == "text":
            provider = item.get("provider")
            script = provider.get("script") if isinstance(provider, dict) else None
            if not isinstance(script, str) or not script or len(script) >= 5000:
                problems.append("text input needs provider.script, under 5000 characters")
        elif not _is_url(item.get("url")) and not isinstance(item.get("assetId"), str):
            problems.append(f"{item['type']} input needs a url or an assetId")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        problems.append("options must be an object")
        options = {}
    if "sync_mode" in options and options["sync_mode"] not in SYNC_MODES:
        problems.append(f"options.sync_mode must be one of: {', '.join(SYNC_MODES)}")
    temperature = options.get("temperature", 0.5)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        problems.append("options.temperature must be a number")
    elif not 0 <= temperature <= 1:
        problems.append("options.temperature must be between 0 and 1")
    name = body.get("outputFileName")
    if name is not None and (not isinstance(name, str) or not FILE_NAME.fullmatch(name)):
        problems.append("outputFileName may hold only letters, digits, _ and -, up to 255")
    hook = body.get("webhookUrl")
    if hook is not None and not _is_url(hook):
        problems.append("webhookUrl must be a URL")
    if problems:
        raise _Reject(400, problems)
    return body


def _price(body: Json, frames: int) -> float:
    rate = USD_PER_SECOND.get(body["model"], max(USD_PER_SECOND.values()))
    return round(frames * rate / FPS, 4)


async def _duration(path: Path) -> float | None:
    try:
        return (await probe(path)).duration
    except MediaError:
        return None


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _listed(values: list[str]) -> set[str]:
    return {part.strip() for value in values for part in value.split(",") if part.strip()}


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, message: str | list[str], code: str | None = None) -> JSONResponse:
    body: Json = {"statusCode": status, "message": message, "error": _phrase(status)}
    if code is not None:
        body["errorCode"] = code
    return JSONResponse(body, status)


def _fault_response(fault: _Fault) -> Response:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.body is not None:
        return JSONResponse(fault.body, fault.status, headers=headers)
    if fault.status == 429:
        message, code = "Rate limit exceeded. Please try again later.", "rate_limit_exceeded"
    elif fault.status == 402:
        message, code = "Insufficient credits: top up your balance", "insufficient_credits"
    else:
        message, code = _phrase(fault.status), None
    response = _error(fault.status, message, code)
    response.headers.update(headers)
    return response


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _not_found(request: Request, _: Any) -> Response:
    raise _Reject(404, f"Cannot {request.method} {request.url.path}")


@contextlib.asynccontextmanager
async def running(fake: FakeSync) -> AsyncIterator[str]:
    """Serves ``fake`` on a free 127.0.0.1 port, sets ``fake.base_url``, yields it; on exit
    stops the server, then ``fake.aclose()``."""
    try:
        async with serve_asgi(fake.app) as url:
            fake.base_url = url
            yield url
    finally:
        await fake.aclose()
