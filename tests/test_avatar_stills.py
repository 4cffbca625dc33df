"""An avatar's still under load, through the fake Telegram and the fake Creatify: a slow chat
never holds up another chat showing the same still, stills have download slots of their own
(a result download is never kept waiting by them, nor they by results), and a user has one
still loading at a time (another tap meanwhile is answered, not queued)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from bot.media import limits
from tests.conftest import Harness, to_chat
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button
from tests.test_avatar_picker import ANN, BOB, media_prompt, on, seed, tap

CAT = User(813, "Cat", language_code="en")
STILLS = "GET /_media/"
LOADING = "One moment: the picture of the avatar you picked before is still loading."


async def picker(fake: FakeTelegram, user: User) -> Call:
    prompt = await media_prompt(fake, user)
    return await tap(fake, user, prompt.result, "Avatars", "page 1 of 1")


def look(fake: FakeTelegram, user: User, shown: Call, name: str) -> str:
    """Tap ``name`` on the picker; the callback query's id."""
    update = fake.press(user, shown.result, button(fake, shown.result, name))
    return str(update["callback_query"]["id"])


async def test_a_slow_chat_does_not_hold_up_the_same_still_elsewhere(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    seed(creatify, 3)
    async with harness.bot(**on(creatify)):
        anns, bobs = await picker(fake, ANN), await picker(fake, BOB)
        mark = fake.mark()
        look(fake, ANN, anns, "Avatar 02")  # uploaded once: Telegram's file id is known
        await fake.wait_for("sendPhoto", to_chat(ANN.id, "Avatar 02"), since=mark)
        # ...and kept on disk, in the background.
        kept = harness.folder / "data" / "avatars" / "previews.json"
        async with asyncio.timeout(5):
            while not kept.exists():
                await asyncio.sleep(0.01)
        # Ann's chat is flooded: her next photo waits out a 429 of 3 s, then goes.
        fake.fail("sendPhoto", 429, "Too Many Requests", retry_after=3, chat_id=ANN.id)
        mark = fake.mark()
        look(fake, ANN, anns, "Avatar 02")
        await fake.wait_for("sendPhoto", lambda c: c.status == 429, since=mark)
        started = time.monotonic()
        look(fake, BOB, bobs, "Avatar 02")
        bob = await fake.wait_for("sendPhoto", to_chat(BOB.id, "Avatar 02"), since=mark)
        assert bob[0].at - started < 1.5  # not behind Ann's wait
        ann = await fake.wait_for("sendPhoto", to_chat(ANN.id, "Avatar 02"), since=mark)
        assert ann[0].at > bob[0].at
        assert creatify.requests[STILLS] == 1


async def test_stills_do_not_wait_for_result_downloads(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    seed(creatify, 3)
    async with harness.bot(**on(creatify)), contextlib.AsyncExitStack() as busy:
        shown = await picker(fake, ANN)
        # Every result download slot is taken (the bot runs in this event loop).
        for _ in range(limits.DOWNLOADS.size):
            await busy.enter_async_context(limits.DOWNLOADS.slot())
        mark = fake.mark()
        look(fake, ANN, shown, "Avatar 01")
        await fake.wait_for("sendPhoto", to_chat(ANN.id, "Avatar 01"), since=mark, timeout=5)


async def test_two_stills_download_at_once_process_wide(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    seed(creatify, 3)
    async with harness.bot(**on(creatify)):
        shown = {user.id: await picker(fake, user) for user in (ANN, BOB, CAT)}
        creatify.fail_next("GET /_media/persona/", 404, delay=1.0, times=3)
        mark = fake.mark()
        for user, name in ((ANN, "Avatar 01"), (BOB, "Avatar 02"), (CAT, "Avatar 03")):
            look(fake, user, shown[user.id], name)
        await asyncio.sleep(0.6)
        assert creatify.requests[STILLS] == 2  # the third waits for a slot
        # Unavailable stills: each user gets the name alone, the last about a second later.
        alone = await fake.wait_for("sendMessage", to_chat_any("no picture"), count=3, since=mark)
        assert creatify.requests[STILLS] == 3
        assert alone[-1].at - alone[0].at > 0.5


async def test_one_still_loading_at_a_time_per_user(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    seed(creatify, 3)
    async with harness.bot(**on(creatify)):
        shown = await picker(fake, ANN)
        creatify.fail_next("GET /_media/persona/", 404, delay=1.0)
        mark = fake.mark()
        first = look(fake, ANN, shown, "Avatar 01")
        second = look(fake, ANN, shown, "Avatar 02")
        await fake.wait_for("answerCallbackQuery", count=2, since=mark)
        assert fake.callback_answers[first].get("text") is None
        assert fake.callback_answers[second]["text"] == LOADING
        await fake.wait_for("sendMessage", to_chat(ANN.id, "Avatar 01"), since=mark)
        assert creatify.requests[STILLS] == 1
        assert not fake.sent(ANN.id, "sendPhoto")
        # Loaded: the next tap shows its still.
        mark = fake.mark()
        look(fake, ANN, shown, "Avatar 02")
        await fake.wait_for("sendPhoto", to_chat(ANN.id, "Avatar 02"), since=mark)


def to_chat_any(contains: str) -> Callable[[Call], bool]:
    """A wait_for predicate: a successful message to any chat containing ``contains``."""

    def match(call: Call) -> bool:
        return call.status == 200 and contains in str(call.params.get("text", ""))

    return match
