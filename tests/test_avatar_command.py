"""/avatar end to end (issue 9): the real bot, the fake Telegram and the fake Creatify. A user
makes an avatar step by step (training video, consent video, name, gender, [Create]), hears
when Creatify has built it, finds it under [My avatars] and makes a video with it; each step
refuses what it did not ask for and asks again; a restart in the middle loses nothing; the
list renames, deletes and shares."""

from __future__ import annotations

import asyncio

from bot.app import Running
from bot.models import JobStatus
from bot.models.custom_avatars import CustomAvatarState
from tests.avatar_flows import (
    ANN,
    BOB,
    TEXTS,
    Videos,
    bot,
    create,
    edited,
    env,
    listed,
    said,
    settled,
    to_summary,
    videos,
    words,
)
from tests.conftest import Harness, to_chat
from tests.creatify_flows import job_reaching, press_generate, say_text, with_button
from tests.fakes.creatify import FakeCreatify
from tests.flows import button

__all__ = ["bot", "env", "videos"]  # fixtures


# --- the whole way ----------------------------------------------------------------------------


async def test_an_avatar_made_step_by_step_is_built_told_picked_and_used(
    bot: Running, harness: Harness, creatify: FakeCreatify, videos: Videos
) -> None:
    fake = harness.fake
    summary = await to_summary(fake, videos)
    text = summary.params["text"]
    assert "Ann's twin" in text
    assert "16 seconds" in text
    assert "4 seconds" in text
    mark = fake.mark()
    await create(fake, summary)
    # Told when Creatify has built it.
    told = await said(fake, ANN, "avatar.ready", mark)
    assert "Ann's twin" in told.params["text"]
    avatar = await settled(bot)
    assert avatar.state is CustomAvatarState.READY
    build = creatify.custom.builds[str(avatar.persona_id)]
    assert build.fields["lipsync_input"].size == videos.training.stat().st_size
    assert build.fields["consent_video"].size == videos.consent.stat().st_size
    assert build.fields["gender"] == "f"
    assert await bot.services.avatar_setups.get(ANN.id) is None  # the setup ended
    assert not (harness.folder / "data" / "avatar_setups" / str(ANN.id)).exists()
    # /avatar lists it, ready.
    shown = await listed(fake)
    assert "Ann's twin: ready" in shown.params["text"]
    # [My avatars] in the picker, and a video with it.
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    prompt = await said(fake, ANN, "prompt.media", mark)
    mark = fake.mark()
    fake.press(ANN, prompt.result, button(fake, prompt.result, words("avatars.open")))
    picker = await edited(fake, ANN, "avatars.title", mark)
    mark = fake.mark()
    fake.press(ANN, picker.result, button(fake, picker.result, words("avatars.filter_o")))
    mine = await edited(fake, ANN, "avatars.title", mark)
    mark = fake.mark()
    fake.press(ANN, mine.result, button(fake, mine.result, "Ann's twin"))
    use = words("avatars.use")
    still = (await fake.wait_for("sendPhoto", with_button(ANN.id, use), since=mark))[0]
    mark = fake.mark()
    fake.press(ANN, still.result, button(fake, still.result, use))
    await said(fake, ANN, "prompt.voice", mark)
    summary = await say_text(fake, ANN, "Hello from my own avatar.")
    press_generate(fake, ANN, summary)
    job = await job_reaching(bot, ANN, JobStatus.SUCCEEDED, JobStatus.FAILED)
    assert job.status is JobStatus.SUCCEEDED, job.reason
    assert job.order.face.avatar_id == avatar.persona_id  # type: ignore[union-attr]


# --- who may, and slots -----------------------------------------------------------------------


async def test_someone_not_allowed_is_told_and_nothing_is_asked(
    bot: Running, harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    shown = await listed(fake, BOB)
    assert shown.params["text"] == TEXTS.t("pt_BR", "avatar.not_allowed")
    assert not fake.buttons(shown.result)
    # A [New avatar] forged by a modified client is refused the same way.
    mark = fake.mark()
    fake.press(BOB, shown.result, f"ca:n:{BOB.id}:", forged=True)
    await said(fake, BOB, "avatar.not_allowed", mark)
    assert await bot.services.avatar_setups.get(BOB.id) is None
    assert creatify.requests["GET /api/personas_v2/count/"] == 0


async def test_no_slots_left_is_said_before_any_video_is_asked_for(
    bot: Running, harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    creatify.custom.max_count = 1
    creatify.add_persona(
        "Made elsewhere", type="custom", is_active=False, process_status="pending"
    )
    shown = await listed(fake)
    mark = fake.mark()
    fake.press(ANN, shown.result, button(fake, shown.result, words("avatar.button_new")))
    await said(fake, ANN, "avatar.no_slots", mark)
    await asyncio.sleep(0.2)
    assert not [c for c in fake.sent(ANN.id, "sendMessage")[-1:] if "Step 1" in str(c.params)]
    assert await bot.services.avatar_setups.get(ANN.id) is None
    assert creatify.requests["POST /api/personas_v2/"] == 0


async def test_a_forged_group_origin_is_refused(bot: Running, harness: Harness) -> None:
    fake = harness.fake
    group = fake.group()
    shown = await listed(fake)
    mark = fake.mark()
    fake.press(ANN, shown.result, f"ca:n:{ANN.id}:{group['id']}.{'0' * 16}", forged=True)
    answer = (await fake.wait_for("answerCallbackQuery", since=mark))[0]
    assert answer.params.get("show_alert")
    assert await bot.services.avatar_setups.get(ANN.id) is None


# --- in a group; rename, share, delete ----------------------------------------------------


async def test_made_from_a_group_then_shared_renamed_and_deleted_from_the_list(
    bot: Running, harness: Harness, videos: Videos
) -> None:
    fake = harness.fake
    group = fake.group()
    fake.chat_for(ANN)  # Ann has opened her private chat with the bot
    mark = fake.mark()
    fake.send_command(ANN, "/avatar", chat=group)
    await fake.wait_for(
        "sendMessage", to_chat(group["id"], words("avatar.sent_privately")), since=mark
    )
    summary = await to_summary(fake, videos, chat=group)
    assert words("avatar.summary_group") in summary.params["text"]
    mark = fake.mark()
    await create(fake, summary)
    await said(fake, ANN, "avatar.ready", mark)
    avatar = await settled(bot)
    assert avatar.chat_id == group["id"]
    catalog = bot.services.avatars.catalog
    assert not catalog.has_own(BOB.id, group["id"])

    shown = await listed(fake)
    assert [label for label, _ in fake.buttons(shown.result)] == [
        "✏️ Rename Ann's twin",
        "🗑 Delete Ann's twin",
        "👥 Share Ann's twin with the group",
        "New avatar",
    ]
    mark = fake.mark()
    fake.press(ANN, shown.result, button(fake, shown.result, "👥 Share"))
    after = await edited(fake, ANN, "avatar.list_header", mark)
    assert words("avatar.list_shared") in after.params["text"]
    assert catalog.has_own(BOB.id, group["id"])  # the group's members may use it
    assert not catalog.has_own(BOB.id)  # elsewhere not
    assert "Stop sharing Ann's twin" in [label for label, _ in fake.buttons(after.result)]

    # Rename: a bad name is refused and asked again; a good one is kept.
    mark = fake.mark()
    fake.press(ANN, after.result, button(fake, after.result, "✏️ Rename"))
    await said(fake, ANN, "avatar.ask_rename", mark)
    mark = fake.mark()
    fake.send_text(ANN, "x" * 41)
    refused = await said(fake, ANN, "avatar.name_too_long", mark)
    assert words("avatar.ask_rename") in refused.params["text"]
    mark = fake.mark()
    fake.send_text(ANN, "  Twin two  ")
    await said(fake, ANN, "avatar.renamed", mark)
    assert (await bot.services.custom_avatars.get(ANN.id, avatar.id)).name == "Twin two"

    # Delete asks first; [No] keeps it, [Yes] deletes it.
    shown = await listed(fake)
    mark = fake.mark()
    fake.press(ANN, shown.result, button(fake, shown.result, "🗑 Delete"))
    question = await edited(fake, ANN, "avatar.confirm_delete", mark)
    mark = fake.mark()
    fake.press(
        ANN, question.result, button(fake, question.result, words("avatar.button_delete_no"))
    )
    back = await edited(fake, ANN, "avatar.list_header", mark)
    assert "Twin two" in back.params["text"]
    mark = fake.mark()
    fake.press(ANN, back.result, button(fake, back.result, "🗑 Delete"))
    question = await edited(fake, ANN, "avatar.confirm_delete", mark)
    mark = fake.mark()
    fake.press(ANN, question.result, button(fake, question.result, "Yes, delete"))
    gone = await edited(fake, ANN, "avatar.list_none", mark)
    assert [label for label, _ in fake.buttons(gone.result)] == ["New avatar"]
    assert not catalog.has_own(ANN.id)
    assert not catalog.has_own(BOB.id, group["id"])
    # An old [Rename] of the deleted avatar is answered, and changes nothing.
    mark = fake.mark()
    fake.press(ANN, shown.result, button(fake, shown.result, "✏️ Rename"), forged=True)
    answer = (await fake.wait_for("answerCallbackQuery", since=mark))[0]
    assert answer.params.get("show_alert")
    assert await bot.services.avatar_setups.get(ANN.id) is None


async def test_someone_elses_list_buttons_change_nothing(
    bot: Running, harness: Harness, videos: Videos
) -> None:
    fake = harness.fake
    summary = await to_summary(fake, videos)
    await create(fake, summary)
    avatar = await settled(bot)
    shown = await listed(fake)
    mark = fake.mark()
    for label in ("🗑 Delete", "✏️ Rename"):
        fake.press(BOB, shown.result, button(fake, shown.result, label))
    fake.press(BOB, shown.result, f"ca:dy:{BOB.id}:{avatar.id}", forged=True)  # not his
    fake.press(BOB, shown.result, f"ca:dy:{BOB.id}:١٢", forged=True)  # not ASCII digits
    answers = await fake.wait_for("answerCallbackQuery", count=4, since=mark)
    assert all(a.params.get("show_alert") for a in answers)
    assert (await bot.services.custom_avatars.get(ANN.id, avatar.id)).name == "Ann's twin"


async def test_in_a_group_without_a_private_chat_it_says_how_to_open_one(
    bot: Running, harness: Harness
) -> None:
    fake = harness.fake
    group = fake.group()
    mark = fake.mark()
    fake.send_command(ANN, "/avatar", chat=group)
    await fake.wait_for(
        "sendMessage", to_chat(group["id"], words("avatar.ask_privately")), since=mark
    )


# --- menus and /help ------------------------------------------------------------------------


async def test_avatar_is_in_the_menu_and_help_of_those_who_may_make_one(
    harness: Harness, env: dict[str, str]
) -> None:
    fake = harness.fake
    fake.chat_for(ANN)  # an admin's menu is scoped to their private chat

    def menu(scope: dict | None = None) -> list[str]:
        return [c["command"] for c in fake.commands_for(scope)]

    async with harness.bot(**env):
        assert "avatar" not in menu()
        admins = menu({"type": "chat", "chat_id": ANN.id})
        assert admins[admins.index("voice") + 1] == "avatar"
        mark = fake.mark()
        fake.send_command(ANN, "/help")
        fake.send_command(BOB, "/help")
        helps = await fake.wait_for("sendMessage", count=2, since=mark)
        texts = {str(c.params["chat_id"]): str(c.params["text"]) for c in helps}
        assert TEXTS.t("en", "help.avatar") in texts[str(ANN.id)]
        assert "/avatar" not in texts[str(BOB.id)]
    async with harness.bot(**env | {"CUSTOM_AVATARS": "everyone"}):
        assert "avatar" in menu()
