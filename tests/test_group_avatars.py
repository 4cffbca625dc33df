"""The avatar picker in groups (issue 9): a group's MEDIA prompt forces a reply and so has no
buttons; it names /avatars, which sends the picker as a message of its own, replying to the
member, with buttons only they may press. An avatar shared with the group is under [My
avatars] there, and nowhere else (another group, anyone's private chat); after the group
becomes a supergroup it is there at once. The real bot, the fake Telegram, the fake Creatify.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot import callback_data as cd
from bot.app import Running
from bot.avatars import ref_of
from bot.models import Gender, JobStatus, Step
from bot.models.custom_avatars import CustomAvatar, CustomAvatarState
from tests.avatar_flows import (
    ANN,
    BOB,
    TEXTS,
    Videos,
    bot,
    create,
    edited,
    listed,
    settled,
    to_summary,
    videos,
    words,
)
from tests.conftest import Harness, to_chat
from tests.creatify_flows import creatify_env, job_reaching, with_button
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button

__all__ = ["bot", "videos"]  # fixtures

CAROL = User(933, "Carol", language_code="en")  # a third member of the group


def labels(message: Call) -> list[str]:
    return [label for label, _ in FakeTelegram.buttons(message.result)]


async def in_chat(fake: FakeTelegram, chat_id: int, user: User, key: str, since: int) -> Call:
    """The bot's next message in ``chat_id`` saying locale text ``key`` in ``user``'s words."""
    found = await fake.wait_for("sendMessage", to_chat(chat_id, words(key, user)), since=since)
    return found[0]


async def alert_to(
    fake: FakeTelegram, user: User, message: Call, label: str, *, gone: bool = False
) -> dict[str, Any]:
    """``user`` presses ``label`` on ``message`` (``gone``: a button since edited away, as a
    client that has not redrawn yet sends it); the answer to the press."""
    mark = fake.mark()
    fake.press(user, message.result, button(fake, message.result, label), forged=gone)
    return (await fake.wait_for("answerCallbackQuery", since=mark))[0].params


async def open_picker(
    fake: FakeTelegram, user: User, group: dict, *, dialogue: bool = False
) -> Call:
    """/new (or /dialogue) in the group, then /avatars: the picker, a message of its own."""
    mark = fake.mark()
    fake.send_command(user, "/dialogue" if dialogue else "/new", chat=group)
    prompt = (await fake.wait_for("sendMessage", to_chat(group["id"]), since=mark))[0]
    assert words("prompt.avatars_command", user) in prompt.params["text"]
    assert prompt.params["reply_markup"]["force_reply"] is True  # a reply, so no buttons
    return await avatars_command(fake, user, group)


async def avatars_command(fake: FakeTelegram, user: User, group: dict) -> Call:
    mark = fake.mark()
    sent = fake.send_command(user, "/avatars", chat=group)
    picker = await in_chat(fake, group["id"], user, "avatars.title_group", mark)
    # A reply to the member's /avatars, so they see it is theirs.
    assert picker.result["reply_to_message"]["message_id"] == sent["message"]["message_id"]
    return picker


async def pick(fake: FakeTelegram, user: User, group: dict, picker: Call, name: str) -> Call:
    """``name`` on the picker, then [Use NAME]: the next prompt, in the group."""
    mark = fake.mark()
    fake.press(user, picker.result, button(fake, picker.result, name))
    use = TEXTS.t("pt_BR" if user is BOB else "en", "avatars.use", name=name)
    still = (await fake.wait_for("sendPhoto", with_button(group["id"], use), since=mark))[0]
    mark = fake.mark()
    fake.press(user, still.result, button(fake, still.result, use))
    locale = "pt_BR" if user is BOB else "en"
    said = [TEXTS.t(locale, key, name=name) for key in ("avatars.chosen", "avatars.chosen_custom")]
    await fake.wait_for(
        "editMessageText", lambda c: any(to_chat(group["id"], x)(c) for x in said), since=mark
    )
    return (await fake.wait_for("sendMessage", to_chat(group["id"]), since=mark))[0]


async def ready_in(
    bot: Running, videos: Videos, group_id: int, name: str, *, shared: bool = True
) -> CustomAvatar:
    """Ann's avatar ``name``, made from ``group_id`` through the service /avatar uses, built,
    and shared with that group."""
    service = bot.services.custom_avatars
    made = await service.create(
        ANN.id, group_id, name, Gender.FEMALE, videos.training, videos.consent
    )
    async with asyncio.timeout(10):
        while (await service.get(ANN.id, made.id)).state is CustomAvatarState.PENDING:
            await asyncio.sleep(0.02)
    if shared:
        await service.share(ANN.id, made.id, True)
    return await service.get(ANN.id, made.id)


@pytest.fixture
def env(creatify: FakeCreatify) -> dict[str, str]:
    creatify.custom.build_seconds = 0.3
    creatify.add_persona("Quilla", "f")  # stock avatars of their own (the fake has a Jessica)
    creatify.add_persona("Rufus", "m")
    return creatify_env(creatify, ADMIN_IDS=str(ANN.id), PROVIDERS="creatify")


# --- the whole way ----------------------------------------------------------------------------


async def test_a_member_picks_an_avatar_shared_with_the_group_and_gets_a_video(
    bot: Running, harness: Harness, videos: Videos
) -> None:
    fake = harness.fake
    group = fake.group()
    fake.chat_for(ANN)
    # Ann makes her avatar from the group, and shares it with the group.
    summary = await to_summary(fake, videos, chat=group)
    await create(fake, summary)
    avatar = await settled(bot)
    assert avatar.state is CustomAvatarState.READY
    shown = await listed(fake)
    mark = fake.mark()
    fake.press(ANN, shown.result, button(fake, shown.result, "👥 Share"))
    await edited(fake, ANN, "avatar.list_header", mark)

    # Bob (Portuguese) in the group: /new, then /avatars; [My avatars] holds Ann's.
    picker = await open_picker(fake, BOB, group)
    assert words("avatars.filter_o", BOB) in labels(picker)
    # Carol may not press Bob's buttons.
    for label in (words("avatars.filter_o", BOB), words("avatars.close", BOB)):
        answer = await alert_to(fake, CAROL, picker, label)
        assert answer["text"] == TEXTS.t("en", "error.not_your_button")
        assert answer["show_alert"] is True
    mark = fake.mark()
    fake.press(BOB, picker.result, button(fake, picker.result, words("avatars.filter_o", BOB)))
    mine = (await fake.wait_for("editMessageText", to_chat(group["id"]), since=mark))[0]
    assert "Ann's twin" in labels(mine)
    # Carol may not use it through Bob's still either.
    mark = fake.mark()
    fake.press(BOB, mine.result, button(fake, mine.result, "Ann's twin"))
    use = TEXTS.t("pt_BR", "avatars.use", name="Ann's twin")
    still = (await fake.wait_for("sendPhoto", with_button(group["id"], use), since=mark))[0]
    answer = await alert_to(fake, CAROL, still, use)
    assert answer["text"] == TEXTS.t("en", "error.not_your_button")
    assert await bot.services.drafts.get(group["id"], CAROL.id) is None

    # Bob uses it: the voice prompt forces a reply, as every group prompt.
    mark = fake.mark()
    fake.press(BOB, still.result, button(fake, still.result, use))
    voice = await in_chat(fake, group["id"], BOB, "prompt.voice", mark)
    assert voice.params["reply_markup"]["force_reply"] is True
    # The picker says what was chosen: someone's own avatar, not a ready-made one.
    custom = TEXTS.t("pt_BR", "avatars.chosen_custom", name="Ann's twin")
    edits = fake.sent(chat_id=group["id"], method="editMessageText")
    assert custom in [c.params.get("text") for c in edits]
    draft = await bot.services.drafts.get(group["id"], BOB.id)
    assert draft is not None
    assert draft.step is Step.VOICE
    assert draft.avatar is not None
    assert draft.avatar.avatar_id == avatar.persona_id
    mark = fake.mark()
    fake.send_text(BOB, "Olá, eu sou a gêmea da Ann.", chat=group, reply_to=voice.result)
    ratios = (await fake.wait_for("sendMessage", with_button(group["id"], "9:16"), since=mark))[0]
    mark = fake.mark()
    fake.press(BOB, ratios.result, button(fake, ratios.result, "9:16"))
    generate = words("button.generate", BOB)
    summary_ = await fake.wait_for(
        "editMessageText", with_button(group["id"], generate), since=mark
    )
    mark = fake.mark()
    fake.press(BOB, summary_[0].result, button(fake, summary_[0].result, generate))
    job = await job_reaching(bot, BOB, JobStatus.SUCCEEDED, JobStatus.FAILED)
    assert job.status is JobStatus.SUCCEEDED, job.reason
    assert job.order.face.avatar_id == avatar.persona_id  # type: ignore[union-attr]
    await fake.wait_for("sendVideo", to_chat(group["id"]), since=mark, timeout=30)

    # In his private chat Bob has no [My avatars]: the avatar is the group's, not his.
    fake.chat_for(BOB)
    mark = fake.mark()
    fake.send_command(BOB, "/new")
    prompt = (await fake.wait_for("sendMessage", to_chat(BOB.id), since=mark))[0]
    mark = fake.mark()
    fake.press(BOB, prompt.result, button(fake, prompt.result, words("avatars.open", BOB)))
    private = (await fake.wait_for("editMessageText", to_chat(BOB.id), since=mark))[0]
    assert words("avatars.filter_o", BOB) not in labels(private)
    draft = await bot.services.drafts.get(BOB.id, BOB.id)
    assert draft is not None
    # Nor can a forged button reach it there: refused (not on the picker), and not offered.
    shared = avatar.as_avatar()
    assert shared is not None
    start = fake.mark()
    for forged in (
        cd.avatar_page(BOB.id, draft.token, "o", 0),
        cd.step(cd.AVATAR_USE, BOB.id, draft.token, ref_of(shared)),
    ):
        mark = fake.mark()
        fake.press(BOB, private.result, forged, forged=True)
        answer = (await fake.wait_for("answerCallbackQuery", since=mark))[0].params
        assert answer["text"] == TEXTS.t("pt_BR", "error.stale_button")
    assert not [c for c in fake.calls[start:] if c.method.startswith("edit")]
    assert bot.services.avatars.catalog.find(ref_of(shared), BOB.id) is None
    assert (await bot.services.drafts.get(BOB.id, BOB.id)).step is Step.MEDIA  # type: ignore[union-attr]

    # Nor in another group.
    other = fake.group(-100777, "Other fans")
    picker = await open_picker(fake, BOB, other)
    assert words("avatars.filter_o", BOB) not in labels(picker)


# --- out of place, closed, dialogues ---------------------------------------------------------


async def test_avatars_out_of_place_is_answered_with_a_way_forward(
    bot: Running, harness: Harness
) -> None:
    fake = harness.fake
    group = fake.group()
    # No conversation yet.
    mark = fake.mark()
    sent = fake.send_command(BOB, "/avatars", chat=group)
    answer = await in_chat(fake, group["id"], BOB, "avatars.not_now", mark)
    assert answer.params["text"] == TEXTS.t("pt_BR", "avatars.not_now")
    assert answer.result["reply_to_message"]["message_id"] == sent["message"]["message_id"]
    # Past the face: too late, and the old picker's buttons say so too.
    picker = await open_picker(fake, BOB, group)
    voice = await pick(fake, BOB, group, picker, "Quilla")
    assert voice.params["text"].startswith(words("prompt.voice", BOB))
    mark = fake.mark()
    fake.send_command(BOB, "/avatars", chat=group)
    late = await in_chat(fake, group["id"], BOB, "avatars.too_late", mark)
    assert late.params["text"] == TEXTS.t("pt_BR", "avatars.too_late")
    answer_ = await alert_to(fake, BOB, picker, "Rufus", gone=True)
    assert answer_["text"] == TEXTS.t("pt_BR", "avatars.too_late")
    draft = await bot.services.drafts.get(group["id"], BOB.id)
    assert draft is not None
    assert draft.avatar is not None
    assert draft.avatar.name == "Quilla"


async def test_close_removes_the_picker_and_the_prompt_still_takes_a_face(
    bot: Running, harness: Harness
) -> None:
    fake = harness.fake
    group = fake.group()
    picker = await open_picker(fake, CAROL, group)
    assert labels(picker)[-1] == words("avatars.close", CAROL)
    # Bob's own [Close], forged onto Carol's picker, removes nothing.
    mark = fake.mark()
    fake.send_command(BOB, "/new", chat=group)
    await in_chat(fake, group["id"], BOB, "prompt.media", mark)
    bobs = await bot.services.drafts.get(group["id"], BOB.id)
    assert bobs is not None
    for action in (cd.AVATAR_CLOSE, cd.AVATAR_BACK):
        mark = fake.mark()
        fake.press(BOB, picker.result, cd.step(action, BOB.id, bobs.token), forged=True)
        answer = (await fake.wait_for("answerCallbackQuery", since=mark))[0].params
        assert answer["text"] == TEXTS.t("pt_BR", "error.stale_button")
    assert not [c for c in fake.calls if c.method == "deleteMessage"]
    mark = fake.mark()
    fake.press(CAROL, picker.result, button(fake, picker.result, words("avatars.close", CAROL)))
    deleted = await fake.wait_for("deleteMessage", to_chat(group["id"]), since=mark)
    assert deleted[0].params["message_id"] == picker.result["message_id"]
    # /avatars again opens a new one.
    again = await avatars_command(fake, CAROL, group)
    assert again.result["message_id"] != picker.result["message_id"]


async def test_a_group_dialogue_of_two_avatars_picks_each_with_avatars(
    bot: Running, harness: Harness
) -> None:
    fake = harness.fake
    group = fake.group()
    picker = await open_picker(fake, CAROL, group, dialogue=True)
    second = await pick(fake, CAROL, group, picker, "Quilla")
    expected = TEXTS.t("en", "dialogue.second_avatar", name="Quilla")
    assert second.params["text"].startswith(expected)
    assert words("prompt.avatars_command", CAROL) in second.params["text"]
    assert second.params["reply_markup"]["force_reply"] is True
    picker = await avatars_command(fake, CAROL, group)
    first_voice = await pick(fake, CAROL, group, picker, "Rufus")
    assert first_voice.params["reply_markup"]["force_reply"] is True
    assert TEXTS.t("en", "dialogue.first", speaker="Quilla") in first_voice.params["text"]
    draft = await bot.services.drafts.get(group["id"], CAROL.id)
    assert draft is not None
    assert draft.step is Step.VOICE
    assert (draft.avatar.name, draft.avatar2.name) == ("Quilla", "Rufus")  # type: ignore[union-attr]


async def test_without_avatars_the_command_says_what_to_send(harness: Harness) -> None:
    fake = harness.fake
    group = fake.group()
    async with harness.bot(PROVIDERS="preview"):
        mark = fake.mark()
        fake.send_command(CAROL, "/new", chat=group)
        prompt = (await fake.wait_for("sendMessage", to_chat(group["id"]), since=mark))[0]
        assert "/avatars" not in prompt.params["text"]
        mark = fake.mark()
        fake.send_command(CAROL, "/avatars", chat=group)
        answer = await in_chat(fake, group["id"], CAROL, "avatars.none", mark)
    assert answer.params["text"] == TEXTS.t("en", "avatars.none")


# --- menus --------------------------------------------------------------------------------------


async def test_avatars_is_in_the_menu_when_a_provider_has_avatars(
    harness: Harness, env: dict[str, str]
) -> None:
    fake = harness.fake

    def menu() -> list[str]:
        return [c["command"] for c in fake.commands_for()]

    async with harness.bot(**env):
        assert menu()[:3] == ["new", "dialogue", "avatars"]
        portuguese = {c["command"]: c["description"] for c in fake.commands_for(None, "pt")}
        assert portuguese["avatars"] == TEXTS.t("pt_BR", "menu.avatars")
    async with harness.bot(PROVIDERS="preview"):
        assert "avatars" not in menu()


# --- a group becomes a supergroup -----------------------------------------------------------


async def test_a_shared_avatar_follows_its_group_into_the_supergroup_at_once(
    bot: Running, harness: Harness, videos: Videos
) -> None:
    fake = harness.fake
    old, new = -4201, -1004201
    group = fake.chats.setdefault(old, {"id": old, "type": "group", "title": "Fans"})
    fake.members.setdefault(old, set())
    avatar = await ready_in(bot, videos, old, "Olga's double")
    assert avatar.state is CustomAvatarState.READY
    picker = await open_picker(fake, CAROL, group)
    assert words("avatars.filter_o", CAROL) in labels(picker)

    supergroup = fake.migrate(ANN, group, new)
    # The supergroup's first message after the move: the picker already knows the new id.
    picker = await open_picker(fake, CAROL, supergroup)
    assert words("avatars.filter_o", CAROL) in labels(picker)
    mark = fake.mark()
    fake.press(CAROL, picker.result, button(fake, picker.result, words("avatars.filter_o", CAROL)))
    mine = (await fake.wait_for("editMessageText", to_chat(new), since=mark))[0]
    assert "Olga's double" in labels(mine)
    catalog = bot.services.avatars.catalog
    assert not catalog.has_own(CAROL.id, old)
    assert (await bot.services.custom_avatars.get(ANN.id, avatar.id)).chat_id == new
