"""Remote providers end to end: the real bot, the fake Telegram server, and the fake
Magic Hour and lipsync.studio servers over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.app import Running
from bot.i18n import Translator
from bot.models import Job, JobStatus
from storage.db import now
from tests import media as make
from tests.conftest import Harness, Media, free_port, to_chat
from tests.fakes import lipsync_studio, magichour
from tests.fakes.lipsync_studio import FakeLipsyncStudio
from tests.fakes.magichour import FakeMagicHour
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button, edited, said, to_confirm, to_ratio

ANN = User(111, "Ann", language_code="en")
ADMIN = User(900, "Ada", language_code="en")
LABELS = {"magichour": "Magic Hour", "lipsync_studio": "lipsync.studio"}


@pytest.fixture(scope="session")
def provider_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("provider")
    return make.make_video(folder / "result.mp4", width=480, height=854, seconds=3.0)


@dataclass
class Remote:
    """Both fake providers, and the settings that point the bot at them."""

    mh: FakeMagicHour
    lss: FakeLipsyncStudio
    env: dict[str, str]


@contextlib.asynccontextmanager
async def serving_remote(output: Path, **extra_env: str) -> AsyncIterator[Remote]:
    """Fake Magic Hour and lipsync.studio, both rendering ``output``, running; the settings
    enable them and the preview, with webhooks to the bot's port and quick polls and retries."""
    mh = FakeMagicHour(output=output)
    lss = FakeLipsyncStudio(output=output)
    port = free_port()
    async with magichour.running(mh) as mh_url, lipsync_studio.running(lss) as lss_url:
        mh.webhook_url = f"http://127.0.0.1:{port}/hooks/magichour"  # "set in the dashboard"
        env = {
            "HTTP_PORT": str(port),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PROVIDERS": "magichour,lipsync_studio,preview",
            "MAGICHOUR_API_KEY": mh.api_key,
            "MAGICHOUR_WEBHOOK_SECRET": mh.webhook_secret,
            "MAGICHOUR_API_URL": mh_url,
            "LIPSYNC_STUDIO_API_KEY": lss.api_key,
            "LIPSYNC_STUDIO_API_URL": lss_url,
            "ALLOW_PRIVATE_URLS": "true",
            "POLL_INTERVAL_SECONDS": "0.3",
            "PROVIDER_RETRY_BASE_SECONDS": "0.01",
            **extra_env,
        }
        yield Remote(mh, lss, env)


@pytest.fixture
async def remote(provider_output: Path) -> AsyncIterator[Remote]:
    async with serving_remote(provider_output, ADMIN_IDS=str(ADMIN.id)) as both:
        yield both


async def order(
    fake: FakeTelegram, media: Media, provider: str, *, video: bool = False, user: User = ANN
) -> Call:
    """Go from /new to [Generate] with ``provider``; returns the confirm message call."""
    ratios = await to_ratio(fake, media, user, video=video)
    mark = fake.mark()
    fake.press(user, ratios.result, button(fake, ratios.result, "9:16"))
    choice = await edited(fake, user.id, "Pick who makes the video", mark)
    mark = fake.mark()
    fake.press(user, choice.result, button(fake, choice.result, LABELS[provider]))
    confirm = await edited(fake, user.id, "Ready to make your video", mark)
    mark = fake.mark()
    fake.press(user, confirm.result, button(fake, confirm.result, "Generate"))
    await said(fake, user.id, "queued", mark)  # the job's own status message
    return confirm


async def job_of(bot: Running, user: User = ANN):
    jobs = await bot.services.jobs.recent(user.id)
    assert jobs
    return jobs[0]


async def wait_status(bot: Running, *statuses: JobStatus) -> None:
    async with asyncio.timeout(20):
        while (await job_of(bot)).status not in statuses:
            await asyncio.sleep(0.05)


async def at_provider(harness: Harness, bot: Running, media: Media, provider: str) -> Job:
    """Order a video from ``provider`` and wait until the provider has the job."""
    await order(harness.fake, media, provider)
    await wait_status(bot, JobStatus.QUEUED, JobStatus.RUNNING)
    job = await job_of(bot)
    assert job.provider_job_id is not None
    return job


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("provider", ["magichour", "lipsync_studio"])
@pytest.mark.parametrize("video", [False, True], ids=["photo", "video"])
async def test_each_provider_and_mode_delivers_its_output(
    harness: Harness,
    remote: Remote,
    media: Media,
    provider_output: Path,
    provider: str,
    video: bool,
) -> None:
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        await order(fake, media, provider, video=video)
        sent = (await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30))[0]
        await bot.services.tasks.wait_idle()
        job = await job_of(bot)
    assert sha(fake.uploads[-1].path) == sha(provider_output)
    assert job.status is JobStatus.DELIVERED
    assert job.result_file_id == sent.result["video"]["file_id"]
    assert "by " + LABELS[provider] in sent.params["caption"]
    if provider == "magichour":
        project = remote.mh.jobs[job.provider_job_id]
        assert project.type == ("LIP_SYNC" if video else "TALKING_PHOTO")
        # Charged per frame at the 30-fps estimate, for the probed voice length.
        assert job.credits == math.ceil(job.order.seconds * 30)
        assert len([u for u in remote.mh.uploads.values() if u.path is not None]) == 2
    else:
        fetched = {f.field: f.status for f in remote.lss.fetched}
        assert fetched == {("video" if video else "image"): 200, "audio": 200}


async def test_provider_step_lists_costs(harness: Harness, remote: Remote, media: Media) -> None:
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        ratios = await to_ratio(fake, media, ANN)
        mark = fake.mark()
        fake.press(ANN, ratios.result, button(fake, ratios.result, "16:9"))
        choice = await edited(fake, ANN.id, "Pick who makes the video", mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.voice is not None
    assert draft.voice.probe is not None
    frames = math.ceil((draft.voice.probe.duration or 0) * 30)
    labels = [text for text, _ in fake.buttons(choice.result)]
    # Users see the price in seconds of their own quota: the voice's length, at any provider.
    assert labels == [
        "Magic Hour · 3 s",
        "lipsync.studio · 3 s",
        "Preview (lips do not move) · 3 s",
    ]
    assert "credits" not in str(choice.params["text"])
    # Provider credits are for the bot's admins, on their summary.
    async with harness.bot(**remote.env):
        for provider, credits in (
            ("Magic Hour", frames),
            # 3 s is billed as the 5 s minimum; a 640x480 photo gets 480p at 2 credits a second.
            ("lipsync.studio", 10),
        ):
            confirm = await to_confirm(fake, media, ADMIN, provider=provider)
            assert f"Admins only: about {credits} provider credits." in confirm.params["text"]


@pytest.mark.parametrize("provider", ["magichour", "lipsync_studio"])
@pytest.mark.parametrize("mode", ["drop", "duplicate", "delay"])
async def test_lost_duplicated_or_late_webhooks_deliver_once(
    harness: Harness, remote: Remote, media: Media, provider: str, mode: str
) -> None:
    """Dropped webhooks are made up by polling; duplicates and late ones change nothing."""
    remote.mh.webhook_mode = remote.lss.webhook_mode = mode  # type: ignore[assignment]
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        await order(fake, media, provider)
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        await asyncio.sleep(1.5)  # time for duplicates, late webhooks and a poll or two
        await bot.services.tasks.wait_idle()
        assert (await job_of(bot)).status is JobStatus.DELIVERED
    assert len(fake.sent(method="sendVideo")) == 1
    fake_provider = remote.mh if provider == "magichour" else remote.lss
    if mode == "duplicate":
        assert len(fake_provider.webhook_deliveries) >= 2


async def test_forged_webhooks_change_nothing(
    harness: Harness, remote: Remote, media: Media
) -> None:
    remote.mh.auto_complete = False
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        job = await at_provider(harness, bot, media, "magichour")
        assert job.provider_job_id is not None
        body = remote.mh.webhook_body("video.completed", job.provider_job_id)
        # Wrong signature, wrong secret, stale timestamp: all refused before parsing.
        assert await remote.mh.post_forged(body, signature="0" * 64) == 401
        assert await remote.mh.post_forged(body, secret="whsec_other") == 401
        assert await remote.mh.post_forged(body, timestamp=1) == 401
        # Correctly signed but untrue (the project is still rendering): the bot reads the job
        # back from Magic Hour before acting, so nothing changes either.
        assert await remote.mh.post_forged(body) == 200
        await asyncio.sleep(0.5)
        await bot.services.tasks.wait_idle()
        assert (await job_of(bot)).status in (JobStatus.QUEUED, JobStatus.RUNNING)
        assert not fake.sent(method="sendVideo")


async def test_webhook_with_a_wrong_job_token_is_refused(
    harness: Harness, remote: Remote, media: Media
) -> None:
    remote.lss.auto_complete = False
    async with harness.bot(**remote.env) as bot:
        job = await at_provider(harness, bot, media, "lipsync_studio")
        base = remote.env["PUBLIC_URL"]
        body = {"id": job.provider_job_id, "status": "completed", "output": "http://evil/x.mp4"}
        async with httpx.AsyncClient() as client:
            wrong = await client.post(
                f"{base}/hooks/lipsync_studio/{job.id}/{'0' * 32}", json=body
            )
            other = bot.services.signer.webhook_token("lipsync_studio", job.id + 1)
            swapped = await client.post(f"{base}/hooks/lipsync_studio/{job.id}/{other}", json=body)
        assert (wrong.status_code, swapped.status_code) == (401, 401)
        assert (await job_of(bot)).status in (JobStatus.QUEUED, JobStatus.RUNNING)


@pytest.mark.parametrize("provider", ["magichour", "lipsync_studio"])
async def test_restart_while_the_provider_works_delivers_once(
    harness: Harness, remote: Remote, media: Media, provider: str
) -> None:
    remote.mh.auto_complete = False
    remote.lss.auto_complete = False
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        job = await at_provider(harness, bot, media, provider)
    # The provider finishes while the bot is down: its webhook finds nobody.
    fake_provider = remote.mh if provider == "magichour" else remote.lss
    assert job.provider_job_id is not None
    fake_provider.complete(job.provider_job_id)
    await asyncio.sleep(0.6)
    async with harness.bot(**remote.env) as bot:
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        await bot.services.tasks.wait_idle()
        assert (await job_of(bot)).status is JobStatus.DELIVERED
    async with harness.bot(**remote.env) as bot:
        await asyncio.sleep(0.5)
        await bot.services.tasks.wait_idle()
    assert len(fake.sent(method="sendVideo")) == 1


async def test_provider_failure_is_explained_and_sends_no_video(
    harness: Harness, remote: Remote, media: Media
) -> None:
    remote.mh.fail_next_jobs()
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        mark = fake.mark()
        await order(fake, media, "magichour")
        failed = await edited(fake, ANN.id, "failed", mark)
        await bot.services.tasks.wait_idle()
        assert (await job_of(bot)).status is JobStatus.FAILED
    assert (
        "Magic Hour could not make this video — Please use an image with a detectable face"
        in (failed.params["text"])
    )
    assert not fake.sent(method="sendVideo")


async def test_lipsync_studio_rejection_shows_its_reason(
    harness: Harness, remote: Remote, media: Media
) -> None:
    remote.lss.fail_next("POST /api/v1/lipsync-image", 400, {"error": "audio is too quiet"})
    fake = harness.fake
    async with harness.bot(**remote.env):
        mark = fake.mark()
        await order(fake, media, "lipsync_studio")
        failed = await edited(fake, ANN.id, "failed", mark)
    assert "lipsync.studio could not make this video — audio is too quiet" in failed.params["text"]


@pytest.mark.parametrize(
    ("status", "alert"), [(402, "is out of credits"), (401, "refused the API key")]
)
async def test_account_problems_tell_the_admins_once(
    harness: Harness, remote: Remote, media: Media, status: int, alert: str
) -> None:
    reason = {"message": "Check your account."}  # a reason that ends in its own stop
    remote.mh.fail_next("POST /v1/ai-talking-photo", status, body=reason, times=2)
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        mark = fake.mark()
        fake.send_command(ADMIN, "/start")  # admins must have opened a chat with the bot
        await said(fake, ADMIN.id, "Hi", mark)
        for _ in range(2):
            mark = fake.mark()
            await order(fake, media, "magichour")
            failed = await edited(fake, ANN.id, "failed", mark)
            assert "Magic Hour is unavailable right now" in failed.params["text"]
        await bot.services.tasks.wait_idle()
        alerts = [
            c
            for c in fake.sent(chat_id=ADMIN.id, method="sendMessage")
            if alert in c.params["text"]
        ]
        assert len(alerts) == 1
        assert "Check your account. Jobs for it fail" in alerts[0].params["text"]  # not ".."
        assert [job.status for job in await bot.services.jobs.recent(ANN.id)] == [
            JobStatus.FAILED,
            JobStatus.FAILED,
        ]
        # The next job works: the admins hear that the provider is back.
        mark = fake.mark()
        await order(fake, media, "magichour")
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30)
        await said(fake, ADMIN.id, "works again", mark)


async def test_media_links_refuse_alterations(
    harness: Harness, remote: Remote, media: Media
) -> None:
    remote.lss.auto_complete = False
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        await order(fake, media, "lipsync_studio")
        await wait_status(bot, JobStatus.QUEUED, JobStatus.RUNNING)
        async with asyncio.timeout(10):
            while not any(f.field == "audio" for f in remote.lss.fetched):
                await asyncio.sleep(0.05)
        link = next(f.url for f in remote.lss.fetched if f.field == "audio")
        parts = urlsplit(link)
        altered = [
            link.replace("sig=", "sig=0"),
            link.replace("voice.mp3", "face.jpg"),
            link.replace("exp=", "exp=9"),
        ]
        async with httpx.AsyncClient() as client:
            good = await client.get(link)
            statuses = [(await client.get(url)).status_code for url in altered]
            tricks = [
                (await client.get(f"{parts.scheme}://{parts.netloc}{path}")).status_code
                for path in ("/media/1/..%2F..%2Fbot.db", "/media/1/bot.db?exp=1&sig=x")
            ]
    assert good.status_code == 200
    assert good.headers["content-type"] == "audio/mpeg"
    assert statuses == [403, 403, 403]
    assert tricks == [404, 404]


async def test_without_public_url_magic_hour_works_by_polling(
    harness: Harness, remote: Remote, media: Media, provider_output: Path
) -> None:
    env = {k: v for k, v in remote.env.items() if k not in ("PUBLIC_URL", "PROVIDERS")}
    fake = harness.fake
    async with harness.bot(**env) as bot:
        assert list(bot.services.providers) == ["magichour"]  # lipsync.studio needs PUBLIC_URL
        ratios = await to_ratio(fake, media, ANN)
        mark = fake.mark()
        fake.press(ANN, ratios.result, button(fake, ratios.result, "1:1"))
        # One provider able: the PROVIDER step is skipped.
        confirm = await edited(fake, ANN.id, "Ready to make your video", mark)
        assert re.search(r"Price: \d+ s of video", confirm.params["text"])
        fake.press(ANN, confirm.result, button(fake, confirm.result, "Generate"))
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
    assert sha(fake.uploads[-1].path) == sha(provider_output)
    assert remote.mh.webhook_deliveries  # it tried; the bot had no route to hear it


async def test_providers_command_for_admins_only(
    harness: Harness, remote: Remote, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot(**remote.env):
        mark = fake.mark()
        fake.send_command(ADMIN, "/providers")
        report = await said(fake, ADMIN.id, "Providers:", mark)
        mark = fake.mark()
        fake.send_command(ANN, "/providers")
        refused = await said(fake, ANN.id, "I don't know that command", mark)
    text = report.params["text"]
    assert f"Magic Hour: working, balance {remote.mh.credits:,} provider credits" in text
    assert "lipsync.studio: working, balance not available" in text
    assert "Preview (lips do not move): working" in text
    # The same answer as any unknown command: non-admins are not told admin commands exist.
    assert refused.params["text"] == Translator.load().t("en", "hint.unknown_command")


async def test_hosted_inputs_are_deleted_after_the_grace_period(
    harness: Harness, remote: Remote, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        await order(fake, media, "lipsync_studio")
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        await bot.services.tasks.wait_idle()
        job = await job_of(bot)
        folder = bot.services.settings.data_dir / "hosted" / str(job.id)
        assert sorted(p.name for p in folder.iterdir()) == ["face.jpg", "voice.mp3"]
        assert (
            await bot.services.host.sweep(bot.services.jobs.get, at=now()) == 0
        )  # finished just now: kept a while
        two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
        await bot.services.db.execute(
            "UPDATE jobs SET finished_at = ? WHERE id = ?", (two_hours_ago, job.id)
        )
        assert await bot.services.host.sweep(bot.services.jobs.get, at=now()) == 1
        assert not folder.exists()


async def test_jobs_past_their_deadline_expire(
    harness: Harness, remote: Remote, media: Media
) -> None:
    remote.mh.auto_complete = False
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        job = await at_provider(harness, bot, media, "magichour")
        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        await bot.services.db.execute(
            "UPDATE jobs SET deadline_at = ?, next_poll_at = ? WHERE id = ?", (past, past, job.id)
        )
        mark = fake.mark()
        await bot.services.poller.poll_once()
        expired = await edited(fake, ANN.id, "did not finish in time", mark)
        assert (await job_of(bot)).status is JobStatus.EXPIRED
    assert "Magic Hour did not finish in time" in expired.params["text"]


async def test_a_create_without_answer_is_claimed_by_its_webhook(
    harness: Harness, remote: Remote, media: Media, provider_output: Path
) -> None:
    """Magic Hour made (and charged for) the job but answered 502: the bot keeps the job
    claimable, the webhook names it, and the video is delivered once."""
    remote.mh.fail_next("POST /v1/ai-talking-photo", 502, after_processing=True)
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        await order(fake, media, "magichour")
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        await bot.services.tasks.wait_idle()
        job = await job_of(bot)
    assert job.status is JobStatus.DELIVERED
    assert job.provider_job_id in remote.mh.jobs
    assert len(remote.mh.jobs) == 1  # not submitted twice
    assert sha(fake.uploads[-1].path) == sha(provider_output)
