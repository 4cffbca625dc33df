"""The bot admins' commands through the fake Telegram: /setquota, /grant, /ban, /unban, the
one admin filter (anyone else gets the unknown-command answer, and is logged), hostile
arguments, targets by id, @username and reply, and the admins' command menu."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.app import Running
from bot.i18n import Translator
from bot.models import NewJob, Probe
from bot.quotas import Period, QuotaExceeded
from handlers.menu import ADMIN_COMMANDS, COMMANDS
from tests.conftest import Harness, to_chat
from tests.fakes.telegram import FakeTelegram, User
from tests.job_rows import photo_order

ADMIN = User(1001, "Ada", username="ada_admin")
ANN = User(2002, "Ann", username="Ann_User")
BOB = User(3003, "Bob")
T = Translator.load()
USAGE = {
    name: T.t("en", f"botadmin.{name}_usage")
    for name in ("setquota", "grant", "usage", "stats", "ban", "unban")
}
UNKNOWN = T.t("en", "hint.unknown_command")


async def ask(fake: FakeTelegram, user: User, command: str, args: str = "", **where: Any) -> str:
    """Send ``/command args`` and return the bot's answer in that chat."""
    chat = where.get("chat")
    chat_id = chat["id"] if chat is not None else user.id
    mark = fake.mark()
    fake.send_command(user, command, args, **where)
    calls = await fake.wait_for("sendMessage", to_chat(chat_id), since=mark)
    return str(calls[0].params["text"])


async def ask_in_group(
    fake: FakeTelegram, admin: User, command: str, args: str, group: dict, reply_to: dict
) -> str:
    """An admin command sent in a group: the group only hears that the answer went to the
    admin's private chat; returns that answer."""
    fake.chat_for(admin)  # the admin has started the bot in private
    mark = fake.mark()
    fake.send_command(admin, command, args, chat=group, reply_to=reply_to)
    note = await fake.wait_for("sendMessage", to_chat(group["id"]), since=mark)
    assert note[0].params["text"] == T.t("en", "botadmin.sent_privately")
    private = await fake.wait_for("sendMessage", to_chat(admin.id), since=mark)
    return str(private[0].params["text"])


async def introduce(fake: FakeTelegram, user: User) -> None:
    """The user writes to the bot once, so it knows their @username."""
    await ask(fake, user, "help")


async def daily_limit(bot: Running, user: User) -> int | None:
    allowances = await bot.services.quotas.allowances(user.id, user.id, "private")
    return next(
        (a.limit for a in allowances if a.scope == "user" and a.period is Period.DAY), None
    )


@pytest.fixture
async def admin_bot(harness: Harness) -> Any:
    async with harness.bot(ADMIN_IDS=str(ADMIN.id), USER_DAILY_QUOTA_SECONDS="120") as bot:
        yield bot


# --- the admin filter ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_a_non_admin_gets_the_unknown_command_answer_and_is_logged(
    fake: FakeTelegram, admin_bot: Running, command: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="handlers.admin_filter")
    answer = await ask(fake, ANN, command, "4242 secret-looking-argument")
    assert answer == UNKNOWN
    refused = [r.getMessage() for r in caplog.records if r.name == "handlers.admin_filter"]
    assert refused == [f"Refused admin command /{command} from non-admin user {ANN.id}"]
    assert "secret-looking-argument" not in caplog.text
    # Nothing was done on the non-admin's say-so.
    assert not admin_bot.services.moderation.is_banned(4242)


async def test_an_admin_command_from_a_non_admin_in_a_group_is_the_unknown_answer(
    fake: FakeTelegram, admin_bot: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="handlers.admin_filter")
    group = fake.group()
    assert await ask(fake, ANN, "stats", chat=group) == UNKNOWN
    assert f"/stats from non-admin user {ANN.id}" in caplog.text


async def test_with_no_admins_configured_nobody_gets_admin_commands(
    harness: Harness, fake: FakeTelegram
) -> None:
    async with harness.bot():
        assert await ask(fake, ADMIN, "stats") == UNKNOWN
        assert await ask(fake, ADMIN, "providers") == UNKNOWN


async def test_the_admins_menu_lists_the_admin_commands_and_nobody_elses_does(
    fake: FakeTelegram, admin_bot: Running
) -> None:
    admin_scope = json.dumps({"chat_id": ADMIN.id, "type": "chat"}, sort_keys=True)
    listed = [c["command"] for c in fake.commands[(admin_scope, "")]]
    assert listed == [*COMMANDS, *ADMIN_COMMANDS]
    assert set(ADMIN_COMMANDS) >= {"setquota", "grant", "usage", "stats", "ban", "unban"}
    for (scope, language), commands in fake.commands.items():
        if scope != admin_scope:
            assert not {c["command"] for c in commands} & set(ADMIN_COMMANDS), (scope, language)
    descriptions = {c["command"]: c["description"] for c in fake.commands[(admin_scope, "")]}
    assert descriptions["setquota"] == T.t("en", "menu.setquota")
    portuguese = {c["command"]: c["description"] for c in fake.commands[(admin_scope, "pt")]}
    assert portuguese["setquota"] == T.t("pt_BR", "menu.setquota")
    # Every group's admins see the group-admin commands there; members do not.
    group_admins = json.dumps({"type": "all_chat_administrators"}, sort_keys=True)
    listed = [c["command"] for c in fake.commands[(group_admins, "")]]
    assert listed == [*COMMANDS, "bot", "groupquota", "groupusage"]
    assert "groupquota" not in [c["command"] for c in fake.commands_for()]


# --- /setquota ----------------------------------------------------------------------------


async def test_setquota_by_id_daily_then_monthly_then_back_to_default(
    fake: FakeTelegram, admin_bot: Running
) -> None:
    await introduce(fake, ANN)
    assert await ask(fake, ADMIN, "setquota", f"{ANN.id} 60") == (
        f"Daily limit for Ann (id {ANN.id}): 60 s."
    )
    assert await daily_limit(admin_bot, ANN) == 60
    assert await ask(fake, ADMIN, "setquota", f"{ANN.id} 900 MONTHLY") == (
        f"Monthly limit for Ann (id {ANN.id}): 900 s."
    )
    allowances = await admin_bot.services.quotas.allowances(ANN.id, ANN.id, "private")
    assert {(a.period, a.limit) for a in allowances} == {(Period.DAY, 60), (Period.MONTH, 900)}
    assert await ask(fake, ADMIN, "setquota", f"{ANN.id} default daily") == (
        f"Daily limit for Ann (id {ANN.id}) is back to the default: 120 s."
    )
    assert await daily_limit(admin_bot, ANN) == 120
    assert await ask(fake, ADMIN, "setquota", f"{ANN.id} default monthly") == (
        f"Monthly limit for Ann (id {ANN.id}) is back to the default: no limit."
    )


async def test_setquota_zero_refuses_the_users_next_job(
    fake: FakeTelegram, admin_bot: Running
) -> None:
    await ask(fake, ADMIN, "setquota", f"{BOB.id} 0")
    voice = Probe(duration=3.0, has_video=False)
    with pytest.raises(QuotaExceeded) as refused:
        await admin_bot.services.states.create(
            NewJob(
                chat_id=BOB.id,
                user_id=BOB.id,
                chat_type="private",
                locale="en",
                provider="preview",
                order=photo_order(
                    "face.jpg",
                    "voice.ogg",
                    face_probe=Probe(
                        duration=None, width=64, height=64, has_video=True, is_image=True
                    ),
                    voice_probe=voice,
                    ratio="9:16",
                ),
            ),
        )
    assert refused.value.allowance.limit == 0
    assert refused.value.needed == 3


async def test_setquota_by_username_is_case_insensitive(
    fake: FakeTelegram, admin_bot: Running
) -> None:
    await introduce(fake, ANN)
    assert await ask(fake, ADMIN, "setquota", "@ann_USER 45") == (
        f"Daily limit for Ann (id {ANN.id}): 45 s."
    )
    assert await daily_limit(admin_bot, ANN) == 45


async def test_an_unknown_username_is_explained(fake: FakeTelegram, admin_bot: Running) -> None:
    for name in ("@nobody_here", "@ann_user%", "@ａnn"):  # unseen; a wildcard; a look-alike
        answer = await ask(fake, ADMIN, "setquota", f"{name} 45")
        assert answer == T.t("en", "botadmin.unknown_username", username=name)
        assert "write to me" in answer or "written to me" in answer


async def test_an_id_never_seen_is_set_and_said_so(fake: FakeTelegram, admin_bot: Running) -> None:
    assert await ask(fake, ADMIN, "setquota", "777 10") == (
        "Daily limit for id 777 (has not written to me yet): 10 s."
    )
    allowances = await admin_bot.services.quotas.allowances(777, 777, "private")
    assert [a.limit for a in allowances] == [10]


@pytest.mark.parametrize(
    "args",
    [
        "",
        f"{ANN.id}",
        f"{ANN.id} 1e9",
        f"{ANN.id} -5",
        f"{ANN.id} ٣",  # an Arabic-Indic three: a digit to str.isdigit, not to us
        f"{ANN.id} +7",
        f"{ANN.id} 60 weekly",
        f"{ANN.id} 60 daily extra",
        f"{ANN.id} 6.5",
        "٢٠٠٢ 60",
        "-100123 60",
        "0 60",
        "ann 60",
        "12345678901234567 60",
    ],
)
async def test_setquota_wrong_arguments_get_the_usage_line(
    fake: FakeTelegram, admin_bot: Running, args: str
) -> None:
    assert await ask(fake, ADMIN, "setquota", args) == USAGE["setquota"]
    assert await daily_limit(admin_bot, ANN) == 120


@pytest.mark.parametrize("value", ["10000001", "99999999999999999999", "9" * 3000])
async def test_setquota_huge_values_get_the_limit(
    fake: FakeTelegram, admin_bot: Running, value: str
) -> None:
    answer = await ask(fake, ADMIN, "setquota", f"{ANN.id} {value}")
    assert answer == "That is more than I accept: at most 10000000 seconds."


async def test_setquota_at_the_cap_and_zero_padded(fake: FakeTelegram, admin_bot: Running) -> None:
    await ask(fake, ADMIN, "setquota", f"{ANN.id} 10000000")
    assert await daily_limit(admin_bot, ANN) == 10_000_000
    await ask(fake, ADMIN, "setquota", f"{ANN.id} 0000000000030")
    assert await daily_limit(admin_bot, ANN) == 30


async def test_setquota_as_a_reply_targets_the_author(
    fake: FakeTelegram, admin_bot: Running
) -> None:
    group = fake.group()
    said = fake.send_text(ANN, "make me a video please", chat=group)["message"]
    answer = await ask_in_group(fake, ADMIN, "setquota", "30 daily", group, said)
    assert answer == f"Daily limit for Ann (id {ANN.id}): 30 s."
    assert await daily_limit(admin_bot, ANN) == 30
    # As a reply, the first argument is the seconds: a user there is wrong arguments.
    answer = await ask_in_group(fake, ADMIN, "setquota", f"{BOB.id} 30", group, said)
    assert answer == USAGE["setquota"]


async def test_a_reply_to_the_bot_is_not_a_target(fake: FakeTelegram, admin_bot: Running) -> None:
    mark = fake.mark()
    fake.send_command(ADMIN, "help")
    bots = (await fake.wait_for("sendMessage", to_chat(ADMIN.id), since=mark))[0].result
    assert await ask(fake, ADMIN, "setquota", "30", reply_to=bots) == USAGE["setquota"]
    answer = await ask(fake, ADMIN, "setquota", f"{ANN.id} 30", reply_to=bots)
    assert answer.startswith("Daily limit for ")


async def test_replies_are_localized(fake: FakeTelegram, admin_bot: Running) -> None:
    ada_pt = User(ADMIN.id, "Ada", language_code="pt-br", username="ada_admin")
    pt = Translator.load()
    assert await ask(fake, ada_pt, "setquota", "1e9") == pt.t("pt_BR", "botadmin.setquota_usage")
    assert await ask(fake, ada_pt, "setquota", f"{BOB.id} 50") == (
        f"Limite diário de id {BOB.id} (ainda não me escreveu): 50 s."
    )


# --- /grant -------------------------------------------------------------------------------


async def test_grant_adds_to_today_and_shows_whats_left(
    fake: FakeTelegram, admin_bot: Running
) -> None:
    await introduce(fake, ANN)
    assert await ask(fake, ADMIN, "grant", "@ann_user 30") == (
        f"Granted 30 s to Ann (id {ANN.id}) for today. Left today: 150 s."
    )
    assert await ask(fake, ADMIN, "grant", f"{ANN.id} 5") == (
        f"Granted 5 s to Ann (id {ANN.id}) for today. Left today: 155 s."
    )
    allowances = await admin_bot.services.quotas.allowances(ANN.id, ANN.id, "private")
    assert [a.left for a in allowances] == [155]
    # Far over a new, lower limit: the grant is not lost, and the answer says why 0 s is left.
    await admin_bot.services.quotas.grant(ANN.id, -35 - 43, by=0)  # stands for 78 s used
    await ask(fake, ADMIN, "setquota", f"{ANN.id} 30")
    assert await ask(fake, ADMIN, "grant", f"{ANN.id} 10") == (
        f"Granted 10 s to Ann (id {ANN.id}) for today. Left today: 0 s "
        "(33 s used today after grants, against a daily limit of 30 s)."
    )


async def test_grant_to_an_admin_without_a_limit_says_so(
    fake: FakeTelegram, admin_bot: Running
) -> None:
    assert await ask(fake, ADMIN, "grant", f"{ADMIN.id} 10") == (
        f"Granted 10 s to Ada (id {ADMIN.id}) for today (no daily limit applies to them)."
    )


@pytest.mark.parametrize(
    "args", ["", f"{ANN.id}", f"{ANN.id} 0", f"{ANN.id} -30", f"{ANN.id} 1e3", f"{ANN.id} 5 5"]
)
async def test_grant_wrong_arguments_get_the_usage_line(
    fake: FakeTelegram, admin_bot: Running, args: str
) -> None:
    assert await ask(fake, ADMIN, "grant", args) == USAGE["grant"]
    allowances = await admin_bot.services.quotas.allowances(ANN.id, ANN.id, "private")
    assert [a.left for a in allowances] == [120]


async def test_grant_huge_is_refused_with_the_limit(
    fake: FakeTelegram, admin_bot: Running
) -> None:
    answer = await ask(fake, ADMIN, "grant", f"{ANN.id} 10000001")
    assert answer == "That is more than I accept: at most 10000000 seconds."


# --- /ban and /unban ----------------------------------------------------------------------


async def test_ban_then_unban(fake: FakeTelegram, admin_bot: Running) -> None:
    await introduce(fake, ANN)
    assert await ask(fake, ADMIN, "ban", "@Ann_user") == (
        f"Banned Ann (id {ANN.id}). They get one polite refusal, then silence."
    )
    assert admin_bot.services.moderation.is_banned(ANN.id)
    assert await ask(fake, ANN, "new") == T.t("en", "gate.banned")
    assert await ask(fake, ADMIN, "ban", str(ANN.id)) == f"Ann (id {ANN.id}) was already banned."
    assert (
        await ask(fake, ADMIN, "unban", str(ANN.id)) == f"Ann (id {ANN.id}) can use the bot again."
    )
    assert not admin_bot.services.moderation.is_banned(ANN.id)
    assert await ask(fake, ANN, "help") != T.t("en", "gate.banned")
    assert await ask(fake, ADMIN, "unban", str(ANN.id)) == f"Ann (id {ANN.id}) was not banned."


async def test_ban_by_reply_and_an_id_never_seen(fake: FakeTelegram, admin_bot: Running) -> None:
    group = fake.group()
    said = fake.send_text(BOB, "spam spam", chat=group)["message"]
    answer = await ask_in_group(fake, ADMIN, "ban", "", group, said)
    assert answer == f"Banned Bob (id {BOB.id}). They get one polite refusal, then silence."
    assert await ask(fake, ADMIN, "ban", "555") == (
        "Banned id 555 (has not written to me yet). They get one polite refusal, then silence."
    )
    assert admin_bot.services.moderation.is_banned(555)


async def test_an_admin_cannot_be_banned(fake: FakeTelegram, admin_bot: Running) -> None:
    answer = await ask(fake, ADMIN, "ban", str(ADMIN.id))
    assert answer.startswith(f"Ada (id {ADMIN.id}) is one of the bot's admins (ADMIN_IDS)")
    assert not admin_bot.services.moderation.is_banned(ADMIN.id)


@pytest.mark.parametrize("command", ["ban", "unban"])
@pytest.mark.parametrize("args", ["", "1e9", "-5", "٣", f"{ANN.id} extra", "@"])
async def test_ban_wrong_arguments_get_the_usage_line(
    fake: FakeTelegram, admin_bot: Running, command: str, args: str
) -> None:
    answer = await ask(fake, ADMIN, command, args)
    if args == "@":
        assert answer == T.t("en", "botadmin.unknown_username", username="@")
    else:
        assert answer == USAGE[command]
    assert not admin_bot.services.moderation.is_banned(ANN.id)


async def test_reports_asked_in_a_group_go_to_the_admin_privately(
    fake: FakeTelegram, admin_bot: Running
) -> None:
    """Usage and credits are not for the group's members to read."""
    group = fake.group()
    fake.chat_for(ADMIN)
    mark = fake.mark()
    fake.send_command(ADMIN, "stats", chat=group)
    note = await fake.wait_for("sendMessage", to_chat(group["id"]), since=mark)
    assert note[0].params["text"] == T.t("en", "botadmin.sent_privately")
    private = await fake.wait_for("sendMessage", to_chat(ADMIN.id), since=mark)
    assert "credits" in str(private[0].params["text"])
    # An admin who never opened a private chat with the bot is told how to.
    fake.blocked_chats.add(ADMIN.id)
    mark = fake.mark()
    fake.send_command(ADMIN, "usage", chat=group)
    note = await fake.wait_for("sendMessage", to_chat(group["id"]), since=mark)
    assert "Open a chat with @" in str(note[0].params["text"])


async def test_help_tells_admins_their_commands_and_nobody_else(
    fake: FakeTelegram, admin_bot: Running
) -> None:
    assert "/setquota <user>" in await ask(fake, ADMIN, "help")
    assert "/setquota" not in await ask(fake, ANN, "help")
    group = fake.group()
    assert "/groupquota <seconds>" in await ask(fake, ANN, "help", chat=group)
