"""The one place provider HTTP happens: timeouts, retries, and error mapping.

:class:`~bot.providers.base.RemoteProvider` builds the requests (its ``request``/``call`` with
the vendor's ``auth_headers`` hook) and vendor modules parse JSON; everything between (sending,
retrying 429/5xx/timeouts with capped backoff and jitter, honouring ``Retry-After``, turning
statuses into the domain error tree) lives here, so every provider behaves the same.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderRejected,
    ProviderUnavailable,
)

log = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: Requests to one provider in flight at once. Beyond this they wait here, cheaply: queued
#: inside httpx's connection pool, each new request rescans the whole queue, and 10,000
#: webhook confirmations at once starved the event loop (measured, bench/inflight_jobs.py).
MAX_IN_FLIGHT = 16
#: The longest wait a provider's Retry-After is taken at (the poller's longest backoff):
#: beyond it a hint is no longer advice, and an infinite one would overflow a schedule.
MAX_RETRY_AFTER_SECONDS = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter.

    Attributes:
        attempts: tries in all, the first included.
        base: seconds before the first retry (before jitter).
        cap: the longest single wait, ``Retry-After`` included.
    """

    attempts: int = 4
    base: float = 0.5
    cap: float = 20.0

    def delay(self, attempt: int, retry_after: float | None, rand: Callable[[], float]) -> float:
        """Seconds to wait before try number ``attempt + 1``."""
        if retry_after is not None:
            return min(self.cap, max(0.0, retry_after))
        backoff: float = min(self.cap, self.base * 2 ** (attempt - 1))
        return backoff * rand()


class ProviderHTTP:
    """Sends one provider's requests through the shared client."""

    def __init__(
        self,
        provider: str,
        client: httpx.AsyncClient,
        *,
        policy: RetryPolicy | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.provider = provider
        self._client = client
        self._policy = policy or RetryPolicy()
        self._rand = rand
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    @property
    def client(self) -> httpx.AsyncClient:
        return self._client

    async def send(
        self, request: httpx.Request | Callable[[], httpx.Request], *, idempotent: bool = True
    ) -> httpx.Response:
        """Send a request, retrying transient failures.

        Args:
            request: the request, or a function building it afresh for each try (needed for
                a streamed body, which can be read only once).
            idempotent: False for creates: a create whose answer was lost may have made the
                job, and repeating it could pay twice. Those are retried only when the
                request provably did not run (429, or no connection was made).

        Raises:
            ProviderAuthError: 401 or 403.
            ProviderOutOfCredits: 402.
            ProviderRejected: any other 4xx.
            ProviderUnavailable: timeouts, connection errors, 429 and 5xx after the retries.
        """
        build = request if callable(request) else (lambda: request)
        for attempt in range(1, self._policy.attempts + 1):
            built = build()
            retryable = True
            try:
                async with self._in_flight:
                    response = await self._client.send(built)
            except httpx.ConnectError as exc:
                error = ProviderUnavailable(self.provider, f"unreachable ({type(exc).__name__})")
            except httpx.TransportError as exc:
                # Timeouts and broken connections: the provider may have acted on it.
                error = ProviderUnavailable(
                    self.provider, f"no answer ({type(exc).__name__})", maybe_done=not idempotent
                )
                retryable = idempotent
            else:
                if response.is_success:
                    return response
                mapped = self._map(response)
                if not isinstance(mapped, ProviderUnavailable):
                    raise mapped
                error = mapped
                retryable = idempotent or response.status_code == 429
                # A create answered with a 5xx may have been carried out before the error.
                error.maybe_done = not idempotent and response.status_code >= 500
            if not retryable or attempt == self._policy.attempts:
                raise error
            wait = self._policy.delay(attempt, error.retry_after, self._rand)
            log.info(
                "%s %s: %s; retry %d/%d in %.2fs",
                self.provider,
                built.url.path,
                error.reason,
                attempt,
                self._policy.attempts - 1,
                wait,
            )
            await asyncio.sleep(wait)
        raise AssertionError("the loop always returns or raises")

    async def json(self, request: httpx.Request, *, idempotent: bool = True) -> Any:
        """Send and decode a JSON answer.

        Raises:
            ProviderUnavailable: the answer is not JSON (a proxy error page, say); for a
                create, ``maybe_done``: it was accepted, so the job may exist (and be paid).
        """
        response = await self.send(request, idempotent=idempotent)
        try:
            return response.json()
        except ValueError:
            raise ProviderUnavailable(
                self.provider,
                f"answered {response.status_code} with a body that is not JSON",
                maybe_done=not idempotent,
            ) from None

    def _map(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        reason = _reason(response)
        if status in RETRYABLE:
            return ProviderUnavailable(
                self.provider, reason, status_code=status, retry_after=_retry_after(response)
            )
        if status >= 500:
            return ProviderUnavailable(self.provider, reason, status_code=status)
        if status in (401, 403):
            return ProviderAuthError(self.provider, reason, status_code=status)
        if status == 402:
            return ProviderOutOfCredits(self.provider, reason, status_code=status)
        return ProviderRejected(self.provider, reason, status_code=status)


def _reason(response: httpx.Response) -> str:
    """The provider's own message: ``message`` or ``error`` in a JSON body, else the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:300]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])[:300]
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def _retry_after(response: httpx.Response) -> float | None:
    """The answer's ``Retry-After`` (seconds or an HTTP date) as seconds from now, between 0
    and MAX_RETRY_AFTER_SECONDS; None when absent or unreadable (``inf``/``nan`` are read as
    the longest wait: the provider asked for a long pause, not for none)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            return None
        if moment.tzinfo is None:  # "-0000": a date with no zone given is UTC (RFC 5322)
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return MAX_RETRY_AFTER_SECONDS
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))
