"""Which media files jobs and drafts still refer to, read in small batches.

Read by the retention sweep: each query covers at most one batch of rows (a range of ids,
walked by primary key), so a big table never holds the shared connection for long.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from storage.db import Database

#: The file fields of a draft's InputFile, read out of its JSON without parsing it in Python.
_INPUT_FIELDS = ("path", "file_id", "file_unique_id", "source")
#: A draft's InputFiles: its face and its voices.
_DRAFT_SLOTS = ("media", "voice", "voice2")


class MediaReferences:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def job_files(self, ended_after: datetime, batch: int) -> AsyncIterator[list[str]]:
        """The inputs and outputs of jobs that have not ended, or ended after
        ``ended_after``; one list of paths per batch of job ids."""
        last = await self._db.scalar("SELECT MAX(id) FROM jobs")
        if not isinstance(last, int):
            return
        for start in range(0, last, batch):
            rows = await self._db.fetchall(
                """
                SELECT json_extract(order_data, '$.face.path'),
                    json_extract(order_data, '$.voice.path'),
                    json_extract(order_data, '$.dialogue.voice.path'), output_path FROM jobs
                WHERE id > ? AND id <= ? AND (finished_at IS NULL OR finished_at >= ?)
                """,
                (start, start + batch, ended_after.isoformat()),
            )
            yield [path for row in rows for path in row if path]

    async def draft_files(self, batch: int) -> AsyncIterator[list[dict[str, str | None]]]:
        """The face and voices (a dialogue's second speaker's too) of every stored draft, as
        the fields of their InputFile (``path`` is None while the file is still being
        downloaded); one list per batch."""
        columns = ", ".join(
            f"json_extract(data, '$.{slot}.{field}') AS {slot}_{field}"
            for slot in _DRAFT_SLOTS
            for field in _INPUT_FIELDS
        )
        after = 0
        while True:
            rows = await self._db.fetchall(
                f"SELECT rowid, {columns} FROM drafts WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, batch),
            )
            if not rows:
                return
            after = rows[-1]["rowid"]
            files = []
            for row in rows:
                for slot in _DRAFT_SLOTS:
                    fields = {field: row[f"{slot}_{field}"] for field in _INPUT_FIELDS}
                    if fields["source"] is not None:
                        files.append(fields)
            yield files
