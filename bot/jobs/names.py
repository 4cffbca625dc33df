"""The names the bot gives its jobs at a provider, and recognising them again.

A create whose answer was lost (crash, timeout, 5xx) is claimed by its webhook through the
name alone, so the name must say "this bot's job N" in a way no other bot can: two bots on
one provider account both number their jobs from 1. The name carries a tag made from the
bot's per-(provider, job) secret (``Signer.webhook_token``, keyed by the bot token), hashed
so that the name reveals nothing of the secret.

Why a signed tag and not a random per-database nonce: it needs no storage (the schema has
no place for one and a file beside the data can be lost or copied apart from the database),
it survives restarts and moves, every instance of one bot agrees on it, and another bot
cannot make it. What it does not tell apart: the same bot token with a fresh database (job
ids start again at 1 while old jobs may still report).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from bot.untrusted import ascii_int, same_secret

PREFIX = "lipsync-bot #"
#: Hex characters of the tag: 48 bits, plenty to tell bots apart, short in a dashboard.
TAG_CHARS = 12
_NAME = re.compile(r"lipsync-bot #([0-9]{1,19}) ([0-9a-f]{12})")


class JobNames:
    def __init__(self, secret: Callable[[str, int], str]) -> None:
        """
        Args:
            secret: the bot's secret for a (provider, job id), the same in every instance.
        """
        self._secret = secret

    def name(self, provider: str, job_id: int) -> str:
        """What job ``job_id`` is called at ``provider`` (shown in its dashboard too)."""
        return f"{PREFIX}{job_id} {self._tag(provider, job_id)}"

    def claimed(self, provider: str, name: str | None) -> int | None:
        """The id of our job that ``name`` (as reported by ``provider``) is, or None when it
        is not a name this bot gave at that provider."""
        match = _NAME.fullmatch(name or "")
        if match is None:
            return None
        job_id = ascii_int(match.group(1))
        if job_id is None or not same_secret(match.group(2), self._tag(provider, job_id)):
            return None
        return job_id

    def _tag(self, provider: str, job_id: int) -> str:
        secret = self._secret(provider, job_id)
        return hashlib.sha256(f"job-name:{secret}".encode()).hexdigest()[:TAG_CHARS]
