"""The one place provider HTTP happens: timeouts, retries, and error mapping.

:class:`~bot.providers.base.RemoteProvider` builds the requests (its ``request``/``call`` with
the vendor's ``auth_headers`` hook) and vendor modules parse JSON; everything between (sending,
retrying 429/5xx/timeouts with capped backoff and jitter, honouring ``Retry-After``, turning
statuses into the domain error tree) lives here, so every provider behaves the same.

Answers are read as hostile: bodies are streamed and cut off at a size cap (unpacked size, so
a gzip bomb stops too) and a time cap, JSON nested too deep is unreadable rather than a
crash, and an error's reason is the provider's words cleaned of control characters.
"""

from __future__ import annotations

import asyncio
import itertools
import json
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
from bot.untrusted import clean_text

log = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: Requests to one provider in flight at once. Beyond this they wait here, cheaply: queued
#: inside httpx's connection pool, each new request rescans the whole queue, and 10,000
#: webhook confirmations at once starved the event loop (measured, bench/inflight_jobs.py).
MAX_IN_FLIGHT = 16
#: The longest wait a provider's Retry-After is taken at (the poller's longest backoff):
#: beyond it a hint is no longer advice, and an infinite one would overflow a schedule.
MAX_RETRY_AFTER_SECONDS = 600.0
#: The largest answer read, unpacked; a caller expecting more (a catalogue) passes ``limit``.
#: Beyond it the answer is unreadable: nothing we ask for is that big.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
#: An error's body is read only for its reason: a few kilobytes say it.
MAX_ERROR_BYTES = 64 * 1024
#: The longest a body may take to arrive once the status is in. httpx's read timeout is per
#: chunk: a provider dripping a byte every few seconds would hold a request slot for ever.
MAX_READ_SECONDS = 120.0
#: A reason is shown to admins and logged: a sentence, not a page.
MAX_REASON = 300


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
        self,
        request: httpx.Request | Callable[[], httpx.Request],
        *,
        idempotent: bool = True,
        keyed: bool = False,
        limit: int = MAX_ANSWER_BYTES,
    ) -> httpx.Response:
        """Send a request, retrying transient failures; the answer comes back read.

        Args:
            request: the request, or a function building it afresh for each try (needed for
                a streamed body, which can be read only once).
            idempotent: False for creates: a create whose answer was lost may have made the
                job, and repeating it could pay twice. Those are retried only when the
                request provably did not run (429, or no connection was made).
            keyed: a create that carries an idempotency key (sync.so's ``Idempotency-Key``):
                the provider answers a repeat with the job the first try made, so it is
                retried like a read. Its failure still says ``maybe_done`` when any try may
                have been carried out, a refusal of a later try too (401, 402, 422): the key
                makes a later resend safe, not the job known.
            limit: the most bytes of a successful answer read (unpacked).

        Raises:
            ProviderAuthError: 401 or 403.
            ProviderOutOfCredits: 402.
            ProviderRejected: any other 4xx. (These three say ``maybe_done`` when an earlier
                try of a create may have been carried out.)
            ProviderUnavailable: timeouts, connection errors, 429 and 5xx after the retries;
                at once, a successful answer over ``limit`` (for a create, ``maybe_done``).
        """
        build = request if callable(request) else (lambda: request)
        retry_all = idempotent or keyed
        #: Whether some try may have been carried out (a keyed create retries past that).
        reached = False
        for attempt in range(1, self._policy.attempts + 1):
            built = build()
            retryable = True
            try:
                response, whole = await self._exchange(built, limit)
            except httpx.ConnectError as exc:
                error = ProviderUnavailable(
                    self.provider,
                    f"unreachable ({type(exc).__name__})",
                    maybe_done=not idempotent and reached,
                )
            except (httpx.TransportError, httpx.DecodingError) as exc:
                # Timeouts, broken connections, bodies that do not unpack: the provider may
                # have acted on it.
                reached = True
                error = ProviderUnavailable(
                    self.provider, f"no answer ({type(exc).__name__})", maybe_done=not idempotent
                )
                retryable = retry_all
            else:
                if response.is_success and not whole:
                    # The same request would get the same answer: not worth another try.
                    raise ProviderUnavailable(
                        self.provider,
                        f"answered {response.status_code} with over {_size(limit)}",
                        status_code=response.status_code,
                        maybe_done=not idempotent,
                    )
                if response.is_success:
                    return response
                mapped = self._map(response)
                if not isinstance(mapped, ProviderUnavailable):
                    # A refusal of a retry (401, 402, 422...) says nothing of an earlier try
                    # that got no answer: that one may have made the job, and be paid.
                    mapped.maybe_done = not idempotent and reached
                    raise mapped
                error = mapped
                retryable = retry_all or response.status_code == 429
                # A create answered with a 5xx may have been carried out before the error; a
                # keyed one answered 409 is the same key's first try, still being made.
                status = response.status_code
                reached = reached or status >= 500 or (keyed and status == 409)
                error.maybe_done = not idempotent and reached
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

    async def json(
        self,
        request: httpx.Request | Callable[[], httpx.Request],
        *,
        idempotent: bool = True,
        keyed: bool = False,
        limit: int = MAX_ANSWER_BYTES,
    ) -> Any:
        """Send and decode a JSON answer of at most ``limit`` bytes (see :meth:`send`).

        Raises:
            ProviderUnavailable: the answer is not JSON (a proxy error page, say), is nested
                too deep to decode, or is over ``limit``; for a create, ``maybe_done``: it
                was accepted, so the job may exist (and be paid).
        """
        response = await self.send(request, idempotent=idempotent, keyed=keyed, limit=limit)
        try:
            return _loads(response.content)
        except ValueError:
            raise ProviderUnavailable(
                self.provider,
                f"answered {response.status_code} with a body that is not JSON",
                maybe_done=not idempotent,
            ) from None

    async def _exchange(self, request: httpx.Request, limit: int) -> tuple[httpx.Response, bool]:
        """Send ``request`` and read its answer's body within MAX_READ_SECONDS: at most
        ``limit`` bytes of a success, MAX_ERROR_BYTES of an error. Also says whether the body
        was read whole (if not, its content is left empty: half a document is no document).

        Raises:
            httpx.TransportError: as httpx, and ReadTimeout when the body is too slow.
            httpx.DecodingError: the body does not unpack as its Content-Encoding says.
        """
        async with self._in_flight:
            response = await self._client.send(request, stream=True)
            try:
                cap = limit if response.is_success else MAX_ERROR_BYTES
                async with asyncio.timeout(MAX_READ_SECONDS):
                    whole = await _read(response, cap)
            except TimeoutError:
                raise httpx.ReadTimeout(
                    f"the body took over {MAX_READ_SECONDS:g} s", request=request
                ) from None
            finally:
                await response.aclose()
        return response, whole

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


async def _read(response: httpx.Response, cap: int) -> bool:
    """Read ``response``'s body into its ``content`` unless it unpacks to over ``cap`` bytes;
    whether it did. Counted as it unpacks, so a small gzip of gigabytes stops at the cap."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > cap:
            response._content = b""
            return False
    # What httpx's own aread() does: the answer now reads like any other.
    response._content = bytes(body)
    return True


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MB" if limit % mib == 0 else f"{limit} bytes"


def _loads(content: bytes) -> Any:
    """``content`` decoded as JSON.

    Raises:
        ValueError: not JSON, not UTF-8, or nested too deep for the decoder (which raises
            RecursionError: a ``[`` repeated 100,000 times is a few bytes of hostile answer).
    """
    try:
        return json.loads(content)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


#: Keys whose value is the message itself: common APIs' first, then Django REST Framework's.
_MESSAGE_KEYS = ("message", "error", "detail", "non_field_errors")
#: How deep, and how many items a level, an error body is searched for words.
_REASON_DEPTH = 4
_REASON_ITEMS = 5


def _reason(response: httpx.Response) -> str:
    """The provider's own words from an error's JSON body, else the status line; clean
    (no control characters, one line) and at most MAX_REASON characters."""
    try:
        body = _loads(response.content)
    except ValueError:
        body = None
    said = _said(body, _REASON_DEPTH)
    if said:
        return said
    return clean_text(f"HTTP {response.status_code} {response.reason_phrase}", MAX_REASON)


def _said(body: object, depth: int) -> str | None:
    """The message in an error body, or None.

    A message is a string under one of _MESSAGE_KEYS, or in a list there, or an object's own
    message there (``{"error": {"message": ...}}``). Failing those, an object may be DRF's
    field errors, ``{"aspect_ratio": ["...is not a valid choice."]}``, read as
    ``aspect_ratio: ...is not a valid choice.`` (a few fields, joined by ``;``); a field's
    errors are lists or objects (nested serializers), so ``{"id": "x"}`` is no error.
    """
    if isinstance(body, str):
        return clean_text(body, MAX_REASON) or None
    if depth <= 0:
        return None
    if isinstance(body, list):
        for item in body[:_REASON_ITEMS]:
            if said := _said(item, depth - 1):
                return said
        return None
    if not isinstance(body, dict):
        return None
    for key in _MESSAGE_KEYS:
        if said := _said(body.get(key), depth - 1):
            return said
    fields = []
    for key, value in itertools.islice(body.items(), _REASON_ITEMS):
        if isinstance(value, list | dict) and (said := _said(value, depth - 1)):
            fields.append(f"{clean_text(str(key), 64)}: {said}")
    return clean_text("; ".join(fields), MAX_REASON) or None


def _retry_after(response: httpx.Response) -> float | None:
    """The answer's ``Retry-After`` (seconds or an HTTP date) as seconds from now, between 0
    and MAX_RETRY_AFTER_SECONDS; None when absent or unreadable (``inf``/``nan`` are read as
    the longest wait: the provider asked for a long pause, not for none)."""
    value = response.headers.get("retry-after", "").strip()
    # float() also reads Unicode digits and underscores ("١٢٠", "1_0"), which no HTTP
    # delta-seconds or date holds: such a header is no hint.
    if not value or not value.isascii() or "_" in value:
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
