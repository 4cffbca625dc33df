"""sync.so resends, end to end (the real bot, the fake Telegram, the fake sync.so): a create
whose answer was lost is sent again under the key of its first send whatever the clock or
the settings say since; a resend that fails never ends the job (the first send may have made
it), which waits until its deadline and is then given up with the name sync.so's dashboard
shows; a resend runs on its own, holding no poll round up, and asks no price."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.media import hosting
from bot.models import JobStatus
from bot.providers.sync import SyncProvider
from tests.conftest import Harness, Media, free_port, to_chat
from tests.flows import button, edited, said, to_ratio
from tests.remote_orders import job_when
from tests.test_providers_e2e import ADMIN, ANN, provider_output  # noqa: F401 - fixture
from tests.test_sync_e2e import Sync, delivered, order, sync, videos_for_ann  # noqa: F401

UNCONFIRMED = "sync.so did not confirm this video"


async def test_a_first_send_hours_late_keeps_its_key_at_every_resend(
    harness: Harness,
    sync: Sync,  # noqa: F811 - the fixture
    media: Media,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The job goes to sync.so five and a half hours after it was started (the bot was
    down), and every try of its create loses its answer, twice over: the links are dated
    from the first send, not from 'now' (which moves between resends), so every resend
    carries the first one's key and body, and sync.so makes (and charges) one video."""
    later = time.time
    monkeypatch.setattr(hosting, "time", SimpleNamespace(time=lambda: later() + 5.5 * 3600))
    sync.api.fail_next("POST /v2/generate", 502, times=8, after_processing=True)
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        made = await order(bot, fake, media)
        job = await delivered(bot, fake, made.id)
    creates = sync.api.creates()
    assert [call.status for call in creates] == [502] * 8 + [201]
    assert len({call.key for call in creates}) == 1
    (generation,) = sync.api.generations.values()
    assert job.provider_job_id == generation.id
    assert job.submit_key == generation.key
    assert len(sync.api.charges) == 1
    assert videos_for_ann(fake) == 1


@pytest.mark.parametrize("refusal", ["402", "401", "429 on every try"])
async def test_a_failed_resend_waits_and_the_next_one_finds_the_video(
    harness: Harness,
    sync: Sync,  # noqa: F811 - the fixture
    media: Media,
    refusal: str,
) -> None:
    """The first send made the generation but every answer was lost; its resend is refused
    (out of credits, a key refused, rate limited on every try). The generation may exist and
    be paid for, so the job is not failed (and refunded, for the user to pay twice): the next
    resend finds it."""
    sync.api.fail_next("POST /v2/generate", 502, times=4, after_processing=True)
    if refusal == "429 on every try":
        sync.api.fail_next("POST /v2/generate", 429, times=4, retry_after=0)
    else:
        sync.api.fail_next("POST /v2/generate", int(refusal))
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        made = await order(bot, fake, media)
        job = await delivered(bot, fake, made.id)
    (generation,) = sync.api.generations.values()
    assert job.provider_job_id == generation.id
    assert sync.api.creates()[-1].status == 201
    assert len({call.key for call in sync.api.creates()}) == 1
    assert len(sync.api.charges) == 1
    assert videos_for_ann(fake) == 1


@pytest.mark.parametrize(
    ("lost", "refusal"), [("502", 402), ("cut", 401), ("502", 422), ("cut", 400)]
)
async def test_a_refusal_after_a_lost_try_of_the_first_send_is_maybe_made(
    harness: Harness,
    sync: Sync,  # noqa: F811 - the fixture
    media: Media,
    lost: str,
    refusal: int,
) -> None:
    """The first try of the first send makes the generation but its answer is lost (a 502,
    or the connection cut mid-answer), and the retry within that same send is refused (out
    of credits, a refused API key, the key refused, a bad request). The generation may
    exist and be paid for, so the job is not failed (and refunded, for the user to pay
    twice): it is sent again later under the same key, which finds the video."""
    if lost == "cut":
        sync.api.drop_next("POST /v2/generate")
    else:
        sync.api.fail_next("POST /v2/generate", 502, after_processing=True)
    sync.api.fail_next("POST /v2/generate", refusal)
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        made = await order(bot, fake, media)
        job = await delivered(bot, fake, made.id)
    creates = sync.api.creates()
    assert [call.status for call in creates[:2]] == [502 if lost == "502" else 201, refusal]
    assert creates[-1].status == 201
    assert len({call.key for call in creates}) == 1
    (generation,) = sync.api.generations.values()
    assert job.provider_job_id == generation.id
    assert sync.api.replays == [generation.id]
    assert len(sync.api.charges) == 1
    assert videos_for_ann(fake) == 1


@pytest.mark.parametrize("change", ["SYNC_MODEL", "PUBLIC_URL"])
async def test_a_resend_refused_for_good_waits_for_the_deadline_then_names_the_key(
    harness: Harness,
    sync: Sync,  # noqa: F811 - the fixture
    media: Media,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    """The bot stops while sync.so holds the create's answer (the generation made), and the
    operator changes a setting before the restart. The resend keeps the first send's key
    (a new PUBLIC_URL makes new links, never a new key: that would be a second paid video),
    so sync.so refuses the changed body (422 IDEMPOTENCY_KEY_REUSED). That says the first
    send made it: the job waits until its deadline, then the user hears it is unconfirmed
    and the admins get the name to look for (sync.so's outputFileName, the key)."""
    monkeypatch.setattr(SyncProvider, "deadline_seconds", 8.0)
    sync.api.fail_next("POST /v2/generate", 500, after_processing=True, delay=30)
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        mark = fake.mark()
        fake.send_command(ADMIN, "/start")  # admins must have opened a chat with the bot
        await said(fake, ADMIN.id, "Hi", mark)
        made = await order(bot, fake, media)
        await job_when(bot, made.id, lambda j: j.submit_started_at is not None)
        async with asyncio.timeout(20):
            while len(sync.api.fetched) < 2:
                await asyncio.sleep(0.05)
    (generation,) = sync.api.generations.values()
    env = {**sync.env, "SYNC_MODEL": "sync-3"}
    if change == "PUBLIC_URL":
        port = free_port()
        env = {**sync.env, "HTTP_PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    first_creates = len(sync.api.creates())
    async with harness.bot(**env) as bot:
        told = await fake.wait_for("editMessageText", to_chat(ANN.id, UNCONFIRMED), timeout=30)
        alert = await fake.wait_for("sendMessage", to_chat(ADMIN.id, f"#{made.id}"), timeout=20)
        job = await job_when(bot, made.id, lambda j: j.status is JobStatus.FAILED)
        await bot.services.tasks.wait_idle()
    resends = sync.api.creates()[first_creates:]
    assert resends
    assert {call.status for call in resends} == {422}
    assert {call.key for call in resends} == {generation.key}
    assert len(sync.api.generations) == 1
    assert "may have made it anyway" in told[0].params["text"]
    assert f'"{generation.key}"' in alert[0].params["text"]
    assert generation.key == generation.body["outputFileName"]
    assert job.reason is not None
    assert job.reason.code == "error.create_unconfirmed"


async def test_a_create_sent_before_keys_were_stored_is_never_sent_again(
    harness: Harness,
    sync: Sync,  # noqa: F811 - the fixture
    media: Media,
) -> None:
    """A job whose create went unanswered under a version that stored no key (before
    migration 8, jobs.submit_key): the key it went with cannot be known (its links were
    dated from another moment then), and a key made now would be another generation, paid
    again. After the upgrade it is never sent again: it is given up as unconfirmed at once,
    and the admins get the name sync.so's dashboard shows (the key's first part)."""
    sync.api.fail_next("POST /v2/generate", 500, after_processing=True, delay=30)
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        mark = fake.mark()
        fake.send_command(ADMIN, "/start")  # admins must have opened a chat with the bot
        await said(fake, ADMIN.id, "Hi", mark)
        made = await order(bot, fake, media)
        await job_when(bot, made.id, lambda j: j.submit_started_at is not None)
        async with asyncio.timeout(20):
            while len(sync.api.fetched) < 2:
                await asyncio.sleep(0.05)
    (generation,) = sync.api.generations.values()
    # The row as the older version left it: no key, links dated from another moment.
    with sqlite3.connect(harness.folder / "bot.db") as db:
        (started,) = db.execute(
            "SELECT submit_started_at FROM jobs WHERE id = ?", (made.id,)
        ).fetchone()
        earlier = datetime.fromisoformat(started) - timedelta(minutes=2)
        db.execute(
            "UPDATE jobs SET submit_key = NULL, submit_started_at = ? WHERE id = ?",
            (earlier.isoformat(), made.id),
        )
    first_creates = len(sync.api.creates())
    async with harness.bot(**sync.env) as bot:
        told = await fake.wait_for("editMessageText", to_chat(ANN.id, UNCONFIRMED), timeout=20)
        alert = await fake.wait_for("sendMessage", to_chat(ADMIN.id, f"#{made.id}"), timeout=20)
        job = await job_when(bot, made.id, lambda j: j.status is JobStatus.FAILED)
        await asyncio.sleep(1.0)  # a resend, were there one, would have gone by now
        await bot.services.tasks.wait_idle()
    assert sync.api.creates()[first_creates:] == []
    assert list(sync.api.generations) == [generation.id]
    assert "may have made it anyway" in told[0].params["text"]
    assert generation.key is not None
    shown = generation.key.rsplit("-", 1)[0]  # the key without its digest of the links
    assert f'"{shown}' in alert[0].params["text"]
    assert job.reason is not None
    assert job.reason.code == "error.create_unconfirmed"


async def test_a_resend_holds_no_poll_round_up_and_asks_no_price(
    harness: Harness,
    sync: Sync,  # noqa: F811 - the fixture
    media: Media,
    provider_output: Path,  # noqa: F811
) -> None:
    """Job A's create loses its answer on every try and its resend then hangs at sync.so;
    meanwhile job B (no webhooks: only polls tell) finishes and is delivered, the resend
    still on its way. A resend is sent once at a time (no second one while it hangs) and
    asks sync.so no price (the first send did)."""
    sync.api.webhook_mode = "drop"
    sync.api.auto_complete = False
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        first = await order(bot, fake, media)
        b = await job_when(bot, first.id, lambda j: j.provider_job_id is not None)
        assert b.provider_job_id is not None
        sync.api.fail_next("POST /v2/generate", 502, times=4, after_processing=True)
        sync.api.fail_next("POST /v2/generate", 500, after_processing=True, delay=12)
        a = await order(bot, fake, media)
        async with asyncio.timeout(20):
            while len(sync.api.replays) < 4:  # tries 2-4, then the resend, now hanging
                await asyncio.sleep(0.05)
        sync.api.complete(b.provider_job_id)
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=8)
        assert len(sync.api.creates()) == 5  # B's, A's four tries: the resend still hangs
        await asyncio.sleep(1.0)
        assert len(sync.api.replays) == 4  # and no second resend was started
        got = await job_when(bot, a.id, lambda j: j.provider_job_id is not None)
        assert got.provider_job_id is not None
        sync.api.complete(got.provider_job_id)
        await job_when(bot, a.id, lambda j: j.status is JobStatus.DELIVERED)
        await bot.services.tasks.wait_idle()
    costs = [call for call in sync.api.calls if call.path == "/v2/analyze/cost"]
    assert len(costs) == 2  # A's first send and B's
    assert len(sync.api.generations) == 2
    assert videos_for_ann(fake) == 2


async def test_admins_see_sync_prices_in_us_dollars(
    harness: Harness,
    sync: Sync,  # noqa: F811 - the fixture
    media: Media,
) -> None:
    """sync.so's credits are dollars: the admin's note on the summary says so (other
    providers' stay provider credits)."""
    fake = harness.fake
    async with harness.bot(**sync.env):
        ratios = await to_ratio(fake, media, ADMIN, video=True)
        mark = fake.mark()
        fake.press(ADMIN, ratios.result, button(fake, ratios.result, "9:16"))
        choice = await edited(fake, ADMIN.id, "Pick who makes the video", mark)
        mark = fake.mark()
        fake.press(ADMIN, choice.result, button(fake, choice.result, "sync.so"))
        confirm = await edited(fake, ADMIN.id, "Ready to make your video", mark)
    text = confirm.params["text"]
    assert re.search(r"Admins only: about US\$\d+\.\d\d\.", text), text
    assert "credits" not in text
