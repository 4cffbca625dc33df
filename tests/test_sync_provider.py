"""The sync.so client (bot/providers/sync.py) against the fake sync.so over HTTP: what it sends,
how it reads answers, its idempotency key and the retries the key makes safe, prices, and
signed webhooks; and ProviderHTTP's keyed creates on their own."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bot.config import load_settings
from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderRejected,
    ProviderUnavailable,
    WebhookRejected,
)
from bot.i18n import Translator
from bot.models import AspectRatio, AudioVoice, FaceKind, FileFace, JobStatus, Order, Probe
from bot.providers import sync
from bot.providers.base import Inputs
from bot.providers.http import ProviderHTTP, RetryPolicy
from bot.providers.sync import SyncProvider, idempotency_key
from tests.fakes.sync import KEY as KEY_PATTERN
from tests.fakes.sync import FakeSync
from tests.job_rows import photo_order
from tests.test_fake_sync import KEY, SECRET, Receiver, fake, receiver  # noqa: F401 - fixtures

NAME = "lipsync-bot #1 0123456789ab"
HOOK = "https://bot.example/hooks/sync"


def video_order(seconds: float = 4.0) -> Order:
    probe = Probe(duration=seconds, width=640, height=360, has_video=True, has_audio=True)
    return Order(
        face=FileFace(kind=FaceKind.VIDEO, path="face.mp4", probe=probe),
        voice=AudioVoice(path="voice.mp3", probe=probe),
        ratio=AspectRatio("9:16"),
    )


def hosted(receiver: Receiver, audio: str = "voice.mp3") -> Inputs:  # noqa: F811 - fixture type
    return Inputs(
        face=Path("face.mp4"),
        voice=Path(audio),
        face_url=f"{receiver.url}/files/face.mp4",
        voice_url=f"{receiver.url}/files/{audio}",
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http_client:
        yield http_client


@pytest.fixture
def make(
    client: httpx.AsyncClient,
    fake: FakeSync,  # noqa: F811 - the fixture
) -> Callable[..., SyncProvider]:
    def build(
        *, secret: str | None = SECRET, model: str = "lipsync-2", url: str = ""
    ) -> SyncProvider:
        http = ProviderHTTP("sync", client, policy=RetryPolicy(base=0.01))
        return SyncProvider(http, url or fake.base_url, KEY, secret, model=model)

    return build


# ---------------------------------------------------------------------- creating


async def test_submit_sends_the_documented_create_with_a_key(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    inputs = hosted(receiver)
    # The order says 2 s where the MP3 is 4 s: the price is sync.so's reading of the file.
    job = await make().submit(video_order(2.0), inputs, name=NAME, webhook_url=HOOK)
    key = idempotency_key(NAME, inputs)
    (cost, create) = fake.calls
    assert (cost.path, create.path) == ("/v2/analyze/cost", "/v2/generate")
    assert cost.json == create.json  # the price is asked for the very create
    assert create.key == key
    assert create.json == {
        "model": "lipsync-2",
        "input": [
            {"type": "video", "url": inputs.face_url},
            {"type": "audio", "url": inputs.voice_url},
        ],
        "options": {"sync_mode": "cut_off"},
        "outputFileName": key,
        "webhookUrl": HOOK,
    }
    assert job.provider_job_id in fake.generations
    assert job.status is JobStatus.QUEUED
    assert job.name == NAME
    (quote,) = await _quote(fake, create.json)
    assert job.credits == quote["estimatedGenerationCost"] == 0.2
    assert make().estimate_cost(video_order(2.0)) == 0.1


async def _quote(fake: FakeSync, body: object) -> list[dict[str, float]]:  # noqa: F811
    async with httpx.AsyncClient(base_url=fake.base_url, headers={"x-api-key": KEY}) as api:
        answer: list[dict[str, float]] = (await api.post("/v2/analyze/cost", json=body)).json()
        return answer


def test_the_key_is_the_jobs_name_and_a_digest_of_its_links() -> None:
    links = Inputs(Path("f"), Path("v"), "https://b/media/1/face.mp4?exp=9&sig=a", "https://b/v")
    key = idempotency_key(NAME, links)
    assert KEY_PATTERN.fullmatch(key)
    assert key.startswith("lipsync-bot-1-0123456789ab-")
    assert idempotency_key(NAME, links) == key  # the same job: the same key, every time
    # The same job number in a fresh database has links of another date: another key.
    later = Inputs(Path("f"), Path("v"), "https://b/media/1/face.mp4?exp=10&sig=b", "https://b/v")
    assert idempotency_key(NAME, later) != key
    assert idempotency_key("lipsync-bot #2 0123456789ab", links) != key


async def test_a_resend_carries_the_stored_key_and_asks_no_price(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    """The key stored at the first send is sent, not one made again from the links (they
    may have changed since: another PUBLIC_URL); a resend asks no price (the first send
    did): the price list stands in."""
    provider = make()
    stored = replace(hosted(receiver), key="lipsync-bot-1-0123456789ab-stored")
    await provider.submit(video_order(), stored, name=NAME, webhook_url=None)
    assert provider.create_key(NAME, stored) == idempotency_key(NAME, stored) != stored.key
    again = await provider.submit(
        video_order(), replace(stored, resend=True), name=NAME, webhook_url=None
    )
    (cost, first, resent) = fake.calls
    assert cost.path == "/v2/analyze/cost"
    assert first.key == resent.key == stored.key == first.json["outputFileName"]
    assert fake.replays == [again.provider_job_id]
    assert again.credits == provider.estimate_cost(video_order()) == 0.2
    assert provider.credit_unit == "usd"
    t = Translator.load()
    assert t.amount("en", 0.152, "usd") == "US$0.15"
    assert t.amount("pt_BR", 12.5, "credits") == "12,5 créditos do provedor"


async def test_without_a_webhook_secret_no_webhook_is_asked_for(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    await make(secret=None).submit(video_order(), hosted(receiver), name=NAME, webhook_url=HOOK)
    assert "webhookUrl" not in fake.creates()[0].json


async def test_a_photo_is_refused_before_any_request(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    with pytest.raises(ProviderRejected, match="videos only"):
        await make().submit(photo_order(), hosted(receiver), name=NAME, webhook_url=None)
    assert fake.calls == []


@pytest.mark.parametrize("lose", ["500 after processing", "connection cut"])
async def test_a_lost_create_answer_is_retried_under_the_key_and_paid_once(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
    lose: str,
) -> None:
    if lose == "connection cut":
        fake.drop_next("POST /v2/generate")
    else:
        fake.fail_next("POST /v2/generate", 500, after_processing=True)
    inputs = hosted(receiver)
    job = await make().submit(video_order(), inputs, name=NAME, webhook_url=HOOK)
    (generation,) = fake.generations.values()
    assert job.provider_job_id == generation.id
    assert fake.replays == [generation.id]
    assert [call.key for call in fake.creates()] == [idempotency_key(NAME, inputs)] * 2
    await fake.wait_idle()
    assert len(fake.charges) == 1


async def test_a_create_lost_on_every_try_may_be_done_and_a_resend_finds_it(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    fake.fail_next("POST /v2/generate", 502, times=4, after_processing=True)
    provider = make()
    with pytest.raises(ProviderUnavailable) as lost:
        await provider.submit(video_order(), hosted(receiver), name=NAME, webhook_url=HOOK)
    assert lost.value.maybe_done
    assert len(fake.creates()) == 4
    # Later (the poller, or a restart), the same job is sent again: the same generation.
    job = await provider.submit(video_order(), hosted(receiver), name=NAME, webhook_url=HOOK)
    assert list(fake.generations) == [job.provider_job_id]


async def test_refused_creates_are_not_maybe_done(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    order, inputs = video_order(), hosted(receiver)
    fake.fail_next("POST /v2/generate", 429, times=4, retry_after=0)
    with pytest.raises(ProviderUnavailable) as limited:
        await make().submit(order, inputs, name=NAME, webhook_url=None)
    assert not limited.value.maybe_done
    assert "Rate limit exceeded" in limited.value.reason
    with pytest.raises(ProviderUnavailable) as unreachable:
        await make(url="http://127.0.0.1:9").submit(order, inputs, name=NAME, webhook_url=None)
    assert not unreachable.value.maybe_done
    fake.balance = 0
    with pytest.raises(ProviderOutOfCredits):
        await make().submit(order, inputs, name=NAME, webhook_url=None)
    fake.balance = 100
    with pytest.raises(ProviderRejected, match="model must be one of"):
        await make(model="lipsync-9").submit(order, inputs, name=NAME, webhook_url=None)
    assert not fake.generations


async def test_a_key_sent_with_another_body_is_a_refusal(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    """The operator changed SYNC_MODEL between a lost create and its resend: sync.so keeps
    the key's first body, and the bot says so rather than pay for a second video."""
    inputs = hosted(receiver)
    await make().submit(video_order(), inputs, name=NAME, webhook_url=None)
    with pytest.raises(ProviderRejected, match="Idempotency-Key") as refused:
        await make(model="sync-3").submit(video_order(), inputs, name=NAME, webhook_url=None)
    assert refused.value.status_code == 422
    assert len(fake.generations) == 1
    assert len(fake.creates()) == 2  # a 422 is not retried


async def test_a_wrong_key_is_an_auth_error(
    client: httpx.AsyncClient,
    fake: FakeSync,  # noqa: F811
) -> None:
    provider = SyncProvider(ProviderHTTP("sync", client), fake.base_url, "sk-wrong", SECRET)
    with pytest.raises(ProviderAuthError):
        await provider.fetch("00000000-0000-0000-0000-000000000000")


# ---------------------------------------------------------------------- prices


@pytest.mark.parametrize(
    ("model", "seconds", "usd"),
    [
        ("lipsync-2", 4.0, 0.2),  # 100 frames at $0.05 a second
        ("lipsync-2", 4.01, 0.202),  # 101 frames: whole frames are billed
        ("lipsync-2-pro", 4.0, 0.332),
        ("sync-3", 4.0, 0.532),
        ("react-1", 4.0, 0.532),  # no published price: the dearest known
    ],
)
def test_estimates_come_from_the_price_list(
    client: httpx.AsyncClient, model: str, seconds: float, usd: float
) -> None:
    provider = SyncProvider(ProviderHTTP("sync", client), "http://x", KEY, None, model=model)
    assert provider.estimate_cost(video_order(seconds)) == pytest.approx(usd)


async def test_without_a_quote_the_job_costs_the_price_list(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake.fail_next("POST /v2/analyze/cost", 500, times=4)
    job = await make().submit(video_order(), hosted(receiver), name=NAME, webhook_url=None)
    assert job.credits == 0.2
    # A slow quote does not hold the create up.
    monkeypatch.setattr(sync, "COST_TIMEOUT_SECONDS", 0.2)
    fake.fail_next("POST /v2/analyze/cost", 500, delay=5)
    other = Inputs(
        Path("f"), Path("v"), f"{receiver.url}/files/face.mp4?2", hosted(receiver).voice_url
    )
    job = await make().submit(video_order(), other, name=NAME, webhook_url=None)
    assert job.credits == 0.2
    assert len(fake.generations) == 2
    # A quote that cannot be a price (negative, absurd, missing) is not believed either.
    monkeypatch.setattr(sync, "COST_TIMEOUT_SECONDS", 5.0)
    answers: list[object] = [
        [{"estimatedGenerationCost": -1}],
        [{"estimatedGenerationCost": 1e300}],
        [],
        {},
    ]
    for said in answers:
        fake.fail_next("POST /v2/analyze/cost", 200, said)
        job = await make().submit(video_order(), hosted(receiver), name=NAME, webhook_url=None)
        assert job.credits == 0.2, said


# ---------------------------------------------------------------------- reading


async def test_fetch_and_lists_read_every_status(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    provider = make()
    fake.auto_complete = False
    jobs = [
        await provider.submit(
            video_order(),
            hosted(receiver),
            name=f"lipsync-bot #{n} 0123456789ab",
            webhook_url=None,
        )
        for n in range(3)
    ]
    done, failed, running = (job.provider_job_id for job in jobs)
    for gen_id in (done, failed, running):
        await fake.wait_for(gen_id, "PROCESSING")
    assert (await provider.fetch(running)).status is JobStatus.RUNNING
    fake.complete(done)
    fake.fail(failed, "REJECTED", "content_policy", "Refused\nby moderation")
    await fake.wait_for(done)
    await fake.wait_for(failed)
    found = await provider.fetch_many([done, failed, running, "bad/id", "missing-one"])
    assert set(found) == {done, failed, running}
    assert found[done].status is JobStatus.SUCCEEDED
    assert found[done].output_url == fake.generation(done)["outputMediaUrl"]
    assert found[failed].status is JobStatus.FAILED
    assert found[failed].error == "Refused by moderation"  # one clean line
    assert found[running].status is JobStatus.RUNNING
    list_call = fake.calls[-1]
    assert list_call.path == "/v2/generations"
    with pytest.raises(ProviderRejected):
        await provider.fetch("../v2/generations")


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("PENDING", JobStatus.QUEUED),
        ("PROCESSING", JobStatus.RUNNING),
        ("FAILED", JobStatus.FAILED),
        ("REJECTED", JobStatus.FAILED),
        ("TIMED_OUT", JobStatus.FAILED),
        ("CANCELED", JobStatus.CANCELED),
    ],
)
def test_status_words(client: httpx.AsyncClient, word: str, status: JobStatus) -> None:
    provider = SyncProvider(ProviderHTTP("sync", client), "http://x", KEY, SECRET)
    job = provider.parse_webhook({"id": "g-1", "status": word, "error_code": "code_only"})
    assert job.status is status
    if status in (JobStatus.FAILED, JobStatus.CANCELED):
        assert job.error == "code_only"
    # COMPLETED without a video is not done for us; with outputUrl (the older name) it is.
    assert provider.parse_webhook({"id": "g", "status": "COMPLETED"}).status is JobStatus.RUNNING
    old = provider.parse_webhook({"id": "g", "status": "COMPLETED", "outputUrl": "https://o"})
    assert (old.status, old.output_url) == (JobStatus.SUCCEEDED, "https://o")


# ---------------------------------------------------------------------- webhooks


def signed(body: bytes, stamp: int, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"sync-signature": f"t={stamp},v1={digest}"}


def test_webhook_signatures(client: httpx.AsyncClient) -> None:
    provider = SyncProvider(ProviderHTTP("sync", client), "http://x", KEY, SECRET)
    body = b'{"id":"g-1","status":"COMPLETED","outputUrl":"https://o/x.mp4"}'
    now = 1_700_000_000
    provider.verify_webhook(signed(body, now), body, now)
    provider.verify_webhook(signed(body, now - 299), body, now)  # within the tolerance
    good = signed(body, now)["sync-signature"]
    stamp, v1 = good.split(",")
    provider.verify_webhook({"sync-signature": f"{stamp},v1=00ff,{v1}"}, body, now)  # rolled
    forged = [
        ({}, body),
        ({"sync-signature": ""}, body),
        ({"sync-signature": v1}, body),  # no timestamp
        ({"sync-signature": stamp}, body),  # no signature
        ({"sync-signature": f"t=١٧٠٠٠٠٠٠٠٠,{v1}"}, body),  # not ASCII digits
        ({"sync-signature": good + "," * 2000}, body),  # absurdly long
        (signed(body, now, "whsec_other"), body),
        (signed(body, now - 301), body),  # stale
        (signed(body, now + 301), body),  # from the future
        (signed(body, now), body.replace(b"g-1", b"g-2")),  # tampered
        ({"sync-signature": f"{stamp},v1=ÿÿ"}, body),
    ]
    for headers, sent in forged:
        with pytest.raises(WebhookRejected):
            provider.verify_webhook(headers, sent, now)
    unset = SyncProvider(ProviderHTTP("sync", client), "http://x", KEY, None)
    with pytest.raises(WebhookRejected, match="SYNC_WEBHOOK_SECRET"):
        unset.verify_webhook(signed(body, now), body, now)
    hint = provider.webhook_job(body)
    assert (hint.provider_job_id, hint.status) == ("g-1", JobStatus.SUCCEEDED)
    for bad in (b"[]", b"{}", b'{"id": "../x", "status": "COMPLETED"}', b"not json"):
        with pytest.raises(WebhookRejected):
            provider.webhook_job(bad)


async def test_the_fakes_webhooks_verify(
    make: Callable[..., SyncProvider],
    fake: FakeSync,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    provider = make()
    inputs = hosted(receiver)
    job = await provider.submit(
        video_order(), inputs, name=NAME, webhook_url=f"{receiver.url}/hook"
    )
    await fake.wait_idle()
    ((headers, raw),) = receiver.hooks
    provider.verify_webhook(httpx.Headers(headers), raw, time.time())
    assert provider.webhook_job(raw).provider_job_id == job.provider_job_id


# ---------------------------------------------------------------------- the vendor


def test_vendor_needs_a_key_and_public_url_and_says_what_is_lost() -> None:
    base = {"TELEGRAM_BOT_TOKEN": "1:x"}
    vendor = sync.VENDOR
    assert vendor.missing(load_settings(base, env_file=None)) == "needs SYNC_API_KEY"
    keyed = {**base, "SYNC_API_KEY": "sk"}
    assert "PUBLIC_URL" in (vendor.missing(load_settings(keyed, env_file=None)) or "")
    public = load_settings({**keyed, "PUBLIC_URL": "https://bot.example"}, env_file=None)
    assert vendor.missing(public) is None
    assert public.sync_model == "lipsync-2"
    (note,) = vendor.notes(public)
    assert "SYNC_WEBHOOK_SECRET" in note
    react = load_settings(
        {**keyed, "SYNC_WEBHOOK_SECRET": "whsec_x", "SYNC_MODEL": "react-1"}, env_file=None
    )
    (note,) = vendor.notes(react)
    assert "no published price" in note
    assert SyncProvider.capabilities.faces == frozenset({FaceKind.VIDEO})
    assert SyncProvider.capabilities.max_seconds == 300


# ---------------------------------------------------------------------- ProviderHTTP, keyed


async def test_keyed_creates_are_retried_and_stay_maybe_done() -> None:
    """A keyed create is retried past timeouts, 5xx and 409 (the key's first try, still being
    made); once a try may have run, the final error says maybe_done even if the last try
    never connected; 429s alone leave it not done."""
    plan: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        step = plan.pop(0)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, int)
        return httpx.Response(step, json={"statusCode": step, "message": "m"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock:
        http = ProviderHTTP("sync", mock, policy=RetryPolicy(base=0.0))
        request = httpx.Request("POST", "https://sync.test/v2/generate")
        plan += [httpx.ReadTimeout("slow"), 409, 500, 201]
        assert (await http.send(request, idempotent=False, keyed=True)).status_code == 201
        plan += [httpx.ReadTimeout("slow"), *[httpx.ConnectError("down")] * 3]
        with pytest.raises(ProviderUnavailable) as lost:
            await http.send(request, idempotent=False, keyed=True)
        assert lost.value.maybe_done
        plan += [429] * 4
        with pytest.raises(ProviderUnavailable) as limited:
            await http.send(request, idempotent=False, keyed=True)
        assert not limited.value.maybe_done
        # Without a key nothing changes: a 5xx ends it at once, maybe done.
        plan += [500]
        with pytest.raises(ProviderUnavailable) as unkeyed:
            await http.send(request, idempotent=False)
        assert unkeyed.value.maybe_done
        assert plan == []


@pytest.mark.parametrize(
    ("lost", "refusal", "error"),
    [
        (httpx.ReadTimeout("slow"), 402, ProviderOutOfCredits),
        (500, 401, ProviderAuthError),
        (httpx.RemoteProtocolError("cut"), 422, ProviderRejected),
    ],
)
async def test_a_refusal_after_a_lost_try_of_a_keyed_create_is_maybe_done(
    lost: object, refusal: int, error: type[ProviderError]
) -> None:
    """A try of a keyed create whose answer was lost may have made the job: a refusal of the
    retry (no credits, a refused key, a key refused for its body) keeps its own kind (the
    admins hear of the account) but says maybe_done. Refused at the first try, it does not;
    nor does a read, whatever came before."""
    plan: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        step = plan.pop(0)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, int)
        return httpx.Response(step, json={"statusCode": step, "message": "m"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock:
        http = ProviderHTTP("sync", mock, policy=RetryPolicy(base=0.0))
        request = httpx.Request("POST", "https://sync.test/v2/generate")
        plan += [lost, refusal]
        with pytest.raises(error) as late:
            await http.send(request, idempotent=False, keyed=True)
        assert late.value.maybe_done
        plan += [refusal]
        with pytest.raises(error) as first:
            await http.send(request, idempotent=False, keyed=True)
        assert not first.value.maybe_done
        plan += [lost, refusal]
        with pytest.raises(error) as read:
            await http.send(httpx.Request("GET", "https://sync.test/v2/generate/x"))
        assert not read.value.maybe_done
        assert plan == []
