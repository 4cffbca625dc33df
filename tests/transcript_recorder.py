"""The recorder behind tests/transcript.py: it drives the fake Telegram as a user would and
prints each message the bot sends (text, buttons, reply placeholder), each edit and each
button answer, in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.app import Running
from tests.fakes.telegram import Call, FakeTelegram, User

#: Calls a person never sees, and the long poll that is always open.
UNSEEN = frozenset(
    {
        *("getupdates", "sendchataction", "getfile", "getme", "setmycommands", "getchatmember"),
        "deletewebhook",  # at start-up
    }
)

#: Seconds after the user's action from which a bot's answer is marked with its delay.
SLOW = 1.0


@dataclass
class Transcript:
    """The conversation so far, printed as it happens."""

    fake: FakeTelegram
    bot: Running
    user: User
    lines: list[str] = field(default_factory=list)
    printed: int = 0
    quiet: float = 0.7
    chat_id: int = 0  # the chat the scenario is in; 0: the private chat
    acted: list[float] = field(default_factory=list)  # when the user did things (monotonic)

    def __post_init__(self) -> None:
        self.chat_id = self.chat_id or self.user.id

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)

    def scenario(self, title: str) -> None:
        self.say(f"\n=== {title} ===")

    @contextmanager
    def as_user(self, user: User, chat_id: int = 0) -> Iterator[None]:
        """``user`` acts (in ``chat_id``, else their private chat) until the block ends;
        messages to anyone else's chat are labelled with where they went."""
        saved = self.user, self.chat_id
        self.user, self.chat_id = user, chat_id or user.id
        try:
            yield
        finally:
            self.user, self.chat_id = saved

    async def act(
        self, what: str, action: Callable[[], Any], *, quiet: float | None = None
    ) -> None:
        """The user does ``action``; then everything the bot does until it goes quiet."""
        self.say(f"{self.user.first_name.upper()}: {what}")
        self.acted.append(time.monotonic())
        action()
        await self.settle(quiet or self.quiet)

    async def settle(self, quiet: float, limit: float = 90.0) -> None:
        """Waits until the bot has made no Telegram call for ``quiet`` seconds and has no
        background task left, then prints what it did."""
        deadline = time.monotonic() + limit
        seen, since = self._activity(), time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            now = self._activity()
            if now != seen:
                seen, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet and not self.fake._pending:
                await self.bot.services.tasks.wait_idle()
                if self._activity() == seen:
                    break
        self._print_new()

    def _activity(self) -> tuple[int, int]:
        """Calls made and answered, leaving out the long poll (it ends every 2 s anyway)."""
        calls = [c for c in self.fake.calls if c.method.lower() != "getupdates"]
        return len(calls), sum(c.status is not None for c in calls)

    def _print_new(self) -> None:
        calls = self.fake.calls
        while self.printed < len(calls):
            call = calls[self.printed]
            if call.status is None and call.method.lower() not in UNSEEN:
                break  # still in flight: printed after the next action
            if call.status is not None:
                self._print_call(call)
            self.printed += 1

    def _print_call(self, call: Call) -> None:
        method = call.method.lower()
        if method in UNSEEN:
            return
        params = call.params
        failed = "" if call.status == 200 else f"  !! {call.status} {call.error}"
        waited = self._waited(call)
        if waited >= SLOW:  # a wait the user notices
            failed += f"  (after {waited:.1f} s)"
        if method == "sendmessage":
            self.say(f"BOT{self._chat(params)}{_where(params)}: {params.get('text')}{failed}")
        elif method == "editmessagetext":
            where = self._chat(params)
            self.say(f"BOT{where} edits #{params.get('message_id')}: {params.get('text')}{failed}")
        elif method == "editmessagereplymarkup":
            self.say(
                f"BOT{self._chat(params)} edits buttons of #{params.get('message_id')}{failed}"
            )
        elif method == "answercallbackquery":
            if not params.get("text"):
                return  # the spinner stops; the user sees nothing
            kind = "ALERT" if params.get("show_alert") else "TOAST"
            self.say(f"BOT {kind}: {params.get('text', '(nothing)')}{failed}")
        elif method == "deletemessage":
            self.say(f"BOT{self._chat(params)} deletes #{params.get('message_id')}{failed}")
        elif method == "sendvoice":
            self.say(f"BOT{self._chat(params)} sendVoice (a voice message){failed}")
        elif method in {"sendvideo", "sendphoto", "sendaudio", "senddocument"}:
            self.say(
                f"BOT{self._chat(params)} {call.method}: caption={params.get('caption')!r}{failed}"
            )
        else:
            self.say(f"BOT {call.method} {_short(params)}{failed}")
        self._print_markup(params.get("reply_markup"))

    def _waited(self, call: Call) -> float:
        """Seconds from the user's last action before ``call`` to it (0: none before it)."""
        before = [at for at in self.acted if at <= call.at]
        return call.at - before[-1] if before else 0.0

    def _chat(self, params: dict) -> str:
        """Where a message went, when that is not the chat the scenario is in."""
        chat_id = params.get("chat_id")
        if chat_id == self.chat_id:
            return ""
        if chat_id == self.user.id:
            return " [in private]"
        someone = self.fake.users.get(chat_id) if isinstance(chat_id, int) else None
        return f" [to {someone.first_name}]" if someone else f" [in chat {chat_id}]"

    def _print_markup(self, markup: Any) -> None:
        if not isinstance(markup, dict):
            return
        rows = markup.get("inline_keyboard") or []
        if rows:
            self.say("    " + " ".join(f"[{b['text']}]" for row in rows for b in row))
        if markup.get("force_reply"):
            self.say(f"    (reply box: {markup.get('input_field_placeholder')!r})")

    # ------------------------------------------------------------------ what the user does

    def _from_bot(self, chat_id: int) -> Iterator[dict]:
        """The bot's messages in ``chat_id``, newest first, as they are now."""
        for key in sorted(self.fake.messages, key=lambda k: k[1], reverse=True):
            message = self.fake.messages[key]
            if key[0] == chat_id and (message.get("from") or {}).get("id") == _bot_id(self.fake):
                yield message

    def last_from_bot(self, chat_id: int, with_button: str = "") -> dict:
        """The newest bot message in ``chat_id`` (with a button whose data starts with
        ``with_button``), as it is now."""
        for message in self._from_bot(chat_id):
            if any(data.startswith(with_button) for _, data in self.fake.buttons(message)):
                return message
            if not with_button:
                return message
        raise AssertionError(f"no bot message with a {with_button!r} button in {chat_id}")

    async def press(
        self, chat_id: int, prefix: str, suffix: str = "", user: User | None = None
    ) -> None:
        """Taps the button whose data starts with ``prefix`` (and ends with ``suffix``) on the
        newest bot message that has one."""
        message = self.last_from_bot(chat_id, prefix)
        label, data = next(
            (text, data)
            for text, data in self.fake.buttons(message)
            if data.startswith(prefix) and data.endswith(suffix)
        )
        await self.act(
            f"taps [{label}]", lambda: self.fake.press(user or self.user, message, data)
        )

    async def tap(self, chat_id: int, label: str, *, quiet: float | None = None) -> None:
        """Taps the button whose label starts with ``label`` (as a person reads it) on the
        newest bot message in ``chat_id`` that has one."""
        for message in self._from_bot(chat_id):
            for text, data in self.fake.buttons(message):
                if text.startswith(label):
                    tapped = partial(self.fake.press, self.user, message, data)
                    await self.act(f"taps [{text}]", tapped, quiet=quiet)
                    return
        raise AssertionError(f"no bot message in {chat_id} has a button [{label}...]")

    async def press_on(self, message: dict, prefix: str) -> None:
        current = self.fake.message(message["chat"]["id"], message["message_id"])
        label, data = next((t, d) for t, d in self.fake.buttons(current) if d.startswith(prefix))
        await self.act(
            f"taps [{label}] (an older message)", lambda: self.fake.press(self.user, current, data)
        )


def _bot_id(fake: FakeTelegram) -> int:
    return int(fake.bot_user["id"])


def _where(params: dict) -> str:
    reply = params.get("reply_parameters") or {}
    return f" (replying to #{reply['message_id']})" if reply.get("message_id") else ""


def _short(params: dict) -> str:
    return str({k: v for k, v in params.items() if k in ("chat_id", "message_id", "text")})
