"""Submitting under faults: a cancel during the create never cuts it off (the provider may
already have made and charged for the job, so its id is kept), a job whose provider id was
saved before a crash is resumed with the provider's whole deadline, and a failure while
preparing the inputs ends the job with a message instead of leaving it "queued…"."""

from __future__ import annotations

import asyncio
import errno
from datetime import timedelta

import pytest

from bot.models import Job, JobStatus, Order, RemoteJob
from bot.providers import Inputs, RemoteProvider
from storage import JobRepository
from storage.db import now
from tests.conftest import Harness, Media, to_chat
from tests.flows import said
from tests.job_rows import job_row
from tests.remote_orders import generate, job_when
from tests.test_providers_e2e import (  # noqa: F401 - fixtures
    ANN,
    Remote,
    provider_output,
    remote,
)


async def test_a_cancel_during_the_create_keeps_the_providers_job_id(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """/cancel while the create is on its way: the create is not cut off (the provider may
    have it already), the job stays canceled, and the provider's id is recorded."""
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        provider = bot.services.providers["magichour"]
        assert isinstance(provider, RemoteProvider)
        creating, release = asyncio.Event(), asyncio.Event()
        create = provider.submit

        async def slow_create(
            order: Order, inputs: Inputs, *, name: str, webhook_url: str | None
        ) -> RemoteJob:
            creating.set()
            await release.wait()  # the request is out; its answer is on its way
            return await create(order, inputs, name=name, webhook_url=webhook_url)

        monkeypatch.setattr(provider, "submit", slow_create)
        made = await generate(bot, fake, media, "magichour")
        await asyncio.wait_for(creating.wait(), 20)
        mark = fake.mark()
        fake.send_command(ANN, "/cancel")
        await said(fake, ANN.id, f"Canceled video #{made.id}", mark)
        release.set()
        job = await job_when(bot, made.id, lambda j: j.provider_job_id is not None)
        await bot.services.tasks.wait_idle()
        job = await job_when(bot, made.id, lambda j: True)
    assert job.status is JobStatus.CANCELED
    assert job.provider_job_id in remote.mh.jobs
    assert not fake.sent(method="sendVideo")


async def test_a_submitting_job_with_a_provider_id_resumes_with_the_whole_deadline(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
) -> None:
    """The last process saved the provider's id and died before the move to queued: the job
    is the provider's, so it is not shortened to an adoption window and expired."""
    async with harness.bot(**remote.env) as bot:
        provider = bot.services.providers["magichour"]
        assert isinstance(provider, RemoteProvider)
        repo = JobRepository(bot.services.db)
        job = await job_row(bot, ANN.id)
        started = now() - timedelta(seconds=30)
        deadline = started + timedelta(seconds=provider.deadline_seconds)
        await repo.update(
            job.id,
            submit_started_at=started,
            deadline_at=deadline,
            next_poll_at=deadline,
            provider_job_id="made-before-the-crash",
        )
        await bot.services.jobs.resume()
        resumed = await job_when(bot, job.id, lambda j: True)
    assert resumed.status is JobStatus.QUEUED
    assert resumed.deadline_at == deadline
    assert resumed.next_poll_at is not None
    assert resumed.next_poll_at < deadline


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "could not be rendered"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), "no longer kept on"),
    ],
    ids=["disk-full", "input-gone"],
)
async def test_a_failure_while_preparing_the_inputs_ends_the_job_with_a_message(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
    monkeypatch: pytest.MonkeyPatch,
    error: OSError,
    says: str,
) -> None:
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:

        async def broken_prepare(job: Job) -> Inputs:
            if isinstance(error, FileNotFoundError):  # the retention sweep took the voice
                job.order.voice_file.unlink()
            raise error

        monkeypatch.setattr(bot.services.host, "prepare", broken_prepare)
        made = await generate(bot, fake, media, "magichour")
        job = await job_when(bot, made.id, lambda j: j.status is not JobStatus.SUBMITTING)
        await fake.wait_for("sendMessage", to_chat(ANN.id, says), timeout=15)
        await bot.services.tasks.wait_idle()
    assert job.status is JobStatus.FAILED
    assert [c for c in remote.mh.calls if c.method == "POST"] == []
