"""Job names that claim an unanswered create carry a tag only this bot can make, so two bots
on one provider account never adopt each other's jobs."""

from __future__ import annotations

import pytest

from bot.jobs.names import JobNames
from bot.models import JobStatus
from bot.signing import Signer
from tests.conftest import Harness, Media
from tests.remote_orders import generate, job_when, waiting_to_be_claimed
from tests.test_providers_e2e import (  # noqa: F401 - fixtures
    Remote,
    job_of,
    provider_output,
    remote,
)

OURS = JobNames(Signer.from_token("1:ours").webhook_token)
THEIRS = JobNames(Signer.from_token("2:theirs").webhook_token)


def test_a_name_is_claimed_only_by_the_bot_that_gave_it() -> None:
    name = OURS.name("magichour", 12)
    assert name.startswith("lipsync-bot #12 ")
    assert OURS.claimed("magichour", name) == 12
    assert OURS.claimed("lipsync_studio", name) is None  # made for another provider
    assert THEIRS.claimed("magichour", name) is None
    assert OURS.claimed("magichour", THEIRS.name("magichour", 12)) is None


@pytest.mark.parametrize(
    "name",
    [
        None,
        "",
        "lipsync-bot #12",  # another bot, or this bot before names were tagged
        "lipsync-bot #12 000000000000",
        "lipsync-bot #abc",
        "lipsync-bot #²",
        "lipsync-bot #" + "9" * 40,
        "my own video",
    ],
)
def test_other_names_claim_nothing(name: str | None) -> None:
    assert OURS.claimed("magichour", name) is None


@pytest.mark.parametrize(
    "other_name",
    ["lipsync-bot #{id}", "lipsync-bot #{id} 0123456789ab", "lipsync-bot #{id}x"],
    ids=["untagged", "foreign-tag", "garbage"],
)
async def test_another_bots_job_is_not_adopted(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
    other_name: str,
) -> None:
    """Our create got a 502 (and Magic Hour did not make it); meanwhile another bot on the
    same Magic Hour account makes its own job #N, whose webhook reaches us too."""
    remote.mh.fail_next("POST /v1/ai-talking-photo", 502)
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        made = await generate(bot, fake, media, "magichour")
        ours = await job_when(bot, made.id, waiting_to_be_claimed)
        assert ours.status is JobStatus.SUBMITTING
        assert ours.provider_job_id is None
        provider = bot.services.providers["magichour"]
        inputs = await bot.services.host.prepare(ours)
        theirs = await provider.submit(  # type: ignore[attr-defined]
            ours.order, inputs, name=other_name.format(id=ours.id), webhook_url=None
        )
        await remote.mh.wait_for(theirs.provider_job_id, "complete")
        await remote.mh.drain_webhooks()
        await bot.services.tasks.wait_idle()
        assert remote.mh.webhook_deliveries
        ours = await job_of(bot)
    assert ours.status is JobStatus.SUBMITTING
    assert ours.provider_job_id is None
    assert not fake.sent(method="sendVideo")
