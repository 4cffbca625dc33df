"""Batched polling: the real bot's poller reads the jobs of a provider with a list endpoint
(``fetch_many``) a hundred at a time. The provider is a small in-test RemoteProvider whose
API runs on 127.0.0.1 and counts the requests it gets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.app import Running
from bot.errors import ProviderError, ProviderUnavailable
from bot.jobs import poller
from bot.jobs.poller import CONCURRENCY, MIN_PAUSE_SECONDS, backoff
from bot.models import Job, JobStatus, Order, RemoteJob
from bot.providers import Inputs, RemoteProvider, WebhookAuth
from bot.providers.base import identifier
from bot.providers.http import ProviderHTTP, RetryPolicy
from bot.providers.lipsync_studio import LipsyncStudioProvider
from storage import JobRepository
from storage.db import now
from tests.conftest import Harness
from tests.fakes.telegram import serve_asgi
from tests.job_rows import job_row

USER = 111
#: What the API says of every job unless a test says otherwise.
RENDERING = {"status": "processing", "progress": 40}


class ListApi:
    """A provider API: ``GET /jobs?ids=a,b`` lists jobs, ``GET /jobs/{id}`` reads one."""

    def __init__(self) -> None:
        #: Each job's item as the API answers it, by id.
        self.items: dict[str, object] = {}
        #: The ids of each list request, in order; the ids of each single read.
        self.lists: list[list[str]] = []
        self.singles: list[str] = []
        #: When each request (list or single) arrived, in order (``time.monotonic()``).
        self.arrivals: list[float] = []
        #: A list request naming one of these is answered 429 with Retry-After: 120.
        self.busy: set[str] = set()
        #: A list request naming one of these is answered 400.
        self.refused: set[str] = set()
        #: Jobs the list does not show yet (it lags behind single reads).
        self.lagging: set[str] = set()
        #: Items no job owns, in every list answer.
        self.junk: list[object] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.app = Starlette(
            routes=[Route("/jobs", self._list), Route("/jobs/{job_id}", self._one)]
        )

    async def _list(self, request: Request) -> JSONResponse:
        ids = request.query_params.get("ids", "").split(",")
        self.lists.append(ids)
        self.arrivals.append(time.monotonic())
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)  # long enough for concurrent lists to overlap
            if self.busy.intersection(ids):
                return JSONResponse({"detail": "slow down"}, 429, headers={"Retry-After": "120"})
            if self.refused.intersection(ids):
                return JSONResponse({"detail": "unknown filter: ids"}, 400)
            shown = [self.items[i] for i in ids if i in self.items and i not in self.lagging]
            return JSONResponse([*shown, *self.junk])
        finally:
            self.in_flight -= 1

    async def _one(self, request: Request) -> JSONResponse:
        job_id = request.path_params["job_id"]
        self.singles.append(job_id)
        self.arrivals.append(time.monotonic())
        item = self.items.get(job_id)
        if item is None:
            return JSONResponse({"detail": "Not found."}, 404)
        return JSONResponse(item)


class ListProvider(RemoteProvider):
    """A remote provider with a batched status read of up to 100 jobs."""

    name = "batchy"
    capabilities = LipsyncStudioProvider.capabilities
    needs_public_urls = False
    webhook_auth = WebhookAuth.URL_TOKEN
    batch_size = 100
    statuses: ClassVar[Mapping[str, JobStatus]] = {
        "queued": JobStatus.QUEUED,
        "processing": JobStatus.RUNNING,
        "done": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
        # A vendor module's bug: a status no provider may report (settle refuses it).
        "limbo": JobStatus.DELIVERED,
    }

    async def submit(
        self, order: Order, inputs: Inputs, *, name: str, webhook_url: str | None
    ) -> RemoteJob:
        raise NotImplementedError

    def parse_webhook(self, data: dict[str, Any]) -> RemoteJob:
        raise NotImplementedError

    async def fetch(self, provider_job_id: str) -> RemoteJob:
        return self._job(await self.call("GET", self.job_path("/jobs/", provider_job_id)))

    async def fetch_many(self, provider_job_ids: Sequence[str]) -> dict[str, RemoteJob]:
        answer = await self.call("GET", "/jobs?ids=" + ",".join(provider_job_ids))
        found: dict[str, RemoteJob] = {}
        for item in answer if isinstance(answer, list) else []:
            try:
                job = self._job(item)
            except ProviderError:
                continue  # an item this module cannot read: that job is read alone
            found[job.provider_job_id] = job
        return found

    def _job(self, item: object) -> RemoteJob:
        job_id = identifier(item.get("id")) if isinstance(item, dict) else None
        if job_id is None or not isinstance(item, dict):
            raise ProviderUnavailable(self.name, "not a job")
        progress = item.get("progress")
        return RemoteJob(
            provider_job_id=job_id,
            status=self.status_of(item.get("status")),
            progress=progress if isinstance(progress, int) else None,
        )


class OneByOne(ListProvider):
    """The same API, for a provider whose module reads jobs one at a time."""

    name = "onebyone"
    batch_size = 1


class SomeListed(ListProvider):
    """A provider whose list knows only some of its jobs (Creatify lists only v2 ones)."""

    name = "somelisted"

    def listed(self, provider_job_id: str) -> bool:
        return int(provider_job_id.rsplit("-", 1)[1]) % 2 == 0


@dataclass
class Setup:
    bot: Running
    api: ListApi
    provider: ListProvider

    async def jobs_at_provider(self, count: int) -> tuple[dict[str, int], datetime]:
        """``count`` jobs the provider is rendering (ids ``<name>-0``...), every one first
        polled an hour from now, in id order; returns their ids and a time they are all due."""
        repo = JobRepository(self.bot.services.db)
        first = now() + timedelta(hours=1)
        ids: dict[str, int] = {}
        for n in range(count):
            provider_job_id = f"{self.provider.name}-{n}"
            job = await job_row(self.bot, USER, self.provider.name)
            await repo.update(
                job.id,
                provider_job_id=provider_job_id,
                deadline_at=first + timedelta(hours=1),
                next_poll_at=first + timedelta(milliseconds=n),
            )
            assert await repo.transition(job.id, [JobStatus.SUBMITTING], JobStatus.RUNNING)
            self.api.items[provider_job_id] = {"id": provider_job_id, **RENDERING}
            ids[provider_job_id] = job.id
        return ids, first + timedelta(seconds=1)

    async def job(self, job_id: int) -> Job:
        job = await self.bot.services.jobs.get(job_id)
        assert job is not None
        return job

    def interval(self) -> float:
        return self.bot.services.poller._policy.interval(self.provider)

    async def polled_fine(self, job_id: int, at: datetime) -> bool:
        """Whether the job took the API's news and is next polled after one interval."""
        job = await self.job(job_id)
        return (
            job.progress == RENDERING["progress"]
            and job.poll_failures == 0
            and job.next_poll_at == at + timedelta(seconds=self.interval())
        )


@asynccontextmanager
async def provider_setup(
    harness: Harness, kind: type[ListProvider] = ListProvider
) -> AsyncIterator[Setup]:
    api = ListApi()
    async with (
        serve_asgi(api.app) as url,
        httpx.AsyncClient() as client,
        harness.bot() as bot,
    ):
        # One try per request: a 429 reaches the poller at once (no client-side retries).
        http = ProviderHTTP(kind.name, client, policy=RetryPolicy(attempts=1))
        provider = kind(http, url, "key")
        bot.services.providers[provider.name] = provider
        yield Setup(bot, api, provider)


async def test_250_due_jobs_are_read_in_3_list_requests(harness: Harness) -> None:
    async with provider_setup(harness) as s:
        ids, at = await s.jobs_at_provider(250)
        assert await s.bot.services.poller.poll_once(at) == 250
        assert sorted(len(chunk) for chunk in s.api.lists) == [50, 100, 100]
        assert sorted(i for chunk in s.api.lists for i in chunk) == sorted(ids)
        assert s.api.singles == []
        assert 1 < s.api.most_in_flight <= CONCURRENCY
        for job_id in ids.values():
            assert await s.polled_fine(job_id, at), job_id


async def test_a_chunk_answered_429_backs_off_its_jobs_only(harness: Harness) -> None:
    async with provider_setup(harness) as s:
        ids, at = await s.jobs_at_provider(250)
        s.api.busy = {"batchy-120"}
        await s.bot.services.poller.poll_once(at)
        (busy,) = [chunk for chunk in s.api.lists if "batchy-120" in chunk]
        assert len(busy) == 100
        assert s.api.singles == []  # backed off, not read one by one
        wait = backoff(s.interval(), 1, 120.0)
        assert wait >= 120
        for provider_job_id, job_id in ids.items():
            if provider_job_id in busy:
                job = await s.job(job_id)
                assert job.poll_failures == 1
                assert job.next_poll_at == at + timedelta(seconds=wait)
                assert job.progress != RENDERING["progress"]
            else:
                assert await s.polled_fine(job_id, at), provider_job_id


async def test_a_job_the_list_omits_is_read_alone(harness: Harness) -> None:
    async with provider_setup(harness) as s:
        ids, at = await s.jobs_at_provider(5)
        s.api.lagging = {"batchy-3"}
        await s.bot.services.poller.poll_once(at)
        assert s.api.lists == [[f"batchy-{n}" for n in range(5)]]
        assert s.api.singles == ["batchy-3"]
        for job_id in ids.values():
            assert await s.polled_fine(job_id, at), job_id


async def test_a_refused_list_falls_back_to_single_reads(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A 4xx on the list says nothing about any one job: none is failed, each is read alone
    (and a job the provider then says does not exist is the only one lost). The admins' log
    hears of it once, not every round."""
    async with provider_setup(harness) as s:
        ids, at = await s.jobs_at_provider(5)
        s.api.refused = {"batchy-0"}
        del s.api.items["batchy-4"]
        await s.bot.services.poller.poll_once(at)
        assert len(s.api.lists) == 1
        assert sorted(s.api.singles) == sorted(ids)
        for provider_job_id, job_id in ids.items():
            if provider_job_id == "batchy-4":
                assert (await s.job(job_id)).status is JobStatus.FAILED
            else:
                assert await s.polled_fine(job_id, at), provider_job_id
        await s.bot.services.poller.poll_once(at + timedelta(seconds=s.interval()))
        assert len(s.api.lists) == 2
    warned = [r for r in caplog.records if "refused a list of" in r.getMessage()]
    assert len(warned) == 1


async def test_malformed_items_never_abort_the_others(harness: Harness) -> None:
    """An item with an unreadable status is read alone (and backed off like any unreadable
    answer); one the module misreads makes settling fail for that job only; junk items that
    name no job of ours change nothing."""
    async with provider_setup(harness) as s:
        ids, at = await s.jobs_at_provider(10)
        s.api.items["batchy-7"] = {"id": "batchy-7", "status": {"$gt": ""}, "progress": 90}
        s.api.items["batchy-8"] = {"id": "batchy-8", "status": "limbo", "progress": 90}
        s.api.junk = ["garbage", None, 12, {"id": "../../etc"}, {"id": "other", **RENDERING}]
        assert await s.bot.services.poller.poll_once(at) == 10
        assert len(s.api.lists) == 1
        assert s.api.singles == ["batchy-7"]
        for provider_job_id, job_id in ids.items():
            if provider_job_id in ("batchy-7", "batchy-8"):
                job = await s.job(job_id)
                assert job.status is JobStatus.RUNNING
                assert job.poll_failures == 1, provider_job_id
                assert job.next_poll_at is not None
                assert job.next_poll_at > at
            else:
                assert await s.polled_fine(job_id, at), provider_job_id


async def test_an_expired_job_is_given_up_not_asked_about(harness: Harness) -> None:
    async with provider_setup(harness) as s:
        ids, at = await s.jobs_at_provider(3)
        await JobRepository(s.bot.services.db).update(ids["batchy-1"], deadline_at=at)
        await s.bot.services.poller.poll_once(at)
        assert s.api.lists == [["batchy-0", "batchy-2"]]
        assert (await s.job(ids["batchy-1"])).status is JobStatus.EXPIRED
        assert await s.polled_fine(ids["batchy-0"], at)


@pytest.mark.parametrize("count", [3, 20])
async def test_a_provider_without_batched_reads_is_read_one_by_one(
    harness: Harness, count: int
) -> None:
    async with provider_setup(harness, OneByOne) as s:
        ids, at = await s.jobs_at_provider(count)
        await s.bot.services.poller.poll_once(at)
        assert s.api.lists == []
        assert sorted(s.api.singles) == sorted(ids)
        for job_id in ids.values():
            assert await s.polled_fine(job_id, at), job_id


async def test_jobs_the_provider_does_not_list_are_read_alone(harness: Harness) -> None:
    async with provider_setup(harness, SomeListed) as s:
        ids, at = await s.jobs_at_provider(6)
        await s.bot.services.poller.poll_once(at)
        assert s.api.lists == [["somelisted-0", "somelisted-2", "somelisted-4"]]
        assert sorted(s.api.singles) == ["somelisted-1", "somelisted-3", "somelisted-5"]
        for job_id in ids.values():
            assert await s.polled_fine(job_id, at), job_id


async def run_alone(s: Setup, ids: dict[str, int], done: int) -> None:
    """The bot's own polling loop, with every job in ``ids`` due now, until the API has been
    asked ``done`` times (the loop the bot started is stopped first: it is the only one)."""
    (started,) = [task for task in asyncio.all_tasks() if task.get_name() == "poller"]
    started.cancel()
    await asyncio.wait([started])
    repo = JobRepository(s.bot.services.db)
    due = now() - timedelta(seconds=1)
    for n, job_id in enumerate(ids.values()):
        await repo.update(job_id, next_poll_at=due + timedelta(milliseconds=n))
    stop = asyncio.Event()
    loop = asyncio.create_task(s.bot.services.poller.run(stop))
    try:
        async with asyncio.timeout(10):
            while len(s.api.arrivals) < done:
                await asyncio.sleep(0.005)
    finally:
        stop.set()
        await loop


async def test_a_full_round_read_in_lists_pauses_for_its_requests_only(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between full rounds the loop pauses to pace the provider's requests: a round of
    BATCH single reads pauses MIN_PAUSE_SECONDS; a round read in a list made one request and
    must not wait as long (10,000 Creatify jobs would otherwise be polled every 20 pauses,
    not every POLL_INTERVAL_SECONDS: bench/creatify_polling.py)."""
    monkeypatch.setattr(poller, "BATCH", 20)
    async with provider_setup(harness) as s:
        ids, _ = await s.jobs_at_provider(40)
        await run_alone(s, ids, done=2)
        assert [len(chunk) for chunk in s.api.lists] == [20, 20]
        assert s.api.arrivals[1] - s.api.arrivals[0] < MIN_PAUSE_SECONDS


async def test_full_rounds_of_single_reads_still_pause(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poller, "BATCH", 10)
    async with provider_setup(harness, OneByOne) as s:
        ids, _ = await s.jobs_at_provider(20)
        await run_alone(s, ids, done=11)
        assert s.api.lists == []
        assert s.api.arrivals[10] - s.api.arrivals[9] >= MIN_PAUSE_SECONDS
