"""The line of jobs waiting for a provider (PROVIDER_MAX_ACTIVE_JOBS): kept in the database, so
it survives a restart; each waiting job's status message shows its place, updated as the
line moves."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.jobs.states import JobStates
from bot.models import Job
from bot.tasks import BackgroundTasks
from storage import JobRepository

log = logging.getLogger(__name__)

#: Places kept exact on every move of the line.
NEAR_PLACES = 30
#: How often the places further back are brought up to date.
FAR_PLACES_SECONDS = 60.0

#: JobService.start
Start = Callable[[int], None]
#: StatusMessages.waiting: show a job's place in line.
ShowPlace = Callable[[Job, int], Awaitable[None]]
#: StatusMessages.progress: show a job that left the line.
ShowProgress = Callable[[Job], Awaitable[None]]


class WaitingLine:
    def __init__(
        self,
        *,
        states: JobStates,
        repo: JobRepository,
        tasks: BackgroundTasks,
        start: Start,
        show_place: ShowPlace,
        show_progress: ShowProgress,
    ) -> None:
        self._states = states
        self._repo = repo
        self._tasks = tasks
        self._start = start
        self._show_place = show_place
        self._show_progress = show_progress
        #: Providers whose line must be looked at again (a place opened, or it changed).
        self._dirty: set[str] = set()
        #: When each provider's places beyond NEAR_PLACES were last shown (monotonic).
        self._far_shown: dict[str, float] = {}
        states.when_freed(self.kick)

    def kick(self, provider: str) -> None:
        """A job left ``provider``'s hands or its line: admit who fits and show the new
        places, in the background (one runner per provider; a kick during a run is not
        lost: the runner goes round again)."""
        self._dirty.add(provider)
        self._tasks.spawn(f"line:{provider}", self._run(provider))

    async def resume(self) -> None:
        """Admit and show places for every provider someone waits for: after a restart, and
        now and then (a pass that failed, a database that was busy, is tried again)."""
        for provider in sorted({job.provider for job in await self._repo.waiting()}):
            self.kick(provider)

    async def place(self, job: Job) -> int:
        return await self._repo.place_in_line(job)

    async def _run(self, provider: str) -> None:
        while provider in self._dirty:
            self._dirty.discard(provider)
            try:
                await self._admit(provider)
            except Exception:
                # The periodic sweep (and any job ending) tries again; nothing is lost.
                log.exception("The line for %s could not move", provider)
            # Its own task, replaced by the next pass: admitting never waits for hundreds of
            # edits, and a pass made stale by a newer one is dropped.
            self._tasks.spawn(f"places:{provider}", self._show_places(provider), replace=True)
            await asyncio.sleep(0)

    async def _admit(self, provider: str) -> None:
        while (job := await self._states.admit_next(provider)) is not None:
            await self._show_progress(job)  # "queued" rather than "place 1"
            self._start(job.id)

    async def _show_places(self, provider: str) -> None:
        """Edit each waiting job's place: the first NEAR_PLACES every time the line moves,
        the ones further back at most every FAR_PLACES_SECONDS (every edit counts against
        Telegram's 30 messages a second for the whole bot)."""
        now = time.monotonic()
        far_due = now - self._far_shown.get(provider, -FAR_PLACES_SECONDS) >= FAR_PLACES_SECONDS
        if far_due:
            self._far_shown[provider] = now
        for place, job in enumerate(await self._repo.waiting(provider), start=1):
            if place > NEAR_PLACES and not far_due:
                break
            await self._show_place(job, place)
