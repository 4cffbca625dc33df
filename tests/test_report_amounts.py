"""Amounts of money and credits as admins read them: each provider's in its own unit (sync.so
bills in US dollars, the others in their own credits), totals that never add dollars to
credits (nor one provider's credits to another's), and numbers written as the admin's
language writes them (Brazilian Portuguese: ``0,15``, ``US$ 0,15``, ``1.234,5``)."""

from __future__ import annotations

import math

import pytest

from bot.app import Running
from bot.i18n import Translator
from bot.models import JobStatus
from tests.conftest import Harness
from tests.fakes.telegram import FakeTelegram, User
from tests.test_admin_commands import ADMIN, ANN, ask
from tests.test_admin_reports import NOW, job

T = Translator.load()
ADA_PT = User(ADMIN.id, "Ada", language_code="pt-br", username="ada_admin")


@pytest.mark.parametrize(
    ("locale", "value", "places", "trim", "shown"),
    [
        ("en", 0.15, 2, False, "0.15"),
        ("pt_BR", 0.15, 2, False, "0,15"),
        ("en", 1234.5, 2, False, "1,234.50"),
        ("pt_BR", 1234.5, 2, False, "1.234,50"),
        ("en", 1234.5, 2, True, "1,234.5"),
        ("pt_BR", 1234.5, 2, True, "1.234,5"),
        ("pt_BR", 91.0, 2, True, "91"),
        ("en", 1 / 3, 2, True, "0.33"),
        ("pt_BR", -2.5, 1, False, "-2,5"),
        ("en", -0.001, 2, True, "0"),  # no "-0": nothing was taken away
        ("pt_BR", -0.001, 2, False, "0,00"),
        ("pt_BR", 12_345_678.9, 0, False, "12.345.679"),
        ("xx", 1234.5, 1, False, "1,234.5"),  # an unknown locale writes as English does
    ],
)
def test_numbers_as_each_language_writes_them(
    locale: str, value: float, places: int, trim: bool, shown: str
) -> None:
    assert T.number(locale, value, places, trim=trim) == shown


def test_odd_numbers_are_shown_not_raised() -> None:
    assert T.number("pt_BR", math.inf, 2) == "∞"
    assert T.number("en", -math.inf, 2) == "-∞"
    assert T.number("en", math.nan, 2) == "?"
    assert len(T.number("en", 1e300, 2)) < 500  # long, but a number, never an error


@pytest.mark.parametrize(
    ("locale", "value", "unit", "shown"),
    [
        ("en", 0.152, "usd", "US$0.15"),
        ("pt_BR", 0.152, "usd", "US$ 0,15"),
        ("en", 12.5, "credits", "12.5 provider credits"),
        ("pt_BR", 12.5, "credits", "12,5 créditos do provedor"),
        ("en", 12_345_678, "credits", "12,345,678 provider credits"),  # not 1.23457e+07
    ],
)
def test_amounts_in_their_unit(locale: str, value: float, unit: str, shown: str) -> None:
    assert T.amount(locale, value, unit) == shown


async def seed(bot: Running) -> None:
    """Today: a Magic Hour video (91 credits), two sync.so videos (US$0.15 and US$0.25) and a
    preview (free); three days ago another Magic Hour video (45.5 credits)."""
    bot.services.quotas.clock = lambda: NOW
    done = JobStatus.DELIVERED
    await job(bot, ANN, "magichour", 10, ends=done, video_seconds=8.0, credits=91, took=100)
    await job(bot, ANN, "sync", 3, ends=done, video_seconds=3.0, credits=0.15, took=60)
    await job(bot, ANN, "sync", 5, ends=done, video_seconds=5.0, credits=0.25, took=60)
    await job(bot, ANN, "preview", 2, ends=done, video_seconds=2.0, took=30)
    await job(bot, ANN, "magichour", 6, ends=done, credits=45.5, took=400, day=NOW.replace(day=14))


async def test_usage_and_stats_in_each_providers_unit(
    harness: Harness, fake: FakeTelegram
) -> None:
    async with harness.bot(ADMIN_IDS=str(ADMIN.id)) as bot:
        await seed(bot)
        usage = await ask(fake, ADMIN, "usage")
        stats = await ask(fake, ADMIN, "stats")
    assert usage == "\n".join(
        [
            "Usage of the whole bot, last 7 days (UTC):",
            "2026-05-17",
            "  Magic Hour: 8 s, 1 job(s), 91 provider credits",
            "  Preview (lips do not move): 2 s, 1 job(s), 0 provider credits",
            "  sync.so: 8 s, 2 job(s), US$0.40",
            "2026-05-14",
            "  Magic Hour: 6 s, 1 job(s), 45.5 provider credits",
            "Total: 24 s, 5 job(s); Magic Hour: 136.5 provider credits; sync.so: US$0.40",
        ]
    )
    assert stats.splitlines()[-1] == (
        "Spent today: 18 s (Magic Hour: 91 provider credits; sync.so: US$0.40). "
        "This month: 24 s (Magic Hour: 136.5 provider credits; sync.so: US$0.40)."
    )


async def test_usage_and_stats_in_brazilian_portuguese(
    harness: Harness, fake: FakeTelegram
) -> None:
    async with harness.bot(ADMIN_IDS=str(ADMIN.id)) as bot:
        await seed(bot)
        usage = await ask(fake, ADA_PT, "usage")
        stats = await ask(fake, ADA_PT, "stats")
    lines = usage.splitlines()
    assert "  sync.so: 8 s, 2 vídeo(s), US$ 0,40" in lines
    assert "  Magic Hour: 6 s, 1 vídeo(s), 45,5 créditos do provedor" in lines
    assert lines[-1] == (
        "Total: 24 s, 5 vídeo(s); Magic Hour: 136,5 créditos do provedor; sync.so: US$ 0,40"
    )
    assert stats.splitlines()[-1] == (
        "Gasto hoje: 18 s (Magic Hour: 91 créditos do provedor; sync.so: US$ 0,40). "
        "Este mês: 24 s (Magic Hour: 136,5 créditos do provedor; sync.so: US$ 0,40)."
    )


async def test_nothing_spent_says_so(harness: Harness, fake: FakeTelegram) -> None:
    async with harness.bot(ADMIN_IDS=str(ADMIN.id)) as bot:
        bot.services.quotas.clock = lambda: NOW
        await job(bot, ANN, "preview", 2, ends=JobStatus.DELIVERED, video_seconds=2.0)
        usage = await ask(fake, ADMIN, "usage")
        stats = await ask(fake, ADA_PT, "stats")
    assert usage.splitlines()[-1] == "Total: 2 s, 1 job(s); no provider credits"
    assert stats.splitlines()[-1] == (
        "Gasto hoje: 2 s (nenhum crédito de provedor). Este mês: 2 s (nenhum crédito de provedor)."
    )
