"""Arguments of the bot admins' commands, read as hostile text: ASCII digits only (no "1e9",
"-5", "٣" or "+7"), numbers capped, a user named by id, by @username, or by replying to
their message.

Parsers raise :class:`WrongArguments` (the caller answers with the command's usage line) or
:class:`Refusal` (a specific explanation, such as an unknown @username).
"""

from __future__ import annotations

import re

from telegram import Message

from bot.admin_tools import Who
from bot.context import BotContext
from bot.quotas import Period

#: The most seconds /setquota and /grant accept (about 116 days of video).
MAX_SECONDS = 10_000_000
#: Telegram ids have at most 52 significant bits: 16 decimal digits.
_ID = re.compile(r"[0-9]{1,16}", re.ASCII)
_GROUP_ID = re.compile(r"-[0-9]{1,16}", re.ASCII)
_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_PERIODS = {"daily": Period.DAY, "day": Period.DAY, "monthly": Period.MONTH, "month": Period.MONTH}


class WrongArguments(Exception):
    """The arguments do not fit the command: show its usage line."""


class Refusal(Exception):
    """The arguments fit but cannot be carried out; ``key`` explains why."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def seconds(text: str, *, minimum: int = 0) -> int:
    """A number of seconds from ``minimum`` to :data:`MAX_SECONDS`."""
    if not _NUMBER.fullmatch(text):
        raise WrongArguments
    # Length first: int() of a message-long string of digits is slow, and never fits anyway.
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MAX_SECONDS)) or int(digits) > MAX_SECONDS:
        raise Refusal("botadmin.too_many_seconds", max=MAX_SECONDS)
    value = int(digits)
    if value < minimum:
        raise WrongArguments
    return value


def limit(text: str) -> int | None:
    """/setquota's value: seconds (0 allows nothing), or "default" (None: no override)."""
    if text.lower() == "default":
        return None
    return seconds(text)


def period(text: str) -> Period:
    found = _PERIODS.get(text.lower())
    if found is None:
        raise WrongArguments
    return found


def group_id(text: str) -> int | None:
    """A group's chat id (negative), or None when ``text`` is not one."""
    if not _GROUP_ID.fullmatch(text) or int(text) == 0:
        return None
    return int(text)


def replied_user(message: Message) -> Who | None:
    """The person whose message the command answers: not a bot (us included), and not the
    service message that opens a forum topic (Telegram sets that as the "reply" of every
    message in the topic, so its author is nobody the admin chose)."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None
    author = replied.from_user
    if author is None or author.is_bot:
        return None
    if message.from_user is not None and author.id == message.from_user.id:
        # The admin's own message: in a private chat, also every message they forwarded
        # there (its author is the forwarder), so "/grant 60" on it would credit the admin.
        return None
    return Who(author.id, author.first_name or None)


async def target(context: BotContext, message: Message, args: list[str]) -> tuple[Who, list[str]]:
    """The user a command is about and the arguments after them: the author of the message
    replied to (every argument is then the command's own), else the first argument as a
    numeric id or an @username the bot has seen."""
    replied = replied_user(message)
    if replied is not None:
        return await context.admin_tools.who(replied.user_id, replied.name), args
    if not args:
        raise WrongArguments
    return await user(context, args[0]), args[1:]


async def user(context: BotContext, text: str) -> Who:
    """A user named by numeric id or @username."""
    if text.startswith("@"):
        found = await context.moderation.find_user(text)
        if found is None:
            # Shown back to the admin who typed it; cut so a paste cannot flood the reply.
            raise Refusal("botadmin.unknown_username", username=text[:40])
        return await context.admin_tools.who(found)
    if not _ID.fullmatch(text) or int(text) == 0:
        raise WrongArguments
    return await context.admin_tools.who(int(text))
