"""[Generate] refused by a quota, end to end: the user reads what the video needs, what is
left of which limit and when it resets; the order survives with its [Generate], which works
once the clock crosses midnight; [Shorter voice] goes back for a new voice keeping the face
and shape; too many videos at once; [Try again] after a failure; in Portuguese."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Running
from bot.models import JobStatus, Order, Step
from bot.providers.base import ProgressCallback
from tests import media as make
from tests.conftest import Harness, Media, to_chat
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button, latest_job_reaching, said, to_confirm
from tests.test_job_controls import fail_renders

ANN = User(411, "Ann", language_code="en")
ZE = User(412, "Zé", language_code="pt-br")
#: Midnight UTC is 13 h 30 min away.
MORNING = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
#: What the test voice costs (3 s of Opus and a few ms of padding, which is forgiven).
PRICE = 3


async def press_generate(fake: FakeTelegram, user: User, summary: Call) -> Call:
    """[Generate] on the summary (as it is now); returns the bot's next message to the user."""
    current = fake.messages[(user.id, summary.result["message_id"])]
    mark = fake.mark()
    fake.press(user, current, button(fake, current, _label(user, "Generate")))
    return await said(fake, user.id, " ", mark)


async def failed_video(
    fake: FakeTelegram,
    bot: Running,
    media: Media,
    monkeypatch: pytest.MonkeyPatch,
    user: User = ANN,
) -> Call:
    """``user``'s video fails (the render does), on a morning; returns the failure message
    with [Try again] [Other provider] [New]."""
    bot.services.quotas.clock = lambda: MORNING
    fail_renders(monkeypatch, bot)
    mark = fake.mark()
    await press_generate(fake, user, await to_confirm(fake, media, user))
    return await said(fake, user.id, "did not work out", mark)


def _label(user: User, english: str) -> str:
    portuguese = {"Generate": "Gerar", "Shorter voice": "Voz mais curta"}
    return portuguese[english] if user.language_code == "pt-br" else english


async def test_out_of_quota_says_why_keeps_the_order_and_works_after_midnight(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot(USER_DAILY_QUOTA_SECONDS="5") as bot:
        bot.services.quotas.clock = lambda: MORNING
        # A negative grant stands for 3 s already used today: 2 s are left.
        await bot.services.quotas.grant(ANN.id, -3, by=0)
        summary = await to_confirm(fake, media, ANN)
        assert "(your daily quota: 2 s of 5 s left today)" in summary.params["text"]
        assert "⚠️ That is more than the 2 s left: tap Shorter voice" in summary.params["text"]
        assert "Shorter voice" in [label for label, _ in fake.buttons(summary.result)]

        refusal = await press_generate(fake, ANN, summary)
        assert str(refusal.params["text"]).split("\n\n") == [
            f"Not enough seconds left for this video: it needs {PRICE} s, and your daily "
            "quota has 2 s left. It resets at midnight UTC, in 13 h 30 min.",
            "Send a voice of at most 2 s (tap Shorter voice), or tap Generate again after "
            "the reset.",
        ]
        assert refusal.params["reply_parameters"]["message_id"] == summary.result["message_id"]
        assert await bot.services.jobs.recent(ANN.id) == []
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.step is Step.CONFIRM

        bot.services.quotas.clock = lambda: MORNING + timedelta(hours=14)
        await press_generate(fake, ANN, summary)
        await latest_job_reaching(bot, ANN, JobStatus.DELIVERED)


async def test_shorter_voice_keeps_the_face_and_shape(
    harness: Harness, media: Media, tmp_path: Path
) -> None:
    fake = harness.fake
    short = make.make_voice_ogg(tmp_path / "short.ogg", seconds=1.0)
    # The 3 s voice is longer than the whole quota: waiting would not help.
    async with harness.bot(USER_DAILY_QUOTA_SECONDS="2") as bot:
        summary = await to_confirm(fake, media, ANN)
        mark = fake.mark()
        fake.press(ANN, summary.result, button(fake, summary.result, "Shorter voice"))
        await said(fake, ANN.id, "Now the voice", mark)
        assert fake.buttons(fake.messages[(ANN.id, summary.result["message_id"])]) == []
        mark = fake.mark()
        fake.send_voice(ANN, short.read_bytes(), duration=1)
        # Straight to the summary: the face and 9:16 were kept.
        again = await said(fake, ANN.id, "Ready to make your video", mark)
        assert "• Shape: 9:16" in again.params["text"]
        assert "Shorter voice" not in [label for label, _ in fake.buttons(again.result)]
        await press_generate(fake, ANN, again)
        job = await latest_job_reaching(bot, ANN, JobStatus.DELIVERED)
    assert job.order.voice.probe.duration is not None
    assert job.order.voice.probe.duration < 2


async def test_nothing_left_offers_no_shorter_voice_in_portuguese(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot(USER_DAILY_QUOTA_SECONDS="5") as bot:
        bot.services.quotas.clock = lambda: MORNING
        # A negative grant stands for 5 s already used: nothing is left.
        await bot.services.quotas.grant(ZE.id, -5, by=0)
        summary = await to_confirm_pt(fake, media, ZE)
        assert "⚠️ Não resta nada por enquanto" in summary.params["text"]
        refusal = await press_generate(fake, ZE, summary)
    assert str(refusal.params["text"]).split("\n\n") == [
        f"Não há segundos suficientes para este vídeo: ele precisa de {PRICE} s, e a sua cota "
        "diária só tem 0 s. Renova à meia-noite (UTC), daqui a 13 h 30 min.",
        "Toque em Gerar de novo depois da renovação.",
    ]
    assert "reply_markup" not in refusal.params


async def to_confirm_pt(fake: FakeTelegram, media: Media, user: User) -> Call:
    """tests.flows.to_confirm, read in Portuguese."""
    mark = fake.mark()
    fake.send_command(user, "/new")
    await said(fake, user.id, "Mande uma foto", mark)
    mark = fake.mark()
    fake.send_photo(user, media.photo.read_bytes())
    await said(fake, user.id, "Agora a voz", mark)
    mark = fake.mark()
    fake.send_voice(user, media.voice.read_bytes(), duration=3)
    ratios = await said(fake, user.id, "Escolha o formato", mark)
    mark = fake.mark()
    fake.press(user, ratios.result, button(fake, ratios.result, "9:16"))
    calls = await fake.wait_for(
        "editMessageText", lambda c: "Tudo pronto" in str(c.params), since=mark
    )
    return calls[0]


async def test_too_many_videos_at_once(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    async with harness.bot(USER_MAX_ACTIVE_JOBS="1") as bot:
        release = hold_renders(monkeypatch, bot)
        first = await to_confirm(fake, media, ANN)
        await press_generate(fake, ANN, first)
        await latest_job_reaching(bot, ANN, JobStatus.RUNNING)
        second = await to_confirm(fake, media, ANN)
        refusal = await press_generate(fake, ANN, second)
        assert refusal.params["text"] == (
            "You have reached the limit of videos in progress at once (1). Tap Generate again "
            "when one is done, or stop one with the Cancel button on its progress message."
        )
        release.set()
        await latest_job_reaching(bot, ANN, JobStatus.DELIVERED)
        await press_generate(fake, ANN, second)
        jobs = await bot.services.jobs.recent(ANN.id)
        assert len(jobs) == 2


def hold_renders(monkeypatch: pytest.MonkeyPatch, bot: Running) -> asyncio.Event:
    """Preview renders wait until the returned event is set."""
    provider = bot.services.providers["preview"]
    real = provider.render  # type: ignore[attr-defined]
    release = asyncio.Event()

    async def render(order: Order, out: Path, on_progress: ProgressCallback) -> None:
        await release.wait()
        await real(order, out, on_progress)

    monkeypatch.setattr(provider, "render", render)
    return release


async def test_try_again_out_of_quota_offers_the_order_at_its_summary(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    async with harness.bot(USER_DAILY_QUOTA_SECONDS="5") as bot:
        failure = await failed_video(fake, bot, media, monkeypatch)
        await bot.services.quotas.grant(ANN.id, -3, by=0)  # 3 s used elsewhere: 2 s left
        mark = fake.mark()
        fake.press(ANN, failure.result, button(fake, failure.result, "Try again"))
        offer = await said(fake, ANN.id, "Not enough seconds left", mark)
        await fake.wait_for("editMessageReplyMarkup", to_chat(ANN.id), since=mark)
    # One way to make it from now on: the summary's [Generate], not also [Try again].
    assert fake.buttons(fake.messages[(ANN.id, failure.result["message_id"])]) == []
    text = str(offer.params["text"])
    assert f"it needs {PRICE} s, and your daily quota has 2 s left" in text
    assert "Ready to make your video" in text
    labels = [label for label, _ in fake.buttons(offer.result)]
    assert labels == ["Generate", "Cancel", "Shorter voice"]
