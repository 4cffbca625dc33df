"""The job engine under faults, end to end with the fake providers: a create adopted by its
webhook keeps the provider's whole deadline, a cancel while submitting never reaches the
provider, a 2xx create answer the bot cannot read waits to be claimed, and one bad job never
aborts a polling round."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta

import pytest

from bot.app import Running
from bot.errors import ProviderUnavailable
from bot.jobs.poller import MAX_BACKOFF_SECONDS
from bot.models import IN_FLIGHT, Job, JobStatus, RemoteJob
from bot.providers import Inputs, RemoteProvider
from storage import JobRepository
from storage.db import now
from tests.conftest import Harness, Media, to_chat
from tests.flows import said
from tests.job_rows import job_row
from tests.remote_orders import generate, job_when, waiting_to_be_claimed
from tests.test_providers_e2e import (  # noqa: F401 - fixtures
    ANN,
    Remote,
    provider_output,
    remote,
)


def magichour(bot: Running) -> RemoteProvider:
    provider = bot.services.providers["magichour"]
    assert isinstance(provider, RemoteProvider)
    return provider


def adopted(job: Job) -> bool:
    return job.provider_job_id is not None and job.status is not JobStatus.SUBMITTING


async def test_a_create_adopted_by_its_webhook_gets_the_providers_whole_deadline(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
) -> None:
    """502 on the create, ``video.started`` claims the job, the render takes 12 minutes:
    the job must still be waiting for its result, not expired at the 10-minute window."""
    remote.mh.fail_next("POST /v1/ai-talking-photo", 502, after_processing=True)
    remote.mh.auto_complete = False
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        made = await generate(bot, fake, media, "magichour")
        job = await job_when(bot, made.id, adopted)
        provider = magichour(bot)
        assert job.submit_started_at is not None
        assert job.deadline_at == job.submit_started_at + timedelta(
            seconds=provider.deadline_seconds
        )
        interval = bot.services.poller._policy.interval(provider)
        assert job.next_poll_at is not None
        assert job.next_poll_at <= now() + timedelta(seconds=interval)
        await bot.services.poller.poll_once(job.submit_started_at + timedelta(minutes=12))
        assert (await job_when(bot, job.id, lambda j: True)).status in IN_FLIGHT
        assert job.provider_job_id is not None
        remote.mh.complete(job.provider_job_id)
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        await bot.services.tasks.wait_idle()
    assert len(remote.mh.jobs) == 1


@pytest.mark.parametrize("task_stopped", [True, False], ids=["task-stopped", "row-only"])
async def test_a_cancel_while_submitting_never_reaches_the_provider(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
    monkeypatch: pytest.MonkeyPatch,
    task_stopped: bool,
) -> None:
    """/cancel while the inputs are being normalized: no upload, no create, no charge.
    ``row-only``: even when the job's task is not stopped, the submit sees the row changed."""
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        host = bot.services.host
        preparing, release = asyncio.Event(), asyncio.Event()
        prepare = host.prepare

        async def slow_prepare(job: Job) -> Inputs:
            preparing.set()
            await release.wait()
            return await prepare(job)

        monkeypatch.setattr(host, "prepare", slow_prepare)
        if not task_stopped:
            monkeypatch.setattr(bot.services.jobs, "stop", lambda job_id: None)
        made = await generate(bot, fake, media, "magichour")
        await asyncio.wait_for(preparing.wait(), 20)
        mark = fake.mark()
        fake.send_command(ANN, "/cancel")
        await said(fake, ANN.id, f"Canceled video #{made.id}", mark)
        release.set()
        await asyncio.sleep(0.5)
        await bot.services.tasks.wait_idle()
        job = await job_when(bot, made.id, lambda j: True)
    assert job.status is JobStatus.CANCELED
    assert job.submit_started_at is None
    assert [c for c in remote.mh.calls if c.method == "POST"] == []
    assert not remote.mh.jobs


@pytest.mark.parametrize(
    "answer", ["<html>Bad gateway</html>", {"ok": True}, {"id": "../../v1/account"}]
)
async def test_a_2xx_create_answer_without_a_usable_id_waits_to_be_claimed(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
    answer: str | dict,
) -> None:
    """Magic Hour made (and charged for) the job, but the answer cannot be read: the job is
    not failed (and paid for nothing) but claimed by its webhook and delivered once."""
    remote.mh.fail_next("POST /v1/ai-talking-photo", 200, answer, after_processing=True)
    remote.mh.auto_complete = False
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        made = await generate(bot, fake, media, "magichour")
        # Not failed: it waits for its webhook (which comes once Magic Hour renders).
        waiting = await job_when(bot, made.id, lambda j: waiting_to_be_claimed(j) or adopted(j))
        assert waiting.status in IN_FLIGHT
        job = await job_when(bot, made.id, adopted)
        assert job.provider_job_id is not None
        remote.mh.complete(job.provider_job_id)
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        await bot.services.tasks.wait_idle()
    assert len(remote.mh.jobs) == 1
    assert [c.path for c in remote.mh.calls if c.path.startswith("/v1/account")] == []


async def _at_provider(bot: Running, provider_job_id: str) -> int:
    """A job row Magic Hour is working on, first polled an hour from now."""
    repo = JobRepository(bot.services.db)
    job = await job_row(bot, ANN.id)
    later = now() + timedelta(hours=1)
    await repo.update(
        job.id,
        provider_job_id=provider_job_id,
        deadline_at=later + timedelta(hours=1),
        next_poll_at=later,
    )
    assert await repo.transition(job.id, [JobStatus.SUBMITTING], JobStatus.RUNNING)
    return job.id


async def test_one_bad_job_never_aborts_a_polling_round(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An endless Retry-After and a bug while polling one job: the others are still polled
    and every job gets a new poll time (no job is polled again at once, round after round)."""
    async with harness.bot(**remote.env) as bot:
        ids = {name: await _at_provider(bot, name) for name in ("endless", "bug", "good")}

        async def fetch(provider_job_id: str) -> RemoteJob:
            if provider_job_id == "endless":
                raise ProviderUnavailable("magichour", "busy", retry_after=math.inf)
            if provider_job_id == "bug":
                raise RuntimeError("a bug")
            return RemoteJob(provider_job_id=provider_job_id, status=JobStatus.RUNNING)

        monkeypatch.setattr(magichour(bot), "fetch", fetch)
        at = now() + timedelta(hours=1, seconds=1)
        assert await bot.services.poller.poll_once(at) == 3
        jobs = {name: await bot.services.jobs.get(job_id) for name, job_id in ids.items()}
    for name, job in jobs.items():
        assert job is not None
        assert job.status is JobStatus.RUNNING, name
        assert job.next_poll_at is not None
        assert at < job.next_poll_at <= at + timedelta(seconds=MAX_BACKOFF_SECONDS), name
