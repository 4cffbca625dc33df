"""What every provider is: a name, capabilities as data, and a way to make a video.

Two kinds:

- :class:`LocalProvider` renders on this machine (``preview``).
- :class:`RemoteProvider` sends the inputs to a paid API, then learns the result from a
  webhook or a poll. Its shared behaviour (HTTP, retries, error mapping) lives in
  :mod:`bot.providers.http`; a vendor module only builds requests and reads answers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import ClassVar

from bot.models import Capabilities, MediaKind, Order, Probe, RemoteJob
from bot.providers.http import ProviderHTTP

#: Called with a fraction 0..1 as rendering advances.
ProgressCallback = Callable[[float], Awaitable[None]]


class Provider(ABC):
    """A lip-sync backend."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def estimate_cost(self, media_kind: MediaKind, media: Probe, seconds: float) -> float:
        """What a video of ``seconds`` from this media costs, in the provider's own credits."""
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

    face: Path
    voice: Path
    face_url: str | None = None
    voice_url: str | None = None


class RemoteProvider(Provider):
    """A paid API: submit, then a webhook or a poll tells the outcome."""

    #: Inputs reach the provider only as URLs it downloads (so PUBLIC_URL is required).
    needs_public_urls: ClassVar[bool]
    webhook_auth: ClassVar[WebhookAuth]
    #: Multiplier on POLL_INTERVAL_SECONDS: the provider's own advice on polling pace.
    poll_factor: ClassVar[float] = 1.0
    #: Longest a job may take before it is given up (seconds).
    deadline_seconds: ClassVar[float] = 3600.0

    def __init__(self, http: ProviderHTTP, api_url: str, api_key: str) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key

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

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Check a signed webhook before anything in it is read.

        Raises:
            WebhookRejected: missing, wrong or stale signature.
        """
        raise NotImplementedError(f"{self.name} does not sign webhooks")

    @abstractmethod
    def webhook_job(self, body: bytes) -> RemoteJob:
        """The job a (verified) webhook is about. Only a hint: it is re-read with fetch().

        Raises:
            WebhookRejected: the body is not what this provider sends.
        """

    async def balance(self) -> float | None:
        """Credits left on the account, if the API tells."""
        return None
