"""A group's pool, end to end: /groupquota and /groupusage from a group admin, a member, a
bot admin and a private chat, hostile arguments, /quota in a group, and a pool that runs out
while the member still has room of their own. The fake Telegram's getChatMember reads
``fake.chat_admins``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.app import Running
from bot.models import JobStatus
from tests.conftest import Harness, Media
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import button, latest_job_reaching, said, to_confirm

OWNER = User(501, "Olga", language_code="en")
MEMBER = User(502, "Mia", language_code="en")
ZE = User(503, "Zé", language_code="pt-br")
#: Midnight UTC is 13 h 30 min away.
MORNING = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
USAGE = "Usage: /groupquota <seconds a day for the group> [seconds a day per member]"


@pytest.fixture
def group(fake: FakeTelegram) -> dict:
    chat = fake.group()
    fake.chat_admins[chat["id"]] = {OWNER.id}
    fake.members[chat["id"]] |= {MEMBER.id, ZE.id}
    return chat


async def command(fake: FakeTelegram, user: User, chat: dict | None, text: str) -> str:
    """``text`` (a command and its arguments) from ``user``; returns the bot's answer."""
    name, _, args = text.partition(" ")
    mark = fake.mark()
    fake.send_command(user, name, args, chat=chat)
    where = chat["id"] if chat is not None else user.id
    return str((await said(fake, where, " ", mark)).params["text"])


async def test_group_admins_set_the_pool_and_members_cannot(harness: Harness, group: dict) -> None:
    fake = harness.fake
    async with harness.bot(ADMIN_IDS="7") as bot:
        bot.services.quotas.clock = lambda: MORNING
        said_to_member = await command(fake, MEMBER, group, "/groupquota 600 60")
        assert said_to_member == "Only this group's admins can do that."
        assert await command(fake, OWNER, group, "/groupquota 600 60") == (
            "Done: this group may make 600 s of video a day, at most 60 s per member."
        )
        usage = await command(fake, OWNER, group, "/groupusage")
        assert usage.splitlines() == [
            "This group today (seconds of video):",
            "• This group's daily pool: 600 s of 600 s left today; resets at midnight UTC, "
            "in 13 h 30 min.",
            "• Each member: up to 60 s a day.",
            "Nobody has made a video here today.",
        ]
        assert await command(fake, MEMBER, group, "/groupusage") == (
            "Only this group's admins can do that."
        )
        # The bot's own admins administer every group.
        assert (await command(fake, User(7, "Boss"), group, "/groupquota 300")).startswith(
            "Done: this group may make 300 s of video a day, shared"
        )
        assert await command(fake, OWNER, group, "/groupquota default") == (
            "Done: this group is back to the bot's default limits."
        )
        private = await command(fake, OWNER, None, "/groupquota 600")
    assert private.startswith("This command works in groups")


@pytest.mark.parametrize(
    "args",
    [
        "",
        "lots",
        "-5",
        "60s",
        "²",
        "١٢٠",  # Arabic-Indic digits
        "1 2 3",
        "99999999999999999999999",
    ],
)
async def test_groupquota_refuses_what_is_not_a_plain_number(
    harness: Harness, group: dict, args: str
) -> None:
    async with harness.bot(GROUP_DAILY_QUOTA_SECONDS="0") as bot:
        answer = await command(harness.fake, OWNER, group, f"/groupquota {args}".strip())
        pool = await bot.services.quota_desk.group_today(group["id"])
    assert answer.startswith(USAGE)
    assert pool.pool == []


async def test_groupquota_refuses_absurd_numbers(harness: Harness, group: dict) -> None:
    fake = harness.fake
    async with harness.bot():
        too_big = await command(fake, OWNER, group, "/groupquota 1000001")
        over = await command(fake, OWNER, group, "/groupquota 60 600")
    assert too_big == "That is more than 1000000 seconds a day: please pick a smaller number."
    assert over == "A member's share (600 s) cannot be more than the whole pool (60 s)."


async def test_the_pool_runs_out_while_the_member_has_room(
    harness: Harness, media: Media, group: dict
) -> None:
    fake = harness.fake
    async with harness.bot(USER_DAILY_QUOTA_SECONDS="100") as bot:
        bot.services.quotas.clock = lambda: MORNING
        await command(fake, OWNER, group, "/groupquota 5")
        await order_in_group(fake, bot, media, MEMBER, group)
        # 3 s of the 5.
        await latest_job_reaching(bot, MEMBER, JobStatus.DELIVERED)

        quota = await command(fake, ZE, group, "/quota")
        assert "• A cota diária deste grupo: restam 2 de 5 s hoje;" in quota
        assert "• A sua cota diária: restam 100 de 100 s hoje;" in quota
        refusal = await order_in_group(fake, bot, media, ZE, group)
        assert refusal.split("\n\n") == [
            "Não há segundos suficientes para este vídeo: ele precisa de 3 s, e a cota diária "
            "deste grupo só tem 2 s. Renova à meia-noite (UTC), daqui a 13 h 30 min.",
            "Mande uma voz de no máximo 2 s (toque em Voz mais curta) ou toque em Gerar de "
            "novo depois da renovação.",
            "Numa conversa particular comigo vale a sua própria cota, se preferir fazer o "
            "vídeo lá.",
        ]
        usage = await command(fake, OWNER, group, "/groupusage")
    assert "• This group's daily pool: 2 s of 5 s left today;" in usage
    assert usage.endswith("Who used it today:\n• Mia: 3 s")


async def order_in_group(
    fake: FakeTelegram, bot: Running, media: Media, user: User, group: dict
) -> str:
    """Order a video in the group and tap [Generate]; returns the bot's next message there."""
    summary = await to_confirm_in(fake, media, user, group)
    mark = fake.mark()
    label = "Gerar" if user.language_code == "pt-br" else "Generate"
    fake.press(user, summary, button(fake, summary, label))
    return str((await said(fake, group["id"], " ", mark)).params["text"])


async def to_confirm_in(fake: FakeTelegram, media: Media, user: User, group: dict) -> dict:
    """The summary of an order in the group, in the user's language."""
    if user.language_code == "en":
        return (await to_confirm(fake, media, user, chat=group)).result
    mark = fake.mark()
    fake.send_command(user, "/new", chat=group)
    prompt = await said(fake, group["id"], "Mande uma foto", mark)
    mark = fake.mark()
    fake.send_photo(user, media.photo.read_bytes(), chat=group, reply_to=prompt.result)
    prompt = await said(fake, group["id"], "Agora a voz", mark)
    mark = fake.mark()
    fake.send_voice(user, media.voice.read_bytes(), duration=3, chat=group, reply_to=prompt.result)
    ratios = await said(fake, group["id"], "Escolha o formato", mark)
    mark = fake.mark()
    fake.press(user, ratios.result, button(fake, ratios.result, "9:16"))
    calls = await fake.wait_for(
        "editMessageText", lambda c: "Tudo pronto" in str(c.params), since=mark
    )
    return calls[0].result
