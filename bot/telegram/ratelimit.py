"""Pacing of outgoing Telegram messages, per chat, so one chat's flood limit stalls only it.

Telegram allows about one message per second in a private chat (short bursts pass), 20 per
minute in a group and about 30 per second overall. PTB's ``AIORateLimiter`` pauses every
request when any chat gets a 429; here a 429 holds back only the chat it was for, and
requests that are not messages to a chat (getMe, getFile, answerCallbackQuery...) are never
paced and never wait behind a chat.

Pacing is a GCRA ("virtual scheduling"): each key keeps the theoretical arrival time of its
next message, and a request reserves its slot synchronously before sleeping, so no lock or
other event-loop-bound primitive is needed and concurrent senders queue in call order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import Bot
from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

#: Extra wait after a chat's ``retry_after``: Telegram counts whole seconds.
HOLD_MARGIN = 0.1
#: Retries after a 429 before the RetryAfter reaches the caller.
MAX_RETRIES = 3
#: Longest 429 a request that is not a message (getFile, answerCallbackQuery...) waits out
#: before it is retried: such a request is part of a user's turn (a button's answer expires
#: after about 15 s), so a longer wait is passed on to the caller instead.
MAX_UNPACED_WAIT = 10.0
#: Past this many tracked chats, chats whose state is back to "fresh" are forgotten.
PRUNE_AT = 4096

ChatKey = int | str


@dataclass(frozen=True)
class Rate:
    """``per_second`` messages on average, ``burst`` of them back to back."""

    per_second: float
    burst: int = 1

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second


PRIVATE_RATE = Rate(1.0, burst=5)  # "short bursts allowed" (Bot FAQ); a person is slower
GROUP_RATE = Rate(20 / 60, burst=3)
OVERALL_RATE = Rate(30.0, burst=5)


def is_message(endpoint: str) -> bool:
    """True for requests that put a message into a chat (the ones Telegram's limits count)."""
    if endpoint == "sendChatAction":
        return False
    return endpoint.startswith(("send", "edit", "copyMessage", "forwardMessage", "stopPoll"))


def chat_key(chat_id: object) -> ChatKey | None:
    """The chat a request goes to: an int id, or an ``@channel`` name; None for no chat."""
    if chat_id is None or chat_id == "":
        return None
    try:
        return int(chat_id)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return str(chat_id)


def is_group(chat: ChatKey) -> bool:
    # Groups and channels have negative ids; string ids only name channels and supergroups.
    return isinstance(chat, str) or chat < 0


class ChatPacer(BaseRateLimiter[int]):
    """PTB rate limiter (one per Application) that the streaming upload shares.

    ``rate_limit_args`` of a bot call, when given, is the number of retries after a 429.
    """

    def __init__(
        self,
        *,
        private: Rate = PRIVATE_RATE,
        group: Rate = GROUP_RATE,
        overall: Rate = OVERALL_RATE,
        max_retries: int = MAX_RETRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._private, self._group, self._overall = private, group, overall
        self._max_retries = max_retries
        self._clock = clock
        self._next: dict[ChatKey, float] = {}  # theoretical arrival time per chat
        self._next_overall = 0.0
        self._held: dict[ChatKey, float] = {}  # chat -> monotonic time its 429 wait ends
        self._prune_above = PRUNE_AT

    async def initialize(self) -> None:
        """Nothing to open: the state is plain numbers."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat = chat_key(data.get("chat_id"))
        paced = chat is not None and is_message(endpoint)
        retries = self._max_retries if rate_limit_args is None else rate_limit_args
        attempt = 0
        while True:
            if paced:
                assert chat is not None
                await self.wait_turn(chat)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                # PTB's own limiter reads the private timedelta too: the public property
                # warns unless PTB_TIMEDELTA is set.
                seconds = exc._retry_after.total_seconds()
                if chat is not None:
                    self.hold(chat, seconds)
                if attempt >= retries or (not paced and seconds > MAX_UNPACED_WAIT):
                    log.warning("%s to chat %s: still flood-limited, giving up", endpoint, chat)
                    raise
                attempt += 1
                log.info("%s to chat %s: Telegram asks to wait %.0fs", endpoint, chat, seconds)
                if not paced:  # a paced request waits out the hold in wait_turn
                    await asyncio.sleep(seconds + HOLD_MARGIN)

    async def wait_turn(self, chat: ChatKey) -> None:
        """Sleep until ``chat`` may get its next message (its pace, its 429 hold, the
        overall pace)."""
        while True:
            held = self._held.get(chat, 0.0) - self._clock()
            if held > 0:
                await asyncio.sleep(held)
                continue
            await _sleep(self._reserve(chat))
            # A 429 may have arrived while this request slept: then it waits that out too.
            if self._held.get(chat, 0.0) <= self._clock():
                break
        await _sleep(self._reserve_overall())

    def hold(self, chat: ChatKey, seconds: float) -> None:
        """Telegram answered 429 for ``chat``: its messages wait ``seconds`` (others do not)."""
        until = self._clock() + seconds + HOLD_MARGIN
        self._held[chat] = max(self._held.get(chat, 0.0), until)
        self._prune_if_big()

    def _reserve(self, chat: ChatKey) -> float:
        rate = self._group if is_group(chat) else self._private
        now = self._clock()
        due = max(self._next.get(chat, now), now)
        self._next[chat] = due + rate.interval
        self._prune_if_big()
        return due - (rate.burst - 1) * rate.interval - now

    def _reserve_overall(self) -> float:
        rate, now = self._overall, self._clock()
        due = max(self._next_overall, now)
        self._next_overall = due + rate.interval
        return due - (rate.burst - 1) * rate.interval - now

    def _prune_if_big(self) -> None:
        """Forget chats whose pace and hold have run out (they behave as new ones); the scan
        runs only when the maps have doubled since the last one, so it costs O(1) amortised."""
        if len(self._next) + len(self._held) <= self._prune_above:
            return
        now = self._clock()
        self._next = {chat: due for chat, due in self._next.items() if due > now}
        self._held = {chat: until for chat, until in self._held.items() if until > now}
        self._prune_above = max(PRUNE_AT, 2 * (len(self._next) + len(self._held)))


def pacer_of(bot: Bot) -> ChatPacer:
    """The pacer of ``bot``'s Application; a plain Bot (scripts, tests) gets a private one,
    which still waits out a 429 before retrying."""
    limiter = getattr(bot, "rate_limiter", None)
    return limiter if isinstance(limiter, ChatPacer) else ChatPacer()


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
