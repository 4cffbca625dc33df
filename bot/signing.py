"""HMAC signatures for the links and webhook URLs the bot hands to providers."""

from __future__ import annotations

import hashlib
import hmac

from bot.untrusted import same_secret


class Signer:
    """Signs short messages with a key derived from the bot token.

    Deriving the key (instead of another setting to manage) keeps links valid across restarts
    and across instances of the same bot, and changes them all when the token is revoked.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_token(cls, token: str) -> Signer:
        return cls(
            hmac.new(token.encode(), b"lipsync-bot signing key v1", hashlib.sha256).digest()
        )

    def sign(self, message: str) -> str:
        """A 128-bit hex signature of ``message``."""
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()[:32]

    def verify(self, message: str, signature: str) -> bool:
        """Whether ``signature`` is ours for ``message`` (constant-time, any text accepted)."""
        return same_secret(signature, self.sign(message))

    def webhook_token(self, provider: str, job_id: int) -> str:
        """The secret in a per-job webhook URL, for providers that do not sign webhooks."""
        return self.sign(f"hook:{provider}:{job_id}")
