"""The one status message per job, edited as the job moves, within Telegram's limits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, TelegramError

log = logging.getLogger(__name__)

#: Seconds between edits in one chat. Telegram allows about one message per second per chat
#: and 20 per minute per group; progress is the least important traffic, so it gets less.
PRIVATE_INTERVAL = 2.0
GROUP_INTERVAL = 3.0
#: Status messages remembered at most; past it the oldest idle ones are forgotten (a job that
#: never sent its final edit must not keep its entry forever).
MAX_TRACKED = 10_000
#: Messages whose final edit went out, remembered (at most this many, oldest dropped first)
#: only so that a late progress update cannot overwrite the final text.
MAX_ENDED = 1_000


@dataclass(frozen=True)
class _Edit:
    text: str
    markup: InlineKeyboardMarkup | None = None


@dataclass
class _Status:
    """One status message: what Telegram shows, and the newest edit waiting for its turn."""

    shown: _Edit | None = None
    pending: _Edit | None = None
    flusher: asyncio.Task[None] | None = None
    sending: bool = False


class ProgressBoard:
    """Coalesces edits: one inside the interval is kept as pending (a newer one replaces it)
    and a per-message background task sends the latest when the interval is up. An edit equal
    to what is shown is never sent; a final edit replaces the pending one, waits for the
    interval and is always sent, and then the message is forgotten."""

    def __init__(
        self,
        bot: Bot,
        *,
        private_interval: float = PRIVATE_INTERVAL,
        group_interval: float = GROUP_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self._bot = bot
        self._intervals = (private_interval, group_interval)
        self._clock = clock
        self._max_tracked = max_tracked
        self._last_edit: dict[int, float] = {}  # chat -> when its last edit went out
        self._statuses: dict[tuple[int, int], _Status] = {}
        self._ended: dict[tuple[int, int], None] = {}  # an ordered set

    @property
    def tracked(self) -> int:
        """Status messages the board still remembers."""
        return len(self._statuses)

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
        edit = _Edit(text, reply_markup)
        if final:
            await self._show_final(key, edit)
            return
        if key in self._ended:
            return  # a progress update that lost the race with the job's end
        status = self._track(key)
        if status.flusher is not None:
            status.pending = edit  # the flusher sends whatever is newest when its turn comes
            return
        if edit == status.shown:
            return
        if self._wait(chat_id) > 0:
            status.pending = edit
            status.flusher = asyncio.create_task(
                self._flush(key, status), name=f"progress-{chat_id}-{message_id}"
            )
            return
        await self._send(key, status, edit)

    def sent(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """Record a status message just sent with ``text``: an edit to the same text is then
        not sent (Telegram would answer 400 "message is not modified"), and the chat's next
        edit waits its interval from now."""
        self._track((chat_id, message_id)).shown = _Edit(text, reply_markup)
        self._last_edit[chat_id] = self._clock()

    async def close(self) -> None:
        """Drop pending edits (shutdown): their jobs resume and edit again after a restart."""
        flushers = [s.flusher for s in self._statuses.values() if s.flusher is not None]
        self._statuses.clear()
        for flusher in flushers:
            flusher.cancel()
        if flushers:
            await asyncio.wait(flushers)

    async def _show_final(self, key: tuple[int, int], edit: _Edit) -> None:
        status = self._statuses.pop(key, None) or _Status()
        status.pending = None
        self._ended[key] = None
        if len(self._ended) > MAX_ENDED:
            del self._ended[next(iter(self._ended))]
        if status.flusher is not None:
            # An edit already on its way finishes first, so the final one lands last.
            if not status.sending:
                status.flusher.cancel()
            await asyncio.wait([status.flusher])
        if edit == status.shown:
            return
        wait = max(0.0, self._wait(key[0]))
        if wait > 0:
            # Reserve the chat's next slot, so no other message's edit takes it meanwhile.
            self._last_edit[key[0]] = self._clock() + wait
            await asyncio.sleep(wait)
        await self._send(key, status, edit)

    async def _flush(self, key: tuple[int, int], status: _Status) -> None:
        try:
            while status.pending is not None:
                wait = self._wait(key[0])
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                edit, status.pending = status.pending, None
                if edit != status.shown:
                    status.sending = True
                    try:
                        await self._send(key, status, edit)
                    finally:
                        status.sending = False
        except Exception as exc:  # a background task: nobody else would see the error
            log.warning("Status message flush in chat %s failed: %s", key[0], type(exc).__name__)
        finally:
            status.flusher = None

    async def _send(self, key: tuple[int, int], status: _Status, edit: _Edit) -> None:
        chat_id, message_id = key
        if len(self._last_edit) >= self._max_tracked:
            self._forget_quiet_chats()
        self._last_edit[chat_id] = self._clock()  # other edits in this chat wait from now...
        try:
            await self._bot.edit_message_text(
                edit.text, chat_id=chat_id, message_id=message_id, reply_markup=edit.markup
            )
        except BadRequest as exc:
            if not exc.message.startswith("Message is not modified"):
                log.warning("Could not edit status message in chat %s: %s", chat_id, exc.message)
                return
        except TelegramError as exc:
            log.warning("Could not edit status message in chat %s: %s", chat_id, exc)
            return
        finally:
            # ...and again from when it went out: the pacer may have held it for a while.
            self._last_edit[chat_id] = self._clock()
        status.shown = edit

    def _interval(self, chat_id: int) -> float:
        return self._intervals[1] if chat_id < 0 else self._intervals[0]

    def _wait(self, chat_id: int) -> float:
        last = self._last_edit.get(chat_id)
        return 0.0 if last is None else last + self._interval(chat_id) - self._clock()

    def _track(self, key: tuple[int, int]) -> _Status:
        status = self._statuses.get(key)
        if status is None:
            if len(self._statuses) >= self._max_tracked:
                self._forget_oldest_idle()
            status = self._statuses[key] = _Status()
        return status

    def _forget_oldest_idle(self) -> None:
        """Make room: drop the oldest messages with nothing pending (dicts keep insertion
        order)."""
        excess = len(self._statuses) - self._max_tracked + 1
        idle = [key for key, s in self._statuses.items() if s.flusher is None][:excess]
        for key in idle:
            del self._statuses[key]

    def _forget_quiet_chats(self) -> None:
        """Drop chats whose last edit is older than any interval: they may edit at once."""
        horizon = self._clock() - max(self._intervals)
        self._last_edit = {chat: at for chat, at in self._last_edit.items() if at > horizon}
