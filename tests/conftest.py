"""Shared fixtures: the fake Telegram server, the real bot pointed at it, real test media."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

from bot.app import Running, running
from bot.config import Settings, load_settings
from tests import media as make
from tests.fakes.creatify import FakeCreatify
from tests.fakes.creatify import running as serve_creatify
from tests.fakes.telegram import Call, FakeTelegram
from tests.fakes.telegram import running as serve_fake

# PTB 22 warns when it builds a RetryAfter unless told to use timedeltas (as the app does).
os.environ.setdefault("PTB_TIMEDELTA", "1")

TOKEN = "4242:TEST-token-abcdef"


class Media:
    """Real files made with ffmpeg once per session, each on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        return self.folder / name

    @cached_property
    def photo(self) -> Path:
        return make.make_photo(self._path("face.jpg"), 640, 480)

    @cached_property
    def video(self) -> Path:
        return make.make_video(self._path("face.mp4"), width=640, height=360, seconds=2.0)

    @cached_property
    def voice(self) -> Path:
        return make.make_voice_ogg(self._path("voice.ogg"), seconds=3.0)

    @cached_property
    def mp3(self) -> Path:
        return make.make_mp3(self._path("voice.mp3"), seconds=4.0)

    @cached_property
    def silent_voice(self) -> Path:
        return make.make_voice_ogg(self._path("silent.ogg"), seconds=3.0, silent=True)

    @cached_property
    def long_mp3(self) -> Path:
        return make.make_mp3(self._path("long.mp3"), seconds=7.0)

    @cached_property
    def corrupt_video(self) -> Path:
        return make.make_corrupt(self._path("corrupt.mp4"), self.video)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media(tmp_path_factory.mktemp("media"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Harness:
    """The fake Telegram server and a way to start the real bot against it."""

    fake: FakeTelegram
    base_url: str
    folder: Path

    def settings(self, **env: str) -> Settings:
        values = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": self.base_url,
            "DATABASE_URL": f"sqlite:///{self.folder / 'bot.db'}",
            "DATA_DIR": str(self.folder / "data"),
            "HTTP_PORT": str(free_port()),
            "LOG_LEVEL": "DEBUG",
            **env,
        }
        return load_settings(values, env_file=None)

    @asynccontextmanager
    async def bot(self, **env: str) -> AsyncIterator[Running]:
        async with running(self.settings(**env)) as bot:
            yield bot


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    fake = FakeTelegram(TOKEN)
    try:
        async with serve_fake(fake) as base_url:
            yield Harness(fake, base_url, tmp_path)
    finally:
        await fake.aclose()


@pytest.fixture
async def bot(harness: Harness) -> AsyncIterator[Running]:
    async with harness.bot() as running_bot:
        yield running_bot


@pytest.fixture
def fake(harness: Harness) -> FakeTelegram:
    return harness.fake


@pytest.fixture
async def creatify() -> AsyncIterator[FakeCreatify]:
    """The fake Creatify API (tests/fakes/creatify.py) on a free port, with quick jobs;
    ``creatify.base_url`` is its address, ``creatify.api_id``/``api_key`` its credentials."""
    fake_api = FakeCreatify()
    fake_api.pending_seconds, fake_api.queue_seconds, fake_api.render_seconds = 0.0, 0.02, 0.1
    async with serve_creatify(fake_api):
        yield fake_api


def to_chat(chat_id: int, contains: str | None = None) -> Callable[[Call], bool]:
    """A wait_for predicate: a successful call to ``chat_id`` whose text contains ``contains``."""

    def match(call: Call) -> bool:
        if call.status != 200 or str(call.params.get("chat_id")) != str(chat_id):
            return False
        text = str(call.params.get("text", call.params.get("caption", "")))
        return contains is None or contains in text

    return match
