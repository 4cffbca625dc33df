"""/usage and /stats through the fake Telegram, against jobs and ledger rows made by the real
JobStates (reserve, commit, refund), with the quotas' clock fixed so every number is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import admin_reports
from bot.app import Running
from bot.i18n import Translator
from bot.models import JobStatus, NewJob, Probe
from storage.usage import DayUsage
from tests.conftest import Harness
from tests.fakes.telegram import FakeTelegram, User
from tests.job_rows import photo_order
from tests.test_admin_commands import ADMIN, ANN, BOB, UNKNOWN, USAGE, ask, ask_in_group

#: "Now" for the quotas (ledger days, grants, /stats' month): a Sunday in the middle of May.
NOW = datetime(2026, 5, 17, 12, 0, tzinfo=UTC)
GROUP = -100123
T = Translator.load()
FACE = Probe(duration=None, width=64, height=64, has_video=True, is_image=True)


async def job(
    bot: Running,
    user: User,
    provider: str,
    voice_seconds: float,
    *,
    ends: JobStatus | None = None,
    video_seconds: float | None = None,
    credits: float | None = None,
    took: float = 0,
    day: datetime = NOW,
    chat_id: int | None = None,
) -> int:
    """A job made as [Generate] makes it (its price reserved), ended as the engine ends it,
    then dated: created ``took`` seconds before it finished at ``day``."""
    services = bot.services
    made = await services.states.create(
        NewJob(
            chat_id=chat_id or user.id,
            user_id=user.id,
            chat_type="supergroup" if chat_id else "private",
            locale="en",
            provider=provider,
            order=photo_order(
                "face.jpg",
                "voice.ogg",
                face_probe=FACE,
                voice_probe=Probe(duration=voice_seconds),
                ratio="9:16",
            ),
        ),
    )
    if ends is not None:
        moved = await services.states.move(
            made.id, [JobStatus.SUBMITTING], ends, video_seconds=video_seconds
        )
        assert moved
    await services.db.execute(
        "UPDATE jobs SET credits = ?, created_at = ?, finished_at = ? WHERE id = ?",
        (
            credits,
            (day - timedelta(seconds=took)).isoformat(),
            day.isoformat() if ends is not None else None,
            made.id,
        ),
    )
    if day != NOW:
        await services.db.execute(
            "UPDATE ledger SET day = ?, month = ? WHERE job_id = ?",
            (day.date().isoformat(), day.strftime("%Y-%m"), made.id),
        )
    return made.id


@pytest.fixture
async def seeded(harness: Harness) -> Any:
    """Ann, Bob and a group's jobs over the last ten days; see each line for its seconds."""
    fake = harness.fake
    async with harness.bot(ADMIN_IDS=str(ADMIN.id)) as bot:
        bot.services.quotas.clock = lambda: NOW
        await ask(fake, ANN, "help")  # so @Ann_User is known
        await ask(fake, BOB, "help", chat=fake.group(GROUP))  # and the group's title
        delivered, failed = JobStatus.DELIVERED, JobStatus.FAILED
        # Today: 10 s reserved, an 8 s video: 8 s charged.
        await job(
            bot, ANN, "magichour", 10, ends=delivered, video_seconds=8.0, credits=91, took=100
        )
        # Today: failed, refunded: 0 s.
        await job(bot, ANN, "preview", 5, ends=failed, took=20)
        # Today, in the group, still being made: 4 s held (on Bob and on the group).
        await job(bot, BOB, "preview", 4, chat_id=GROUP)
        # Today: 2 s.
        await job(bot, ANN, "preview", 2, ends=delivered, video_seconds=2.0, took=30)
        # Three days ago: 6 s, no video length known (the reserve stands), 45.5 credits.
        three_days = NOW - timedelta(days=3)
        await job(bot, ANN, "magichour", 6, ends=delivered, credits=45.5, took=400, day=three_days)
        # Nine days ago: out of /usage's 7 days, in /stats' month. 7 s reserved; the video
        # was 7.2 s, but never more than the price shown is charged: 7 s.
        nine_days = NOW - timedelta(days=9)
        await job(
            bot, BOB, "preview", 7, ends=delivered, video_seconds=7.2, took=1000, day=nine_days
        )
        # Last month: in nobody's report but its month's.
        await job(bot, BOB, "preview", 3, ends=failed, day=NOW - timedelta(days=40))
        yield bot


async def test_usage_of_the_whole_bot(fake: FakeTelegram, seeded: Running) -> None:
    await ask(fake, ADMIN, "grant", "@ann_user 30")
    assert await ask(fake, ADMIN, "usage") == "\n".join(
        [
            "Usage of the whole bot, last 7 days (UTC):",
            "2026-05-17",
            "  Magic Hour: 8 s, 1 job(s), 91 provider credits",
            "  Preview (lips do not move): 6 s, 3 job(s), 0 provider credits",
            "2026-05-14",
            "  Magic Hour: 6 s, 1 job(s), 45.5 provider credits",
            "Total: 20 s, 5 job(s); Magic Hour: 136.5 provider credits",
            "Granted by admins: 30 s",
        ]
    )


async def test_usage_of_a_user_by_username_and_by_reply(
    fake: FakeTelegram, seeded: Running
) -> None:
    expected = "\n".join(
        [
            f"Usage of Ann (id {ANN.id}), last 7 days (UTC):",
            "2026-05-17",
            "  Magic Hour: 8 s, 1 job(s), 91 provider credits",
            "  Preview (lips do not move): 2 s, 2 job(s), 0 provider credits",
            "2026-05-14",
            "  Magic Hour: 6 s, 1 job(s), 45.5 provider credits",
            "Total: 16 s, 4 job(s); Magic Hour: 136.5 provider credits",
        ]
    )
    assert await ask(fake, ADMIN, "usage", "@ANN_USER") == expected
    assert await ask(fake, ADMIN, "usage", str(ANN.id)) == expected
    group = fake.group(GROUP)
    said = fake.send_text(ANN, "hello", chat=group)["message"]
    # Asked in the group, the answer goes to the admin in private.
    assert await ask_in_group(fake, ADMIN, "usage", "", group, said) == expected


async def test_usage_of_a_group(fake: FakeTelegram, seeded: Running) -> None:
    assert await ask(fake, ADMIN, "usage", str(GROUP)) == "\n".join(
        [
            f"Usage of the group Lipsync fans (id {GROUP}), last 7 days (UTC):",
            "2026-05-17",
            "  Preview (lips do not move): 4 s, 1 job(s), 0 provider credits",
            "Total: 4 s, 1 job(s); no provider credits",
        ]
    )
    assert await ask(fake, ADMIN, "usage", "-42") == "\n".join(
        [
            "Usage of the group (no title) (id -42), last 7 days (UTC):",
            "No usage in the last 7 days.",
        ]
    )


async def test_usage_of_someone_without_any(fake: FakeTelegram, seeded: Running) -> None:
    assert await ask(fake, ADMIN, "usage", "4242") == "\n".join(
        [
            "Usage of id 4242 (has not written to me yet), last 7 days (UTC):",
            "No usage in the last 7 days.",
        ]
    )


@pytest.mark.parametrize("args", ["1e9", "٣", "-", "--5", "@ann_user extra", "-1a"])
async def test_usage_wrong_arguments(fake: FakeTelegram, seeded: Running, args: str) -> None:
    assert await ask(fake, ADMIN, "usage", args) == USAGE["usage"]


async def test_usage_of_an_unknown_username(fake: FakeTelegram, seeded: Running) -> None:
    answer = await ask(fake, ADMIN, "usage", "@ghost")
    assert answer == T.t("en", "botadmin.unknown_username", username="@ghost")


async def test_stats(fake: FakeTelegram, seeded: Running) -> None:
    assert await ask(fake, ADMIN, "stats") == "\n".join(
        [
            "Stats for 2026-05 (UTC):",
            "Magic Hour: delivered 2",
            "Preview (lips do not move): delivered 2, failed 1, starting 1",
            "Success rate: 80% (4 delivered of 5 that ended; 0 canceled by users, not counted)",
            # 30, 100, 400 and 1000 s: the median between the middle two, p90 the slowest.
            "Turnaround of 4 delivered video(s): median 4 min 10 s, p90 16 min 40 s",
            (
                "Spent today: 14 s (Magic Hour: 91 provider credits). "
                "This month: 27 s (Magic Hour: 136.5 provider credits)."
            ),
        ]
    )
    assert await ask(fake, ADMIN, "stats", "now") == USAGE["stats"]


async def test_stats_and_usage_of_an_empty_bot(harness: Harness, fake: FakeTelegram) -> None:
    async with harness.bot(ADMIN_IDS=str(ADMIN.id)) as bot:
        bot.services.quotas.clock = lambda: NOW
        assert await ask(fake, ADMIN, "stats") == "\n".join(
            [
                "Stats for 2026-05 (UTC):",
                "No jobs this month.",
                "Success rate: no job has ended yet",
                "Turnaround: no video delivered yet",
                "Spent today: 0 s (no provider credits). This month: 0 s (no provider credits).",
            ]
        )
        assert await ask(fake, ADMIN, "usage") == "\n".join(
            ["Usage of the whole bot, last 7 days (UTC):", "No usage in the last 7 days."]
        )
        assert await ask(fake, ANN, "usage") == UNKNOWN


# --- the text alone -----------------------------------------------------------------------


def test_a_report_longer_than_a_message_is_cut_and_says_so() -> None:
    rows = [
        DayUsage(f"2026-05-{day:02d}", f"provider_{n:03d}_{'x' * 20}", 10, 1, 2.5)
        for day in range(17, 10, -1)
        for n in range(60)
    ]
    text = admin_reports.usage_text(T, "en", "Usage:", rows, granted=0)
    assert len(text) <= 4096
    assert text.endswith(T.t("en", "botadmin.cut"))
    # A provider no longer in the catalog is named by its id, not a crash.
    assert "  provider_000_" in text


def test_percentiles_are_real_values() -> None:
    assert admin_reports.percentile([5.0], 0.9) == 5.0
    assert (
        admin_reports.percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9) == 9.0
    )
    assert admin_reports.percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_turnarounds_skip_broken_and_backwards_stamps() -> None:
    times = [
        ("2026-05-17T12:00:00+00:00", "2026-05-17T12:01:00+00:00"),
        ("garbage", "2026-05-17T12:01:00+00:00"),
        ("2026-05-17T12:05:00+00:00", "2026-05-17T12:01:00+00:00"),
    ]
    assert admin_reports.turnarounds(times) == [60.0]


@pytest.mark.parametrize(
    ("value", "shown"), [(0, "0"), (91, "91"), (45.5, "45.5"), (1 / 3, "0.33")]
)
def test_credits_have_no_trailing_zeros(value: float, shown: str) -> None:
    assert T.number("en", value, 2, trim=True) == shown


async def test_users_cancels_are_left_out_of_the_success_rate(
    harness: Harness, fake: FakeTelegram
) -> None:
    """A cancel says nothing about a provider: 1 delivered and 1 failed is 50%, however
    many videos their users stopped."""
    async with harness.bot(ADMIN_IDS=str(ADMIN.id)) as bot:
        bot.services.quotas.clock = lambda: NOW
        await job(bot, ANN, "preview", 2, ends=JobStatus.DELIVERED, video_seconds=2.0, took=30)
        await job(bot, ANN, "preview", 2, ends=JobStatus.FAILED)
        await job(bot, BOB, "preview", 2, ends=JobStatus.CANCELED)
        await job(bot, BOB, "preview", 2, ends=JobStatus.CANCELED)
        stats = await ask(fake, ADMIN, "stats")
    assert (
        "Success rate: 50% (1 delivered of 2 that ended; 2 canceled by users, not counted)"
        in stats
    )
