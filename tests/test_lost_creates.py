"""A create whose answer was lost, and that no webhook claims, ends with a clear message to
the user and an alert to the admins naming the job: after the adoption window when a webhook
could still claim it, at once without PUBLIC_URL (Magic Hour cannot list jobs, so nothing
could ever find it again)."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs import submit
from bot.models import JobStatus
from tests.conftest import Harness, Media, to_chat
from tests.flows import said
from tests.remote_orders import generate, job_when, waiting_to_be_claimed
from tests.test_providers_e2e import (  # noqa: F401 - fixtures
    ADMIN,
    ANN,
    Remote,
    provider_output,
    remote,
)

UNCONFIRMED = "Magic Hour did not confirm this video"


@pytest.fixture
def short_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submit, "ADOPTION_SECONDS", 1)


def without_public_url(remote: Remote) -> dict[str, str]:  # noqa: F811 - the fixture's type
    """Settings of a bot nobody can reach: no PUBLIC_URL, no webhook set in the dashboard."""
    remote.mh.webhook_url = None
    return {k: v for k, v in remote.env.items() if k not in ("PUBLIC_URL", "PROVIDERS")}


async def test_an_unanswered_create_ends_with_a_clear_message_and_an_alert(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
) -> None:
    """Magic Hour made (and charged for) the job, but the answer was a 502; no webhook can
    reach a bot without PUBLIC_URL, so the job ends at once (not after a silent wait)."""
    remote.mh.fail_next("POST /v1/ai-talking-photo", 502, after_processing=True)
    fake = harness.fake
    async with harness.bot(**without_public_url(remote)) as bot:
        mark = fake.mark()
        fake.send_command(ADMIN, "/start")  # admins must have opened a chat with the bot
        await said(fake, ADMIN.id, "Hi", mark)
        made = await generate(bot, fake, media, "magichour")
        job = await job_when(bot, made.id, lambda j: j.status is not JobStatus.SUBMITTING)
        told = await fake.wait_for("editMessageText", to_chat(ANN.id, UNCONFIRMED), timeout=15)
        alert = await fake.wait_for("sendMessage", to_chat(ADMIN.id, f"#{job.id}"), timeout=15)
        await bot.services.tasks.wait_idle()
    assert job.status is JobStatus.FAILED
    assert "may have made it anyway" in told[0].params["text"]
    (project,) = remote.mh.jobs.values()
    text = alert[0].params["text"]
    assert "Magic Hour" in text
    assert f'"{project.name}"' in text  # what to look for in the Magic Hour dashboard
    assert not fake.sent(method="sendVideo")


async def test_a_submit_cut_by_a_restart_ends_at_once_without_public_url(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
) -> None:
    """The bot stopped while the create was on its way: without PUBLIC_URL nothing can
    claim it, so after the restart it ends at once, not after the provider's deadline."""
    remote.mh.fail_next("POST /v1/ai-talking-photo", 502, delay=30)  # hangs until we stop
    fake = harness.fake
    async with harness.bot(**without_public_url(remote)) as bot:
        made = await generate(bot, fake, media, "magichour")
        await job_when(bot, made.id, lambda j: j.submit_started_at is not None)
        await asyncio.sleep(0.3)  # the create is on its way
    async with harness.bot(**without_public_url(remote)) as bot:
        job = await job_when(bot, made.id, lambda j: j.status is not JobStatus.SUBMITTING)
        await fake.wait_for("editMessageText", to_chat(ANN.id, UNCONFIRMED), timeout=15)
    assert job.status is JobStatus.FAILED


async def test_with_public_url_an_unclaimed_create_ends_after_the_adoption_window(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
    short_window: None,
) -> None:
    """A webhook could claim it, but none comes (dropped): the job ends after the window."""
    remote.mh.fail_next("POST /v1/ai-talking-photo", 502, after_processing=True)
    remote.mh.webhook_mode = "drop"
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        made = await generate(bot, fake, media, "magichour")
        waiting = await job_when(bot, made.id, waiting_to_be_claimed)
        assert waiting.status is JobStatus.SUBMITTING
        job = await job_when(bot, made.id, lambda j: j.status is not JobStatus.SUBMITTING)
        await fake.wait_for("editMessageText", to_chat(ANN.id, UNCONFIRMED), timeout=15)
    assert job.status is JobStatus.FAILED


async def test_without_the_webhook_secret_an_unanswered_create_ends_at_once(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
) -> None:
    """With PUBLIC_URL but no MAGICHOUR_WEBHOOK_SECRET every webhook would be refused: no
    claim can come, so the job ends at once instead of after the 10-minute window."""
    remote.mh.fail_next("POST /v1/ai-talking-photo", 502, after_processing=True)
    remote.mh.webhook_url = None
    env = {k: v for k, v in remote.env.items() if k != "MAGICHOUR_WEBHOOK_SECRET"}
    fake = harness.fake
    async with harness.bot(**env) as bot:
        made = await generate(bot, fake, media, "magichour")
        job = await job_when(bot, made.id, lambda j: j.status is not JobStatus.SUBMITTING)
        told = await fake.wait_for("editMessageText", to_chat(ANN.id, UNCONFIRMED), timeout=15)
    assert job.status is JobStatus.FAILED
    assert "may have made it anyway" in told[0].params["text"]
