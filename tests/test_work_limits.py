"""Heavy media work is bounded: at most `limit` encodes and downloads; probes skip the line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.media import ffmpeg, limits, render
from bot.media.outputs import download_output
from bot.media.probe import probe
from bot.models import AspectRatio, AudioVoice, FaceKind, FileFace, MediaKind, Order
from tests import media

LIMIT = 2


class Gate:
    """Counts work in progress and holds it until opened, so overlap is deterministic."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.opened = asyncio.Event()

    async def hold(self) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.opened.wait()
        finally:
            self.running -= 1

    async def until_running(self, count: int) -> None:
        async with asyncio.timeout(10):
            while self.running < count:
                await asyncio.sleep(0.01)
        # Give anything else that could start time to do so.
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {
        "jpg": media.make_photo(d / "photo.jpg"),
        "video": media.make_video(d / "video.mp4"),
        "voice": media.make_voice_ogg(d / "voice.ogg"),
    }


async def _order(kind: MediaKind, face: Path, voice: Path) -> Order:
    return Order(
        face=FileFace(kind=FaceKind(kind.value), path=str(face), probe=await probe(face)),
        voice=AudioVoice(path=str(voice), probe=await probe(voice)),
        ratio=AspectRatio.SQUARE,
    )


async def test_at_most_limit_encodes_run_and_probes_do_not_wait(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "ENCODES", limits.WorkLimit(LIMIT))
    gate = Gate()
    real_execute = ffmpeg.execute

    async def observed(*args, **kwargs) -> int:
        await gate.hold()
        return await real_execute(*args, **kwargs)

    # Encodes reach ffmpeg through bot.media.ffmpeg.execute; probes through their own import.
    monkeypatch.setattr(ffmpeg, "execute", observed)
    photo = await _order(MediaKind.PHOTO, files["jpg"], files["voice"])
    video = await _order(MediaKind.VIDEO, files["video"], files["voice"])
    encodes: list[Callable[[], Coroutine[Any, Any, None]]] = [
        lambda: render.render_preview(photo, tmp_path / "preview1.mp4"),
        lambda: render.render_preview(video, tmp_path / "preview2.mp4"),
        lambda: render.to_provider_video(video, tmp_path / "face.mp4"),
        lambda: render.to_mp3(files["voice"], tmp_path / "voice.mp3"),
        lambda: render.to_jpeg(files["jpg"], tmp_path / "face.jpg"),
        lambda: render.fit_to_size(
            files["video"], tmp_path / "fit.mp4", max_bytes=2_000_000, duration=2
        ),
    ]
    tasks = [asyncio.create_task(encode()) for encode in encodes]
    try:
        await gate.until_running(LIMIT)
        assert gate.running == LIMIT
        # Every slot is taken and four encodes are queued: a probe still goes straight through.
        async with asyncio.timeout(10):
            info = await probe(files["video"])
        assert info.has_video
        gate.opened.set()
        await asyncio.gather(*tasks)
    finally:
        gate.opened.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert gate.peak == LIMIT
    outputs = ["preview1.mp4", "preview2.mp4", "face.mp4", "voice.mp3", "face.jpg", "fit.mp4"]
    assert all((tmp_path / name).stat().st_size > 0 for name in outputs)


async def test_at_most_limit_downloads_run_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "DOWNLOADS", limits.WorkLimit(LIMIT))
    gate = Gate()

    async def provider_cdn(request: httpx.Request) -> httpx.Response:
        await gate.hold()
        return httpx.Response(200, content=b"video bytes " + request.url.path.encode())

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider_cdn)) as http:
        tasks = [
            asyncio.create_task(
                download_output(
                    http, f"http://cdn.test/{n}.mp4", tmp_path / f"{n}.mp4", allow_private=True
                )
            )
            for n in range(5)
        ]
        try:
            await gate.until_running(LIMIT)
            assert gate.running == LIMIT
            gate.opened.set()
            await asyncio.gather(*tasks)
        finally:
            gate.opened.set()
            await asyncio.gather(*tasks, return_exceptions=True)
    assert gate.peak == LIMIT
    assert (tmp_path / "4.mp4").read_bytes() == b"video bytes /4.mp4"


def test_one_limit_serves_one_event_loop_after_another() -> None:
    """A limit made at import time keeps working when a test (or a restart) opens a new loop."""
    limit = limits.WorkLimit(1)

    async def contend() -> int:
        inside = 0
        peak = 0

        async def work() -> None:
            nonlocal inside, peak
            async with limit.slot():
                inside += 1
                peak = max(peak, inside)
                await asyncio.sleep(0.01)
                inside -= 1

        await asyncio.gather(*(work() for _ in range(3)))
        return peak

    assert asyncio.run(contend()) == 1
    assert asyncio.run(contend()) == 1


def test_the_default_limit_is_the_number_of_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits.os, "cpu_count", lambda: 6)
    assert limits.WorkLimit().size == 6
    with pytest.raises(ValueError, match="at least one slot"):
        limits.WorkLimit(0)
