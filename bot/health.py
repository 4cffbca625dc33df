"""Which providers work right now, and telling the bot admins when one stops (once)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from telegram import Bot
from telegram.error import TelegramError

from bot.errors import ProviderAuthError, ProviderError, ProviderOutOfCredits
from bot.i18n import Translator
from bot.jobs.reasons import shown_reason
from bot.untrusted import sentence
from storage.health import HealthRecord, HealthRepository

log = logging.getLogger(__name__)

OK = "ok"


class ProviderHealth:
    """Tracks account-level provider problems (bad key, no credits) that need an admin.

    Job-level failures (a rejected photo) are not health problems and never reach here.
    """

    def __init__(
        self, repo: HealthRepository, bot: Bot, translator: Translator, admins: Iterable[int]
    ) -> None:
        self._repo = repo
        self._bot = bot
        self._t = translator
        self._admins = sorted(admins)
        #: Known state per provider, so the hot path (every success) needs no database read.
        self._state: dict[str, str] = {}

    async def load(self) -> None:
        self._state = {name: record.state for name, record in (await self._repo.all()).items()}

    async def snapshot(self) -> dict[str, HealthRecord]:
        return await self._repo.all()

    async def failed(self, error: ProviderError) -> None:
        """Record an account-level failure and tell the admins if it is news."""
        if isinstance(error, ProviderAuthError):
            state = "auth"
        elif isinstance(error, ProviderOutOfCredits):
            state = "credits"
        else:
            return
        self._state[error.provider] = state
        await self._repo.set_state(error.provider, state, error.reason)
        if await self._repo.mark_notified(error.provider):
            log.warning("Provider %s is unavailable (%s): %s", error.provider, state, error.reason)
            await self._tell_admins(
                f"admin.provider_{state}",
                provider=error.provider,
                reason=sentence(shown_reason(error.reason) or "-"),  # no "..": the text goes on
            )

    async def succeeded(self, provider: str) -> None:
        """A call worked: if the provider was down, it is back (and the admins hear so)."""
        if self._state.get(provider, OK) == OK:
            return
        self._state[provider] = OK
        if await self._repo.set_state(provider, OK, None) and await self._repo.mark_notified(
            provider
        ):
            log.info("Provider %s works again", provider)
            await self._tell_admins("admin.provider_ok", provider=provider)

    async def create_unconfirmed(self, job_id: int, provider: str, name: str) -> None:
        """Tell the admins that a job whose create got no answer was given up on: the
        provider may have made it (and charged), and only its dashboard can tell.

        Args:
            job_id: our job.
            provider: the provider's internal name.
            name: what the job is called at the provider.
        """
        label = self._t.t("en", f"provider.{provider}")
        log.warning("Job %d: %s never confirmed the create; given up", job_id, provider)
        await self._tell_admins(
            "admin.create_unconfirmed", job_id=job_id, provider=label, name=name
        )

    async def _tell_admins(self, key: str, **params: object) -> None:
        for admin in self._admins:
            try:
                await self._bot.send_message(admin, self._t.t("en", key, **params))
            except TelegramError as exc:
                # An admin who never opened a chat with the bot cannot be written to.
                log.warning("Could not alert admin %s: %s", admin, exc)
