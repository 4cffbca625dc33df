"""100 [Generate] presses at once from one user with room for 3, through the fake Telegram
server: exactly 3 videos are made, the other 97 are refused, and nothing is overdrawn."""

from __future__ import annotations

import asyncio

from bot.models import Step
from storage.ledger import Scope
from tests.conftest import Harness, Media
from tests.fakes.telegram import User
from tests.flows import button, to_confirm

ANN = User(111, "Ann", language_code="en")
PRESSES = 100


async def test_hundred_generates_at_once_with_room_for_three(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    env = {"USER_DAILY_QUOTA_SECONDS": "9", "USER_MAX_ACTIVE_JOBS": "100"}
    async with harness.bot(**env) as bot:
        confirm = (await to_confirm(fake, media, ANN)).result
        draft = await bot.services.conversation.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.step is Step.CONFIRM
        # The same order, ready in 99 groups too: one conversation per (chat, user).
        summaries = [confirm]
        for n in range(1, PRESSES):
            group = fake.group(-1000 - n, f"Group {n}")
            await bot.services.drafts.save(
                draft.model_copy(update={"chat_id": group["id"], "chat_type": "supergroup"})
            )
            copy = {**confirm, "chat": group}
            fake.messages[(group["id"], confirm["message_id"])] = copy
            summaries.append(copy)
        data = button(fake, confirm, "Generate")
        mark = fake.mark()
        for summary in summaries:
            fake.press(ANN, summary, data)
        # Each press gets a status message (made) or a refusal (not made).
        await fake.wait_for("sendMessage", count=PRESSES, since=mark, timeout=60)
        async with asyncio.timeout(60):
            while await bot.services.db.scalar(
                "SELECT COUNT(*) FROM jobs WHERE status NOT IN ('delivered', 'failed')"
            ):
                await asyncio.sleep(0.1)
        jobs = await bot.services.db.fetchall("SELECT status, seconds FROM jobs")
        assert [(row["status"], row["seconds"]) for row in jobs] == [("delivered", 3)] * 3
        used = await bot.services.db.scalar(
            "SELECT SUM(seconds) FROM ledger WHERE scope = ? AND owner_id = ?",
            (Scope.USER, ANN.id),
        )
        assert used == 9
        refusals = [
            c
            for c in fake.calls[mark:]
            if c.method == "sendMessage" and "left" in str(c.params.get("text", ""))
        ]
        assert len(refusals) == PRESSES - 3
        videos = [c for c in fake.calls[mark:] if c.method == "sendVideo" and c.status == 200]
        assert len(videos) == 3
        # Every refused conversation is still there, at CONFIRM: nothing the user sent is lost.
        kept = await bot.services.db.scalar("SELECT COUNT(*) FROM drafts WHERE step = 'confirm'")
        assert kept == PRESSES - 3
