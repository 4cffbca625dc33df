"""Malformed and hostile requests to the bot's web server get a 4xx, never a 500.

Each request goes through the real Starlette app of a running bot (webhook mode, both remote
providers enabled) via ``httpx.ASGITransport``, so header values and paths reach the app
exactly as written here, without a client or server normalizing them first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import Running
from bot.web import SECRET_HEADER, create_web_app
from tests.conftest import Harness

SECRET = "s3cret-Token_1"
MH_SECRET = "whsec_test"
#: Far deeper than Python's recursion limit: json.loads raises RecursionError on it.
NESTED = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.fixture
async def web(harness: Harness) -> AsyncIterator[tuple[Running, httpx.AsyncClient]]:
    port = harness.settings().http_port
    env = {
        "TELEGRAM_MODE": "webhook",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HTTP_PORT": str(port),
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PROVIDERS": "magichour,lipsync_studio",
        "MAGICHOUR_API_KEY": "mh_key",
        "MAGICHOUR_WEBHOOK_SECRET": MH_SECRET,
        "MAGICHOUR_API_URL": "http://127.0.0.1:9",
        "LIPSYNC_STUDIO_API_KEY": "sk_test",
        "LIPSYNC_STUDIO_API_URL": "http://127.0.0.1:9",
    }
    async with harness.bot(**env) as bot:
        app = create_web_app(bot.application, bot.services)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
            yield bot, client


def _client_error(response: httpx.Response) -> bool:
    return 400 <= response.status_code < 500


def _mh_headers(body: bytes, *, stamp: str | None = None) -> dict[str, bytes]:
    stamp = stamp or str(int(time.time()))
    signature = hmac.new(
        MH_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return {
        "magic-hour-event-signature": signature.encode(),
        "magic-hour-event-timestamp": stamp.encode(),
    }


def _hook_path(bot: Running, job_id: int = 5) -> str:
    token = bot.services.signer.webhook_token("lipsync_studio", job_id)
    return f"/hooks/lipsync_studio/{job_id}/{token}"


@pytest.mark.parametrize("value", ["é", "ключ", "\N{SNOWMAN}" * 40])
async def test_non_ascii_secrets_and_signatures_are_refused(web, value: str) -> None:
    _, client = web
    raw = value.encode()  # the server decodes raw header bytes as latin-1
    answers = [
        await client.post("/telegram", content=b"{}", headers={SECRET_HEADER: raw}),
        await client.post(f"/hooks/lipsync_studio/5/{value}", content=b"{}"),
        await client.get(f"/media/5/voice.mp3?exp=9999999999&sig={value}"),
        await client.post(
            "/hooks/magichour",
            content=b"{}",
            headers={
                "magic-hour-event-signature": raw,
                "magic-hour-event-timestamp": str(int(time.time())).encode(),
            },
        ),
    ]
    assert [a.status_code for a in answers if not _client_error(a)] == []


@pytest.mark.parametrize("digits", ["²", "١٢٣", "𝟗"])
async def test_unicode_digits_are_not_numbers(web, digits: str) -> None:
    bot, client = web
    token = bot.services.signer.webhook_token("lipsync_studio", 5)
    answers = [
        await client.post(f"/hooks/lipsync_studio/{digits}/{token}", content=b"{}"),
        await client.get(f"/media/5/voice.mp3?exp={digits}&sig={'0' * 32}"),
        await client.get(f"/media/{digits}/voice.mp3?exp=9999999999&sig={'0' * 32}"),
        await client.post(
            "/hooks/magichour", content=b"{}", headers=_mh_headers(b"{}", stamp=digits)
        ),
        await client.post(
            _hook_path(bot), content=b"{}", headers={"content-length": digits.encode()}
        ),
    ]
    assert [a.status_code for a in answers if not _client_error(a)] == []


@pytest.mark.parametrize("body", [NESTED, NESTED_OBJECT])
async def test_deeply_nested_json_is_a_bad_request(web, body: bytes) -> None:
    bot, client = web
    answers = [
        await client.post("/telegram", content=body, headers={SECRET_HEADER: SECRET}),
        await client.post(_hook_path(bot), content=body),
        await client.post("/hooks/magichour", content=body, headers=_mh_headers(body)),
    ]
    assert [a.status_code for a in answers] == [400, 400, 400]


WRONG_SHAPES: list[object] = [
    [],
    "update",
    None,
    7,
    {"update_id": "1", "message": "hi"},
    {"update_id": 1, "message": {"message_id": "x", "date": "soon", "chat": 5}},
    {"payload": None},
    {"payload": []},
    {"payload": {"id": 5, "status": 3, "downloads": "abc"}},
    {"payload": {"id": "p1", "status": "complete", "downloads": ["x", 5]}},
    {"payload": {"id": "p1", "status": "error", "error": ["boom"]}},
    {"id": ["x"], "status": {"a": 1}, "output": {"url": 1}},
    {"requestId": "r1", "status": "completed", "output": 5},
]


@pytest.mark.parametrize("document", WRONG_SHAPES, ids=[repr(s)[:40] for s in WRONG_SHAPES])
async def test_json_of_the_wrong_shape_is_never_a_server_error(
    web, document: object, caplog: pytest.LogCaptureFixture
) -> None:
    bot, client = web
    body = json.dumps(document).encode()
    answers = [
        await client.post("/telegram", content=body, headers={SECRET_HEADER: SECRET}),
        await client.post(_hook_path(bot), content=body),
        await client.post("/hooks/magichour", content=body, headers=_mh_headers(body)),
    ]
    assert [a.status_code for a in answers if a.status_code >= 500] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
