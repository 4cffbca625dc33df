"""sync.so end to end: the real bot, the fake Telegram server and the fake sync.so on
127.0.0.1. A video and a voice note become a lip-synced video; a create whose answer is lost
(a 500 after the generation was made, a connection cut mid-answer, every try lost, or a
restart while it was on its way) is sent again under the same Idempotency-Key and the user
gets one video, paid once; forged webhooks are refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.app import Running
from bot.jobs.names import JobNames
from bot.models import Job, JobStatus, TextVoice
from tests.conftest import Harness, Media, free_port, to_chat
from tests.creatify_flows import job_reaching, message, press_generate, say_text
from tests.fakes.sync import FakeSync, running
from tests.fakes.telegram import FakeTelegram
from tests.flows import button, edited, to_ratio
from tests.remote_orders import job_when
from tests.test_providers_e2e import ADMIN, ANN, provider_output, sha  # noqa: F401 - fixture

VIDEO_FOR_ANN = "sendVideo"


@dataclass
class Sync:
    """The fake sync.so and the settings that point the bot at it."""

    api: FakeSync
    env: dict[str, str]
    public_url: str


@contextlib.asynccontextmanager
async def serving_sync(output: Path) -> AsyncIterator[Sync]:
    fake_api = FakeSync(output=output)
    fake_api.pending_seconds, fake_api.render_seconds = 0.05, 0.2
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with running(fake_api) as url:
        env = {
            "HTTP_PORT": str(port),
            "PUBLIC_URL": public,
            "PROVIDERS": "sync,preview",
            "SYNC_API_KEY": fake_api.api_key,
            "SYNC_WEBHOOK_SECRET": fake_api.webhook_secret,
            "SYNC_API_URL": url,
            "ALLOW_PRIVATE_URLS": "true",
            "POLL_INTERVAL_SECONDS": "0.3",
            "PROVIDER_RETRY_BASE_SECONDS": "0.01",
            "ADMIN_IDS": str(ADMIN.id),
        }
        yield Sync(fake_api, env, public)


@pytest.fixture
async def sync(provider_output: Path) -> AsyncIterator[Sync]:  # noqa: F811 - the fixture
    async with serving_sync(provider_output) as served:
        yield served


async def order(bot: Running, fake: FakeTelegram, media: Media) -> Job:
    """/new, a video, a voice note, 9:16, sync.so, [Generate]; the job once made."""
    before = {job.id for job in await bot.services.jobs.recent(ANN.id)}
    ratios = await to_ratio(fake, media, ANN, video=True)
    mark = fake.mark()
    fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
    choice = await edited(fake, ANN.id, "Pick who makes the video", mark)
    mark = fake.mark()
    fake.press(ANN, choice.result, button(fake, choice.result, "sync.so"))
    confirm = await edited(fake, ANN.id, "Ready to make your video", mark)
    fake.press(ANN, confirm.result, button(fake, confirm.result, "Generate"))
    async with asyncio.timeout(20):
        while not (
            jobs := [j for j in await bot.services.jobs.recent(ANN.id) if j.id not in before]
        ):
            await asyncio.sleep(0.05)
    return jobs[0]


async def delivered(bot: Running, fake: FakeTelegram, job_id: int) -> Job:
    """The job once its video is in Ann's chat, after a pause for any second video."""
    await fake.wait_for(VIDEO_FOR_ANN, to_chat(ANN.id), timeout=30)
    job = await job_when(bot, job_id, lambda j: j.status is JobStatus.DELIVERED)
    await asyncio.sleep(0.5)  # a second delivery, were there one, would show by now
    await bot.services.tasks.wait_idle()
    return job


def videos_for_ann(fake: FakeTelegram) -> int:
    return len([c for c in fake.sent(ANN.id, VIDEO_FOR_ANN) if c.status == 200])


async def test_a_video_and_a_voice_note_become_a_sync_video(
    harness: Harness,
    sync: Sync,
    media: Media,
    provider_output: Path,  # noqa: F811
) -> None:
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        made = await order(bot, fake, media)
        job = await delivered(bot, fake, made.id)
        name = JobNames(bot.services.signer.webhook_token).name("sync", job.id)
    assert job.provider == "sync"
    assert sha(fake.uploads[-1].path) == sha(provider_output)
    assert "by sync.so" in fake.sent(ANN.id, VIDEO_FOR_ANN)[-1].params["caption"]
    (generation,) = sync.api.generations.values()
    assert job.provider_job_id == generation.id
    # sync.so fetched both inputs from the bot's own signed links.
    fetched = {(f.kind, f.status) for f in sync.api.fetched}
    assert fetched == {("video", 200), ("audio", 200)}
    assert all(f.url.startswith(f"{sync.public_url}/media/{job.id}/") for f in sync.api.fetched)
    (create,) = sync.api.creates()
    assert create.key is not None
    assert create.key.startswith(name.replace(" #", "-").replace(" ", "-"))
    assert create.json["webhookUrl"] == f"{sync.public_url}/hooks/sync"
    assert [d.status_code for d in sync.api.webhook_deliveries] == [200]
    (charge,) = sync.api.charges
    assert job.credits == charge.usd  # sync.so's quote, asked with the create's body


@pytest.mark.parametrize("lose", ["500 after processing", "connection cut"])
async def test_a_lost_create_answer_is_sent_again_and_paid_once(
    harness: Harness, sync: Sync, media: Media, lose: str
) -> None:
    if lose == "connection cut":
        sync.api.drop_next("POST /v2/generate")
    else:
        sync.api.fail_next("POST /v2/generate", 500, after_processing=True)
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        made = await order(bot, fake, media)
        job = await delivered(bot, fake, made.id)
    (generation,) = sync.api.generations.values()
    assert job.provider_job_id == generation.id
    keys = [call.key for call in sync.api.creates()]
    assert len(keys) == 2
    assert keys[0] == keys[1] == generation.key
    assert sync.api.replays == [generation.id]
    assert len(sync.api.charges) == 1
    assert videos_for_ann(fake) == 1


async def test_a_create_lost_on_every_try_is_sent_again_later(
    harness: Harness, sync: Sync, media: Media
) -> None:
    """ProviderHTTP gives up after four tries; the poller sends it again, same key."""
    sync.api.fail_next("POST /v2/generate", 502, times=4, after_processing=True)
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        made = await order(bot, fake, media)
        job = await delivered(bot, fake, made.id)
    creates = sync.api.creates()
    assert [call.status for call in creates] == [502, 502, 502, 502, 201]
    assert len({call.key for call in creates}) == 1
    assert len(sync.api.generations) == 1
    assert len(sync.api.charges) == 1
    assert videos_for_ann(fake) == 1
    assert job.poll_failures == 0


async def test_a_restart_during_the_create_sends_the_same_create_again(
    harness: Harness, sync: Sync, media: Media
) -> None:
    """The bot stops while sync.so holds the create's answer (the generation made). After
    the restart the job is sent again: the same key and the very same body (the hosted
    links are dated from the job's start), so sync.so answers the generation it made."""
    sync.api.fail_next("POST /v2/generate", 500, after_processing=True, delay=30)
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        made = await order(bot, fake, media)
        await job_when(bot, made.id, lambda j: j.submit_started_at is not None)
        # The generation is made and has its inputs (else it would fail for want of them
        # while the bot is down, a real failure but not this test's).
        async with asyncio.timeout(20):
            while len(sync.api.fetched) < 2:
                await asyncio.sleep(0.05)
    (generation,) = sync.api.generations.values()
    async with harness.bot(**sync.env) as bot:
        job = await delivered(bot, fake, made.id)
    assert job.provider_job_id == generation.id
    assert sync.api.replays == [generation.id]  # the resend was the same key and body
    assert len(sync.api.generations) == 1
    assert len(sync.api.charges) == 1
    assert videos_for_ann(fake) == 1


async def test_forged_webhooks_are_refused_and_signed_ones_only_hint(
    harness: Harness, sync: Sync, media: Media
) -> None:
    sync.api.auto_complete = False
    fake = harness.fake
    hook = f"{sync.public_url}/hooks/sync"
    async with harness.bot(**sync.env) as bot:
        made = await order(bot, fake, media)
        job = await job_when(bot, made.id, lambda j: j.provider_job_id is not None)
        gen_id = job.provider_job_id
        assert gen_id is not None
        await sync.api.wait_for(gen_id, "PROCESSING")
        claim = {**sync.api.generation(gen_id), "status": "COMPLETED"}
        claim["outputUrl"] = claim["outputMediaUrl"] = "http://127.0.0.1:9/evil.mp4"
        body = json.dumps(claim, separators=(",", ":")).encode()
        now = int(time.time())
        forged = [
            {},
            {"Sync-Signature": sync.api.sign(body, now, "whsec_other")},
            {"Sync-Signature": sync.api.sign(body, now - 3600)},
            {"Sync-Signature": sync.api.sign(body.replace(b"COMPLETED", b"FAILED"), now)},
            {"Sync-Signature": f"t={now},v1={'0' * 64}"},
        ]
        async with httpx.AsyncClient() as client:
            for headers in forged:
                answer = await client.post(hook, content=body, headers=headers)
                assert answer.status_code == 401, headers
            # Correctly signed, but only a hint: the bot reads the generation back.
            signed = {"Sync-Signature": sync.api.sign(body, now)}
            assert (await client.post(hook, content=body, headers=signed)).status_code == 200
        await asyncio.sleep(1.0)
        assert (await bot.services.jobs.get(made.id)).status in (  # type: ignore[union-attr]
            JobStatus.QUEUED,
            JobStatus.RUNNING,
        )
        assert videos_for_ann(fake) == 0
        sync.api.complete(gen_id)
        job = await delivered(bot, fake, made.id)
    assert job.output_url == sync.api.generation(gen_id)["outputMediaUrl"]


async def test_dropped_webhooks_are_made_up_by_list_polls(
    harness: Harness, sync: Sync, media: Media
) -> None:
    sync.api.webhook_mode = "drop"
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        made = await order(bot, fake, media)
        job = await delivered(bot, fake, made.id)
    lists = [call for call in sync.api.calls if call.path == "/v2/generations"]
    assert lists
    assert videos_for_ann(fake) == 1
    assert job.provider_job_id in sync.api.generations


async def test_a_rejected_generation_tells_its_reason(
    harness: Harness, sync: Sync, media: Media
) -> None:
    sync.api.next_outcomes.append(("REJECTED", "content_policy", "Refused by moderation"))
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        made = await order(bot, fake, media)
        told = await fake.wait_for(
            "editMessageText", to_chat(ANN.id, "Refused by moderation"), timeout=20
        )
        job = await job_when(bot, made.id, lambda j: j.status is JobStatus.FAILED)
    assert "sync.so could not make this video" in told[0].params["text"]
    assert job.reason is not None
    assert not sync.api.charges
    assert videos_for_ann(fake) == 0


async def test_typed_text_reaches_sync_as_its_spoken_recording(
    harness: Harness, sync: Sync, media: Media
) -> None:
    """sync.so takes no text of ours: the words are spoken by the built-in voice and that
    recording is what it fetches and lip-syncs to (its own length, measured by the fake)."""
    fake = harness.fake
    async with harness.bot(**sync.env) as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        fake.send_video(ANN, media.video.read_bytes(), duration=2, width=640, height=360)
        await message(fake, ANN, "prompt.voice", mark)
        summary = await say_text(
            fake, ANN, "Hello! These typed words are spoken, then lip-synced.", provider="sync.so"
        )
        press_generate(fake, ANN, summary)
        await fake.wait_for(VIDEO_FOR_ANN, to_chat(ANN.id), timeout=30)
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
    assert isinstance(job.order.voice, TextVoice)
    (generation,) = sync.api.generations.values()
    assert [(f.kind, f.status) for f in sync.api.fetched] == [("video", 200), ("audio", 200)]
    assert generation.seconds == pytest.approx(job.order.seconds, abs=0.5)
    assert job.order.seconds > 2
