"""The routes, request plumbing and read-only handlers of the fake Creatify API.

Every request goes through one wrapper, in the order Django and DRF would take it: the URL
(an unknown path or a missing trailing slash is Django's HTML 404, before any auth), then the
injected fault if one matches, then both auth headers, then the method (405), then the body
(400 for bad JSON, 415 for an unknown content type), then the handler, whose ``Invalid`` is a
400 field map and whose ``Refusal`` is ``{"detail": ...}``. The wrapper also counts requests
per route (``fake.requests``) and records calls. Job creates and reads live on the fake
(tests/fakes/creatify.py); the catalog and the media host are here.
"""

from __future__ import annotations

import asyncio
import hashlib
import http
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from tests.fakes import creatify_media as media
from tests.fakes.creatify_catalog import (
    AGE_RANGES,
    GENDERS,
    Persona,
    persona_object,
    voice_objects,
)
from tests.fakes.creatify_forms import Invalid, aurora, lipsync, lipsync_v2, text_to_speech

if TYPE_CHECKING:
    from tests.fakes.creatify import FakeCreatify

Json = dict[str, Any]
Handler = Callable[[Request, Any], Awaitable[Response]]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
#: Django's production 404 page (DEBUG off).
NOT_FOUND_PAGE = (
    '<!doctype html><html lang="en"><head><title>Not Found</title></head><body>'
    "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>"
    "</body></html>"
)
SERVER_ERROR_PAGE = (
    "<!doctype html><html><head><title>Server Error (500)</title></head>"
    "<body><h1>Server Error (500)</h1><p></p></body></html>"
)
MAX_PAGE_SIZE = 100


class Refusal(Exception):
    """An answer ``{"detail": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Fault:
    """An answer planned by ``FakeCreatify.fail_next``."""

    method: str | None  # None: any method
    prefix: str
    status: int
    body: Json | str  # a str is sent as HTML (Django's or a proxy's page)
    times: int
    retry_after: int | None
    delay: float
    after_processing: bool

    def response(self) -> Response:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        if isinstance(self.body, str):
            return Response(self.body, self.status, headers=headers, media_type="text/html")
        return JSONResponse(self.body, self.status, headers=headers)


def default_body(status: int, retry_after: int | None) -> Json | str:
    """What the real stack most likely answers with ``status`` [I]."""
    if status == 500:
        return SERVER_ERROR_PAGE
    if status in (502, 503, 504):  # the load balancer's page, not Django's
        phrase = f"{status} {http.HTTPStatus(status).phrase}"
        return f"<html><head><title>{phrase}</title></head><body><h1>{phrase}</h1></body></html>"
    special = {
        401: "Incorrect authentication credentials.",
        402: "Insufficient credits",
        429: f"Request was throttled. Expected available in {retry_after} seconds.",
    }
    if status in special:
        return {"detail": special[status]}
    try:
        return {"detail": http.HTTPStatus(status).phrase}
    except ValueError:
        return {"detail": "Error"}


def build_app(fake: FakeCreatify) -> Starlette:
    def bind(handler: Callable[[FakeCreatify, Request], Awaitable[Response]]) -> Handler:
        async def bound(request: Request, _: Any) -> Response:
            return await handler(fake, request)

        return bound

    api: list[tuple[str, dict[str, Handler]]] = [
        ("/api/personas/", {"GET": bind(personas_list), "POST": fake.custom.create_from_urls}),
        (
            "/api/personas_v2/",
            {"GET": fake.custom.list_own, "POST": fake.custom.create_from_files},
        ),
        ("/api/personas_v2/count/", {"GET": fake.custom.count}),
        ("/api/personas/paginated/", {"GET": bind(personas_page)}),
        ("/api/personas/{id}/", {"GET": bind(persona)}),
        ("/api/voices/", {"GET": bind(voices_list)}),
        ("/api/lipsyncs/", {"POST": fake.creator("lipsync", lipsync)}),
        ("/api/lipsyncs/{id}/", {"GET": fake.getter("lipsync")}),
        (
            "/api/lipsyncs_v2/",
            {"GET": fake.lipsyncs_v2_list, "POST": fake.creator("lipsync_v2", lipsync_v2)},
        ),
        ("/api/lipsyncs_v2/{id}/", {"GET": fake.getter("lipsync_v2")}),
        ("/api/aurora/", {"POST": fake.creator("aurora", aurora)}),
        ("/api/aurora/{id}/", {"GET": fake.getter("aurora")}),
        ("/api/text_to_speech/", {"POST": fake.creator("tts", text_to_speech)}),
        ("/api/text_to_speech/{id}/", {"GET": fake.getter("tts")}),
        ("/api/remaining_credits/", {"GET": bind(remaining_credits)}),
    ]
    files = {"GET": bind(media_file), "HEAD": bind(media_file)}
    routes = [
        Route(
            path,
            # Only personas_v2 takes files (its multipart uploads): kept for the handler.
            _endpoint(fake, path, table, api=True, uploads=path == "/api/personas_v2/"),
            methods=METHODS,
        )
        for path, table in api
    ]
    routes.append(
        Route("/_media/{kind}/{rest:path}", _endpoint(fake, "/_media/", files), methods=METHODS)
    )
    routes.append(Route("/{rest:path}", _endpoint(fake, "*", {}), methods=METHODS))
    return Starlette(routes=routes)


# ---------------------------------------------------------------------- plumbing


def _endpoint(
    fake: FakeCreatify,
    template: str,
    handlers: dict[str, Handler],
    *,
    api: bool = False,
    uploads: bool = False,
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        fake.requests[f"{request.method} {template}"] += 1
        body: Any = None
        problem: Response | None = None
        if api and request.method in ("POST", "PUT", "PATCH"):
            body, problem = await _parse(request, uploads=uploads)
        fault = fake.take_fault(request.method, request.url.path)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and not fault.after_processing:
            response = fault.response()
        else:
            response = await _answer(fake, request, handlers, body, problem, api=api)
            if fault is not None:
                response = fault.response()
        fake.record(request, body, response.status_code)
        return response

    return endpoint


async def _answer(
    fake: FakeCreatify,
    request: Request,
    handlers: dict[str, Handler],
    body: Any,
    problem: Response | None,
    *,
    api: bool,
) -> Response:
    if not handlers:
        return Response(NOT_FOUND_PAGE, 404, media_type="text/html")
    if api and (denied := fake.authenticate(request)) is not None:
        return denied
    handler = handlers.get(request.method)
    if handler is None:
        message = f'Method "{request.method}" not allowed.'
        return JSONResponse({"detail": message}, 405, headers={"Allow": ", ".join(handlers)})
    if problem is not None:
        return problem
    try:
        return await handler(request, body)
    except Invalid as exc:
        return JSONResponse(exc.errors, 400)
    except Refusal as exc:
        return JSONResponse({"detail": str(exc)}, exc.status)


def _no_constants(name: str) -> Any:
    # DRF's STRICT_JSON: NaN and Infinity are not JSON.
    raise ValueError("Out of range float values are not JSON compliant")


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart body, as the handler sees it (the bytes are not kept)."""

    filename: str
    content_type: str
    size: int
    head: bytes  # the first 16 bytes, to tell what it really is
    sha256: str


async def _upload(part: UploadFile) -> Upload:
    digest, size, head = hashlib.sha256(), 0, b""
    while chunk := await part.read(64 * 1024):
        digest.update(chunk)
        head = (head + chunk)[:16] if len(head) < 16 else head
        size += len(chunk)
    return Upload(part.filename or "", part.content_type or "", size, head, digest.hexdigest())


async def _parse(request: Request, *, uploads: bool = False) -> tuple[Any, Response | None]:
    """The body as DRF's default parsers read it (JSON, form, multipart); (None, error).
    File parts are dropped, or with ``uploads`` read into :class:`Upload` records."""
    raw = await request.body()
    ctype = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not raw:
        return {}, None
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            return json.loads(raw, parse_constant=_no_constants), None
        except ValueError as exc:
            return None, JSONResponse({"detail": f"JSON parse error - {exc}"}, 400)
    if ctype in FORM_TYPES:
        try:
            async with request.form() as form:
                fields: dict[str, Any] = {}
                for key, value in form.items():
                    if isinstance(value, str):
                        fields[key] = value
                    elif uploads:
                        fields[key] = await _upload(value)
                return fields, None
        except MultiPartException as exc:
            return None, JSONResponse({"detail": f"Multipart form parse error - {exc}"}, 400)
    message = f'Unsupported media type "{ctype}" in request.'
    return None, JSONResponse({"detail": message}, 415)


# ---------------------------------------------------------------------- catalog


async def personas_list(fake: FakeCreatify, request: Request) -> Response:
    base = fake.base()
    return JSONResponse([persona_object(p, base) for p in _filtered(fake, request)])


async def personas_page(fake: FakeCreatify, request: Request) -> Response:
    """DRF's PageNumberPagination: a bad or too-high ``page`` is 404 ``Invalid page.``; a bad
    ``page_size`` falls back to 10, and a page holds at most 100 [I]."""
    chosen = _filtered(fake, request)
    size = min(_positive(request.query_params.get("page_size")) or 10, MAX_PAGE_SIZE)
    page = _positive(request.query_params.get("page", "1"))
    pages = max(1, math.ceil(len(chosen) / size))
    if page is None or page > pages:
        raise Refusal(404, "Invalid page.")
    url = request.url
    following = str(url.include_query_params(page=page + 1)) if page < pages else None
    previous = None
    if page == 2:  # DRF drops the parameter for the first page
        previous = str(url.remove_query_params("page"))
    elif page > 2:
        previous = str(url.include_query_params(page=page - 1))
    base = fake.base()
    results = [persona_object(p, base) for p in chosen[(page - 1) * size : page * size]]
    return JSONResponse(
        {"count": len(chosen), "next": following, "previous": previous, "results": results}
    )


def _filtered(fake: FakeCreatify, request: Request) -> list[Persona]:
    """Active personas matching the comma-separated ``gender`` and ``age_range`` filters;
    an unknown value is django-filter's 400."""
    chosen = [p for p in fake.personas.values() if p.is_active]
    for key, allowed in (("gender", GENDERS), ("age_range", AGE_RANGES)):
        raw = request.query_params.get(key)
        if not raw:
            continue
        wanted = {value.strip() for value in raw.split(",") if value.strip()}
        for value in sorted(wanted - set(allowed)):
            message = f"Select a valid choice. {value} is not one of the available choices."
            raise Invalid({key: [message]})
        chosen = [p for p in chosen if getattr(p, key) in wanted]
    return chosen


def _positive(raw: str | None) -> int | None:
    if raw is None or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if value >= 1 else None


async def persona(fake: FakeCreatify, request: Request) -> Response:
    found = fake.personas.get(request.path_params["id"])
    if found is None:
        raise Refusal(404, "Not found.")
    return JSONResponse(persona_object(found, fake.base()))


async def voices_list(fake: FakeCreatify, request: Request) -> Response:
    return JSONResponse(voice_objects(fake.voices, fake.base()))


async def remaining_credits(fake: FakeCreatify, request: Request) -> Response:
    return JSONResponse({"remaining_credits": float(fake.credits)})


# ---------------------------------------------------------------------- media host


async def media_file(fake: FakeCreatify, request: Request) -> Response:
    """``/_media/{kind}/{rest}``: previews, outputs, TTS audio. No auth (the real ones are
    public CDN links); an output exists only once its job is done."""
    kind, rest = request.path_params["kind"], request.path_params["rest"]
    stem, _, ext = rest.rpartition(".")
    path: Path | None = None
    if kind == "persona":
        persona_id, _, variant = stem.partition("/")
        ratio = media.VARIANTS.get(variant)
        if persona_id in fake.personas and ratio is not None and ext in ("jpg", "mp4"):
            path = await (media.still_file(ratio) if ext == "jpg" else media.video_file(ratio))
    elif kind == "accent" and ext == "mp3" and stem in fake.accent_ids():
        path = await media.speech_file(2.0)
    elif kind in ("output", "tts"):
        path = await _output_file(fake, kind, stem, ext)
    if path is None:
        return Response("NoSuchKey", 404, media_type="text/plain")
    return FileResponse(path)


async def _output_file(fake: FakeCreatify, kind: str, job_id: str, ext: str) -> Path | None:
    job = fake.jobs.get(job_id)
    if job is None or job.status != "done":
        return None
    if kind == "tts":
        if job.kind != "tts" or ext != "mp3":
            return None
        fake.output_downloads.append(job_id)
        return await media.speech_file(job.seconds)
    if job.kind == "tts":
        return None
    if ext == "jpg" and job.kind != "aurora":  # the lipsyncs' video_thumbnail
        return await media.still_file(job.ratio)
    if ext == "mp4":
        fake.output_downloads.append(job_id)
        return fake.output or await media.video_file(job.ratio)
    return None
