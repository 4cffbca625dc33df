"""/healthz asks storage for a ping; a dead database is a 503 and one log line, no traceback."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from bot.app import Running
from bot.web import create_web_app
from storage.db import Database


async def test_ping_answers_until_the_database_is_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = await Database.open(tmp_path / "ping.db")
    assert await db.ping() is True
    await db.close()
    assert await db.ping() is False
    assert [r for r in caplog.records if r.exc_info] == []


async def test_healthz_is_503_without_a_traceback_when_the_database_is_gone(
    bot: Running, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed = await Database.open(tmp_path / "gone.db")
    await closed.close()
    broken = dataclasses.replace(bot.services, db=closed)
    answers = []
    for services in (broken, bot.services):
        transport = httpx.ASGITransport(app=create_web_app(bot.application, services))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
            answers.append(await client.get("/healthz"))
    assert [(a.status_code, a.json()) for a in answers] == [
        (503, {"ok": False, "database": "unavailable"}),
        (200, {"ok": True}),
    ]
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert any("Database ping failed" in r.getMessage() for r in caplog.records)
