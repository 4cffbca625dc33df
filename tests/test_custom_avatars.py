"""Custom avatars end to end (issue 9), through the service the /avatar conversation uses:
the real bot, the fake Telegram and the fake Creatify on 127.0.0.1. An avatar is sent,
watched while it is built (its webhook, or slow polls that survive a restart), announced to
its owner (or its failure and why) and offered under [My avatars] to them only; full slots
refuse before any upload; a create whose answer was lost is claimed by its webhook; a forged
webhook is refused."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from bot.app import Running
from bot.avatars import Filter, ref_of
from bot.avatars.custom import CustomAvatars
from bot.avatars.custom_errors import (
    AvatarNotFound,
    AvatarUnconfirmed,
    NoSlots,
    NotAllowed,
    TooMany,
)
from bot.avatars.custom_watch import WatchPolicy
from bot.i18n import Translator
from bot.models import Gender
from bot.models.custom_avatars import CustomAvatar, CustomAvatarState
from tests.conftest import Harness, Media, to_chat
from tests.creatify_flows import creatify_env
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import FakeTelegram, User

ANN = User(811, "Ann", language_code="en")
BOB = User(822, "Bob", language_code="pt-br")
TEXTS = Translator.load()
#: Polls every few tenths of a second instead of every ten minutes.
QUICK = WatchPolicy(first_check=0.2, max_check=0.4, deadline=7 * 86400.0)


def words(key: str, locale: str = "en") -> str:
    """The fixed start of a locale text (up to its first placeholder)."""
    return TEXTS.t(locale, key).split("{")[0].strip()


@pytest.fixture
def env(creatify: FakeCreatify) -> dict[str, str]:
    creatify.custom.build_seconds = 0.3
    return creatify_env(creatify, ADMIN_IDS=str(ANN.id), PROVIDERS="creatify")


@pytest.fixture
async def bot(harness: Harness, env: dict[str, str]) -> AsyncIterator[Running]:
    async with harness.bot(**env) as running_bot:
        await opened(harness.fake, ANN)
        yield running_bot


def service(bot: Running) -> CustomAvatars:
    return bot.services.custom_avatars


async def opened(fake: FakeTelegram, user: User) -> None:
    """The user opens their private chat with the bot (else it cannot write to them)."""
    mark = fake.mark()
    fake.send_command(user, "/start")
    await fake.wait_for("sendMessage", to_chat(user.id), since=mark)


async def create(bot: Running, media: Media, owner: User = ANN, **options: object) -> CustomAvatar:
    chat = options.pop("chat", owner.id)
    assert isinstance(chat, int)
    return await service(bot).create(
        owner.id, chat, "Ann's twin", Gender.FEMALE, media.video, media.video, locale="en"
    )


async def settled(bot: Running, avatar_id: int, timeout: float = 10.0) -> CustomAvatar:  # noqa: ASYNC109
    repo = service(bot).watcher._repo
    async with asyncio.timeout(timeout):
        while True:
            row = await repo.get(avatar_id)
            assert row is not None
            if row.state is not CustomAvatarState.PENDING:
                return row
            await asyncio.sleep(0.02)


def mine(bot: Running, user: User, chat: int | None = None) -> list[str]:
    catalog = bot.services.avatars.catalog
    return [a.name for a in catalog.page(Filter.MINE, 0, user.id, chat).avatars]


async def test_an_avatar_is_built_announced_and_offered_to_its_owner_only(
    bot: Running, harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    fake = harness.fake
    assert service(bot).allowed(ANN.id)
    assert await service(bot).slots_left() == 3
    mark = fake.mark()
    avatar = await create(bot, media)
    assert avatar.state is CustomAvatarState.PENDING
    assert avatar.persona_id in creatify.custom.builds
    upload = creatify.custom.builds[avatar.persona_id].fields["lipsync_input"]
    assert upload.size == media.video.stat().st_size  # the training video itself went
    assert avatar.training_path is not None
    assert avatar.training_path.exists()  # kept while it is built
    assert await service(bot).slots_left() == 2
    assert mine(bot, ANN) == []  # not before it is ready
    # Creatify's webhook says it is done: re-read, settled, announced in Ann's chat.
    told = await fake.wait_for("sendMessage", to_chat(ANN.id, words("avatar.ready")), since=mark)
    assert "Ann's twin" in told[0].params["text"]
    done = await settled(bot, avatar.id)
    assert done.state is CustomAvatarState.READY
    assert done.training_path is None
    assert not avatar.training_path.exists()
    assert creatify.custom.webhooks == [(avatar.persona_id, "done", 200)]
    # [My avatars]: Ann's only; never among the stock avatars, not even after a refresh.
    assert mine(bot, ANN) == ["Ann's twin"]
    assert mine(bot, BOB) == []
    catalog = bot.services.avatars.catalog
    assert catalog.has_own(ANN.id)
    assert not catalog.has_own(BOB.id)
    assert await catalog.refresh("creatify")
    stock = {a.avatar_id for a in catalog.page(Filter.ALL, 0, BOB.id).avatars}
    assert avatar.persona_id not in stock
    assert len(stock) == 6
    ref = ref_of(catalog.page(Filter.MINE, 0, ANN.id).avatars[0])
    found = catalog.find(ref, ANN.id)
    assert found is not None
    assert found.avatar_id == avatar.persona_id
    assert found.preview_images  # Creatify's stills
    assert catalog.find(ref, BOB.id) is None
    assert [a.id for a in await service(bot).mine(ANN.id)] == [avatar.id]


async def test_a_failure_is_told_with_its_reason(
    bot: Running, harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    creatify.custom.next_failures.append("The face is too small in the video.")
    mark = harness.fake.mark()
    avatar = await create(bot, media)
    told = await harness.fake.wait_for(
        "sendMessage", to_chat(ANN.id, words("avatar.failed")), since=mark
    )
    assert "The face is too small in the video." in told[0].params["text"]
    done = await settled(bot, avatar.id)
    assert done.state is CustomAvatarState.FAILED
    assert done.reason is not None
    assert done.reason.params == {"reason": "The face is too small in the video."}
    assert mine(bot, ANN) == []
    assert not (harness.folder / "data" / "custom_avatars" / str(avatar.id)).exists()


async def test_used_up_slots_refuse_before_any_upload(
    bot: Running, creatify: FakeCreatify, media: Media
) -> None:
    creatify.custom.max_count = 1
    creatify.add_persona(
        "Made elsewhere", type="custom", is_active=False, process_status="pending"
    )
    assert await service(bot).slots_left() == 0
    with pytest.raises(NoSlots):
        await create(bot, media)
    assert creatify.requests["POST /api/personas_v2/"] == 0
    assert await service(bot).mine(ANN.id) == []


async def test_who_may_make_one(bot: Running, creatify: FakeCreatify, media: Media) -> None:
    assert not service(bot).allowed(BOB.id)  # CUSTOM_AVATARS=admins by default
    with pytest.raises(NotAllowed):
        await create(bot, media, owner=BOB)
    assert creatify.requests["GET /api/personas_v2/count/"] == 0


async def test_a_restart_while_pending_is_settled_by_polling(
    harness: Harness, env: dict[str, str], creatify: FakeCreatify, media: Media
) -> None:
    creatify.custom.auto_complete = False
    async with harness.bot(**env) as first:
        await opened(harness.fake, ANN)
        avatar = await create(first, media)
    # While the bot is down Creatify finishes it; its webhook finds nobody.
    assert avatar.persona_id is not None
    creatify.custom.complete(avatar.persona_id)
    await creatify.custom.wait_for(avatar.persona_id)
    mark = harness.fake.mark()
    async with harness.bot(**env) as second:
        told = await harness.fake.wait_for(
            "sendMessage", to_chat(ANN.id, words("avatar.ready")), since=mark
        )
        assert "Ann's twin" in told[0].params["text"]
        assert (await settled(second, avatar.id)).state is CustomAvatarState.READY
        assert mine(second, ANN) == ["Ann's twin"]
    # A third start offers it at once, from the database.
    async with harness.bot(**env) as third:
        assert mine(third, ANN) == ["Ann's twin"]


async def test_slow_polls_find_an_avatar_whose_webhook_was_lost(
    bot: Running, harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    creatify.custom.webhook_mode = "drop"
    service(bot).watcher.policy = QUICK
    mark = harness.fake.mark()
    avatar = await create(bot, media)
    await harness.fake.wait_for("sendMessage", to_chat(ANN.id, words("avatar.ready")), since=mark)
    assert (await settled(bot, avatar.id)).checks >= 1
    assert creatify.requests["GET /api/personas/{id}/"] >= 2


async def test_a_lost_create_answer_is_claimed_by_its_webhook(
    bot: Running, harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    creatify.fail_next("POST /api/personas_v2/", 500, after_processing=True)
    mark = harness.fake.mark()
    avatar = await create(bot, media)
    assert avatar.state is CustomAvatarState.PENDING
    assert avatar.persona_id is None  # made, maybe: never sent again
    await harness.fake.wait_for("sendMessage", to_chat(ANN.id, words("avatar.ready")), since=mark)
    done = await settled(bot, avatar.id)
    assert list(creatify.custom.builds) == [done.persona_id]
    assert creatify.requests["POST /api/personas_v2/"] == 1
    assert mine(bot, ANN) == ["Ann's twin"]


async def test_a_forged_webhook_is_refused(
    bot: Running, creatify: FakeCreatify, media: Media
) -> None:
    creatify.custom.auto_complete = False
    avatar = await create(bot, media)
    url = service(bot).webhook_url(avatar)
    assert url is not None
    token = url.rsplit("/", 1)[1]
    wrong = token[:-1] + ("y" if token.endswith("x") else "x")  # never the token itself
    base = url.split("/hooks/")[0]
    reads = creatify.requests["GET /api/personas/{id}/"]
    body = {"id": avatar.persona_id, "status": "done"}
    async with httpx.AsyncClient(base_url=base) as web:
        for path in (
            f"/hooks/creatify/avatars/{avatar.id}/{wrong}",  # a wrong token
            f"/hooks/creatify/avatars/{avatar.id + 1}/{token}",  # another avatar's id
            f"/hooks/sync/avatars/{avatar.id}/{token}",  # another provider
            f"/hooks/creatify/avatars/١/{token}",  # not ASCII digits
        ):
            answer = await web.post(path, json=body)
            assert answer.status_code == 401, path
        await asyncio.sleep(0.2)
        assert creatify.requests["GET /api/personas/{id}/"] == reads  # nothing was read
        # The right one is only a hint: the avatar is still building, so still pending.
        answer = await web.post(f"/hooks/creatify/avatars/{avatar.id}/{token}", json=body)
        assert answer.status_code == 200
        async with asyncio.timeout(5):
            while creatify.requests["GET /api/personas/{id}/"] == reads:
                await asyncio.sleep(0.02)
    row = await service(bot).watcher._repo.get(avatar.id)
    assert row is not None
    assert row.state is CustomAvatarState.PENDING


async def test_rename_share_and_delete(
    bot: Running, harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    group = harness.fake.group()["id"]
    mark = harness.fake.mark()
    avatar = await create(bot, media, chat=group)
    await harness.fake.wait_for("sendMessage", to_chat(ANN.id, words("avatar.ready")), since=mark)
    custom = service(bot)
    await settled(bot, avatar.id)
    renamed = await custom.rename(ANN.id, avatar.id, "  Ann\u202e 2 \n")
    assert renamed.name == "Ann 2"
    assert mine(bot, ANN) == ["Ann 2"]
    assert mine(bot, BOB, group) == []
    await custom.share(ANN.id, avatar.id, True)
    assert mine(bot, BOB, group) == ["Ann 2"]  # the group's members may use it
    assert mine(bot, BOB) == []  # elsewhere not
    with pytest.raises(AvatarNotFound):
        await custom.rename(BOB.id, avatar.id, "mine now")
    await custom.delete(ANN.id, avatar.id)
    assert mine(bot, ANN) == []
    assert mine(bot, BOB, group) == []
    assert await custom.mine(ANN.id) == []
    with pytest.raises(AvatarNotFound):
        await custom.delete(ANN.id, avatar.id)


async def test_an_avatar_not_built_by_the_deadline_has_failed(
    bot: Running, harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    creatify.custom.auto_complete = False
    service(bot).watcher.policy = WatchPolicy(first_check=0.1, max_check=0.2, deadline=0.5)
    mark = harness.fake.mark()
    avatar = await create(bot, media)
    told = await harness.fake.wait_for(
        "sendMessage", to_chat(ANN.id, words("avatar.failed")), since=mark
    )
    assert words("avatar.reason_too_long") in told[0].params["text"]
    done = await settled(bot, avatar.id)
    assert done.reason is not None
    assert done.reason.code == "avatar.reason_too_long"
    # Built after all, too late: its late webhook changes nothing, and nobody is told twice.
    assert avatar.persona_id is not None
    mark = harness.fake.mark()
    creatify.custom.complete(avatar.persona_id)
    await creatify.custom.wait_for(avatar.persona_id)
    await asyncio.sleep(0.3)
    assert (await settled(bot, avatar.id)).state is CustomAvatarState.FAILED
    assert not [c for c in harness.fake.calls[mark:] if c.method == "sendMessage"]


async def test_without_a_public_url_a_lost_answer_cannot_be_claimed(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    env = creatify_env(creatify, public=False, ADMIN_IDS=str(ANN.id), CUSTOM_AVATARS="everyone")
    creatify.fail_next("POST /api/personas_v2/", 500, after_processing=True)
    async with harness.bot(**env) as running_bot:
        with pytest.raises(AvatarUnconfirmed):
            await create(running_bot, media, owner=BOB)
        [row] = await service(running_bot).mine(BOB.id)
        assert row.state is CustomAvatarState.FAILED
        assert row.reason is not None
        assert row.reason.code == "avatar.reason_unconfirmed"
        assert creatify.custom.builds[next(iter(creatify.custom.builds))].webhook is None
        # Everyone may make avatars here, up to three at once (the account's slots are
        # everyone's); a failed one does not count.
        creatify.custom.max_count = 10
        for _ in range(3):
            await create(running_bot, media, owner=BOB)
        with pytest.raises(TooMany):
            await create(running_bot, media, owner=BOB)
        assert len(creatify.custom.builds) == 4


async def upload_under_way(bot: Running, creatify: FakeCreatify) -> CustomAvatar:
    """The avatar whose create is on its way (its upload has reached the fake)."""
    async with asyncio.timeout(10):
        while creatify.requests["POST /api/personas_v2/"] == 0:
            await asyncio.sleep(0.01)
    [avatar] = await service(bot).mine(ANN.id)
    return avatar


async def test_deleted_while_uploading_it_keeps_its_persona_id_and_loses_its_videos(
    bot: Running, harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    creatify.custom.create_delay = 0.5
    creatify.custom.auto_complete = False
    making = asyncio.create_task(create(bot, media))
    avatar = await upload_under_way(bot, creatify)
    folder = harness.folder / "data" / "custom_avatars" / str(avatar.id)
    assert folder.is_dir()
    await service(bot).delete(ANN.id, avatar.id)
    done = await making
    assert done.state is CustomAvatarState.DELETED
    # The face Creatify holds is still known, so never offered to everyone as a stock one.
    [persona_id] = creatify.custom.builds
    assert done.persona_id == persona_id
    assert ("creatify", persona_id) in await service(bot).watcher._repo.persona_ids()
    creatify.custom.complete(persona_id)
    await creatify.custom.wait_for(persona_id)
    catalog = bot.services.avatars.catalog
    assert await catalog.refresh("creatify")
    assert persona_id not in {a.avatar_id for a in catalog.page(Filter.ALL, 0, BOB.id).avatars}
    assert not folder.exists()  # its copies went with it, not days later
    assert done.training_path is None
    # Deleted while it is built (no upload running): its videos go at once too.
    creatify.custom.create_delay = 0.0
    second = await create(bot, media)
    assert second.training_path is not None
    await service(bot).delete(ANN.id, second.id)
    assert not second.training_path.parent.exists()


async def test_past_the_deadline_it_is_read_before_it_is_called_failed(
    bot: Running, harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    creatify.custom.auto_complete = False
    creatify.custom.webhook_mode = "drop"
    watcher = service(bot).watcher
    watcher.policy = WatchPolicy(first_check=60.0, max_check=60.0, deadline=0.3)
    avatar = await create(bot, media)
    assert avatar.persona_id is not None
    # Built in its last hour (or while the bot was down), its webhook lost.
    creatify.custom.complete(avatar.persona_id)
    await creatify.custom.wait_for(avatar.persona_id)
    await asyncio.sleep(0.4)
    mark = harness.fake.mark()
    await watcher.check(avatar)
    await harness.fake.wait_for("sendMessage", to_chat(ANN.id, words("avatar.ready")), since=mark)
    assert (await settled(bot, avatar.id)).state is CustomAvatarState.READY
    assert mine(bot, ANN) == ["Ann's twin"]


async def test_news_of_an_avatar_made_in_a_group_never_goes_to_the_group(
    bot: Running, harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    fake = harness.fake
    group = fake.group()["id"]
    creatify.custom.auto_complete = False
    avatar = await create(bot, media, chat=group)
    assert avatar.persona_id is not None
    fake.block(ANN)  # Ann cannot be told in private any more
    mark = fake.mark()
    creatify.custom.fail(avatar.persona_id, "The face of Ann Smith is too small.")
    done = await settled(bot, avatar.id)
    assert done.state is CustomAvatarState.FAILED
    await asyncio.sleep(0.2)
    to_group = [c for c in fake.calls[mark:] if str(c.params.get("chat_id")) == str(group)]
    assert to_group == []
    # Kept for /avatar: the list says what became of it.
    [listed] = await service(bot).mine(ANN.id)
    assert listed.reason is not None
    assert listed.reason.params == {"reason": "The face of Ann Smith is too small."}


async def test_a_webhook_url_too_long_for_creatify_is_not_waited_for(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    env = creatify_env(creatify, ADMIN_IDS=str(ANN.id), PROVIDERS="creatify")
    env["PUBLIC_URL"] += "/" + "p" * 150  # a reverse proxy's long prefix, say
    async with harness.bot(**env) as running_bot:
        await opened(harness.fake, ANN)
        service(running_bot).watcher.policy = QUICK
        # Sent without a webhook: polls find it.
        mark = harness.fake.mark()
        avatar = await create(running_bot, media)
        assert service(running_bot).webhook_url(avatar) is None
        assert avatar.persona_id is not None
        assert creatify.custom.builds[avatar.persona_id].webhook is None
        await harness.fake.wait_for(
            "sendMessage", to_chat(ANN.id, words("avatar.ready")), since=mark
        )
        # A lost answer can never be named by a webhook: said at once, not in 7 days.
        creatify.fail_next("POST /api/personas_v2/", 500, after_processing=True)
        with pytest.raises(AvatarUnconfirmed):
            await create(running_bot, media)
        newest = (await service(running_bot).mine(ANN.id))[0]
        assert newest.state is CustomAvatarState.FAILED
        assert newest.reason is not None
        assert newest.reason.code == "avatar.reason_unconfirmed"


async def test_stray_video_folders_are_swept_while_the_bot_runs(
    bot: Running, harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    creatify.custom.auto_complete = False
    avatar = await create(bot, media)  # pending: its videos stay
    folder = harness.folder / "data" / "custom_avatars"
    stray = folder / "9999"  # a crash between the copy and the row's update, say
    stray.mkdir()
    (stray / "training.mp4").write_bytes(b"a face")
    old = time.time() - 7200
    os.utime(stray, (old, old))
    os.utime(folder / str(avatar.id), (old, old))
    watcher = service(bot).watcher
    watcher.policy = replace(watcher.policy, sweep_every=0.1)
    watcher.wake()
    async with asyncio.timeout(5):
        while stray.exists():
            await asyncio.sleep(0.02)
    assert avatar.training_path is not None
    assert avatar.training_path.exists()
