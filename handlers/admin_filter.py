"""The one check that a command comes from a bot admin (ADMIN_IDS), applied to every admin
command where it is registered (handlers/__init__.py).

Anyone else's admin command fails the filter, so it falls through to the unknown-command
handler and gets exactly its answer: the bot does not confirm that admin commands exist.
The attempt is logged with the user id and the command name only; the arguments are left
out of the log (they may name other users, or be something pasted by mistake).
"""

from __future__ import annotations

import logging

from telegram import Message
from telegram.ext import filters

log = logging.getLogger(__name__)


class AdminOnly(filters.MessageFilter):
    """Passes messages whose sender is one of ``admins``."""

    def __init__(self, admins: frozenset[int]) -> None:
        super().__init__(name="AdminOnly")
        self._admins = admins

    def filter(self, message: Message) -> bool:
        user = message.from_user
        if user is not None and user.id in self._admins:
            return True
        # CommandHandler runs its filter only once the command matched, so this logs each
        # attempt once.
        log.warning(
            "Refused admin command %s from non-admin user %s",
            _command_name(message),
            user.id if user is not None else "unknown",
        )
        return False


def _command_name(message: Message) -> str:
    """``/setquota`` of ``/setquota@bot 5 60``: the command without bot name or arguments
    (cut to a sane length: it is the sender's text)."""
    text = message.text or message.caption or ""
    return text.split(maxsplit=1)[0].partition("@")[0][:40] if text else "?"
