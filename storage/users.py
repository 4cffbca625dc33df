"""Users and chats the bot has seen."""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable

from storage.db import Database, now

#: A (user, chat) whose details did not change is rewritten at most this often.
REFRESH_SECONDS = 600.0
#: How many (user, chat) pairs the write-skipping memo remembers.
MEMO_SIZE = 50_000

#: What Telegram allows in a username (5 to 32 characters; a few older ones are shorter).
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,32}", re.ASCII)

_Facts = tuple[str, str | None, str | None, str, str | None]


class UserRepository:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._clock = clock
        # Writing on every update serialized every chat behind the database (bench:
        # start_latency.py): most updates come from someone whose details are unchanged.
        self._memo: OrderedDict[tuple[int, int], tuple[_Facts, float]] = OrderedDict()

    async def seen(
        self,
        user_id: int,
        *,
        first_name: str,
        username: str | None,
        language_code: str | None,
        chat_id: int,
        chat_type: str,
        chat_title: str | None,
    ) -> None:
        """Record that a user wrote in a chat (insert or refresh both rows when they changed)."""
        key = (user_id, chat_id)
        facts = (first_name, username, language_code, chat_type, chat_title)
        remembered = self._memo.get(key)
        if (
            remembered is not None
            and remembered[0] == facts
            and self._clock() - remembered[1] < REFRESH_SECONDS
        ):
            return
        stamp = now().isoformat()
        # Two single statements (each atomic): the rows are independent, and a transaction
        # would hold the write lock across both round trips.
        await self._db.execute(
            """
            INSERT INTO users (id, username, first_name, language_code, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET username = excluded.username,
                first_name = excluded.first_name, language_code = excluded.language_code,
                blocked = 0, updated_at = excluded.updated_at
            """,
            (user_id, username, first_name, language_code, stamp, stamp),
        )
        await self._db.execute(
            """
            INSERT INTO chats (id, type, title, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET type = excluded.type, title = excluded.title,
                updated_at = excluded.updated_at
            """,
            (chat_id, chat_type, chat_title, stamp, stamp),
        )
        self._memo[key] = (facts, self._clock())
        self._memo.move_to_end(key)
        if len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)

    async def set_blocked(self, user_id: int) -> None:
        """The user blocked the bot: stop trying to write to them."""
        await self._db.execute(
            "UPDATE users SET blocked = 1, updated_at = ? WHERE id = ?",
            (now().isoformat(), user_id),
        )
        # Their next message must write again (and so clear the flag).
        for key in [key for key in self._memo if key[0] == user_id]:
            del self._memo[key]

    async def is_blocked(self, user_id: int) -> bool:
        return bool(await self._db.scalar("SELECT blocked FROM users WHERE id = ?", (user_id,)))

    # --- bans (design §6): the admin's decision is a row, so it survives restarts -----------

    async def ban(self, user_id: int) -> bool:
        """Ban a user, seen or not (a row is made for someone the bot never met, so a ban
        can come before their first message). Returns False when already banned."""
        stamp = now().isoformat()
        changed = await self._db.execute(
            """
            INSERT INTO users (id, created_at, updated_at, banned_at, ban_notified)
            VALUES (?, ?, ?, ?, 0)
            ON CONFLICT (id) DO UPDATE SET banned_at = excluded.banned_at, ban_notified = 0,
                updated_at = excluded.updated_at
            WHERE users.banned_at IS NULL
            """,
            (user_id, stamp, stamp, stamp),
        )
        return changed > 0

    async def unban(self, user_id: int) -> bool:
        """Lift a ban; a later ban gets its own refusal. Returns False when not banned."""
        changed = await self._db.execute(
            """
            UPDATE users SET banned_at = NULL, ban_notified = 0, updated_at = ?
            WHERE id = ? AND banned_at IS NOT NULL
            """,
            (now().isoformat(), user_id),
        )
        return changed > 0

    async def banned_ids(self) -> set[int]:
        """Everyone banned, for the in-memory set loaded at start-up."""
        rows = await self._db.fetchall("SELECT id FROM users WHERE banned_at IS NOT NULL")
        return {int(row["id"]) for row in rows}

    async def take_ban_notice(self, user_id: int) -> bool:
        """True exactly once per ban: the caller sends the one refusal. A compare-and-set, so
        two updates racing (or two instances) never both send it."""
        changed = await self._db.execute(
            """
            UPDATE users SET ban_notified = 1
            WHERE id = ? AND banned_at IS NOT NULL AND ban_notified = 0
            """,
            (user_id,),
        )
        return changed > 0

    async def find_by_username(self, name: str) -> int | None:
        """The id of the user last seen as ``@name`` (case-insensitive, the @ optional), or
        None: not a possible username, or nobody the bot has seen uses it."""
        name = name.strip().removeprefix("@")
        # Telegram usernames are ASCII letters, digits and underscores; anything else (a
        # look-alike letter, a space, an SQL wildcard) can match nobody.
        if not _USERNAME.fullmatch(name):
            return None
        value = await self._db.scalar(
            """
            SELECT id FROM users WHERE lower(username) = ?
            ORDER BY updated_at DESC LIMIT 1
            """,
            (name.lower(),),
        )
        return None if value is None else int(str(value))

    async def voice_of(self, user_id: int) -> str | None:
        """The built-in voice the user chose for typed text (None: their language's own)."""
        value = await self._db.scalar("SELECT voice_id FROM users WHERE id = ?", (user_id,))
        return value if isinstance(value, str) else None

    async def set_voice(self, user_id: int, voice_id: str | None) -> None:
        await self._db.execute(
            """
            INSERT INTO users (id, first_name, voice_id, created_at, updated_at)
            VALUES (?, '', ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET voice_id = excluded.voice_id,
                updated_at = excluded.updated_at
            """,
            (user_id, voice_id, now().isoformat(), now().isoformat()),
        )
