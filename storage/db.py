"""The aiosqlite connection: pragmas, migrations, and transactions."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Union

import aiosqlite

from storage.migrations import MIGRATIONS

log = logging.getLogger(__name__)


def now() -> datetime:
    """The current time as stored: timezone-aware UTC."""
    return datetime.now(UTC)


class Transaction:
    """Statements inside one open transaction (see :meth:`Database.transaction`).

    Repositories take one of these (or the :class:`Database`, for a statement of its own):
    the caller decides what commits together, nothing commits behind its back.
    """

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._conn = connection

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        cursor = await self._conn.execute(sql, tuple(params))
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        await self._conn.executemany(sql, [tuple(row) for row in rows])

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one INSERT; returns the new row id."""
        cursor = await self._conn.execute(sql, tuple(params))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._conn.execute(sql, tuple(params)) as cursor:
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._conn.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())

    async def scalar(self, sql: str, params: Iterable[Any] = ()) -> object:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


#: Where a repository runs a statement: on its own (the Database) or inside a transaction.
Executor = Union["Database", Transaction]


class Database:
    """One connection shared by the process.

    aiosqlite runs the connection on its own thread, so queries never block the event loop.
    The connection is in autocommit mode; multi-statement work goes through
    :meth:`transaction`, which holds a lock so two tasks never interleave inside one.
    """

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._conn = connection
        self._tx_lock = asyncio.Lock()
        #: Single statements run as a Transaction's do, in autocommit (each its own).
        self._statements = Transaction(connection)

    @classmethod
    async def open(cls, path: Path) -> Database:
        """Open (creating folders as needed) and configure the database at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        # WAL lets readers run beside the writer; NORMAL is durable across app crashes in WAL.
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=5000",
        ):
            await conn.execute(f"PRAGMA {pragma}")
        return cls(conn)

    async def close(self) -> None:
        await self._conn.close()

    async def ping(self) -> bool:
        """Whether the database answers a trivial query (for the health check)."""
        try:
            await self.scalar("SELECT 1")
        except (sqlite3.Error, ValueError) as exc:
            # ValueError: aiosqlite's "no active connection" after close.
            log.error("Database ping failed: %s", exc)
            return False
        return True

    async def migrate(self) -> int:
        """Apply the migrations this database has not seen. Returns the schema version."""
        version = await self.scalar("PRAGMA user_version")
        assert isinstance(version, int)
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            async with self._tx_lock:
                # executescript commits any open transaction first, so the step brings its own.
                await self._conn.executescript(
                    f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
                )
            log.info("Applied database migration %d", number)
        return len(MIGRATIONS)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Run statements atomically; rolled back if the block raises."""
        async with self._tx_lock:
            # IMMEDIATE takes the write lock up front, so a second process waits here
            # (busy_timeout) instead of failing half-way through.
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn)
            except BaseException:
                await self._conn.rollback()
                raise
            await self._conn.commit()

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        async with self._tx_lock:  # never inside another task's transaction
            return await self._statements.execute(sql, params)

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one INSERT; returns the new row id."""
        async with self._tx_lock:
            return await self._statements.insert(sql, params)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        return await self._statements.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        return await self._statements.fetchall(sql, params)

    async def scalar(self, sql: str, params: Iterable[Any] = ()) -> object:
        return await self._statements.scalar(sql, params)
