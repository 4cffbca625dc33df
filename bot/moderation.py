"""Bans (design §6): who the bot refuses to serve, checked on every update from memory."""

from __future__ import annotations

from storage import UserRepository


class Moderation:
    """The banned ids live in a set loaded at start-up and kept current by :meth:`ban` and
    :meth:`unban`, so the check in front of every handler costs no query."""

    def __init__(self, users: UserRepository) -> None:
        self._users = users
        self._banned: set[int] = set()
        #: Banned users already refused once: no write per update from them.
        self._noticed: set[int] = set()

    async def load(self) -> None:
        self._banned = await self._users.banned_ids()

    def is_banned(self, user_id: int) -> bool:
        return user_id in self._banned

    async def ban(self, user_id: int) -> bool:
        """Ban a user, even one the bot has never seen. Returns False when already banned."""
        changed = await self._users.ban(user_id)
        self._banned.add(user_id)
        self._noticed.discard(user_id)  # a new ban gets its own refusal
        return changed

    async def unban(self, user_id: int) -> bool:
        """Returns False when the user was not banned."""
        changed = await self._users.unban(user_id)
        self._banned.discard(user_id)
        self._noticed.discard(user_id)
        return changed

    async def take_ban_notice(self, user_id: int) -> bool:
        """True the first time after a ban only: send the one polite refusal then."""
        if user_id in self._noticed:
            return False
        self._noticed.add(user_id)
        return await self._users.take_ban_notice(user_id)

    async def find_user(self, username: str) -> int | None:
        """The id behind ``@username`` (or ``username``), if the bot has seen them."""
        return await self._users.find_by_username(username)
