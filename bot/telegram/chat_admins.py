"""Who administers a group, asked of Telegram (getChatMember) and remembered briefly."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from telegram import Bot
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

log = logging.getLogger(__name__)

#: How long an answer is trusted: a demoted admin keeps their rights at most this long, and a
#: group admin sending several commands costs one request.
TTL_SECONDS = 300.0
#: How long a "no" is trusted: a member just promoted waits at most this long.
NO_TTL_SECONDS = 30.0
#: (chat, user) answers remembered at most; the oldest go first.
MAX_ENTRIES = 10_000

_ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})


class ChatAdmins:
    def __init__(
        self,
        bot: Bot,
        *,
        ttl: float = TTL_SECONDS,
        no_ttl: float = NO_TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bot = bot
        self._ttl = ttl
        self._no_ttl = no_ttl
        self._max = max_entries
        self._clock = clock
        self._answers: OrderedDict[tuple[int, int], tuple[bool, float]] = OrderedDict()

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether the user is an administrator or the creator of the chat. When Telegram
        cannot say (an error), the answer is no, and it is not remembered."""
        key = (chat_id, user_id)
        remembered = self._answers.get(key)
        if remembered is not None and self._clock() < remembered[1]:
            return remembered[0]
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning(
                "Could not check whether %d administers chat %d: %s", user_id, chat_id, exc
            )
            return False
        answer = member.status in _ADMIN_STATUSES
        self._answers[key] = (answer, self._clock() + (self._ttl if answer else self._no_ttl))
        self._answers.move_to_end(key)
        while len(self._answers) > self._max:
            self._answers.popitem(last=False)
        return answer

    def forget_chat(self, chat_id: int) -> None:
        """Drop what is known about a chat (it moved to a new id)."""
        for key in [key for key in self._answers if key[0] == chat_id]:
            del self._answers[key]
