"""What users see of quotas before they generate: prices in seconds of their own quota at the
PROVIDER and CONFIRM steps (credits for admins only), and /quota before and after a video,
after a failed one (refunded), with a monthly limit, for an admin, and in Portuguese. The real
bot against the fake Telegram (and the fake providers for the PROVIDER step)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.app import Running
from bot.models import JobStatus
from bot.quotas import price
from tests.conftest import Harness, Media
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import button, edited, generate, latest_job_reaching, said, to_confirm, to_ratio
from tests.test_job_controls import fail_renders
from tests.test_providers_e2e import Remote, provider_output, remote  # noqa: F401 (fixtures)
from tests.test_quota_refusals import hold_renders

ANN = User(311, "Ann", language_code="en")
ZE = User(312, "Zé", language_code="pt-br")
#: A Thursday morning: midnight UTC is 13 h 30 min away, the next month starts on February 1.
MORNING = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


async def voice_price(bot: Running, user: User) -> int:
    """What the user's draft costs (the test voice is about 3 s; Opus may add a few ms)."""
    draft = await bot.services.drafts.get(user.id, user.id)
    assert draft is not None
    assert draft.voice is not None
    assert draft.voice.probe is not None
    return price(draft.voice.probe.duration)


async def quota_text(fake: FakeTelegram, user: User) -> str:
    """The answer to the user's /quota (the next message to them)."""
    mark = fake.mark()
    fake.send_command(user, "/quota")
    return str((await said(fake, user.id, " ", mark)).params["text"])


async def test_prices_are_seconds_of_the_users_quota(
    harness: Harness,
    remote: Remote,  # noqa: F811
    media: Media,
) -> None:
    fake = harness.fake
    async with harness.bot(**remote.env, USER_DAILY_QUOTA_SECONDS="120") as bot:
        ratios = await to_ratio(fake, media, ANN)
        seconds = await voice_price(bot, ANN)
        mark = fake.mark()
        fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
        choice = await edited(fake, ANN.id, "Pick who makes the video", mark)
        labels = [label for label, _ in fake.buttons(choice.result)]
        assert labels == [
            f"Magic Hour · {seconds} s",
            f"lipsync.studio · {seconds} s",
            f"Preview (lips do not move) · {seconds} s",
        ]
        mark = fake.mark()
        fake.press(ANN, choice.result, button(fake, choice.result, "Magic Hour"))
        summary = str((await edited(fake, ANN.id, "Ready to make", mark)).params["text"])
    assert (
        f"• Price: {seconds} s of video (your daily quota: 120 s of 120 s left today)" in summary
    )
    assert "credit" not in summary


async def test_an_admin_sees_no_limit_and_the_providers_credits(
    harness: Harness,
    remote: Remote,  # noqa: F811
    media: Media,
) -> None:
    fake = harness.fake
    env = {**remote.env, "USER_DAILY_QUOTA_SECONDS": "5", "ADMIN_IDS": str(ANN.id)}
    async with harness.bot(**env) as bot:
        confirm = await to_confirm(fake, media, ANN, provider="Magic Hour")
        seconds = await voice_price(bot, ANN)
    summary = str(confirm.params["text"])
    assert f"• Price: {seconds} s of video (no limit for you)" in summary
    assert "Admins only: about " in summary
    assert "provider credits." in summary


async def test_quota_before_and_after_a_video(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    async with harness.bot(USER_DAILY_QUOTA_SECONDS="10") as bot:
        bot.services.quotas.clock = lambda: MORNING
        release = hold_renders(monkeypatch, bot)
        before = await quota_text(fake, ANN)
        assert before.splitlines() == [
            "What you have left (seconds of video):",
            "• Your daily quota: 10 s of 10 s left today; resets at midnight UTC, in 13 h 30 min.",
            "A video costs as many seconds as its voice lasts.",
        ]
        await generate(fake, media, ANN)
        await latest_job_reaching(bot, ANN, JobStatus.RUNNING)
        reserved = await quota_text(fake, ANN)
        release.set()
        await latest_job_reaching(bot, ANN, JobStatus.DELIVERED)
        delivered = await quota_text(fake, ANN)
    # Reserved at [Generate] from the voice, charged at the delivered video's length: 3 s.
    assert "• Your daily quota: 7 s of 10 s left today;" in reserved
    assert "• Your daily quota: 7 s of 10 s left today;" in delivered


async def test_a_failed_video_gives_its_seconds_back(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    async with harness.bot(USER_DAILY_QUOTA_SECONDS="10") as bot:
        fail_renders(monkeypatch, bot)
        await generate(fake, media, ANN)
        await latest_job_reaching(bot, ANN, JobStatus.FAILED)
        after = await quota_text(fake, ANN)
    assert "• Your daily quota: 10 s of 10 s left today;" in after


async def test_quota_with_a_monthly_limit_and_for_an_admin(harness: Harness) -> None:
    fake = harness.fake
    env = {
        "USER_DAILY_QUOTA_SECONDS": "60",
        "USER_MONTHLY_QUOTA_SECONDS": "600",
        "ADMIN_IDS": "7",
    }
    async with harness.bot(**env) as bot:
        bot.services.quotas.clock = lambda: MORNING
        text = await quota_text(fake, ANN)
        assert (
            "• Your monthly quota: 600 s of 600 s left this month; "
            "resets on February 1 at midnight UTC." in text
        )
        portuguese = await quota_text(fake, ZE)
        admin = await quota_text(fake, User(7, "Boss"))
    assert portuguese.splitlines() == [
        "O que você ainda tem (segundos de vídeo):",
        "• A sua cota diária: restam 60 de 60 s hoje; "
        "renova à meia-noite (UTC), daqui a 13 h 30 min.",
        "• A sua cota mensal: restam 600 de 600 s este mês; "
        "renova em 1º de fevereiro, à meia-noite (UTC).",
        "Um vídeo custa tantos segundos quanto dura a voz.",
    ]
    assert admin == "You have no quota limit: make as many videos as you like."


async def test_quota_is_in_the_command_menu(harness: Harness) -> None:
    async with harness.bot():
        menu = [c["command"] for c in harness.fake.commands_for()]
        portuguese = harness.fake.commands_for(language_code="pt")
    assert "quota" in menu
    assert {"command": "quota", "description": "Quanto você ainda tem e quando renova"} in (
        portuguese
    )
