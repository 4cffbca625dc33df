"""sync.so: a video and a recording through ``POST /v2/generate``; inputs by public URL.

Every create carries an ``Idempotency-Key`` made from the job (:func:`idempotency_key`) at its
first send and stored with it (``Job.submit_key``), so a create whose answer was lost is sent
again (by ProviderHTTP at once, by the poller later, after a restart too) under that very key,
and sync.so answers it with the generation the first one made, paid once. Webhooks go to one
URL, ``PUBLIC_URL/hooks/sync``, named in each create's ``webhookUrl``, and are signed:
``Sync-Signature: t=<unix>,v1=<hex>``, the HMAC-SHA256 of ``f"{t}.{raw body}"`` with
``SYNC_WEBHOOK_SECRET``. Contract: providers.md section 4.

Prices: sync.so bills per output frame at 25 fps, in US dollars; its dollars are this
provider's credits (``credit_unit``: admins see them as dollars).
:meth:`SyncProvider.estimate_cost` (synchronous: the confirm step shows it to admins) reads the
published price list. The job's own cost is sync.so's answer to ``POST /v2/analyze/cost``,
asked with the create's very body just before the create: only then are the hosted links that
the estimate needs in existence; it is one request to an endpoint allowed ten times the rate
of creates; before the create, a crash in between loses nothing; and it is bounded by
COST_TIMEOUT_SECONDS and never stops a job (the price list's figure stands in). A resend asks
no price: the first send did, and a resend should be quick (the price list's figure stands in
for the quote lost with the create's answer).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bot.config import Settings
from bot.errors import ProviderError, ProviderRejected, ProviderUnavailable, WebhookRejected
from bot.models import Capabilities, FaceKind, JobStatus, Order, RemoteJob
from bot.providers.base import (
    Inputs,
    RemoteProvider,
    Vendor,
    WebhookAuth,
    amount,
    file_face,
    identifier,
    text,
)
from bot.providers.http import ProviderHTTP
from bot.untrusted import ascii_int, clean_text, same_secret

log = logging.getLogger(__name__)

#: Published prices, US dollars a second of output (the top of each published range).
USD_PER_SECOND = {"lipsync-2": 0.05, "lipsync-2-pro": 0.083, "sync-3": 0.133}
#: A model without a published price is estimated at the dearest known one.
UNLISTED_USD_PER_SECOND = max(USD_PER_SECOND.values())
#: sync.so bills per output frame at this rate.
BILLED_FPS = 25
#: The longest audio sync.so takes.
MAX_AUDIO_SECONDS = 300.0
#: How a duration mismatch is handled (the video is already cut to the voice's length).
SYNC_MODE = "cut_off"
#: Signed webhooks older (or newer) than this are refused.
WEBHOOK_TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "sync-signature"
#: A signature header longer than this is no signature (and not worth parsing).
MAX_SIGNATURE_HEADER = 1024
#: The longest a job waits for sync.so's price before its create goes out regardless.
COST_TIMEOUT_SECONDS = 5.0
#: A quote this many times the price list's is not believed.
QUOTE_SANITY = 10
#: Ids per list read (``GET /v2/generations?ids=``): UUIDs, so under 2 kB of query.
LIST_BATCH = 50
#: What the job's name keeps in a key: sync.so takes ``[A-Za-z0-9._~-]``, 1 to 128.
_NOT_KEY = re.compile(r"[^A-Za-z0-9-]+")


class SyncProvider(RemoteProvider):
    name = "sync"
    # One video only (no photo, no avatar), with a recording: typed text comes as its
    # spoken copy; sync.so's own text-to-speech input needs an ElevenLabs voice.
    capabilities = Capabilities(faces=frozenset({FaceKind.VIDEO}), max_seconds=MAX_AUDIO_SECONDS)
    needs_public_urls = True
    webhook_auth = WebhookAuth.SIGNED
    keyed_creates = True
    credit_unit = "usd"
    batch_size = LIST_BATCH
    statuses: ClassVar[Mapping[str, JobStatus]] = {
        "pending": JobStatus.QUEUED,
        "processing": JobStatus.RUNNING,
        "completed": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
        "rejected": JobStatus.FAILED,
        "timed_out": JobStatus.FAILED,
        "canceled": JobStatus.CANCELED,
    }

    def __init__(
        self,
        http: ProviderHTTP,
        api_url: str,
        api_key: str,
        webhook_secret: str | None,
        *,
        model: str = "lipsync-2",
    ) -> None:
        super().__init__(http, api_url, api_key)
        self._webhook_secret = webhook_secret
        self.model = model

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key}

    def estimate_cost(self, order: Order) -> float:
        """US dollars, from the price list: whole frames at 25 fps of the voice's length."""
        rate = USD_PER_SECOND.get(self.model, UNLISTED_USD_PER_SECOND)
        return round(math.ceil(order.seconds * BILLED_FPS) * rate / BILLED_FPS, 4)

    def create_key(self, name: str, inputs: Inputs) -> str:
        return idempotency_key(name, inputs)

    def dashboard_name(self, name: str) -> str:
        return key_name(name)  # the outputFileName (the key) begins with it

    async def submit(
        self, order: Order, inputs: Inputs, *, name: str, webhook_url: str | None
    ) -> RemoteJob:
        if file_face(self.name, order).kind is not FaceKind.VIDEO:
            raise ProviderRejected(self.name, "takes videos only")
        if not inputs.face_url or not inputs.voice_url:
            raise ValueError("sync.so needs hosted inputs (PUBLIC_URL)")
        # The first send's key (stored with the job), never one made again: a key made now
        # from links of another PUBLIC_URL would be a second generation, paid again.
        key = inputs.key or idempotency_key(name, inputs)
        body: dict[str, Any] = {
            "model": self.model,
            "input": [
                {"type": "video", "url": inputs.face_url},
                {"type": "audio", "url": inputs.voice_url},
            ],
            "options": {"sync_mode": SYNC_MODE},
            "outputFileName": key,  # what the job is called in sync.so's dashboard
        }
        if webhook_url and self._webhook_secret:
            body["webhookUrl"] = webhook_url  # unsigned-for-us webhooks would be refused
        credits = self.estimate_cost(order) if inputs.resend else await self._quote(body, order)
        data = await self.call("POST", "/v2/generate", body, idempotent=False, idempotency_key=key)
        if isinstance(data, dict) and _status_word(data) not in self.statuses:
            # The generation exists (and will be paid for) whatever its status says: call it
            # queued, and let the webhook or the poller read the real state.
            data = {**data, "status": "PENDING"}
        try:
            job = self._generation(data)
        except ProviderUnavailable as exc:
            exc.maybe_done = True  # accepted (2xx) but unreadable: the generation may exist
            raise
        return job.model_copy(update={"credits": credits, "name": name})

    async def fetch(self, provider_job_id: str) -> RemoteJob:
        path = self.job_path("/v2/generate/", provider_job_id)
        return self._generation(await self.call("GET", path))

    async def fetch_many(self, provider_job_ids: Sequence[str]) -> dict[str, RemoteJob]:
        ids = [job_id for job_id in provider_job_ids if identifier(job_id) == job_id]
        if not ids:
            return {}
        data = await self.call("GET", f"/v2/generations?ids={','.join(ids)}")
        if not isinstance(data, list):
            raise ProviderUnavailable(self.name, "the generation list is not a list")
        wanted, found = set(ids), {}
        for item in data:
            try:
                job = self._generation(item)
            except ProviderError:
                continue  # one unreadable item costs only that job a read of its own
            if job.provider_job_id in wanted:
                found[job.provider_job_id] = job
        return found

    @property
    def posts_webhooks(self) -> bool:
        return bool(self._webhook_secret)  # unsigned webhooks are refused

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        if not self._webhook_secret:
            raise WebhookRejected("SYNC_WEBHOOK_SECRET is not set")
        stamp, signatures = _signature(headers.get(SIGNATURE_HEADER, ""))
        seconds = ascii_int(stamp)
        if seconds is None or not signatures:
            raise WebhookRejected("missing or malformed Sync-Signature")
        if abs(now - seconds) > WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookRejected("timestamp outside the tolerance window")
        expected = hmac.new(
            self._webhook_secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        # Every v1 is compared (a secret being rolled may sign twice), in constant time.
        if not any([same_secret(given, expected) for given in signatures]):
            raise WebhookRejected("signature does not match")

    def parse_webhook(self, data: dict[str, Any]) -> RemoteJob:
        return self._generation(data)

    async def _quote(self, body: dict[str, Any], order: Order) -> float:
        """sync.so's price for ``body`` (the create's own), or the price list's when it does
        not say within COST_TIMEOUT_SECONDS."""
        listed = self.estimate_cost(order)
        try:
            async with asyncio.timeout(COST_TIMEOUT_SECONDS):
                data = await self.call("POST", "/v2/analyze/cost", body)
        except (ProviderError, TimeoutError) as exc:
            log.info("sync.so did not quote a price (%s); the price list says $%g", exc, listed)
            return listed
        items = data if isinstance(data, list) else [data]
        costs = [
            amount(item.get("estimatedGenerationCost")) for item in items if isinstance(item, dict)
        ]
        if not costs or None in costs:
            log.info("sync.so quoted no readable price; the price list says $%g", listed)
            return listed
        quoted = round(sum(cost for cost in costs if cost is not None), 4)
        if listed and quoted > listed * QUOTE_SANITY:
            # Not a price change but a misreading (ours or theirs): it would swamp the
            # admins' spending reports.
            log.warning(
                "sync.so quoted $%g where its price list says $%g; ignored", quoted, listed
            )
            return listed
        if listed and abs(quoted - listed) > listed / 4:
            # The admins' estimate at the confirm step comes from the price list.
            log.warning(
                "sync.so quotes $%g for %s where its price list says $%g: prices may have "
                "changed (bot/providers/sync.py USD_PER_SECOND)",
                quoted,
                self.model,
                listed,
            )
        return quoted

    def _generation(self, data: object) -> RemoteJob:
        generation_id = identifier(data.get("id")) if isinstance(data, dict) else None
        if not isinstance(data, dict) or generation_id is None:
            raise ProviderUnavailable(self.name, "the generation has no id")
        status = self.status_of(data.get("status"))
        # outputMediaUrl is the newer name; outputUrl its deprecated alias.
        url = text(data.get("outputMediaUrl")) or text(data.get("outputUrl"))
        if status is JobStatus.SUCCEEDED and not url:
            status = JobStatus.RUNNING  # "COMPLETED" without a video is not done for us
        reason = None
        if status in (JobStatus.FAILED, JobStatus.CANCELED):
            said = text(data.get("error")) or text(data.get("error_code"))
            reason = clean_text(said, 300) if said else None
        return RemoteJob(
            provider_job_id=generation_id,
            status=status,
            output_url=url if status is JobStatus.SUCCEEDED else None,
            error=reason or None,
        )


def idempotency_key(name: str, inputs: Inputs) -> str:
    """The ``Idempotency-Key`` (and ``outputFileName``) of a job's create: its name at
    sync.so (``lipsync-bot #42 <tag>``, which only this bot can make) in letters, digits and
    hyphens, and a digest of its hosted links. Made at the job's first send and stored with
    it (the Submitter), so every resend carries this key whatever the settings say since;
    the links are dated from that first send (MediaHost), so the body is the same too unless
    PUBLIC_URL changed (sync.so then refuses it: the job waits, never paid twice). A job of
    the same number in a fresh database (names cannot tell those apart) has links of
    another date, so never reuses an old key."""
    links = f"{inputs.face_url}\n{inputs.voice_url}".encode()
    digest = hashlib.sha256(links).hexdigest()[:16]
    return f"{key_name(name)}-{digest}"


def key_name(name: str) -> str:
    """The first part of the key of the job ``name``: its name in letters, digits and
    hyphens (``lipsync-bot-42-<tag>``)."""
    return _NOT_KEY.sub("-", name).strip("-")[:100]


def _status_word(data: dict[str, Any]) -> str:
    raw = data.get("status")
    return raw.strip().lower() if isinstance(raw, str) else ""


def _signature(header: str) -> tuple[str, list[str]]:
    """The timestamp and the ``v1`` signatures of a ``Sync-Signature`` header
    (``t=<unix>,v1=<hex>``); empty when it is not one."""
    if not header or len(header) > MAX_SIGNATURE_HEADER:
        return "", []
    stamp, signatures = "", []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and not stamp:
            stamp = value.strip()
        elif key == "v1" and value.strip():
            signatures.append(value.strip())
    return stamp, signatures


def from_settings(settings: Settings, http: ProviderHTTP) -> SyncProvider:
    assert settings.sync_api_key is not None  # Vendor.missing checked it
    secret = settings.sync_webhook_secret
    return SyncProvider(
        http,
        settings.sync_api_url,
        settings.sync_api_key.get_secret_value(),
        secret.get_secret_value() if secret else None,
        model=settings.sync_model,
    )


def notes(settings: Settings) -> list[str]:
    found = []
    if settings.sync_webhook_secret is None:
        found.append(
            "SYNC_WEBHOOK_SECRET is empty, so sync.so is not asked for webhooks and results "
            "are only polled. Copy the signing secret (whsec_...) from sync.so's API keys page."
        )
    if settings.sync_model not in USD_PER_SECOND:
        found.append(
            f"SYNC_MODEL={settings.sync_model} has no published price: the admins' estimate "
            "uses the dearest known model's; each job records sync.so's own quote."
        )
    return found


VENDOR = Vendor(
    "sync",
    from_settings,
    required=("sync_api_key",),
    needs_public_url="it downloads the inputs from the bot",
    notes=notes,
    credit_unit=SyncProvider.credit_unit,
)
