"""Groups (design §6): the /bot on|off switch, who may flip it, and a group's move to a
supergroup. The switch is read on every group update, so the chats where the bot is off are
kept in memory (loaded at start-up, changed only through here)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.telegram.chat_admins import ChatAdmins
from storage.chats import ChatRepository

log = logging.getLogger(__name__)

#: In a group where the bot is off, the "I'm switched off" note is sent this rarely at most:
#: members sending /new one after another must not turn the bot into the noise it was
#: switched off to stop.
OFF_NOTE_SECONDS = 600.0
#: Chats whose last note is remembered at most (older ones are dropped first).
MAX_NOTED_CHATS = 10_000


class Groups:
    def __init__(
        self,
        chats: ChatRepository,
        admins: ChatAdmins,
        bot_admins: frozenset[int],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._chats = chats
        self._admins = admins
        self._bot_admins = bot_admins
        self._clock = clock
        self._off: set[int] = set()
        self._noted: dict[int, float] = {}

    async def load(self) -> None:
        self._off = await self._chats.disabled_ids()

    def enabled(self, chat_id: int) -> bool:
        return chat_id not in self._off

    async def set_enabled(self, chat_id: int, enabled: bool, *, chat_type: str) -> None:
        await self._chats.set_enabled(chat_id, enabled, chat_type=chat_type)
        if enabled:
            self._off.discard(chat_id)
        else:
            self._off.add(chat_id)
        self._noted.pop(chat_id, None)

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether the user administers the group; the bot's own admins administer every one."""
        return user_id in self._bot_admins or await self._admins.is_admin(chat_id, user_id)

    def take_off_note(self, chat_id: int) -> bool:
        """True when the "switched off" note may be sent in this chat now (and counts it)."""
        now = self._clock()
        last = self._noted.get(chat_id)
        if last is not None and now - last < OFF_NOTE_SECONDS:
            return False
        self._noted.pop(chat_id, None)  # re-inserted last: the dict stays in age order
        self._noted[chat_id] = now
        while len(self._noted) > MAX_NOTED_CHATS:
            del self._noted[next(iter(self._noted))]
        return True

    async def migrate(self, old_id: int, new_id: int) -> None:
        """The group ``old_id`` became the supergroup ``new_id``: move its settings,
        conversations, jobs, limits and usage, and forget what was cached for the old id.
        Safe to call again (Telegram tells it in both chats)."""
        if old_id == new_id:
            return
        moved = await self._chats.migrate(old_id, new_id)
        if old_id in self._off:
            self._off.discard(old_id)
            self._off.add(new_id)
        self._noted.pop(old_id, None)
        self._admins.forget_chat(old_id)
        if moved:
            log.info("Chat %d moved to supergroup %d", old_id, new_id)
