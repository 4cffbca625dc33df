"""How often a job is polled: six times less often when webhooks carry the news, but only
for providers whose webhooks the bot can take (sync.so and Magic Hour sign theirs: without
their secret none can be verified, so polling is all there is and must keep its pace)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.jobs.poller import WEBHOOK_POLL_FACTOR, PollPolicy
from bot.providers.base import RemoteProvider
from bot.providers.http import ProviderHTTP
from bot.providers.lipsync_studio import LipsyncStudioProvider
from bot.providers.magichour import MagicHourProvider
from bot.providers.sync import SyncProvider

BASE = 10.0


@pytest.fixture
async def http() -> AsyncIterator[ProviderHTTP]:
    async with httpx.AsyncClient() as client:
        yield ProviderHTTP("any", client)


def providers(http: ProviderHTTP, secret: str | None) -> list[RemoteProvider]:
    return [
        SyncProvider(http, "http://x", "key", secret),
        MagicHourProvider(http, "http://x", "key", secret),
    ]


async def test_signed_webhooks_slow_polling_only_when_their_secret_is_set(
    http: ProviderHTTP,
) -> None:
    public = PollPolicy(BASE, webhooks=True)
    for provider in providers(http, "whsec_secret"):
        assert public.interval(provider) == BASE * provider.poll_factor * WEBHOOK_POLL_FACTOR
    for provider in providers(http, None):
        assert public.interval(provider) == BASE * provider.poll_factor, provider.name
    studio = LipsyncStudioProvider(http, "http://x", "key")  # secret URLs, nothing to set
    assert public.interval(studio) == BASE * studio.poll_factor * WEBHOOK_POLL_FACTOR


async def test_without_a_public_url_every_job_is_polled_at_its_pace(http: ProviderHTTP) -> None:
    private = PollPolicy(BASE, webhooks=False)
    for provider in providers(http, "whsec_secret"):
        assert private.interval(provider) == BASE * provider.poll_factor
