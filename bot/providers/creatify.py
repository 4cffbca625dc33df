"""Creatify: stock avatars speaking typed text or a recording, and Aurora (photo + audio).

Routes (providers.md section 1):

- avatar + text of 2+ paragraphs -> ``POST /api/lipsyncs_v2/``, one scene per paragraph;
- avatar + text -> ``POST /api/lipsyncs/`` (Creatify's own TTS speaks it);
- avatar + recording -> ``POST /api/lipsyncs/`` with the recording's URL;
- photo + any voice -> ``POST /api/aurora/`` with the photo's and the spoken audio's URLs;
- two avatars with a text each (a dialogue) -> ``POST /api/lipsyncs_v2/``, their paragraphs
  in turn.

Creatify takes media only by URL, so photos and recordings need PUBLIC_URL; avatars with
text need nothing public, which is why ``needs_public_urls`` is False and the capabilities
are set per instance. Our job id is Creatify's prefixed with its endpoint (``v1_``, ``v2_``,
``au_``), so fetch() knows where to ask. Webhooks are unsigned: each job's URL carries a
token (``WebhookAuth.URL_TOKEN``) and names our job, whose stored id is then fetched; a
webhook's bare ``id`` is used only for a job whose create answer was lost, and fetch() finds
a bare id's endpoint by asking each in turn.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from bot.config import Settings
from bot.errors import (
    ConfigError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderRejected,
    ProviderUnavailable,
    UnknownStatus,
)
from bot.models import (
    Avatar,
    Capabilities,
    FaceKind,
    FileFace,
    Gender,
    JobStatus,
    Order,
    RemoteJob,
    Turns,
)
from bot.providers import creatify_jobs as wire
from bot.providers import creatify_personas as personas
from bot.providers.base import Inputs, RemoteProvider, Vendor, WebhookAuth, amount, identifier
from bot.providers.creatify_catalog import CreatifyVoice, parse_avatars, parse_voices
from bot.providers.creatify_jobs import AURORA_MAX_SECONDS, MAX_TEXT_CHARS, Kind
from bot.providers.creatify_personas import PersonaState
from bot.providers.http import ProviderHTTP

log = logging.getLogger(__name__)

RatioFormat = Literal["x", "colon"]
AuroraModel = Literal["aurora_v1", "aurora_v1_fast"]

#: Lipsyncs: 5 credits per started 30 s; Aurora: per second of audio, rounded up.
LIPSYNC_CREDITS = 5
LIPSYNC_BLOCK_SECONDS = 30
AURORA_CREDITS_PER_SECOND = {"aurora_v1": 1.0, "aurora_v1_fast": 0.5}
MAX_WEBHOOK_URL = 200
#: The avatar and voice lists are the biggest documented answers: they get more room than
#: ProviderHTTP's default (a v2 list of 100 jobs, echoing their scripts, fits in that).
MAX_CATALOG_BYTES = 16 * 1024 * 1024
MAX_CATALOG_ITEMS = 5000
#: Kinds learnt for bare ids (jobs claimed by their webhook): a few, rarely.
KNOWN_KINDS = 1024


class CreatifyProvider(RemoteProvider):
    name = "creatify"
    #: Avatars with typed text need no public URL; photos and recordings do (see capabilities).
    needs_public_urls = False
    webhook_auth = WebhookAuth.URL_TOKEN
    #: Avatar videos render slowly, and scenes add up.
    deadline_seconds = 2 * 3600.0
    batch_size = 100
    statuses: ClassVar[Mapping[str, JobStatus]] = {
        "pending": JobStatus.QUEUED,
        "in_queue": JobStatus.QUEUED,
        "running": JobStatus.RUNNING,
        "done": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
        "rejected": JobStatus.FAILED,
    }

    def __init__(
        self,
        http: ProviderHTTP,
        api_url: str,
        api_id: str,
        api_key: str,
        *,
        public: bool,
        ratio_format: RatioFormat = "x",
        aurora_model: AuroraModel = "aurora_v1",
    ) -> None:
        """
        Args:
            public: whether inputs are hosted (PUBLIC_URL): only then can photos and
                recordings reach Creatify, which takes media by URL only.
            ratio_format: ``aspect_ratio`` as ``9x16`` ("x", current docs) or ``9:16``.
            aurora_model: Aurora's ``model_version`` (prices differ).
        """
        super().__init__(http, api_url, api_key)
        self._api_id = api_id
        self._ratio_format = ratio_format
        self._aurora_model = aurora_model
        faces = {FaceKind.AVATAR, FaceKind.PHOTO} if public else {FaceKind.AVATAR}
        self.capabilities = Capabilities(
            faces=frozenset(faces),
            native_text=True,
            audio=public,
            # Aurora (photos) takes 60 s of audio; lipsyncs, v1 and v2 (avatars, a dialogue
            # of two), document no limit (providers.md §1.4-1.6): the bot's own is theirs.
            face_max_seconds={FaceKind.PHOTO: AURORA_MAX_SECONDS},
            max_text_chars=MAX_TEXT_CHARS,
            # Two of its avatars talking, each reading a text, one after the other: v2's
            # scenes take text voices [C] (an audio voice is undocumented).
            dialogue_faces=frozenset({FaceKind.AVATAR}),
            dialogue_turns=frozenset({Turns.ONE_AFTER_THE_OTHER}),
            dialogue_audio=False,
        )
        self._long_webhook_logged = False
        self._kinds: OrderedDict[str, Kind] = OrderedDict()

    def auth_headers(self) -> dict[str, str]:
        return {"X-API-ID": self._api_id, "X-API-KEY": self._api_key}

    def estimate_cost(self, order: Order) -> float:
        if isinstance(order.face, FileFace):
            seconds = math.ceil(order.seconds)
            return seconds * AURORA_CREDITS_PER_SECOND[self._aurora_model]
        blocks = max(1, math.ceil(order.seconds / LIPSYNC_BLOCK_SECONDS))
        return float(blocks * LIPSYNC_CREDITS)

    async def submit(
        self, order: Order, inputs: Inputs, *, name: str, webhook_url: str | None
    ) -> RemoteJob:
        kind, body = wire.route(order, inputs, self._aurora_model)
        body.update(wire.common(wire.ratio_text(order.ratio, self._ratio_format), name))
        if webhook_url and len(webhook_url) <= MAX_WEBHOOK_URL:
            body["webhook_url"] = webhook_url
        elif webhook_url and not self._long_webhook_logged:
            self._long_webhook_logged = True
            log.warning(
                "Creatify takes webhook URLs of up to %d characters, and ours has %d: "
                "its jobs are followed by polling only (a shorter PUBLIC_URL fixes it)",
                MAX_WEBHOOK_URL,
                len(webhook_url),
            )
        data = await self.call("POST", kind.path, body, idempotent=False)
        if isinstance(data, dict) and data.get("status") not in self.statuses:
            # The job exists (and is paid for) whatever its status says: call it queued and
            # let polling read the real state.
            data = {**data, "status": "pending"}
        job = wire.parse_job(data, kind, self.status_of)
        if job is None:
            # Accepted (2xx) but without a usable id: the job may exist and be paid for.
            raise ProviderUnavailable(
                self.name, "create answered without a job id", maybe_done=True
            )
        return job

    async def fetch(self, provider_job_id: str) -> RemoteJob:
        kind, bare = wire.split_id(provider_job_id)
        kind = kind or self._kinds.get(bare)
        if kind is not None:
            job = await self._read(kind, bare)
        else:
            kind, job = await self._find_kind(bare)
            self._kinds[bare] = kind
            while len(self._kinds) > KNOWN_KINDS:
                self._kinds.popitem(last=False)
        return job.model_copy(update={"provider_job_id": provider_job_id})

    async def _read(self, kind: Kind, bare: str) -> RemoteJob:
        data = await self.call("GET", self.job_path(kind.path, bare) + "/")
        job = wire.parse_job(data, kind, self.status_of)
        if job is None:
            raise ProviderUnavailable(self.name, "job answer has no id")
        return job

    async def _find_kind(self, bare: str) -> tuple[Kind, RemoteJob]:
        """A bare id's endpoint: each is asked in turn until one knows the job."""
        for kind in Kind:
            try:
                return kind, await self._read(kind, bare)
            except ProviderRejected as exc:
                if exc.status_code != 404:
                    raise
        raise ProviderRejected(self.name, "no such job", status_code=404)

    def listed(self, provider_job_id: str) -> bool:
        kind, bare = wire.split_id(provider_job_id)
        return kind is Kind.V2 and identifier(bare) == bare

    async def fetch_many(self, provider_job_ids: Sequence[str]) -> dict[str, RemoteJob]:
        """v2 jobs, 100 a list (``GET /api/lipsyncs_v2/?ids=``); the others have no list
        (see :meth:`listed`). A job that cannot be read is left out.

        Raises:
            ProviderError: a list read failed (429, 5xx, auth, refused): the caller backs
                every job off, or reads each alone after a refusal.
        """
        wanted = [job_id for job_id in dict.fromkeys(provider_job_ids) if self.listed(job_id)]
        found: dict[str, RemoteJob] = {}
        for start in range(0, len(wanted), self.batch_size):
            found.update(await self._list(wanted[start : start + self.batch_size]))
        return found

    async def _list(self, provider_job_ids: list[str]) -> dict[str, RemoteJob]:
        wanted = set(provider_job_ids)
        bare = ",".join(wire.split_id(provider_job_id)[1] for provider_job_id in wanted)
        data = await self.call("GET", f"{Kind.V2.path}?ids={bare}")
        found: dict[str, RemoteJob] = {}
        for item in wire.items(data):
            try:
                job = wire.parse_job(item, Kind.V2, self.status_of)
            except UnknownStatus:
                continue  # about this job only: read alone, its own fetch() says why
            if job is not None and job.provider_job_id in wanted:
                found[job.provider_job_id] = job
        return found

    def parse_webhook(self, data: dict[str, Any]) -> RemoteJob:
        # Payload {id, status, failed_reason, output | video_output}: the bare id, since the
        # body does not say which endpoint made the job. Only a hint: the job named by the
        # webhook's URL is fetched by its stored id.
        job = wire.parse_job(data, None, self.status_of)
        if job is None:
            raise ProviderUnavailable(self.name, "webhook has no job id")
        return job

    async def balance(self) -> float | None:
        data = await self.call("GET", "/api/remaining_credits/")
        return amount(data.get("remaining_credits")) if isinstance(data, dict) else None

    async def avatars(self) -> list[Avatar]:
        """The active stock avatars (``GET /api/personas/``); malformed ones are skipped."""
        data = await self.call("GET", "/api/personas/", limit=MAX_CATALOG_BYTES)
        # Thousands of models take a good part of a second: not on the event loop.
        return await asyncio.to_thread(parse_avatars, wire.items(data), MAX_CATALOG_ITEMS)

    async def voices(self) -> list[CreatifyVoice]:
        """Every voice accent (``GET /api/voices/``), flattened; malformed ones are skipped."""
        data = await self.call("GET", "/api/voices/", limit=MAX_CATALOG_BYTES)
        return parse_voices(wire.items(data), MAX_CATALOG_ITEMS)

    # --- custom avatars (bot.providers.creatify_personas) ---------------------------------

    async def create_persona(
        self,
        name: str,
        gender: Gender,
        training: Path,
        consent: Path | None,
        webhook_url: str | None,
    ) -> str:
        """Upload a custom avatar's videos (``POST /api/personas_v2/``); its persona id.

        Raises:
            ProviderError: as :meth:`call`; a lost answer is ProviderUnavailable with
                ``maybe_done`` (the avatar may exist: never sent again).
        """
        if webhook_url and len(webhook_url) > personas.MAX_WEBHOOK_URL:
            log.warning("Creatify: a custom avatar's webhook URL is too long; polling only")
            webhook_url = None
        upload = personas.Upload(training, consent)
        headers = {**self.auth_headers(), "Accept": "application/json"}
        build = personas.upload_request(
            f"{self.api_url}{personas.CREATE_PATH}",
            headers,
            personas.form(name, gender, webhook_url),
            upload,
        )
        try:
            data = await self.http.json(build, idempotent=False)
        except ProviderRejected as exc:
            raise self.refusal(exc) from None
        finally:
            upload.close()
        return personas.created_id(data)

    async def get_persona(self, persona_id: str) -> PersonaState:
        """A custom avatar's state (``GET /api/personas/{id}/``)."""
        data = await self.call("GET", self.job_path(personas.PERSONA_PATH, persona_id) + "/")
        return personas.parse_persona(data)

    async def persona_slots(self) -> tuple[int, int]:
        """The account's custom avatars: (made, most it may have)."""
        return personas.parse_slots(await self.call("GET", personas.SLOTS_PATH))

    def refusal(self, exc: ProviderRejected) -> ProviderError:
        # The status for an empty account is undocumented: a 400 that says so is one.
        if "credit" in exc.reason.lower():
            return ProviderOutOfCredits(self.name, exc.reason, status_code=exc.status_code)
        return exc


def from_settings(settings: Settings, http: ProviderHTTP) -> CreatifyProvider:
    """The Creatify provider as configured.

    Raises:
        ConfigError: CREATIFY_API_ID or CREATIFY_API_KEY is missing.
    """
    if settings.creatify_api_id is None or settings.creatify_api_key is None:
        raise ConfigError("Creatify needs CREATIFY_API_ID and CREATIFY_API_KEY")
    return CreatifyProvider(
        http,
        settings.creatify_api_url,
        settings.creatify_api_id.get_secret_value(),
        settings.creatify_api_key.get_secret_value(),
        public=bool(settings.public_url),
        ratio_format=settings.creatify_ratio_format,
    )


VENDOR = Vendor("creatify", from_settings, required=("creatify_api_id", "creatify_api_key"))

__all__ = ["VENDOR", "CreatifyProvider", "CreatifyVoice", "from_settings"]
