"""What the bot says around the conversation: unknown commands, /start and /help in groups,
reply placeholders, and /jobs in groups."""

from __future__ import annotations

import tomllib

import pytest

from bot.app import Running
from bot.i18n import LOCALES_DIR, Translator, flatten
from bot.models import Step
from tests.conftest import Media, to_chat
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import button, said

ANN = User(111, "Ann", language_code="en")
BOB = User(222, "Bob", language_code="en")
BIA = User(333, "Bia", language_code="pt-br")
BOT = "lipsync_test_bot"
#: Telegram's limit for ForceReply.input_field_placeholder.
PLACEHOLDER_MAX = 64


# --- unknown commands ---------------------------------------------------------------------


async def test_unknown_command_in_private_gets_a_hint(fake: FakeTelegram, bot: Running) -> None:
    mark = fake.mark()
    fake.send_text(ANN, "/foo")
    hint = await said(fake, ANN.id, "/new", mark)
    assert "/help" in hint.params["text"]


async def test_unknown_command_hint_is_localized(fake: FakeTelegram, bot: Running) -> None:
    mark = fake.mark()
    fake.send_text(BIA, "/foo")
    hint = await said(fake, BIA.id, "/new", mark)
    assert hint.params["text"] == Translator.load().t("pt_BR", "hint.unknown_command")


async def test_unknown_command_in_a_group_only_when_addressed_to_us(
    fake: FakeTelegram, bot: Running
) -> None:
    group = fake.group()
    mark = fake.mark()
    fake.send_text(ANN, "/foo", chat=group)  # may be for another bot: stay quiet
    fake.send_text(ANN, f"/foo@{BOT}", chat=group)
    hint = await said(fake, group["id"], "/new", mark)
    # Updates of one chat are handled in order: the plain /foo was seen and ignored.
    assert len(fake.sent(chat_id=group["id"], method="sendMessage")) == 1
    assert hint.params["reply_parameters"]["message_id"] > 0


async def test_unknown_command_replying_to_the_bot_in_a_group(
    fake: FakeTelegram, bot: Running
) -> None:
    group = fake.group()
    mark = fake.mark()
    fake.send_command(ANN, "/new", chat=group)
    prompt = await said(fake, group["id"], "Send a photo", mark)
    mark = fake.mark()
    fake.send_text(ANN, "/foo", chat=group, reply_to=prompt.result)
    await said(fake, group["id"], "/help", mark)


async def test_a_known_command_for_another_bot_is_ignored(
    fake: FakeTelegram, bot: Running
) -> None:
    group = fake.group()
    fake.privacy_mode = False  # let the other bot's command reach us too
    mark = fake.mark()
    fake.send_text(ANN, "/jobs@other_bot", chat=group)
    fake.send_text(ANN, f"/foo@{BOT}", chat=group)
    await said(fake, group["id"], "/new", mark)
    assert len(fake.sent(chat_id=group["id"], method="sendMessage")) == 1


# --- /start and /help ---------------------------------------------------------------------


async def test_start_in_a_group_explains_replying_to_the_prompt(
    fake: FakeTelegram, bot: Running
) -> None:
    group = fake.group()
    t = Translator.load()
    mark = fake.mark()
    fake.send_command(ANN, "/start", chat=group)
    greeting = await said(fake, group["id"], "Hi Ann", mark)
    assert t.t("en", "hint.groups") in greeting.params["text"]
    mark = fake.mark()
    fake.send_command(ANN, "/start")
    private = await said(fake, ANN.id, "Hi Ann", mark)
    assert t.t("en", "hint.groups") not in private.params["text"]


async def test_help_mentions_the_shortcuts_and_groups(fake: FakeTelegram, bot: Running) -> None:
    group = fake.group()
    t = Translator.load()
    mark = fake.mark()
    fake.send_command(ANN, "/help")
    private = await said(fake, ANN.id, "How it works", mark)
    assert "/lipsync" in private.params["text"]
    assert t.t("en", "hint.groups") not in private.params["text"]
    mark = fake.mark()
    fake.send_command(ANN, "/help", chat=group)
    in_group = await said(fake, group["id"], "How it works", mark)
    assert t.t("en", "hint.groups") in in_group.params["text"]
    assert "reply" in t.t("en", "hint.groups")


# --- ForceReply placeholders --------------------------------------------------------------


def _catalogs() -> dict[str, dict[str, str]]:
    return {
        path.stem: flatten(tomllib.loads(path.read_text("utf-8")))
        for path in LOCALES_DIR.glob("*.toml")
    }


@pytest.mark.parametrize("locale", ["en", "pt_BR"])
def test_every_step_has_a_placeholder_that_fits(locale: str) -> None:
    catalog = _catalogs()[locale]
    for step in Step:
        assert f"placeholder.{step}" in catalog, f"{locale}: no placeholder for {step}"
    for key, text in catalog.items():
        if key.startswith("placeholder."):
            assert 0 < len(text) <= PLACEHOLDER_MAX, f"{locale}:{key} is {len(text)} chars"


async def test_group_prompts_use_the_step_placeholder(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    group = fake.group()
    t = Translator.load()
    mark = fake.mark()
    fake.send_command(BIA, "/new", chat=group)
    prompt = await said(fake, group["id"], "rosto", mark)
    markup = prompt.params["reply_markup"]
    assert markup["input_field_placeholder"] == t.t("pt_BR", "placeholder.media")
    mark = fake.mark()
    fake.send_photo(BIA, media.photo.read_bytes(), chat=group, reply_to=prompt.result)
    prompt = await said(fake, group["id"], "Agora a voz", mark)
    markup = prompt.params["reply_markup"]
    assert markup["input_field_placeholder"] == t.t("pt_BR", "placeholder.voice")


# --- /jobs in groups ----------------------------------------------------------------------


async def test_jobs_in_a_group_goes_to_private(
    fake: FakeTelegram, bot: Running, media: Media
) -> None:
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    fake.send_photo(ANN, media.photo.read_bytes())
    await said(fake, ANN.id, "Now the voice", mark)
    mark = fake.mark()
    fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
    ratios = await said(fake, ANN.id, "Pick the shape", mark)
    mark = fake.mark()
    fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
    confirm = (await fake.wait_for("editMessageText", to_chat(ANN.id, "Ready"), since=mark))[0]
    fake.press(ANN, confirm.result, button(fake, confirm.result, "Generate"))
    await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=60)
    await bot.services.tasks.wait_idle()

    group = fake.group()
    mark = fake.mark()
    fake.send_command(ANN, "/jobs", chat=group)
    listing = await said(fake, ANN.id, "Your recent videos", mark)
    assert "UTC" in listing.params["text"]
    note = await said(fake, group["id"], "private", mark)
    assert "#" not in note.params["text"]  # no job of Ann's is shown to the group
    assert not [
        call
        for call in fake.sent(chat_id=group["id"], method="sendMessage")
        if "recent videos" in call.params["text"]
    ]


async def test_jobs_in_a_group_without_a_private_chat(fake: FakeTelegram, bot: Running) -> None:
    group = fake.group()
    mark = fake.mark()
    fake.send_command(BOB, "/jobs", chat=group)
    refused = await fake.wait_for("sendMessage", lambda c: c.status == 403, since=mark)
    assert refused[0].params["chat_id"] == BOB.id
    note = await said(fake, group["id"], f"@{BOT}", mark)
    assert "/jobs" in note.params["text"]


async def test_jobs_times_say_utc(fake: FakeTelegram, bot: Running) -> None:
    t = Translator.load()
    for locale in ("en", "pt_BR"):
        line = t.t(
            locale,
            "jobs.line",
            job_id=1,
            date="2025-01-02 03:04",
            ratio="1:1",
            provider="x",
            status="y",
        )
        assert "UTC" in line


# --- Portuguese ---------------------------------------------------------------------------

#: Literal calques a Brazilian reader trips over, and what replaced them.
CALQUES = {
    "sob a imagem": "puts your voice *under* the picture; say junta a sua voz à imagem",
    "em silêncio": "a recording is sem som, not em silêncio",
    "/cancel para,": "reads as '/cancel for'; say /cancel para parar",
    "trabalho": "a job is a pedido here, not a trabalho",
    "Saúde": "provider health is its status",
}


def test_portuguese_has_no_calques() -> None:
    catalog = _catalogs()["pt_BR"]
    for key, text in catalog.items():
        for calque, why in CALQUES.items():
            assert calque not in text, f"pt_BR:{key}: {why}"
    assert "junta a sua voz à imagem" in catalog["note.preview"]
    assert "/cancel para parar" in catalog["help.text"]
