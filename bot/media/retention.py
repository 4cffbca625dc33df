"""Deleting users' media once nothing needs it: design section 3, "every file the bot keeps
has an owner and a retention time".

Inputs (``data/inputs``, named by Telegram's file_unique_id, so one file can serve several
drafts and jobs) and results (``data/outputs/job_N.mp4``) are deleted MEDIA_RETENTION_HOURS
after the last job using them ended. A file is kept while any stored draft or unfinished job
refers to it, or a job that ended less than the retention ago; a file not touched within the
retention and referred to by nothing (an abandoned conversation's) goes too.

Telegram keeps its own copies: /jobs re-sends a video by its file_id, and [Again] on a job
whose face is gone starts at the face step.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from bot.media.intake import local_name
from bot.models import InputFile

log = logging.getLogger(__name__)

#: Rows read per query, and files deleted per trip to a worker thread.
BATCH = 500


class References(Protocol):
    """Where the sweep learns which files are still in use (storage.media_refs)."""

    def job_files(self, ended_after: datetime, batch: int) -> AsyncIterator[list[str]]: ...

    def draft_files(self, batch: int) -> AsyncIterator[list[dict[str, str | None]]]: ...


class MediaRetention:
    def __init__(
        self,
        references: References,
        folders: Iterable[Path],
        retention: timedelta,
        *,
        batch: int = BATCH,
    ) -> None:
        """
        Args:
            references: reads the files jobs and drafts refer to.
            folders: flat folders of users' media (inputs, outputs).
            retention: how long files stay after their last job ended.
            batch: rows per query and files per deletion round.
        """
        self._refs = references
        self._folders = list(folders)
        self._retention = retention
        self._batch = batch

    async def sweep(self, *, at: datetime) -> int:
        """Delete the media nothing needs any more. Returns how many files went."""
        cutoff = at - self._retention
        # Listed first, references read after: a file that gets a new user meanwhile is
        # either too fresh to be listed or already referred to by its draft.
        old = await asyncio.to_thread(_untouched_since, self._folders, cutoff.timestamp())
        if not old:
            return 0
        async for paths in self._refs.job_files(cutoff, self._batch):
            for path in paths:
                old.pop(Path(path).name, None)
        async for files in self._refs.draft_files(self._batch):
            for fields in files:
                for name in _draft_names(fields):
                    old.pop(name, None)
        doomed = list(old.values())
        removed = 0
        for start in range(0, len(doomed), self._batch):
            removed += await asyncio.to_thread(
                _remove, doomed[start : start + self._batch], cutoff.timestamp()
            )
        if removed:
            log.info("Deleted %d media file(s) past their retention", removed)
        return removed


def _untouched_since(folders: list[Path], cutoff: float) -> dict[str, Path]:
    """Files directly in ``folders`` last modified before ``cutoff``, by name."""
    found: dict[str, Path] = {}
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    found[entry.name] = Path(entry.path)
            except FileNotFoundError:
                continue  # deleted while we looked
    return found


def _draft_names(fields: dict[str, str | None]) -> list[str]:
    """The names a draft's file has or will have in the inputs folder (it has no path while
    it is being downloaded)."""
    path, source = fields.get("path"), fields.get("source")
    names = [Path(path).name] if path else []
    if source and (fields.get("file_unique_id") or fields.get("file_id")):
        pending = InputFile(
            file_id=fields.get("file_id") or "",
            file_unique_id=fields.get("file_unique_id") or "",
            source=source,
        )
        names.append(local_name(pending))
    return names


def _remove(paths: list[Path], cutoff: float) -> int:
    """Delete ``paths``, except those touched since ``cutoff`` after they were listed: a
    draft that became a job during the sweep (JobService.create touches its inputs)."""
    removed = 0
    for path in paths:
        try:
            if path.stat().st_mtime >= cutoff:
                continue
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("Could not delete %s: %s", path.name, exc)
    return removed
