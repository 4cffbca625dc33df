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
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bot.avatars.lists import cleaned, read_kept, write_kept
from bot.models.avatars import Avatar, Gender
from bot.tasks import stop

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
    return _ref(avatar.provider, avatar.avatar_id)


def _ref(provider: str, avatar_id: str) -> str:
    digest = hashlib.sha256(f"{provider}\0{avatar_id}".encode()).digest()
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
    #: Custom avatars by the group their owner shared them with.
    shared: Mapping[int, tuple[Avatar, ...]]
    by_ref: Mapping[str, Avatar]

    @classmethod
    def of(
        cls,
        lists: Iterable[tuple[Avatar, ...]],
        hidden: Collection[tuple[str, str]] = frozenset(),
    ) -> _Snapshot:
        """``hidden``: (provider, avatar id) of users' custom avatars, never offered as stock
        even where a provider lists them among its own (Creatify lists built ones)."""
        every = sorted(
            (
                avatar
                for avatars in lists
                for avatar in avatars
                if avatar.owner_id is not None or (avatar.provider, avatar.avatar_id) not in hidden
            ),
            key=lambda a: (a.name.casefold(), a.provider, a.avatar_id),
        )
        stock = tuple(a for a in every if a.owner_id is None)
        owned: dict[int, list[Avatar]] = {}
        shared: dict[int, list[Avatar]] = {}
        for avatar in every:
            if avatar.owner_id is not None:
                owned.setdefault(avatar.owner_id, []).append(avatar)
                if avatar.shared_chat_id is not None:
                    shared.setdefault(avatar.shared_chat_id, []).append(avatar)
        return cls(
            stock={
                Filter.ALL: stock,
                Filter.WOMEN: tuple(a for a in stock if a.gender is Gender.FEMALE),
                Filter.MEN: tuple(a for a in stock if a.gender is Gender.MALE),
            },
            owned={owner: tuple(avatars) for owner, avatars in owned.items()},
            shared={chat: tuple(avatars) for chat, avatars in shared.items()},
            by_ref={ref_of(a): a for a in every},
        )

    def own(self, owner_id: int, chat_id: int | None) -> tuple[Avatar, ...]:
        """``owner_id``'s custom avatars, and those shared with ``chat_id`` (by name)."""
        mine = self.owned.get(owner_id, ())
        if chat_id is None or chat_id not in self.shared:
            return mine
        others = tuple(a for a in self.shared[chat_id] if a.owner_id != owner_id)
        if not others:
            return mine
        return tuple(sorted((*mine, *others), key=lambda a: (a.name.casefold(), a.avatar_id)))


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
        #: Users' custom avatars (bot.avatars.custom sets them) and every custom avatar's
        #: (provider, id), which no provider's stock list may offer.
        self._custom: tuple[Avatar, ...] = ()
        self._hidden: frozenset[tuple[str, str]] = frozenset()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def available(self) -> bool:
        """Whether any enabled provider has avatars (the [Avatars] button shows then)."""
        return bool(self._sources)

    # --- reads: memory only ------------------------------------------------------------------

    def page(
        self, wanted: Filter, number: int, owner_id: int, chat_id: int | None = None
    ) -> AvatarPage:
        """Page ``number`` of ``wanted`` (clamped: a list may have shrunk since the button
        was made); MINE lists ``owner_id``'s own avatars, and those shared with ``chat_id``."""
        snapshot = self._snapshot
        if wanted is Filter.MINE:
            listed = snapshot.own(owner_id, chat_id)
        else:
            listed = snapshot.stock[wanted]
        pages = max(1, math.ceil(len(listed) / PAGE_SIZE))
        number = min(max(number, 0), pages - 1)
        start = number * PAGE_SIZE
        return AvatarPage(listed[start : start + PAGE_SIZE], wanted, number, pages, len(listed))

    def find(self, ref: str, owner_id: int, chat_id: int | None = None) -> Avatar | None:
        """The avatar ``ref`` names, if it is still listed and ``owner_id`` may use it (a stock
        avatar, one of their own, or one shared with ``chat_id``: never someone else's custom
        avatar otherwise)."""
        avatar = self._snapshot.by_ref.get(ref)
        if avatar is None or avatar.owner_id in (None, owner_id):
            return avatar
        if chat_id is not None and avatar.shared_chat_id == chat_id:
            return avatar
        return None

    def offers(
        self, provider: str, avatar_id: str, owner_id: int, chat_id: int | None = None
    ) -> bool:
        """Whether an avatar picked earlier may still be used by ``owner_id`` in ``chat_id``
        (as :meth:`find` judges it): a custom avatar while it is ready and theirs or shared
        with the chat; a stock one unless its provider's list, once loaded, no longer has it.
        A list not loaded yet (a first start, the provider down) is no reason to refuse."""
        ref = _ref(provider, avatar_id)
        avatar = self._snapshot.by_ref.get(ref)
        if avatar is not None and (avatar.provider, avatar.avatar_id) == (provider, avatar_id):
            return self.find(ref, owner_id, chat_id) is not None
        if (provider, avatar_id) in self._hidden:
            return False  # a user's custom avatar no longer ready: deleted
        source = self._sources.get(provider)
        return source is None or not source.avatars

    def has_own(self, owner_id: int, chat_id: int | None = None) -> bool:
        """Whether the user has custom avatars, or ``chat_id`` shared ones ([My avatars])."""
        return bool(self._snapshot.own(owner_id, chat_id))

    def set_custom(self, avatars: Iterable[Avatar], hidden: Collection[tuple[str, str]]) -> None:
        """Offer these custom avatars (each with its ``owner_id``) from now on, instead of the
        last ones given; ``hidden``: every custom avatar's (provider, id), ready or not."""
        self._custom = tuple(a for a in avatars if a.owner_id is not None)
        self._hidden = frozenset(hidden)
        self._swap()

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
        await stop(self._task)
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
        lists = [s.avatars for s in self._sources.values()]
        self._snapshot = _Snapshot.of([*lists, self._custom], self._hidden)

    def _path(self, name: str) -> Path:
        return self._folder / f"{name}.json"
