"""Making an avatar, one step at a time (issue 9), through the fake Telegram: each step takes
only what it asks for, says why not (naming the limit it hit) and asks again, and nothing
already given is lost; /cancel ends it (its videos deleted); a newer /new conversation gets the
user's messages; a restart while a video is checked, or while [Create] is sending, loses
nothing."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

import pytest

from bot.app import Running
from bot.avatars import setup_work
from bot.avatars.setup_state import SetupStep
from bot.models import Gender
from bot.models.custom_avatars import CustomAvatarState
from storage.db import now
from tests.avatar_flows import (
    ANN,
    Videos,
    bot,
    create,
    edited,
    env,
    new_avatar,
    said,
    send_video,
    to_summary,
    videos,
    words,
)
from tests.conftest import Harness
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import FakeTelegram
from tests.flows import button

__all__ = ["bot", "env", "videos"]  # fixtures


async def refused_then_asked(fake: FakeTelegram, key: str, step_key: str, since: int) -> str:
    """The refusal ``key`` (and the same step's prompt ``step_key`` with it); its text."""
    call = await said(fake, ANN, key, since)
    text = str(call.params["text"])
    assert words(step_key) in text, text
    return text


async def step_of(bot: Running) -> SetupStep | None:
    setup = await bot.services.avatar_setups.get(ANN.id)
    return None if setup is None else setup.step


def downloads(fake: FakeTelegram, since: int) -> int:
    return len([c for c in fake.calls[since:] if c.method == "getFile"])


async def test_the_training_step_takes_only_a_usable_video(
    bot: Running, harness: Harness, videos: Videos
) -> None:
    fake = harness.fake
    prompt = await new_avatar(fake)
    assert "15 seconds to 5 minutes" in prompt.params["text"]
    assert "20 MB" in prompt.params["text"]
    ask = "avatar.ask_training"
    # Refused at once, nothing downloaded: not a video, or too short or too big by its label.
    mark = fake.mark()
    fake.send_photo(ANN, videos.photo.read_bytes())
    await refused_then_asked(fake, "avatar.need_video_not_photo", ask, mark)
    mark = fake.mark()
    fake.send_voice(ANN, b"OggS-not-really", duration=20)
    await refused_then_asked(fake, "avatar.need_video_not_audio", ask, mark)
    mark = fake.mark()
    fake.send_text(ANN, "here it comes")
    await refused_then_asked(fake, "avatar.need_video", ask, mark)
    mark = fake.mark()
    send_video(fake, ANN, videos.short, 6)
    text = await refused_then_asked(fake, "avatar.video_too_short", ask, mark)
    assert "6 seconds long" in text
    assert "at least 15 seconds" in text
    mark = fake.mark()
    fake.send_video(ANN, b"\0" * 100, duration=20, width=320, height=240, file_size=30_000_000)
    await refused_then_asked(fake, "error.file_too_big", ask, mark)
    mark = fake.mark()
    fake.send_document(ANN, videos.webm.read_bytes(), "clip.webm", "video/webm")
    await refused_then_asked(fake, "avatar.video_format", ask, mark)
    assert downloads(fake, 0) == 0
    # Refused once downloaded and checked: no sound, a silent sound track, a length that
    # Telegram was told wrong, a WebM in disguise.
    for path, key in (
        (videos.mute, "avatar.video_silent"),
        (videos.hushed, "avatar.video_silent"),
        (videos.short, "avatar.video_too_short"),
        (videos.webm, "avatar.video_format"),
    ):
        mark = fake.mark()
        send_video(fake, ANN, path, 16)
        await refused_then_asked(fake, key, ask, mark)
        assert downloads(fake, mark) == 1
        assert await step_of(bot) is SetupStep.TRAINING
    # A good one, sent as a file: on to the consent video.
    mark = fake.mark()
    fake.send_document(ANN, videos.training.read_bytes(), "me.mp4", "video/mp4")
    await said(fake, ANN, "avatar.ask_consent", mark)
    setup = await bot.services.avatar_setups.get(ANN.id)
    assert setup is not None
    assert setup.training_seconds is not None
    assert round(setup.training_seconds) == 16
    assert setup.training_path is not None
    assert setup.training_path.endswith("training.mp4")


async def test_the_later_steps_refuse_what_they_did_not_ask_for_and_keep_the_rest(
    bot: Running, harness: Harness, videos: Videos
) -> None:
    fake = harness.fake
    await new_avatar(fake)
    mark = fake.mark()
    send_video(fake, ANN, videos.training, 16)
    await said(fake, ANN, "avatar.ask_consent", mark)
    # CONSENT: a photo, a silent video; then a good one.
    mark = fake.mark()
    fake.send_photo(ANN, videos.photo.read_bytes())
    await refused_then_asked(fake, "avatar.need_video_not_photo", "avatar.ask_consent", mark)
    mark = fake.mark()
    send_video(fake, ANN, videos.mute, 4)
    await refused_then_asked(fake, "avatar.video_silent", "avatar.ask_consent", mark)
    mark = fake.mark()
    send_video(fake, ANN, videos.consent, 4)
    await said(fake, ANN, "avatar.ask_name", mark)
    # NAME: empty, too long, control or direction characters, a video.
    for text, key in (
        ("   ", "avatar.name_empty"),
        ("\u200b", "avatar.name_empty"),
        ("x" * 41, "avatar.name_too_long"),
        ("Ann\nTwin", "avatar.name_control"),
        ("nnA\u202e", "avatar.name_control"),
    ):
        mark = fake.mark()
        fake.send_text(ANN, text)
        await refused_then_asked(fake, key, "avatar.ask_name", mark)
    mark = fake.mark()
    send_video(fake, ANN, videos.consent, 4)
    await refused_then_asked(fake, "avatar.need_name", "avatar.ask_name", mark)
    mark = fake.mark()
    fake.send_text(ANN, "  " + "é" * 40 + " ")  # 40 characters, trimmed
    genders = await said(fake, ANN, "avatar.ask_gender", mark)
    # GENDER: text instead of a button; a forged gender.
    mark = fake.mark()
    fake.send_text(ANN, "woman")
    await refused_then_asked(fake, "avatar.use_buttons", "avatar.ask_gender", mark)
    mark = fake.mark()
    token = (await bot.services.avatar_setups.get(ANN.id)).token  # type: ignore[union-attr]
    fake.press(ANN, genders.result, f"ca:g:{ANN.id}:{token}.x", forged=True)
    assert (await fake.wait_for("answerCallbackQuery", since=mark))[0].params.get("show_alert")
    mark = fake.mark()
    fake.press(ANN, genders.result, button(fake, genders.result, words("avatar.button_nb")))
    summary = await edited(fake, ANN, "avatar.summary", mark)
    text = summary.params["text"]
    assert "é" * 40 in text
    assert "Training video: 16 seconds" in text
    assert "Consent video: 4 seconds" in text
    assert "Gender: other" in text
    # CONFIRM: text instead of a button.
    mark = fake.mark()
    fake.send_text(ANN, "yes")
    await refused_then_asked(fake, "avatar.use_buttons", "avatar.summary", mark)


async def test_cancel_ends_it_and_deletes_the_videos(
    bot: Running, harness: Harness, creatify: FakeCreatify, videos: Videos
) -> None:
    fake = harness.fake
    await new_avatar(fake)
    mark = fake.mark()
    send_video(fake, ANN, videos.training, 16)
    await said(fake, ANN, "avatar.ask_consent", mark)
    folder = harness.folder / "data" / "avatar_setups" / str(ANN.id)
    assert list(folder.rglob("training.mp4"))
    mark = fake.mark()
    fake.send_command(ANN, "/cancel")
    await said(fake, ANN, "avatar.setup_canceled", mark)
    assert await step_of(bot) is None
    assert not folder.exists()
    # Then /cancel is the conversation's again, and a video starts a /new conversation.
    mark = fake.mark()
    fake.send_command(ANN, "/cancel")
    await said(fake, ANN, "cancel.nothing", mark)
    # [Cancel] on the summary too.
    summary = await to_summary(fake, videos)
    mark = fake.mark()
    fake.press(ANN, summary.result, button(fake, summary.result, words("avatar.button_cancel")))
    await edited(fake, ANN, "avatar.setup_canceled", mark)
    assert await step_of(bot) is None
    assert creatify.requests["POST /api/personas_v2/"] == 0


async def test_a_newer_new_conversation_gets_the_messages(
    bot: Running, harness: Harness, videos: Videos
) -> None:
    fake = harness.fake
    await new_avatar(fake)
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    await said(fake, ANN, "prompt.media", mark)
    mark = fake.mark()
    fake.send_photo(ANN, videos.photo.read_bytes(), width=640, height=480)
    await said(fake, ANN, "prompt.voice", mark)  # the photo was the /new face
    assert await step_of(bot) is SetupStep.TRAINING  # the setup waits
    # /avatar again shows where it was; from then on it gets the messages.
    mark = fake.mark()
    fake.send_command(ANN, "/avatar")
    await said(fake, ANN, "avatar.setup_in_progress", mark)
    mark = fake.mark()
    send_video(fake, ANN, videos.training, 16)
    await said(fake, ANN, "avatar.ask_consent", mark)


async def test_a_restart_while_a_video_is_checked_loses_nothing(
    harness: Harness, env: dict[str, str], videos: Videos
) -> None:
    fake = harness.fake
    async with harness.bot(**env) as first:
        await new_avatar(fake)
        fake.answer_delay["getFile"] = 60.0  # the download hangs
        mark = fake.mark()
        send_video(fake, ANN, videos.training, 16)
        async with asyncio.timeout(10):  # asked for, not answered
            while not [c for c in fake.calls[mark:] if c.method == "getFile"]:
                await asyncio.sleep(0.02)
        assert await step_of(first) is SetupStep.TRAINING_CHECK
    fake.answer_delay.clear()
    mark = fake.mark()
    async with harness.bot(**env):
        await said(fake, ANN, "avatar.ask_consent", mark)  # the check ran again
        mark = fake.mark()
        send_video(fake, ANN, videos.consent, 4)
        await said(fake, ANN, "avatar.ask_name", mark)
    # Stopped at NAME: all of it is still there after another restart.
    async with harness.bot(**env) as third:
        setup = await third.services.avatar_setups.get(ANN.id)
        assert setup is not None
        assert setup.step is SetupStep.NAME
        assert setup.training_path is not None
        assert setup.consent_path is not None
        mark = fake.mark()
        fake.send_text(ANN, "After restarts")
        await said(fake, ANN, "avatar.ask_gender", mark)


async def test_a_restart_while_sending_offers_create_again(
    harness: Harness, env: dict[str, str], creatify: FakeCreatify, videos: Videos
) -> None:
    fake = harness.fake
    async with harness.bot(**env) as first:
        summary = await to_summary(fake, videos)
        # The slot count, read again just before the upload, hangs: nothing is sent yet.
        creatify.fail_next("GET /api/personas_v2/count/", 503, delay=30)
        mark = fake.mark()
        fake.press(
            ANN, summary.result, button(fake, summary.result, words("avatar.button_create"))
        )
        await edited(fake, ANN, "avatar.sending", mark)
        assert await step_of(first) is SetupStep.SENDING
    mark = fake.mark()
    async with harness.bot(**env) as second:
        again = await said(fake, ANN, "avatar.setup_not_sent_before_restart", mark)
        assert words("avatar.summary") in again.params["text"]
        assert creatify.requests["POST /api/personas_v2/"] == 0
        mark = fake.mark()
        await create(fake, again)
        await said(fake, ANN, "avatar.ready", mark)
        [avatar] = await second.services.custom_avatars.mine(ANN.id)
        assert avatar.state is CustomAvatarState.READY


async def test_a_restart_after_the_upload_left_says_it_got_through(
    harness: Harness, env: dict[str, str], creatify: FakeCreatify, videos: Videos
) -> None:
    fake = harness.fake
    async with harness.bot(**env) as first:
        summary = await to_summary(fake, videos)
        creatify.fail_next("POST /api/personas_v2/", 500, delay=1.0, after_processing=True)
        fake.press(
            ANN, summary.result, button(fake, summary.result, words("avatar.button_create"))
        )
        async with asyncio.timeout(10):
            while creatify.requests["POST /api/personas_v2/"] == 0:
                await asyncio.sleep(0.02)
        assert await step_of(first) is SetupStep.SENDING
    mark = fake.mark()
    async with harness.bot(**env) as second:
        told = await said(fake, ANN, "avatar.setup_sent_before_restart", mark)
        assert "Ann's twin" in told.params["text"]
        assert await step_of(second) is None
        # The avatar's own news comes from its row: /avatar lists it as being built.
        [avatar] = await second.services.custom_avatars.mine(ANN.id)
        assert avatar.state is CustomAvatarState.PENDING


async def test_a_restart_before_the_upload_left_offers_create_again(
    harness: Harness, env: dict[str, str], creatify: FakeCreatify, videos: Videos
) -> None:
    fake = harness.fake
    async with harness.bot(**env) as first:
        summary = await to_summary(fake, videos)
        # As if the bot stopped right after [Create] wrote the avatar's row, before the
        # upload: the setup is sending, the row pending and never sent.
        repo = first.services.custom_avatars.watcher._repo
        creatify.fail_next("GET /api/personas_v2/count/", 503, delay=30)  # holds the create
        mark = fake.mark()
        fake.press(
            ANN, summary.result, button(fake, summary.result, words("avatar.button_create"))
        )
        await edited(fake, ANN, "avatar.sending", mark)
        await repo.create(
            owner_id=ANN.id,
            chat_id=ANN.id,
            provider="creatify",
            name="Ann's twin",
            gender=Gender.FEMALE,
            locale="en",
            webhook_token="t0ken",
        )
    mark = fake.mark()
    async with harness.bot(**env) as second:
        again = await said(fake, ANN, "avatar.setup_not_sent_before_restart", mark)
        assert words("avatar.summary") in again.params["text"]
        mark = fake.mark()
        await create(fake, again)
        await said(fake, ANN, "avatar.ready", mark)
        states = sorted(a.state for a in await second.services.custom_avatars.mine(ANN.id))
        assert states == [CustomAvatarState.FAILED, CustomAvatarState.READY]
        assert creatify.requests["POST /api/personas_v2/"] == 1


async def test_once_create_is_pressed_cancel_is_too_late_and_says_so(
    bot: Running, harness: Harness, creatify: FakeCreatify, videos: Videos
) -> None:
    fake = harness.fake
    summary = await to_summary(fake, videos)
    mark = fake.mark()
    fake.send_command(ANN, "/avatar")  # where it was: another copy of the summary
    copy = await said(fake, ANN, "avatar.setup_in_progress", mark)
    creatify.custom.create_delay = 3.0  # the upload is on its way a while
    mark = fake.mark()
    fake.press(ANN, summary.result, button(fake, summary.result, words("avatar.button_create")))
    async with asyncio.timeout(10):
        while creatify.requests["POST /api/personas_v2/"] == 0:
            await asyncio.sleep(0.01)
    late = fake.mark()
    fake.send_command(ANN, "/cancel")
    await said(fake, ANN, "avatar.cancel_too_late", late)
    # The other copy's [Cancel]: the same answer.
    fake.press(ANN, copy.result, button(fake, copy.result, words("avatar.button_cancel")))
    alert = await fake.wait_for(
        "answerCallbackQuery",
        lambda c: str(c.params.get("text", "")).startswith(words("avatar.cancel_too_late")),
        since=late,
    )
    assert alert[0].params.get("show_alert") in (True, "true")
    # What really happened is what the user was told: the avatar is made and announced.
    await said(fake, ANN, "avatar.building", mark)
    await said(fake, ANN, "avatar.ready", mark)
    assert not [
        c
        for c in fake.calls[mark:]
        if words("avatar.setup_canceled") in str(c.params.get("text", ""))
    ]
    assert await step_of(bot) is None


async def test_abandoned_setups_and_their_videos_are_swept_while_the_bot_runs(
    harness: Harness, env: dict[str, str], videos: Videos, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(setup_work, "SWEEP_EVERY", 0.1)
    fake = harness.fake
    async with harness.bot(**env) as running:
        await new_avatar(fake)
        mark = fake.mark()
        send_video(fake, ANN, videos.training, 16)
        await said(fake, ANN, "avatar.ask_consent", mark)
        folder = harness.folder / "data" / "avatar_setups"
        assert list(folder.rglob("training.mp4"))
        stray = folder / "4242" / "gone"  # a setup's folder left behind, long ago
        stray.mkdir(parents=True)
        old = time.time() - 7200
        os.utime(stray, (old, old))
        async with asyncio.timeout(5):
            while stray.exists():
                await asyncio.sleep(0.02)
        assert list(folder.rglob("training.mp4"))  # Ann's setup is not abandoned
        # Eight days without a word from Ann: her setup goes, her face with it.
        eight_days_ago = (now() - timedelta(days=8)).isoformat()
        await running.services.db.execute(
            "UPDATE avatar_setups SET data = json_set(data, '$.updated_at', ?)",
            (eight_days_ago,),
        )
        async with asyncio.timeout(5):
            while await step_of(running) is not None or folder.joinpath(str(ANN.id)).exists():
                await asyncio.sleep(0.02)
        assert not running.services.avatar_setups.active(ANN.id)
