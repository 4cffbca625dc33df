"""The line for a full provider (PROVIDER_MAX_ACTIVE_JOBS), end to end: each waiting job's
status message shows its place and is updated as the line moves; cancel in line refunds; the
line survives a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.app import Running
from bot.models import JobStatus, Order
from bot.providers.base import ProgressCallback
from tests.conftest import Harness, Media, to_chat
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import button, generate, said

ANN = User(111, "Ann", language_code="en")
BOB = User(222, "Bob", language_code="en")
CAT = User(333, "Cat", language_code="en")
ONE_AT_A_TIME = {"PROVIDER_MAX_ACTIVE_JOBS": "1"}


class Gates(dict[int, asyncio.Event]):
    """One gate per job: its preview render waits until the job's gate is opened."""

    def __missing__(self, job_id: int) -> asyncio.Event:
        gate = self[job_id] = asyncio.Event()
        return gate

    def open(self, *job_ids: int) -> None:
        for job_id in job_ids:
            self[job_id].set()


def hold_renders(monkeypatch: pytest.MonkeyPatch, bot: Running) -> Gates:
    """Preview renders wait until their job's gate is opened."""
    provider = bot.services.providers["preview"]
    real = provider.render  # type: ignore[attr-defined]
    gates = Gates()

    async def render(order: Order, out: Path, on_progress: ProgressCallback) -> None:
        await gates[int(out.stem.removeprefix("job_"))].wait()  # named by job id
        await real(order, out, on_progress)

    monkeypatch.setattr(provider, "render", render)
    return gates


async def order(fake: FakeTelegram, media: Media, user: User, expect: str) -> dict:
    """``user`` orders a video; returns its status message (which says ``expect``)."""
    mark = fake.mark()
    await generate(fake, media, user)
    return (await said(fake, user.id, expect, mark)).result


async def three_in_line(fake: FakeTelegram, media: Media) -> tuple[dict, dict]:
    """Ann's video is made, Bob's waits at place 1 and Cat's at place 2; returns Bob's and
    Cat's status messages."""
    await order(fake, media, ANN, "Video #1")
    bob = await order(fake, media, BOB, "place 1")
    cat = await order(fake, media, CAT, "place 2")
    return bob, cat


def text_of(fake: FakeTelegram, message: dict) -> str:
    return str(fake.message(message["chat"]["id"], message["message_id"])["text"])


async def until(condition: object, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def seconds_left(bot: Running, user: User) -> int:
    allowances = await bot.services.quotas.allowances(user.id, user.id, "private")
    return allowances[0].left


async def test_place_in_line_is_shown_and_moves(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    async with harness.bot(**ONE_AT_A_TIME) as bot:
        gates = hold_renders(monkeypatch, bot)
        ann = await order(fake, media, ANN, "Video #1")
        bob = await order(fake, media, BOB, "waiting in line, place 1")
        cat = await order(fake, media, CAT, "place 2")
        assert [text for text, _ in fake.buttons(bob)] == ["Cancel"]
        await asyncio.sleep(2.2)  # Bob waits a while
        # Ann's video is made: Bob's job starts and Cat moves up.
        mark = fake.mark()
        gates.open(1)
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=60)
        await until(lambda: "place 1" in text_of(fake, cat))
        assert "place" not in text_of(fake, ann)
        # Bob's render time counts from when he left the line, not from his order.
        await until(lambda: "rendering" in text_of(fake, bob))
        assert text_of(fake, bob).endswith(("0:00", "0:01")), text_of(fake, bob)
        gates.open(2, 3)
        await fake.wait_for("sendVideo", to_chat(BOB.id), since=mark, timeout=60)
        await fake.wait_for("sendVideo", to_chat(CAT.id), since=mark, timeout=60)
        await bot.services.tasks.wait_idle()
        jobs = [(await bot.services.jobs.get(n)) for n in (1, 2, 3)]
        assert [job.status for job in jobs if job] == [JobStatus.DELIVERED] * 3
        assert text_of(fake, ann) == "Video #1: done."


async def test_cancel_in_line_refunds_and_moves_the_others_up(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    async with harness.bot(**ONE_AT_A_TIME) as bot:
        hold_renders(monkeypatch, bot)
        bob, cat = await three_in_line(fake, media)
        before = await seconds_left(bot, BOB)
        mark = fake.mark()
        fake.press(BOB, bob, button(fake, bob, "Cancel"))
        await until(lambda: "canceled" in text_of(fake, bob))
        await until(lambda: "place 1" in text_of(fake, cat))
        assert await seconds_left(bot, BOB) == before + 3  # the 3 s voice, back
        job = await bot.services.jobs.get(2)
        assert job is not None
        assert job.status is JobStatus.CANCELED
        assert not [c for c in fake.calls[mark:] if c.method == "sendVideo"]


async def test_the_line_survives_a_restart(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    async with harness.bot(**ONE_AT_A_TIME) as bot:
        hold_renders(monkeypatch, bot)
        bob, cat = await three_in_line(fake, media)
    # The restarted bot renders at once: Ann's job resumes, then Bob's and Cat's leave the
    # line in order (their uploads may overlap: a finished render frees its place).
    mark = fake.mark()
    async with harness.bot(**ONE_AT_A_TIME) as bot:
        for user in (ANN, BOB, CAT):
            await fake.wait_for("sendVideo", to_chat(user.id), since=mark, timeout=60)
        await bot.services.tasks.wait_idle()
        jobs = [await bot.services.jobs.get(n) for n in (1, 2, 3)]
        assert [job.status for job in jobs if job] == [JobStatus.DELIVERED] * 3
        started = [job.started_at for job in jobs if job and job.started_at]
        assert len(started) == 3
        assert started == sorted(started)
        assert "done" in text_of(fake, bob)
        assert "done" in text_of(fake, cat)
