"""An avatar picked earlier and no longer offered (issue 9): its owner un-shared it from the
group or deleted it, or its provider's list dropped it. [Generate], [Again], [Try again] and
[Other provider] check it again, as the picker did: the member is told it is no longer
available to them and asked for another face, everything else they chose kept; no job is
made with it. The real bot, the fake Telegram, the fake Creatify."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest

from bot import app
from bot import callback_data as cd
from bot.app import Running
from bot.avatars import AvatarCatalog
from bot.models import Avatar, AvatarFace, Gender, JobStatus, Step, TextVoice
from bot.telegram.ratelimit import ChatPacer, Rate
from tests.avatar_flows import ANN, TEXTS, Videos, bot, videos, words
from tests.conftest import Harness, to_chat
from tests.creatify_flows import creatify_env, job_reaching, with_button
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button
from tests.test_group_avatars import (
    CAROL,
    alert_to,
    avatars_command,
    in_chat,
    labels,
    open_picker,
    pick,
    ready_in,
)

__all__ = ["bot", "videos"]  # fixtures

HELLO = "Hello there, this is me talking."


@pytest.fixture
def env(creatify: FakeCreatify) -> dict[str, str]:
    creatify.custom.build_seconds = 0.3
    creatify.add_persona("Vesna", "f")  # stock avatars of their own (the fake has a Jessica)
    creatify.add_persona("Ulric", "m")
    return creatify_env(creatify, ADMIN_IDS=str(ANN.id), PROVIDERS="creatify")


@pytest.fixture(autouse=True)
def quick_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Telegram's 20 messages a minute in a group would stretch these long group
    conversations over minutes; the pacing has tests of its own (tests/test_ratelimit.py)."""
    quick = functools.partial(ChatPacer, group=Rate(50.0, burst=20))
    monkeypatch.setattr(app, "ChatPacer", quick)


def gone_text(name: str, *, kept: bool = True) -> str:
    said = TEXTS.t("en", "avatars.face_gone", name=name)
    return f"{said} {TEXTS.t('en', 'avatars.choices_kept')}" if kept else said


async def answerable(bot: Running, user: User, group: dict, prompt: Call) -> None:
    """Until ``prompt`` is the one a reply must answer (stored just after it is sent; a
    person is never this quick)."""
    async with asyncio.timeout(10):
        while True:
            draft = await bot.services.drafts.get(group["id"], user.id)
            if draft is not None and draft.prompt_id == prompt.result["message_id"]:
                return
            await asyncio.sleep(0.02)


async def to_summary(
    bot: Running, fake: FakeTelegram, user: User, group: dict, voice: Call, text: str = HELLO
) -> Call:
    """From the voice prompt: the text, then 9:16; the summary with [Generate]."""
    await answerable(bot, user, group, voice)
    mark = fake.mark()
    fake.send_text(user, text, chat=group, reply_to=voice.result)
    # The text is spoken and checked first: slower on a busy machine.
    ratio = with_button(group["id"], "9:16")
    ratios = (await fake.wait_for("sendMessage", ratio, since=mark, timeout=30))[0]
    mark = fake.mark()
    fake.press(user, ratios.result, button(fake, ratios.result, "9:16"))
    generate = words("button.generate", user)
    found = await fake.wait_for("editMessageText", with_button(group["id"], generate), since=mark)
    return found[0]


async def pick_shared(fake: FakeTelegram, user: User, group: dict, name: str) -> Call:
    """/new, /avatars, [My avatars] and ``name``: the voice prompt."""
    picker = await open_picker(fake, user, group)
    mark = fake.mark()
    fake.press(user, picker.result, button(fake, picker.result, words("avatars.filter_o", user)))
    mine = (await fake.wait_for("editMessageText", to_chat(group["id"]), since=mark))[0]
    return await pick(fake, user, group, mine, name)


def press(fake: FakeTelegram, user: User, message: Call, label: str) -> int:
    mark = fake.mark()
    fake.press(user, message.result, button(fake, message.result, label))
    return mark


async def asked_again(bot: Running, fake: FakeTelegram, group: dict, mark: int, name: str) -> Call:
    """The refusal naming ``name``, with the MEDIA prompt under it (forcing a reply)."""
    told = await in_chat(fake, group["id"], CAROL, "avatars.face_gone", mark)
    assert told.params["text"].startswith(gone_text(name)), told.params["text"]
    assert words("prompt.avatars_command", CAROL) in told.params["text"]
    assert told.params["reply_markup"]["force_reply"] is True
    return told


async def test_an_avatar_unshared_before_generate_is_refused_and_another_face_asked_for(
    bot: Running, harness: Harness, videos: Videos, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    group = fake.group()
    avatar = await ready_in(bot, videos, group["id"], "Una Shared")
    summary = await to_summary(
        bot, fake, CAROL, group, await pick_shared(fake, CAROL, group, "Una Shared")
    )
    # Ann stops sharing it while Carol's summary waits.
    await bot.services.custom_avatars.share(ANN.id, avatar.id, False)
    generate = words("button.generate", CAROL)
    mark = press(fake, CAROL, summary, generate)
    await asked_again(bot, fake, group, mark, "Una Shared")
    draft = await bot.services.drafts.get(group["id"], CAROL.id)
    assert draft is not None
    assert draft.step is Step.MEDIA
    assert draft.avatar is None
    assert draft.voice_text == HELLO
    assert draft.ratio == "9:16"
    assert await bot.services.jobs.recent(CAROL.id) == []
    assert not [c for c in creatify.calls if c.path == "/api/lipsyncs/"]
    # The old summary's [Generate] is stale now, and makes nothing either.
    answer = await alert_to(fake, CAROL, summary, generate, gone=True)
    assert answer["text"] == TEXTS.t("en", "error.stale_button")
    # Another face: straight back to the summary, the text and the ratio kept.
    picker = await avatars_command(fake, CAROL, group)
    assert "Una Shared" not in labels(picker)
    again = await pick(fake, CAROL, group, picker, "Vesna")
    assert generate in labels(again)
    mark = press(fake, CAROL, again, generate)
    job = await job_reaching(bot, CAROL, JobStatus.SUCCEEDED, JobStatus.FAILED)
    assert job.status is JobStatus.SUCCEEDED, job.reason
    assert isinstance(job.order.face, AvatarFace)
    assert job.order.face.name == "Vesna"
    assert isinstance(job.order.voice, TextVoice)
    assert job.order.voice.text == HELLO
    await fake.wait_for("sendVideo", to_chat(group["id"]), since=mark, timeout=30)


async def test_again_with_a_deleted_avatar_asks_for_another_face(
    bot: Running, harness: Harness, videos: Videos
) -> None:
    fake = harness.fake
    group = fake.group()
    avatar = await ready_in(bot, videos, group["id"], "Ines Shared")
    summary = await to_summary(
        bot, fake, CAROL, group, await pick_shared(fake, CAROL, group, "Ines Shared")
    )
    mark = press(fake, CAROL, summary, words("button.generate", CAROL))
    video = (await fake.wait_for("sendVideo", to_chat(group["id"]), since=mark, timeout=30))[0]
    await bot.services.custom_avatars.share(ANN.id, avatar.id, False)
    await bot.services.custom_avatars.delete(ANN.id, avatar.id)
    mark = press(fake, CAROL, video, words("button.again", CAROL))
    told = await in_chat(fake, group["id"], CAROL, "avatars.face_gone", mark)
    assert told.params["text"].startswith(gone_text("Ines Shared", kept=False))
    assert TEXTS.t("en", "avatars.choices_kept") not in told.params["text"]  # a new voice too
    draft = await bot.services.drafts.get(group["id"], CAROL.id)
    assert draft is not None
    assert draft.step is Step.MEDIA
    assert draft.avatar is None


async def test_try_again_and_other_provider_with_a_deleted_avatar_ask_for_another_face(
    bot: Running, harness: Harness, videos: Videos, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    group = fake.group()
    avatar = await ready_in(bot, videos, group["id"], "Olive Shared")
    creatify.fail_next_jobs(reason="Avatar rendering failed, please retry")
    summary = await to_summary(
        bot, fake, CAROL, group, await pick_shared(fake, CAROL, group, "Olive Shared")
    )
    mark = press(fake, CAROL, summary, words("button.generate", CAROL))
    failure = await in_chat(fake, group["id"], CAROL, "failure.text", mark)
    failed = await job_reaching(bot, CAROL, JobStatus.FAILED)
    # A picker listing it when Ann deletes it: tapping it then says it is gone.
    picker = await open_picker(fake, CAROL, group)
    mark = press(fake, CAROL, picker, words("avatars.filter_o", CAROL))
    mine = (await fake.wait_for("editMessageText", to_chat(group["id"]), since=mark))[0]
    await bot.services.custom_avatars.delete(ANN.id, avatar.id)
    answer = await alert_to(fake, CAROL, mine, "Olive Shared")
    assert answer["text"] == TEXTS.t("en", "avatars.gone")
    # [Other provider] (not offered here: no other provider has avatars; a client may send it).
    mark = fake.mark()
    fake.press(CAROL, failure.result, cd.job_action(cd.OTHER_PROVIDER, failed.id), forged=True)
    await asked_again(bot, fake, group, mark, "Olive Shared")
    # [Try again]: no job, the same question.
    mark = press(fake, CAROL, failure, words("button.retry", CAROL))
    await asked_again(bot, fake, group, mark, "Olive Shared")
    assert [j.id for j in await bot.services.jobs.recent(CAROL.id)] == [failed.id]
    draft = await bot.services.drafts.get(group["id"], CAROL.id)
    assert draft is not None
    assert (draft.step, draft.avatar, draft.voice_text) == (Step.MEDIA, None, HELLO)
    # Another face leads to the summary, the text kept, and to a video.
    picker = await avatars_command(fake, CAROL, group)
    again = await pick(fake, CAROL, group, picker, "Ulric")
    mark = press(fake, CAROL, again, words("button.generate", CAROL))
    await fake.wait_for("sendVideo", to_chat(group["id"]), since=mark, timeout=30)
    job = await job_reaching(bot, CAROL, JobStatus.SUCCEEDED, JobStatus.DELIVERED)
    assert isinstance(job.order.face, AvatarFace)
    assert job.order.face.name == "Ulric"


async def test_a_dialogue_keeps_its_voices_and_the_first_avatar_when_the_second_is_gone(
    bot: Running, harness: Harness, videos: Videos
) -> None:
    fake = harness.fake
    group = fake.group()
    avatar = await ready_in(bot, videos, group["id"], "Dora Shared")
    picker = await open_picker(fake, CAROL, group, dialogue=True)
    await pick(fake, CAROL, group, picker, "Vesna")
    picker = await avatars_command(fake, CAROL, group)
    mark = fake.mark()
    fake.press(CAROL, picker.result, button(fake, picker.result, words("avatars.filter_o", CAROL)))
    mine = (await fake.wait_for("editMessageText", to_chat(group["id"]), since=mark))[0]
    first_voice = await pick(fake, CAROL, group, mine, "Dora Shared")
    mark = fake.mark()
    await answerable(bot, CAROL, group, first_voice)
    fake.send_text(CAROL, "Hi Dora.", chat=group, reply_to=first_voice.result)
    second_voice = await in_chat(fake, group["id"], CAROL, "dialogue.second", mark)
    summary = await to_summary(bot, fake, CAROL, group, second_voice, "Hi Vesna.")
    await bot.services.custom_avatars.delete(ANN.id, avatar.id)
    mark = press(fake, CAROL, summary, words("button.generate", CAROL))
    told = await asked_again(bot, fake, group, mark, "Dora Shared")
    # The second avatar is asked for again (not [Other photo]'s photo of both).
    assert TEXTS.t("en", "dialogue.second_avatar", name="Vesna") in told.params["text"]
    draft = await bot.services.drafts.get(group["id"], CAROL.id)
    assert draft is not None
    assert draft.avatar is not None
    assert (draft.avatar.name, draft.avatar2) == ("Vesna", None)
    assert (draft.voice_text, draft.voice2_text) == ("Hi Dora.", "Hi Vesna.")
    picker = await avatars_command(fake, CAROL, group)
    again = await pick(fake, CAROL, group, picker, "Ulric")
    assert words("button.generate", CAROL) in labels(again)
    draft = await bot.services.drafts.get(group["id"], CAROL.id)
    assert draft is not None
    assert draft.step is Step.CONFIRM
    assert draft.avatar2 is not None
    assert draft.avatar2.name == "Ulric"


async def test_a_stock_avatar_its_provider_no_longer_lists_is_refused_at_generate(
    bot: Running, harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    group = fake.group()
    aziz = creatify.add_persona("Aziz", "m")  # first on the first page
    catalog = bot.services.avatars.catalog
    assert await catalog.refresh("creatify")
    picker = await open_picker(fake, CAROL, group)
    summary = await to_summary(
        bot, fake, CAROL, group, await pick(fake, CAROL, group, picker, "Aziz")
    )
    del creatify.personas[aziz.id]
    assert await catalog.refresh("creatify")
    mark = press(fake, CAROL, summary, words("button.generate", CAROL))
    await asked_again(bot, fake, group, mark, "Aziz")
    assert await bot.services.jobs.recent(CAROL.id) == []


# --- the catalogue's answer -------------------------------------------------------------------


def _avatar(avatar_id: str, owner: int | None = None, shared: int | None = None) -> Avatar:
    return Avatar(
        provider="creatify",
        avatar_id=avatar_id,
        name=avatar_id.title(),
        gender=Gender.FEMALE,
        owner_id=owner,
        shared_chat_id=shared,
    )


async def test_the_catalogue_offers_a_stock_avatar_while_no_list_is_loaded(tmp_path: Path) -> None:
    listed = [_avatar("stocky")]

    async def load() -> list[Avatar]:
        return listed

    catalog = AvatarCatalog({"creatify": load}, tmp_path)
    # Nothing loaded yet (a first start, the provider down): not a reason to refuse.
    assert catalog.offers("creatify", "stocky", 1)
    assert catalog.offers("creatify", "anything", 1)
    catalog.set_custom([_avatar("mine", owner=1, shared=-5)], [("creatify", "mine")])
    assert catalog.offers("creatify", "mine", 1)
    assert catalog.offers("creatify", "mine", 2, -5)
    assert not catalog.offers("creatify", "mine", 2)
    assert not catalog.offers("creatify", "mine", 2, -6)
    assert await catalog.refresh("creatify")
    assert catalog.offers("creatify", "stocky", 2)
    assert not catalog.offers("creatify", "anything", 1)  # listed no more
    # Deleted: hidden, never offered, whatever the provider lists.
    listed.append(_avatar("mine"))
    assert await catalog.refresh("creatify")
    catalog.set_custom([], [("creatify", "mine")])
    assert not catalog.offers("creatify", "mine", 1)
    # A provider with no avatars here at all: not the catalogue's to refuse.
    assert catalog.offers("other", "x", 1)
