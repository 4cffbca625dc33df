"""What every provider is: a name, capabilities as data, and a way to make a video.

Two kinds:

- :class:`LocalProvider` renders on this machine (``preview``).
- :class:`RemoteProvider` sends the inputs to a paid API, then learns the result from a
  webhook or a poll. It owns building authenticated requests, reading webhook bodies and the
  status vocabulary; sending, retries and error mapping live in :mod:`bot.providers.http`.
  A vendor module only fills in small hooks: ``auth_headers``, ``statuses``, ``parse_webhook``
  and the request bodies of ``submit``/``fetch``.
"""

from __future__ import annotations

import logging
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

import httpx

from bot.config import Settings
from bot.errors import ProviderError, ProviderRejected, UnknownStatus, WebhookRejected
from bot.models import Capabilities, FileFace, JobStatus, Order, Probe, RemoteJob
from bot.providers.http import MAX_ANSWER_BYTES, ProviderHTTP
from bot.untrusted import json_object

log = logging.getLogger(__name__)

#: What a provider's job id may be (see :func:`identifier`).
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")

#: Called with a fraction 0..1 as rendering advances.
ProgressCallback = Callable[[float], Awaitable[None]]


class Provider(ABC):
    """A lip-sync backend."""

    name: ClassVar[str]
    #: What it takes; set per instance where it depends on settings (Creatify's).
    capabilities: Capabilities

    #: What its credits are, as admins see them: ``credits`` (its own) or ``usd`` (dollars).
    credit_unit: ClassVar[str] = "credits"

    def estimate_cost(self, order: Order) -> float:
        """What ``order`` costs here, in the provider's own credits."""
        return 0.0


class LocalProvider(Provider):
    """A provider that renders on this machine; nothing to poll, nothing to pay."""

    @abstractmethod
    async def render(self, order: Order, out: Path, on_progress: ProgressCallback) -> None:
        """Write the finished MP4 for ``order`` to ``out``.

        Raises:
            RenderError: the render failed; the detail is for logs.
        """


class WebhookAuth(Enum):
    """How a provider's webhooks are authenticated."""

    #: The provider signs each request (HMAC); one URL for every job, set in its dashboard.
    SIGNED = "signed"
    #: Nothing is signed; each job gets its own URL with a secret token in the path.
    URL_TOKEN = "url_token"


@dataclass(frozen=True)
class Inputs:
    """The normalized input files of a job, and their signed public URLs when hosted."""

    #: None when the face is a provider's avatar.
    face: Path | None
    #: The voice; in a dialogue, the first (left) speaker's.
    voice: Path
    face_url: str | None = None
    voice_url: str | None = None
    #: A dialogue's second (right) speaker's voice.
    voice2: Path | None = None
    voice2_url: str | None = None
    #: A keyed create's idempotency key (``RemoteProvider.create_key``), as first sent.
    key: str | None = None
    #: The create was sent before and its answer lost: this send only looks for the job.
    resend: bool = False


class RemoteProvider(Provider):
    """A paid API: submit, then a webhook or a poll tells the outcome."""

    #: Inputs reach the provider only as URLs it downloads (so PUBLIC_URL is required).
    needs_public_urls: ClassVar[bool]
    webhook_auth: ClassVar[WebhookAuth]
    #: Multiplier on POLL_INTERVAL_SECONDS: the provider's own advice on polling pace.
    poll_factor: ClassVar[float] = 1.0
    #: Longest a job may take before it is given up (seconds).
    deadline_seconds: ClassVar[float] = 3600.0
    #: How many job ids one :meth:`fetch_many` request may carry; 1 means the API has no
    #: batched read, and the poller reads jobs one by one with :meth:`fetch`.
    batch_size: ClassVar[int] = 1
    #: Its creates carry an idempotency key made from the job (sync.so's): sent again, a
    #: create answers the job the first one made, paid once. A create whose answer was lost
    #: is then sent again (after a pause, or after a restart) instead of waiting for a
    #: webhook to claim it.
    keyed_creates: ClassVar[bool] = False
    #: The provider's status words (lowercase) and what each means. Anything else raises.
    statuses: ClassVar[Mapping[str, JobStatus]]

    def __init__(self, http: ProviderHTTP, api_url: str, api_key: str) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        #: Unknown status words already logged: a poll every few seconds must not flood logs.
        self._unknown_statuses: set[str] = set()

    @property
    def posts_webhooks(self) -> bool:
        """Whether its jobs' news can come by webhook once the bot has a PUBLIC_URL (not when
        the webhooks it would post could not be verified): if not, polls must keep pace."""
        return True

    def create_key(self, name: str, inputs: Inputs) -> str | None:
        """Hook: the idempotency key of the job ``name``'s create, where creates carry one
        (``keyed_creates``). Made once, at the first send, and stored with the job: every
        resend carries it as ``inputs.key``."""
        return None

    def dashboard_name(self, name: str) -> str:
        """Hook: what the job ``name`` is called in the provider's dashboard, as far as it can
        be told without the job's key (where creates carry one it may be its first part)."""
        return name

    def auth_headers(self) -> dict[str, str]:
        """Hook: the headers that authenticate a request (a bearer token unless overridden)."""
        return {"Authorization": f"Bearer {self._api_key}"}

    def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """A request to ``path`` under the API URL, authenticated, with ``body`` as JSON."""
        sent = {**self.auth_headers(), "Accept": "application/json", **(headers or {})}
        return httpx.Request(method, f"{self.api_url}{path}", headers=sent, json=body)

    async def call(
        self,
        method: str,
        path: str,
        body: object | None = None,
        *,
        idempotent: bool = True,
        idempotency_key: str | None = None,
        limit: int = MAX_ANSWER_BYTES,
    ) -> Any:
        """Send ``request(method, path, body)`` and return the decoded JSON answer, of at
        most ``limit`` bytes. A create sent with an ``idempotency_key`` (in the
        ``Idempotency-Key`` header) is retried like a read (see ProviderHTTP.send, keyed).

        Raises:
            ProviderError: as :meth:`ProviderHTTP.send` (a refusal as :meth:`refusal` reads
                it); ProviderUnavailable if not JSON we read.
        """
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        request = self.request(method, path, body, extra)
        try:
            return await self.http.json(
                request, idempotent=idempotent, keyed=extra is not None, limit=limit
            )
        except ProviderRejected as exc:
            refused = self.refusal(exc)
            refused.maybe_done = refused.maybe_done or exc.maybe_done  # the hook may drop it
            raise refused from None

    def refusal(self, exc: ProviderRejected) -> ProviderError:
        """Hook: what a refused request (4xx) means, where a provider says more in its body
        than the status tells (Creatify's empty account is a 400)."""
        return exc

    def job_path(self, prefix: str, provider_job_id: str) -> str:
        """``prefix`` + the job's id: the path of a request about one job.

        Raises:
            ProviderRejected: the id is not one this provider gives (it could change the
                path); ids are checked on the way in, so this is a second line.
        """
        if identifier(provider_job_id) != provider_job_id:
            raise ProviderRejected(self.name, "not a job id of this provider")
        return f"{prefix}{provider_job_id}"

    def status_of(self, raw: object) -> JobStatus:
        """The one mapping from the provider's status word to ours.

        Raises:
            UnknownStatus: a word not in ``statuses`` (logged once per word, with the word).
        """
        word = str(raw).strip().lower() if isinstance(raw, str | int) else ""
        status = self.statuses.get(word)
        if status is not None:
            return status
        shown = repr(raw)[:80]
        if shown not in self._unknown_statuses:
            self._unknown_statuses.add(shown)
            log.warning("%s reported an unknown status %s; polling on", self.name, shown)
        raise UnknownStatus(self.name, f"unknown status {shown}")

    @abstractmethod
    async def submit(
        self, order: Order, inputs: Inputs, *, name: str, webhook_url: str | None
    ) -> RemoteJob:
        """Start the job at the provider.

        Args:
            order: what to make.
            inputs: the normalized files (and URLs when hosted).
            name: our label for the job (echoed back by providers that keep names).
            webhook_url: where the provider should post the result, if it takes one per job.

        Raises:
            ProviderError: a subclass saying whether to retry, tell the user, or the admins.
        """

    @abstractmethod
    async def fetch(self, provider_job_id: str) -> RemoteJob:
        """Read the job's current state from the provider (the source of truth)."""

    def listed(self, provider_job_id: str) -> bool:
        """Whether this job is read with others in :meth:`fetch_many` (else alone, with
        :meth:`fetch`): Creatify lists only its v2 jobs."""
        return self.batch_size > 1

    async def fetch_many(self, provider_job_ids: Sequence[str]) -> dict[str, RemoteJob]:
        """Read up to ``batch_size`` jobs in one request, keyed by provider job id.

        A job missing from the answer is only absent from the dict, never an error: the
        list may lag behind a job just made, may not know every kind of job, or may hold an
        item this provider cannot read. The caller then reads that job with :meth:`fetch`.

        This default is not batched (one :meth:`fetch` per id, in turn), so callers use
        this method only when ``batch_size > 1``; a vendor with a list endpoint overrides it.

        Raises:
            ProviderError: the whole read failed (429, 5xx, auth...): nothing was learnt
                about any of the jobs.
        """
        found: dict[str, RemoteJob] = {}
        for provider_job_id in provider_job_ids:
            try:
                found[provider_job_id] = await self.fetch(provider_job_id)
            except (ProviderRejected, UnknownStatus):
                continue  # about this job only: the caller's own fetch() will say why
        return found

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Check a signed webhook before anything in it is read.

        Raises:
            WebhookRejected: missing, wrong or stale signature.
        """
        raise NotImplementedError(f"{self.name} does not sign webhooks")

    def webhook_job(self, body: bytes) -> RemoteJob:
        """The job a (verified) webhook is about. Only a hint: it is re-read with fetch().

        Raises:
            WebhookRejected: the body is not a JSON object, or not what this provider sends.
        """
        data = json_object(body)
        if data is None:
            raise WebhookRejected(f"{self.name}: the body is not a JSON object")
        try:
            return self.parse_webhook(data)
        except ProviderError as exc:
            raise WebhookRejected(f"{self.name}: {exc.reason}") from None

    @abstractmethod
    def parse_webhook(self, data: dict[str, Any]) -> RemoteJob:
        """Hook: the job a webhook's JSON object describes.

        Raises:
            ProviderError: the object is not what this provider sends.
        """

    async def balance(self) -> float | None:
        """Credits left on the account, if the API tells."""
        return None


def file_face(provider: str, order: Order) -> FileFace:
    """``order``'s face, for a provider that takes only photos and videos.

    Raises:
        ProviderRejected: the face is an avatar (the conversation offers this provider only
            for faces it takes, so this is a second line).
    """
    if order.face_file is None:
        raise ProviderRejected(provider, "takes no avatars")
    return order.face_file


def resolution(media: Probe) -> str:
    """The output resolution for the user's face media: 720p when it is at least that sharp,
    else 480p (cheaper, and upscaling a small source gains nothing)."""
    short_side = min(media.width or 0, media.height or 0)
    return "720p" if short_side >= 720 else "480p"


def text(value: object) -> str | None:
    """``value`` when it is a non-empty string, else None (answers are read defensively)."""
    return value if isinstance(value, str) and value else None


def identifier(value: object) -> str | None:
    """A provider's job id as text: a string of letters, digits, ``-`` and ``_`` (Magic
    Hour's cuids, lipsync.studio's UUIDs), or an integer; None for anything else. Ids go into
    request paths, so one that could change the path or the query (``/``, ``..``, ``?``, ``%``)
    is refused, as are bools, lists and objects."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and _JOB_ID.fullmatch(value) else None


def number(value: object) -> float | None:
    """``value`` as a finite float when it is a JSON number (not a bool), else None: Python's
    json reads ``NaN``, ``Infinity`` and ``1e400`` (inf) as floats, and an integer of hundreds
    of digits overflows float()."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def amount(value: object) -> float | None:
    """``value`` as a :func:`number` that is not negative (credits, balances), else None."""
    found = number(value)
    return found if found is not None and found >= 0 else None


def _no_notes(settings: Settings) -> list[str]:
    return []


@dataclass(frozen=True)
class Vendor:
    """A provider this version implements, as the registry knows it: its name (as in
    ``PROVIDERS``), how it is made from the settings, and what it needs to run. Each vendor
    module defines one; adding a provider is that module, its settings and a registry line."""

    name: str
    build: Callable[[Settings, ProviderHTTP], Provider]
    #: Settings (field names) it cannot run without. Any of them set means the operator wants
    #: it: missing the others is then worth a warning.
    required: tuple[str, ...] = ()
    #: Why it cannot run without PUBLIC_URL (None: it can).
    needs_public_url: str | None = None
    #: Settings that work but lose something, in words an operator can act on.
    notes: Callable[[Settings], list[str]] = _no_notes
    #: What its credits are (its ``Provider.credit_unit``), known without building it: the
    #: admins' reports show the jobs of providers since turned off too.
    credit_unit: str = "credits"

    def missing(self, settings: Settings) -> str | None:
        """What it lacks to run, in words naming the variable; None when nothing."""
        unset = [name.upper() for name in self.required if getattr(settings, name) is None]
        if unset:
            return f"needs {' and '.join(unset)}"
        if self.needs_public_url and not settings.public_url:
            return f"needs PUBLIC_URL ({self.needs_public_url})"
        return None

    def wanted(self, settings: Settings) -> bool:
        """Whether the operator set any of its credentials."""
        return any(getattr(settings, name) is not None for name in self.required)
