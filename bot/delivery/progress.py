"""The one status message per job, edited as the job moves, within Telegram's limits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, TelegramError

log = logging.getLogger(__name__)

#: Seconds between edits in one chat. Telegram allows about one message per second per chat
#: and 20 per minute per group; progress is the least important traffic, so it gets less.
PRIVATE_INTERVAL = 2.0
GROUP_INTERVAL = 3.0


class ProgressBoard:
    """Coalesces edits: intermediate updates inside the interval are dropped (a newer one
    follows), final ones wait for the interval and are always sent."""

    def __init__(
        self,
        bot: Bot,
        *,
        private_interval: float = PRIVATE_INTERVAL,
        group_interval: float = GROUP_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bot = bot
        self._intervals = (private_interval, group_interval)
        self._clock = clock
        self._last_edit: dict[int, float] = {}
        self._shown: dict[tuple[int, int], str] = {}

    async def show(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        final: bool = False,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """Put ``text`` in the status message (best effort: progress never fails a job)."""
        key = (chat_id, message_id)
        if self._shown.get(key) == text:
            return
        interval = self._intervals[1] if chat_id < 0 else self._intervals[0]
        wait = self._last_edit.get(chat_id, -interval) + interval - self._clock()
        if wait > 0:
            if not final:
                return
            await asyncio.sleep(wait)
        self._last_edit[chat_id] = self._clock()
        self._shown[key] = text
        if final:
            self._shown.pop(key, None)
        try:
            await self._bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=reply_markup
            )
        except BadRequest as exc:
            if not exc.message.startswith("Message is not modified"):
                log.warning("Could not edit status message in chat %s: %s", chat_id, exc.message)
        except TelegramError as exc:
            log.warning("Could not edit status message in chat %s: %s", chat_id, exc)
