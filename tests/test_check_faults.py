"""A background check never wedges a conversation: two downloads of one file do not share a
temporary file, and an unexpected error refuses the file and asks for the step again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from bot.app import Running
from bot.models import Step
from bot.telegram.files import download
from tests.conftest import Media
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import at_voice_step, said

ANN = User(111, "Ann", language_code="en")


async def test_two_downloads_of_one_file_at_once_both_succeed(
    fake: FakeTelegram, bot: Running, tmp_path: Path
) -> None:
    content = bytes(range(256)) * 2_000  # 512 kB, distinct bytes so a mix-up shows
    stored = fake.add_file(content, kind="photos", ext="jpg")
    fake.download_rate = 2_000_000  # about a quarter second each: the two overlap
    dest = tmp_path / "inputs" / "U1.jpg"
    async with httpx.AsyncClient() as http:
        first, second = await asyncio.gather(
            *(
                download(bot.application.bot, http, stored.file_id, dest, limit=10_000_000)
                for _ in range(2)
            )
        )
    assert first == second == dest
    assert dest.read_bytes() == content
    assert sorted(p.name for p in dest.parent.iterdir()) == ["U1.jpg"]  # no temporary left


async def test_unexpected_error_in_a_check_refuses_and_asks_again(
    fake: FakeTelegram, bot: Running, media: Media, monkeypatch, caplog
) -> None:
    async def broken(*args: object, **kwargs: object) -> object:
        raise FileNotFoundError("/secret/inputs/U1.jpg.part")

    monkeypatch.setattr(bot.services.media, "ingest_face", broken)
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    fake.send_photo(ANN, media.photo.read_bytes())
    reply = await said(fake, ANN.id, "Send a photo", mark + 2)
    assert "went wrong" in reply.params["text"]
    assert "secret" not in reply.params["text"]
    await bot.services.tasks.wait_idle()
    draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.MEDIA
    assert draft.media is None
    assert "FileNotFoundError" in caplog.text  # the traceback is logged, not shown


async def test_unexpected_error_in_a_voice_check_keeps_the_face(
    fake: FakeTelegram, bot: Running, media: Media, monkeypatch
) -> None:
    await at_voice_step(fake, media, ANN)

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(bot.services.media, "ingest_voice", broken)
    mark = fake.mark()
    fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
    reply = await said(fake, ANN.id, "Now the voice", mark)
    assert "went wrong" in reply.params["text"]
    await bot.services.tasks.wait_idle()
    draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.VOICE
    assert draft.media is not None
    assert draft.voice is None
