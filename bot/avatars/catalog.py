"""The ready-made avatars the picker offers: read from memory, refreshed in the background.

A tap on the picker must never wait for a provider: every read here is from an immutable
snapshot in memory, and a refresh builds a new snapshot and swaps it in with one assignment.
The snapshot starts from a copy on disk (``<folder>/<provider>.json``, written atomically),
so a restart shows the avatars at once; the provider is asked again when that copy is older
than ``refresh_every``, then every ``refresh_every``, and after a failure with a growing
pause. A failing or empty answer keeps the last good list.

Everything a provider sends is cleaned once, as it is taken in (bot.avatars.lists), off the
event loop (thousands of avatars take a good part of a second): names are made short and
plain (bot.avatars.names), duplicates and anything past ``max_avatars`` dropped. The shape of
each avatar (ids, URL schemes) is the provider's parser's to check.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bot.avatars.lists import cleaned, read_kept, write_kept
from bot.models.avatars import Avatar, Gender

log = logging.getLogger(__name__)

#: Fetches one provider's whole catalogue (``provider.avatars``).
Loader = Callable[[], Awaitable[list[Avatar]]]

#: Avatars a page of the picker shows.
PAGE_SIZE = 8
#: How old the list may grow before the provider is asked again.
REFRESH_EVERY = 6 * 3600.0
#: The first pause after a failed refresh; it doubles up to RETRY_MAX.
RETRY_FIRST = 60.0
RETRY_MAX = 3600.0
#: Longest a provider may take to list its avatars.
LOAD_TIMEOUT = 120.0
#: Avatars kept per provider (Creatify lists a few hundred).
MAX_AVATARS = 5000
_PROVIDER = re.compile(r"[a-z0-9_]{1,32}")


class Filter(StrEnum):
    """What a picker page lists; the values travel in button payloads (one letter each)."""

    ALL = "a"
    WOMEN = "f"
    MEN = "m"
    #: The user's own custom avatars (issue 9).
    MINE = "o"


def ref_of(avatar: Avatar) -> str:
    """A short, stable name for an avatar in a button payload (11 characters): provider ids
    are 36-character UUIDs, too long for Telegram's 64 bytes beside the owner and the draft."""
    digest = hashlib.sha256(f"{avatar.provider}\0{avatar.avatar_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:8]).decode().rstrip("=")


@dataclass(frozen=True)
class AvatarPage:
    """One page of the picker."""

    avatars: tuple[Avatar, ...]
    filter: Filter
    #: 0-based, within ``range(pages)`` whatever was asked.
    page: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return self.page + 1 < self.pages


@dataclass(frozen=True)
class _Snapshot:
    """Every list the picker reads, built once per refresh."""

    stock: Mapping[Filter, tuple[Avatar, ...]]
    #: Custom avatars by owner.
    owned: Mapping[int, tuple[Avatar, ...]]
    by_ref: Mapping[str, Avatar]

    @classmethod
    def of(cls, lists: Iterable[tuple[Avatar, ...]]) -> _Snapshot:
        every = sorted(
            (avatar for avatars in lists for avatar in avatars),
            key=lambda a: (a.name.casefold(), a.provider, a.avatar_id),
        )
        stock = tuple(a for a in every if a.owner_id is None)
        owned: dict[int, list[Avatar]] = {}
        for avatar in every:
            if avatar.owner_id is not None:
                owned.setdefault(avatar.owner_id, []).append(avatar)
        return cls(
            stock={
                Filter.ALL: stock,
                Filter.WOMEN: tuple(a for a in stock if a.gender is Gender.FEMALE),
                Filter.MEN: tuple(a for a in stock if a.gender is Gender.MALE),
            },
            owned={owner: tuple(avatars) for owner, avatars in owned.items()},
            by_ref={ref_of(a): a for a in every},
        )


@dataclass
class _Source:
    """One provider's list and when to ask for it again."""

    name: str
    load: Loader
    avatars: tuple[Avatar, ...] = ()
    #: Wall-clock time of the last good answer (kept on disk: it survives restarts).
    fetched_at: float | None = None
    failures: int = 0
    #: Monotonic time of the next refresh, and the earliest one a user's wish may bring.
    next_at: float = 0.0
    floor: float = 0.0


class AvatarCatalog:
    """The avatars of every provider that has them, as the picker reads them."""

    def __init__(
        self,
        sources: Mapping[str, Loader],
        folder: Path,
        *,
        refresh_every: float | None = None,
        retry_first: float = RETRY_FIRST,
        retry_max: float = RETRY_MAX,
        max_avatars: int = MAX_AVATARS,
        wall: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """
        Args:
            sources: provider name -> what lists its avatars.
            folder: where each provider's last good list is kept.
            refresh_every: seconds between refreshes (None: REFRESH_EVERY, read now, so a
                benchmark can shorten it for a bot it starts).
        """
        for name in sources:
            if not _PROVIDER.fullmatch(name):
                raise ValueError(f"not a provider name: {name!r}")
        self._sources = {name: _Source(name, load) for name, load in sources.items()}
        self._folder = folder
        self._refresh_every = REFRESH_EVERY if refresh_every is None else refresh_every
        self._retry_first = retry_first
        self._retry_max = retry_max
        self._max_avatars = max_avatars
        self._wall = wall
        self._clock = clock
        self._snapshot = _Snapshot.of(())
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def available(self) -> bool:
        """Whether any enabled provider has avatars (the [Avatars] button shows then)."""
        return bool(self._sources)

    # --- reads: memory only ------------------------------------------------------------------

    def page(self, wanted: Filter, number: int, owner_id: int) -> AvatarPage:
        """Page ``number`` of ``wanted`` (clamped: a list may have shrunk since the button
        was made); MINE lists ``owner_id``'s own avatars."""
        snapshot = self._snapshot
        if wanted is Filter.MINE:
            listed = snapshot.owned.get(owner_id, ())
        else:
            listed = snapshot.stock[wanted]
        pages = max(1, math.ceil(len(listed) / PAGE_SIZE))
        number = min(max(number, 0), pages - 1)
        start = number * PAGE_SIZE
        return AvatarPage(listed[start : start + PAGE_SIZE], wanted, number, pages, len(listed))

    def find(self, ref: str, owner_id: int) -> Avatar | None:
        """The avatar ``ref`` names, if it is still listed and ``owner_id`` may use it (a stock
        avatar, or one of their own: never someone else's custom avatar)."""
        avatar = self._snapshot.by_ref.get(ref)
        if avatar is None or avatar.owner_id not in (None, owner_id):
            return None
        return avatar

    def has_own(self, owner_id: int) -> bool:
        """Whether the user has custom avatars ([My avatars] shows then)."""
        return owner_id in self._snapshot.owned

    def is_empty(self) -> bool:
        return not self._snapshot.by_ref

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Show the lists kept on disk, then keep them fresh in the background."""
        now, wall = self._clock(), self._wall()
        for source in self._sources.values():
            kept = await asyncio.to_thread(
                read_kept, self._path(source.name), source.name, self._max_avatars
            )
            if kept is not None:
                source.fetched_at, source.avatars = kept
            age = wall - source.fetched_at if source.fetched_at is not None else math.inf
            source.next_at = now + max(0.0, self._refresh_every - age)
        self._swap()
        if self._sources:
            self._task = asyncio.create_task(self._run(), name="avatar-refresh")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wanted(self) -> None:
        """Someone opened the picker and found it empty: ask the providers again now, unless
        one just failed (then as soon as its pause is over)."""
        now = self._clock()
        for source in self._sources.values():
            if not source.avatars:
                source.next_at = min(source.next_at, max(now, source.floor))
        self._wake.set()

    async def refresh(self, name: str) -> bool:
        """Ask one provider for its avatars now; True when a new list was taken in."""
        source = self._sources[name]
        now = self._clock()
        try:
            async with asyncio.timeout(LOAD_TIMEOUT):
                answer = await source.load()
            # The answer is the loader's and no longer changes: it may be read in a thread.
            avatars = await asyncio.to_thread(cleaned, name, answer, self._max_avatars)
        except Exception as exc:  # a provider's failure must not end the refreshes
            return self._failed(source, now, f"{type(exc).__name__}: {exc}")
        if not avatars:
            return self._failed(source, now, "no usable avatars")
        source.avatars, source.fetched_at = avatars, self._wall()
        source.failures, source.floor = 0, 0.0
        source.next_at = now + self._refresh_every
        self._swap()
        try:
            await asyncio.to_thread(write_kept, self._path(name), source.fetched_at, avatars)
        except OSError as exc:  # the list is in use; only the next start is slower
            log.warning("Could not keep %s's avatars on disk: %s", name, exc)
        log.info("%s lists %d avatars", name, len(avatars))
        return True

    # --- internals ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            now = self._clock()
            due = [s for s in self._sources.values() if s.next_at <= now]
            for source in due:
                await self.refresh(source.name)
            if due:
                continue
            wait = min(s.next_at for s in self._sources.values()) - now
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def _failed(self, source: _Source, now: float, why: str) -> bool:
        source.failures += 1
        pause = min(self._retry_first * 2 ** (source.failures - 1), self._retry_max)
        source.floor = source.next_at = now + pause
        kept = f"keeping {len(source.avatars)}" if source.avatars else "none to show"
        log.warning(
            "Could not list %s's avatars (%s); %s, trying again in %.0f s",
            source.name,
            why,
            kept,
            pause,
        )
        return False

    def _swap(self) -> None:
        self._snapshot = _Snapshot.of(s.avatars for s in self._sources.values())

    def _path(self, name: str) -> Path:
        return self._folder / f"{name}.json"
