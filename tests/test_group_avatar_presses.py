"""The group avatar picker against hostile or untimely presses (issue 9): a member's own
buttons, sent by a modified client against another member's picker, edit, remove or pick
nothing; /avatars while the face sent is still being checked says so, not "too late". The
real bot, the fake Telegram, the fake Creatify."""

from __future__ import annotations

import asyncio

import pytest

from bot import callback_data as cd
from bot.app import Running
from bot.avatars import Filter, ref_of
from bot.models import Step
from tests.avatar_flows import ANN, BOB, TEXTS, Videos, bot, videos
from tests.conftest import Harness, to_chat
from tests.creatify_flows import creatify_env
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import Call, FakeTelegram
from tests.test_group_avatars import CAROL, in_chat, labels, open_picker

__all__ = ["bot", "videos"]  # fixtures


@pytest.fixture
def env(creatify: FakeCreatify) -> dict[str, str]:
    creatify.add_persona("Wilma", "f")  # a stock avatar of its own (the fake has a Jessica)
    return creatify_env(creatify, ADMIN_IDS=str(ANN.id), PROVIDERS="creatify")


def touching(fake: FakeTelegram, message: Call, since: int) -> list[str]:
    """The requests since ``since`` that edited, removed or replied to ``message``."""
    chat, message_id = message.result["chat"]["id"], message.result["message_id"]
    found = []
    for call in fake.calls[since:]:
        if str(call.params.get("chat_id")) != str(chat):
            continue
        reply = call.params.get("reply_parameters") or {}
        if call.params.get("message_id") == message_id or (
            isinstance(reply, dict) and reply.get("message_id") == message_id
        ):
            found.append(call.method)
    return found


async def test_own_buttons_forged_onto_another_members_picker_change_nothing(
    bot: Running, harness: Harness
) -> None:
    fake = harness.fake
    group = fake.group()
    carols = await open_picker(fake, CAROL, group)
    before = labels(carols)
    await open_picker(fake, BOB, group)  # Bob's own conversation, at the face
    bobs = await bot.services.drafts.get(group["id"], BOB.id)
    assert bobs is not None
    offered = bot.services.avatars.catalog.page(Filter.ALL, 0, BOB.id, group["id"]).avatars
    wilma = next(a for a in offered if a.name == "Wilma")
    mark = fake.mark()
    # Each is Bob's own, valid for his conversation; none is on Carol's picker.
    for data in (
        cd.avatar_page(BOB.id, bobs.token, "m", 0),  # would rewrite her picker into a page
        cd.avatar_page(BOB.id, bobs.token, "o", 0),
        cd.step(cd.AVATAR_SHOW, BOB.id, bobs.token, ref_of(wilma)),  # a still under it
        cd.step(cd.AVATAR_USE, BOB.id, bobs.token, ref_of(wilma)),  # would strip its buttons
        cd.step(cd.AVATAR_CLOSE, BOB.id, bobs.token),
    ):
        pressed = fake.mark()
        fake.press(BOB, carols.result, data, forged=True)
        answer = (await fake.wait_for("answerCallbackQuery", since=pressed))[0].params
        assert answer.get("text") == TEXTS.t("pt_BR", "error.stale_button"), data
    await asyncio.sleep(0.3)  # a still is sent in the background: give it time to show
    assert touching(fake, carols, mark) == []
    current = fake.messages[(group["id"], carols.result["message_id"])]
    assert [label for label, _ in fake.buttons(current)] == before
    bobs_now = await bot.services.drafts.get(group["id"], BOB.id)
    assert bobs_now is not None
    assert (bobs_now.step, bobs_now.avatar) == (Step.MEDIA, None)  # nothing picked for him


async def test_avatars_while_the_face_is_checked_says_so(
    bot: Running, harness: Harness, videos: Videos
) -> None:
    fake = harness.fake
    group = fake.group()
    mark = fake.mark()
    fake.send_command(CAROL, "/new", chat=group)
    prompt = (await fake.wait_for("sendMessage", to_chat(group["id"]), since=mark))[0]
    fake.answer_delay["getFile"] = 60.0  # the face's download hangs: it stays being checked
    fake.send_photo(
        CAROL, videos.photo.read_bytes(), width=640, height=480, chat=group, reply_to=prompt.result
    )
    async with asyncio.timeout(10):
        while True:
            draft = await bot.services.drafts.get(group["id"], CAROL.id)
            if draft is not None and draft.step is Step.MEDIA_CHECK:
                break
            await asyncio.sleep(0.02)
    mark = fake.mark()
    fake.send_command(CAROL, "/avatars", chat=group)
    answer = await in_chat(fake, group["id"], CAROL, "error.still_checking", mark)
    assert answer.params["text"] == TEXTS.t("en", "error.still_checking")
    draft = await bot.services.drafts.get(group["id"], CAROL.id)
    assert draft is not None
    assert draft.step is Step.MEDIA_CHECK  # the face being checked is kept
