"""The fake Telegram server, driven by the real PTB 22.8 client.

Why: every bot test trusts the fake, so the fake itself must answer PTB the way Telegram does,
including the exceptions PTB derives from error answers (telegram.md section 1.10).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from io import BytesIO
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes

from tests.fakes.telegram import FakeTelegram, User, running, serve_asgi

TOKEN = "123:ABC"
ANN = User(111, "Ann", username="ann")
BOB = User(222, "Bob")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    fk = FakeTelegram(TOKEN)
    try:
        yield fk
    finally:
        await fk.aclose()


@pytest.fixture
async def base(fake: FakeTelegram) -> AsyncIterator[str]:
    async with running(fake) as url:
        yield url


@pytest.fixture
async def bot(base: str) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot") as b:
        yield b


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.upper(), callback_data=d) for d in data]])


async def test_get_me(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (999000, "lipsync_test_bot", True)
    assert fake.sent(method="getMe")[0].status == 200


async def test_send_edit_and_not_modified(bot: Bot, fake: FakeTelegram) -> None:
    chat = fake.chat_for(ANN)["id"]
    sent = await bot.send_message(chat, "Pick a ratio", reply_markup=keyboard("a", "b"))
    assert sent.message_id >= 1000
    assert sent.text == "Pick a ratio"
    assert fake.buttons(fake.message(chat, sent.message_id)) == [("A", "a"), ("B", "b")]
    call = fake.sent(chat, "sendMessage")[0]
    assert call.params["chat_id"] == chat
    assert call.params["reply_markup"]["inline_keyboard"]

    edited = await bot.edit_message_text("Ratio 9:16", chat, sent.message_id)
    assert isinstance(edited, type(sent))
    assert edited.edit_date is not None
    stored = fake.message(chat, sent.message_id)
    assert stored["text"] == "Ratio 9:16"
    assert "reply_markup" not in stored
    assert fake.last_text(chat) == "Ratio 9:16"

    with pytest.raises(BadRequest) as info:
        await bot.edit_message_text("Ratio 9:16", chat, sent.message_id)
    assert str(info.value).startswith("Message is not modified")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat, 1)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(chat, " ")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(chat, "x" * 4097)
    assert await bot.delete_message(chat, sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(chat, sent.message_id)


async def test_html_parse_mode_like_telegram(bot: Bot, fake: FakeTelegram) -> None:
    chat = fake.chat_for(ANN)["id"]
    msg = await bot.send_message(chat, "<b>Done</b> &amp; ready", parse_mode="HTML")
    assert msg.text == "Done & ready"
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [("bold", 0, 4)]
    with pytest.raises(BadRequest, match=r"Can.t parse entities: unsupported start tag"):
        await bot.send_message(chat, "1 < 2 <video>", parse_mode="HTML")


@pytest.fixture
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22.8 reads ``retry_after`` inside ``RetryAfter.__init__``; without PTB_TIMEDELTA=1 that
    emits PTBDeprecationWarning, which filterwarnings=error turns into the raised exception."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.mark.usefixtures("timedelta_periods")
async def test_injected_flood_error_is_retry_after(bot: Bot, fake: FakeTelegram) -> None:
    chat = fake.chat_for(ANN)["id"]
    fake.fail("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(chat, "hi")
    assert str(info.value) == "Flood control exceeded. Retry in 0:00:07"
    assert info.value.retry_after == dt.timedelta(seconds=7)
    assert (await bot.send_message(chat, "hi")).text == "hi"
    assert [c.status for c in fake.sent(chat, "sendMessage")] == [429, 200]


@pytest.mark.usefixtures("timedelta_periods")
async def test_flood_limit_and_migration(bot: Bot, fake: FakeTelegram) -> None:
    chat = fake.chat_for(ANN)["id"]
    fake.chat_flood_limit = (2, 60.0)
    await bot.send_message(chat, "1")
    await bot.send_message(chat, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(chat, "3")
    fake.fail(
        "sendMessage",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=-100999,
    )
    with pytest.raises(Exception, match="Group migrated to supergroup") as info:
        await bot.send_message(fake.group()["id"], "x")
    assert type(info.value).__name__ == "ChatMigrated"


async def test_blocked_and_unknown_chats(bot: Bot, fake: FakeTelegram) -> None:
    chat = fake.chat_for(ANN)["id"]
    update = fake.block(ANN)
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(Forbidden, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(chat, "hi")
    with pytest.raises(Forbidden, match="bot can't initiate conversation"):
        await bot.send_message(BOB.id, "hi")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(-100555, "hi")


async def test_get_file_and_download(bot: Bot, fake: FakeTelegram) -> None:
    content = b"\xff\xd8jpeg bytes" * 100
    update = fake.send_photo(ANN, content, caption="my face")
    photo = Update.de_json(update, bot).message.photo  # type: ignore[union-attr]
    assert [p.width for p in photo] == [90, 320, 1080]
    tg_file = await bot.get_file(photo[-1].file_id)
    assert tg_file.file_size == len(content)
    assert tg_file.file_path is not None
    assert tg_file.file_path.endswith(".jpg")
    assert bytes(await tg_file.download_as_bytearray()) == content
    out = BytesIO()
    await tg_file.download_to_memory(out)
    assert out.getvalue() == content
    assert fake.downloads == [tg_file.file_path.split("/file/bot123:ABC/")[-1]] * 2
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")


async def test_big_file_cannot_be_fetched(bot: Bot, fake: FakeTelegram) -> None:
    update = fake.send_video(
        ANN, b"tiny", duration=9, width=720, height=1280, file_size=30_000_000
    )
    assert update["message"]["video"]["file_size"] == 30_000_000
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(update["message"]["video"]["file_id"])
    big = fake.add_file_of_size(25_000_000, kind="documents", ext="mp4")
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(big.file_id)


async def test_throttled_download_does_not_block_others(bot: Bot, fake: FakeTelegram) -> None:
    stored = fake.add_file_of_size(200_000, kind="videos", ext="mp4")
    fake.download_rate = 400_000
    tg_file = await bot.get_file(stored.file_id)
    started = time.monotonic()
    download = asyncio.create_task(tg_file.download_as_bytearray())
    await asyncio.sleep(0.1)
    me_started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - me_started < 0.1  # the slow download holds no lock
    data = await download
    assert len(data) == 200_000
    assert set(data) == {0}
    assert time.monotonic() - started >= 0.45


async def test_polling_application_round_trip(base: str, fake: FakeTelegram) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"args={context.args}")

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("lipsync", echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        group = fake.group()
        since = fake.mark()
        update = fake.send_command(ANN, "lipsync", "9:16", chat=group)
        [call] = await fake.wait_for("sendMessage", since=since, timeout=5)
        assert call.params["chat_id"] == group["id"]
        assert call.params["reply_parameters"]["message_id"] == update["message"]["message_id"]
        assert fake.last_text(group["id"]) == "args=['9:16']"
        stopping = time.monotonic()
        await app.updater.stop()
        await app.stop()
        assert time.monotonic() - stopping < 1.5


async def test_send_video_upload_and_resend(bot: Bot, fake: FakeTelegram) -> None:
    chat = fake.chat_for(ANN)["id"]
    payload = b"\x00\x00\x00\x18ftypmp42" + bytes(5000)
    msg = await bot.send_video(
        chat,
        payload,
        filename="lipsync_1.mp4",
        width=720,
        height=1280,
        caption="done",
        supports_streaming=True,
    )
    assert msg.video is not None
    assert msg.caption == "done"
    assert (msg.video.width, msg.video.height, msg.video.file_size) == (720, 1280, len(payload))
    upload = fake.uploads[-1]
    assert upload.method == "sendVideo"
    assert upload.chat_id == chat
    assert upload.filename == "lipsync_1.mp4"
    assert upload.path.read_bytes() == payload
    assert upload.path.parent == fake.upload_dir
    assert fake.sent(chat, "sendVideo")[0].files["video"].size == len(payload)

    again = await bot.send_video(chat, msg.video.file_id)
    assert again.video is not None
    assert again.video.file_id == msg.video.file_id
    assert len(fake.uploads) == 1
    with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
        await bot.send_video(chat, "BAADunknown")
    doc = await bot.send_document(chat, b"%PDF-1.4", filename="r.pdf")
    assert doc.document is not None
    assert doc.document.mime_type == "application/pdf"


async def test_send_video_by_url(bot: Bot, fake: FakeTelegram) -> None:
    async def media(request: Request) -> Response:
        return Response(b"mp4" * 100, media_type="video/mp4")

    chat = fake.chat_for(ANN)["id"]
    async with serve_asgi(Router([Route("/r/{name}", media)])) as provider:
        msg = await bot.send_video(chat, f"{provider}/r/out.mp4")
        assert msg.video is not None
        assert msg.video.file_size == 300
        with pytest.raises(BadRequest, match="Failed to get http url content"):
            await bot.send_video(chat, f"{provider}/missing")
    assert fake.uploads[-1].path.read_bytes() == b"mp4" * 100


async def test_too_large_upload_is_413(bot: Bot, fake: FakeTelegram) -> None:
    chat = fake.chat_for(ANN)["id"]
    fake.upload_limit = 1000
    with pytest.raises(NetworkError, match="Request Entity Too Large") as info:
        await bot.send_video(chat, bytes(2000), filename="big.mp4")
    assert not isinstance(info.value, BadRequest)
    assert fake.sent(chat, "sendVideo")[0].status == 413
    assert fake.uploads == []


async def test_get_updates_long_poll(bot: Bot, fake: FakeTelegram) -> None:
    fake.send_command(ANN, "start")
    prompt = await bot.send_message(ANN.id, "Send a photo", reply_markup=keyboard("go"))
    updates = await bot.get_updates(timeout=1)
    assert updates[0].message is not None
    assert updates[0].message.text == "/start"
    assert updates[0].message.entities[0].type == "bot_command"

    poll = asyncio.create_task(bot.get_updates(offset=updates[-1].update_id + 1, timeout=2))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    fake.press(ANN, fake.message(ANN.id, prompt.message_id), "go")
    got = await poll
    assert time.monotonic() - started < 1.0  # woke on push, not at the 2 s timeout
    query = got[0].callback_query
    assert query is not None
    assert query.data == "go"
    assert await bot.answer_callback_query(query.id, text="ok")
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)
    assert await bot.get_updates(offset=got[-1].update_id + 1, timeout=0) == ()


async def test_user_updates_parse_without_warnings(bot: Bot, fake: FakeTelegram) -> None:
    group = fake.group()
    fake.send_text(ANN, "hello")
    fake.send_video(ANN, b"v", duration=3, width=720, height=1280, caption="/lipsync")
    fake.send_voice(ANN, b"o", duration=2)
    fake.send_audio(ANN, b"a", duration=4)
    fake.send_document(ANN, b"d", "face.png", "image/png")
    fake.send_video_note(ANN, b"n", duration=5)
    fake.send_sticker(ANN)
    cmd = fake.send_command(BOB, "lipsync", "now", chat=group)
    withheld = fake.send_text(BOB, "just chatting", chat=group)
    prompt = await bot.send_message(group["id"], "Reply with a photo")
    fake.send_photo(BOB, b"p", chat=group, reply_to=fake.message(group["id"], prompt.message_id))
    assert cmd["message"]["text"] == "/lipsync@lipsync_test_bot now"
    assert fake.withheld == [withheld]  # privacy mode
    updates = await bot.get_updates(timeout=0)
    kinds = [
        next(
            k
            for k in (
                "text",
                "video",
                "voice",
                "audio",
                "document",
                "video_note",
                "sticker",
                "photo",
            )
            if getattr(u.message, k)
        )
        for u in updates
    ]
    assert kinds == [
        "text",
        "video",
        "voice",
        "audio",
        "document",
        "video_note",
        "sticker",
        "text",
        "photo",
    ]
    assert updates[-1].message.reply_to_message.from_user.id == 999000  # type: ignore[union-attr]


async def test_conflicts(bot: Bot, fake: FakeTelegram, base: str) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=2))
    await asyncio.sleep(0.1)
    async with Bot(TOKEN, base_url=f"{base}/bot") as second:
        assert await second.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first
    with pytest.raises(InvalidToken, match="was rejected by the server"):
        async with Bot("123:WRONG", base_url=f"{base}/bot"):
            pass
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get(f"/bot{TOKEN}/GETME")).json()["result"]["id"] == 999000
        body = {"chat_id": ANN.id, "text": "[1, 2]"}
        fake.chat_for(ANN)
        assert (await client.post(f"/bot{TOKEN}/sendmessage", json=body)).json()["ok"]
        missing = await client.post(f"/bot{TOKEN}/sendDice", data={"chat_id": "1"})
        assert missing.status_code == 404
        assert missing.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }
        assert (await client.get(f"/file/bot{TOKEN}/videos/nothing.mp4")).status_code == 404
    assert fake.sent(method="sendDice")[0].status == 404
    assert fake.sent(ANN.id, "sendMessage")[0].params["text"] == "[1, 2]"


async def test_webhook_delivery_with_secret(bot: Bot, fake: FakeTelegram) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: Request) -> Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, await request.json()))
        return Response(status_code=200 if secret == "s3cret" else 403)

    async with serve_asgi(Router([Route("/telegram", hook, methods=["POST"])])) as url:
        fake.send_text(ANN, "queued before webhook")
        assert await bot.set_webhook(f"{url}/telegram", secret_token="s3cret")
        fake.send_text(ANN, "after")
        await fake.drain_webhooks()
        assert [u["message"]["text"] for _, u in received] == ["queued before webhook", "after"]
        assert {s for s, _ in received} == {"s3cret"}
        assert fake.webhook_responses == [200, 200]
        Update.de_json(received[0][1], bot)
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        info = await bot.get_webhook_info()
        assert info.url == f"{url}/telegram"
        assert info.pending_update_count == 0
        assert await fake.post_webhook_raw({"update_id": 1}, "forged") == 403
        assert await fake.post_webhook_raw({"update_id": 1}, None) == 403
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


async def test_chat_members_and_commands(bot: Bot, fake: FakeTelegram) -> None:
    group = fake.group()
    fake.chat_admins[group["id"]] = {ANN.id}
    fake.chat_owners[group["id"]] = 7
    fake.send_command(BOB, "quota", chat=group)
    assert (await bot.get_chat_member(group["id"], ANN.id)).status == "administrator"
    assert (await bot.get_chat_member(group["id"], BOB.id)).status == "member"
    assert (await bot.get_chat_member(group["id"], 12345)).status == "left"
    admins = await bot.get_chat_administrators(group["id"])
    assert [(a.user.id, a.status) for a in admins] == [(7, "creator"), (ANN.id, "administrator")]
    assert await bot.set_my_commands([("lipsync", "Make a video")])
    assert [c.command for c in await bot.get_my_commands()] == ["lipsync"]
    assert fake.commands_for() == [{"command": "lipsync", "description": "Make a video"}]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("LipSync", "bad")])
    assert await bot.send_chat_action(group["id"], "upload_video")


async def test_wait_for_and_mark(bot: Bot, fake: FakeTelegram) -> None:
    chat = fake.chat_for(ANN)["id"]
    await bot.send_message(chat, "old")
    since = fake.mark()

    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(chat, "new")

    task = asyncio.create_task(later())
    calls = await fake.wait_for("sendmessage", since=since, timeout=2)
    await task
    assert [c.result["text"] for c in calls] == ["new"]
    with pytest.raises(AssertionError, match=r"sendMessage .*'text': 'new'"):
        await fake.wait_for("sendMessage", count=3, timeout=0.1)
