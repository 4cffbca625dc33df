"""Jobs a user can steer, end to end: the summary is kept and progress gets its own message,
[Cancel] and /cancel stop a job for good, a second [Generate] says the video has started,
a failure offers [Try again] [New] and [Other provider] when another enabled provider can
make the order (a press after that one was turned off says so and offers what still works),
and progress without a percentage shows the time taken."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Running
from bot.errors import RenderError
from bot.models import Job, JobStatus, Order
from bot.providers.base import ProgressCallback
from storage.db import now
from tests import media as make
from tests.conftest import Harness, Media, to_chat
from tests.creatify_flows import creatify_env
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button, edited, generate, latest_job_reaching, said, to_confirm
from tests.test_providers_e2e import Remote, provider_output, remote  # noqa: F401 (fixtures)

ANN = User(111, "Ann", language_code="en")
BOB = User(222, "Bob", language_code="en")


async def generate_with_status(
    fake: FakeTelegram, media: Media, *, chat: dict | None = None
) -> Call:
    """Order a video (one provider: no PROVIDER step); returns the new status message."""
    mark = fake.mark()
    await generate(fake, media, ANN, chat=chat)
    return await said(fake, chat["id"] if chat else ANN.id, "queued", mark)


async def answer(fake: FakeTelegram, since: int) -> dict:
    return (await fake.wait_for("answerCallbackQuery", since=since))[0].params


async def job_of(bot: Running, index: int = 0) -> Job:
    return (await bot.services.jobs.recent(ANN.id))[index]


def ffmpeg_children() -> list[int]:
    """Processes started by this test process whose program is ffmpeg."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            comm = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue  # ended while we looked
        if int(fields[1]) == os.getpid() and "ffmpeg" in comm:
            found.append(int(stat.parent.name))
    return found


def fail_renders(monkeypatch: pytest.MonkeyPatch, bot: Running, times: int = 1) -> None:
    """The preview render fails the next ``times`` times, then works again."""
    provider = bot.services.providers["preview"]
    real = provider.render  # type: ignore[attr-defined]
    left = [times]

    async def render(order: Order, out: Path, on_progress: ProgressCallback) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise RenderError("ffmpeg exited with 1")
        await real(order, out, on_progress)

    monkeypatch.setattr(provider, "render", render)


# --- 1. the summary is kept -------------------------------------------------------------


async def test_generate_keeps_the_summary_and_reports_in_a_new_message(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    confirm = await to_confirm(fake, media, ANN)
    summary = confirm.result["text"]
    mark = fake.mark()
    fake.press(ANN, confirm.result, button(fake, confirm.result, "Generate"))
    status = await said(fake, ANN.id, "Video #1: queued", mark)
    assert status.params["reply_parameters"]["message_id"] == confirm.result["message_id"]
    assert [text for text, _ in fake.buttons(status.result)] == ["Cancel"]
    video = (await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=60))[0]
    kept = fake.message(ANN.id, confirm.result["message_id"])
    assert kept["text"] == summary
    assert fake.buttons(kept) == []
    assert video.params["reply_parameters"]["message_id"] == status.result["message_id"]
    await bot.services.tasks.wait_idle()
    done = fake.message(ANN.id, status.result["message_id"])
    assert done["text"] == "Video #1: done."
    assert fake.buttons(done) == []  # no [Cancel] once the video is being sent


# --- 4. a second tap on [Generate] ------------------------------------------------------


async def test_a_second_tap_on_generate_says_the_video_has_started(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    confirm = await to_confirm(fake, media, ANN)
    data = button(fake, confirm.result, "Generate")
    mark = fake.mark()
    fake.press(ANN, confirm.result, data)
    fake.press(ANN, confirm.result, data)
    second = (await fake.wait_for("answerCallbackQuery", count=2, since=mark))[1].params
    assert second["text"] == "Already started: video #1"
    assert second["show_alert"] is True
    await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=60)
    assert len(await bot.services.jobs.recent(ANN.id)) == 1


# --- 3. cancel ----------------------------------------------------------------------------


async def test_cancel_button_kills_the_render_and_nothing_is_delivered(
    harness: Harness, media: Media, tmp_path: Path
) -> None:
    fake = harness.fake
    long_voice = make.make_mp3(tmp_path / "long.mp3", seconds=50)
    async with harness.bot() as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        fake.send_photo(ANN, media.photo.read_bytes(), width=640, height=480)
        await said(fake, ANN.id, "Now the voice", mark)
        mark = fake.mark()
        fake.send_audio(ANN, long_voice.read_bytes(), duration=50)
        ratios = await said(fake, ANN.id, "Pick the shape", mark)
        mark = fake.mark()
        fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
        confirm = await edited(fake, ANN.id, "Ready", mark)
        mark = fake.mark()
        fake.press(ANN, confirm.result, button(fake, confirm.result, "Generate"))
        status = await said(fake, ANN.id, "queued", mark)
        async with asyncio.timeout(20):
            while not (await job_of(bot)).progress or not ffmpeg_children():
                await asyncio.sleep(0.02)
        current = fake.message(ANN.id, status.result["message_id"])
        mark = fake.mark()
        fake.press(BOB, current, button(fake, current, "Cancel"))
        assert "someone else" in (await answer(fake, mark))["text"]
        mark = fake.mark()
        fake.press(ANN, current, button(fake, current, "Cancel"))
        assert (await answer(fake, mark))["text"] == "Video #1 canceled."
        await edited(fake, ANN.id, "Video #1: canceled.", mark)
        async with asyncio.timeout(5):
            while ffmpeg_children():
                await asyncio.sleep(0.02)
        await bot.services.tasks.wait_idle()
        assert (await job_of(bot)).status is JobStatus.CANCELED
        assert fake.buttons(fake.message(ANN.id, status.result["message_id"])) == []
        mark = fake.mark()
        # A client that still shows the button (the edit had not reached it).
        fake.press(ANN, current, button(fake, current, "Cancel"), forged=True)
        assert "Too late" in (await answer(fake, mark))["text"]
    assert not fake.sent(method="sendVideo")


async def test_cancel_command_cancels_the_running_job(
    fake: FakeTelegram, bot: Running, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendering, stopped = asyncio.Event(), asyncio.Event()

    async def forever(order: Order, out: Path, on_progress: ProgressCallback) -> None:
        rendering.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    monkeypatch.setattr(bot.services.providers["preview"], "render", forever)
    await generate_with_status(fake, media)
    await asyncio.wait_for(rendering.wait(), 10)
    mark = fake.mark()
    fake.send_command(ANN, "/cancel")
    reply = await said(fake, ANN.id, "Canceled video #1", mark)
    assert "/new" in reply.params["text"]
    await asyncio.wait_for(stopped.wait(), 5)
    assert (await job_of(bot)).status is JobStatus.CANCELED


# --- 2. failure is not a dead end -------------------------------------------------------


async def test_a_failure_offers_try_again_which_makes_the_video(
    fake: FakeTelegram, bot: Running, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_renders(monkeypatch, bot)
    group = fake.group()
    status = await generate_with_status(fake, media, chat=group)
    # Groups are paced at 20 messages a minute: give the failure message time.
    found = await fake.wait_for("sendMessage", to_chat(group["id"], "did not work"), timeout=30)
    failure = found[0]
    assert "the video could not be rendered" in failure.params["text"]
    assert failure.params["reply_parameters"]["message_id"] == status.result["message_id"]
    # Only the preview is on: no other provider to offer.
    assert [text for text, _ in fake.buttons(failure.result)] == ["Try again", "New video"]
    assert "You can try again or start over." in failure.params["text"]
    line = fake.message(group["id"], status.result["message_id"])
    assert line["text"] == "Video #1 failed: the video could not be rendered."
    assert fake.buttons(line) == []
    mark = fake.mark()
    fake.press(BOB, failure.result, button(fake, failure.result, "Try again"))
    assert "someone else" in (await answer(fake, mark))["text"]
    retry = button(fake, failure.result, "Try again")
    mark = fake.mark()
    fake.press(ANN, failure.result, retry)
    fake.press(ANN, failure.result, retry)  # a double tap
    found = await fake.wait_for("sendMessage", to_chat(group["id"], "#2: queued"), timeout=30)
    second = found[0]
    assert second.params["reply_parameters"]["message_id"] == failure.result["message_id"]
    await fake.wait_for("sendVideo", to_chat(group["id"]), since=mark, timeout=60)
    answers = await fake.wait_for("answerCallbackQuery", count=2, since=mark)
    assert answers[1].params["text"] == "Already started: video #2"
    await bot.services.tasks.wait_idle()
    first, again = await bot.services.jobs.recent(ANN.id)
    assert (first.status, again.status) == (JobStatus.DELIVERED, JobStatus.FAILED)
    assert (first.order, first.provider) == (again.order, again.provider)


async def test_other_provider_turned_off_since_says_so_and_new_starts_over(
    harness: Harness,
    media: Media,
    monkeypatch: pytest.MonkeyPatch,
    creatify: FakeCreatify,
    remote: Remote,  # noqa: F811 (the imported fixture)
) -> None:
    """[Other provider] is offered while Magic Hour could make the video; after a restart
    without it, a press says no other provider can, and the failure message offers what
    still works; with the preview off too, only a fresh start."""
    fake = harness.fake
    async with harness.bot(**{**remote.env, "PROVIDERS": "preview,magichour"}) as bot:
        fail_renders(monkeypatch, bot)
        mark = fake.mark()
        await generate(fake, media, ANN, provider="Preview")
        failure = await said(fake, ANN.id, "did not work out", mark)
    other = button(fake, failure.result, "Other provider")
    assert [text for text, _ in fake.buttons(failure.result)] == [
        "Try again",
        "Other provider",
        "New video",
    ]
    async with harness.bot(**{**remote.env, "PROVIDERS": "preview"}):
        mark = fake.mark()
        fake.press(ANN, failure.result, other)
        refused = await answer(fake, mark)
        assert refused["text"] == (
            "No other provider can make this video now. You can try again or start a new one."
        )
        assert refused["show_alert"] is True
        now = (await edited(fake, ANN.id, "did not work out", mark)).params
        assert now["text"].endswith("You can try again or start over.")
        assert [text for text, _ in fake.buttons(now)] == ["Try again", "New video"]
    # Only Creatify, without a public URL (avatars only): nothing makes a photo now.
    async with harness.bot(**creatify_env(creatify, public=False), PROVIDERS="creatify"):
        mark = fake.mark()
        fake.press(ANN, failure.result, other, forged=True)  # a client showing it still
        refused = await answer(fake, mark)
        assert refused["text"] == (
            "Preview (lips do not move) is not available any more, and no other provider "
            "can make this video. Tap New video to start a new one."
        )
        now = (await edited(fake, ANN.id, "did not work out", mark)).params
        assert now["text"].endswith("You can start over.")
        assert [text for text, _ in fake.buttons(now)] == ["New video"]
        mark = fake.mark()
        fake.press(ANN, failure.result, button(fake, failure.result, "New video"))
        await said(fake, ANN.id, "Pick a ready-made avatar", mark)


async def test_other_provider_offers_only_the_others(
    harness: Harness,
    media: Media,
    monkeypatch: pytest.MonkeyPatch,
    remote: Remote,  # noqa: F811 (the imported fixture)
) -> None:
    fake = harness.fake
    env = {**remote.env, "PROVIDERS": "preview,magichour,lipsync_studio"}
    async with harness.bot(**env) as bot:
        fail_renders(monkeypatch, bot)
        mark = fake.mark()
        await generate(fake, media, ANN, provider="Preview")
        failure = await said(fake, ANN.id, "did not work out", mark)
        mark = fake.mark()
        fake.press(ANN, failure.result, button(fake, failure.result, "Other provider"))
        offer = await said(fake, ANN.id, "Pick who makes the video", mark)
        labels = [text for text, _ in fake.buttons(offer.result)]
        assert [label.split(" ·")[0] for label in labels] == ["Magic Hour", "lipsync.studio"]
        mark = fake.mark()
        fake.press(ANN, offer.result, button(fake, offer.result, "lipsync.studio"))
        confirm = await edited(fake, ANN.id, "Ready", mark)
        mark = fake.mark()
        fake.press(ANN, confirm.result, button(fake, confirm.result, "Generate"))
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30)
        assert (await job_of(bot)).provider == "lipsync_studio"


async def rendering_at_magic_hour(fake: FakeTelegram, bot: Running, media: Media) -> Job:
    """Ann's video ordered from Magic Hour, once the provider is rendering it."""
    await generate(fake, media, ANN, provider="Magic Hour")
    return await latest_job_reaching(bot, ANN, JobStatus.RUNNING, timeout=20)


# --- 5. elapsed time where there is no percentage ---------------------------------------


async def test_progress_without_a_percentage_shows_the_time_taken(
    harness: Harness,
    media: Media,
    remote: Remote,  # noqa: F811 (the imported fixture)
) -> None:
    fake = harness.fake
    remote.mh.auto_complete = False
    async with harness.bot(**remote.env) as bot:
        job = await rendering_at_magic_hour(fake, bot, media)
        earlier = (now() - timedelta(seconds=42)).isoformat()
        await bot.services.db.execute(
            "UPDATE jobs SET created_at = ?, started_at = ? WHERE id = ?",
            (earlier, earlier, job.id),
        )
        # The poller's next look at the job moves the time on.
        shown = await edited(fake, ANN.id, "rendering… 0:4", fake.mark())
        assert re.fullmatch(r"Video #1: rendering… 0:4\d", shown.params["text"])
        assert [text for text, _ in fake.buttons(shown.result)] == ["Cancel"]


async def test_a_result_arriving_after_cancel_is_never_delivered(
    harness: Harness,
    media: Media,
    remote: Remote,  # noqa: F811 (the imported fixture)
) -> None:
    fake = harness.fake
    remote.mh.auto_complete = False
    async with harness.bot(**remote.env) as bot:
        job = await rendering_at_magic_hour(fake, bot, media)
        assert job.provider_job_id is not None
        mark = fake.mark()
        fake.send_command(ANN, "/cancel")
        await said(fake, ANN.id, "Canceled video #1", mark)
        delivered = len(remote.mh.webhook_deliveries)
        remote.mh.complete(job.provider_job_id)  # the provider finishes anyway
        async with asyncio.timeout(10):
            while len(remote.mh.webhook_deliveries) == delivered:
                await asyncio.sleep(0.05)
        await bot.services.poller.poll_once(now() + timedelta(minutes=5))
        await bot.services.tasks.wait_idle()
        assert (await job_of(bot)).status is JobStatus.CANCELED
    assert not fake.sent(method="sendVideo")
