"""Cancel, restarts, webhook mode, Telegram flood control, groups, /jobs and [Again]."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.models import JobStatus, Step
from bot.web import SECRET_HEADER
from tests.conftest import Harness, Media, to_chat
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import at_voice_step, button, edited, said

ANN = User(111, "Ann", language_code="en")
BOB = User(222, "Bob", language_code="en")


async def _to_confirm(fake: FakeTelegram, media: Media, user: User = ANN, chat=None) -> dict:
    """Go through face, voice and 9:16; returns the confirm message."""
    kwargs = {"chat": chat} if chat is not None else {}
    mark = fake.mark()
    fake.send_command(user, "/new", **kwargs)
    prompt = await said(fake, chat["id"] if chat else user.id, "Send a photo", mark)
    reply = {"reply_to": prompt.result} if chat else {}
    mark = fake.mark()
    fake.send_photo(user, media.photo.read_bytes(), **kwargs, **reply)
    prompt = await said(fake, chat["id"] if chat else user.id, "Now the voice", mark)
    reply = {"reply_to": prompt.result} if chat else {}
    mark = fake.mark()
    fake.send_voice(user, media.voice.read_bytes(), duration=3, **kwargs, **reply)
    ratios = await said(fake, chat["id"] if chat else user.id, "Pick the shape", mark)
    mark = fake.mark()
    fake.press(user, ratios.result, button(fake, ratios.result, "9:16"))
    return (await edited(fake, chat["id"] if chat else user.id, "Ready", mark)).result


async def test_cancel_ends_the_conversation(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        await at_voice_step(fake, media, ANN)
        mark = fake.mark()
        fake.send_command(ANN, "/cancel")
        await said(fake, ANN.id, "Canceled", mark)
        assert await bot.services.drafts.get(ANN.id, ANN.id) is None
        mark = fake.mark()
        fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
        await said(fake, ANN.id, "Send /new", mark)
        mark = fake.mark()
        fake.send_command(ANN, "/cancel")
        await said(fake, ANN.id, "nothing to cancel", mark)


async def test_cancel_button_on_confirm(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        confirm = await _to_confirm(fake, media)
        mark = fake.mark()
        fake.press(ANN, confirm, button(fake, confirm, "Cancel"))
        await edited(fake, ANN.id, "Canceled", mark)
        assert await bot.services.drafts.get(ANN.id, ANN.id) is None
        assert await bot.services.jobs.recent(ANN.id) == []


async def test_restart_mid_conversation_keeps_what_was_sent(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot():
        await at_voice_step(fake, media, ANN)
    async with harness.bot():
        mark = fake.mark()
        fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
        await said(fake, ANN.id, "Pick the shape", mark)


async def test_restart_during_a_file_check_resumes_it(harness: Harness, media: Media) -> None:
    fake = harness.fake
    fake.download_rate = 20_000  # the photo takes a couple of seconds to download
    async with harness.bot() as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        fake.send_photo(ANN, media.photo.read_bytes())
        await fake.wait_for("getFile", since=mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.step is Step.MEDIA_CHECK
    fake.download_rate = None
    async with harness.bot():
        mark = fake.mark()
        await said(fake, ANN.id, "Now the voice", 0)


async def test_restart_mid_job_delivers_exactly_once(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        confirm = await _to_confirm(fake, media)
        fake.press(ANN, confirm, button(fake, confirm, "Generate"))
        for _ in range(500):
            jobs = await bot.services.jobs.recent(ANN.id)
            if jobs and jobs[0].status is JobStatus.RUNNING:
                break
            await asyncio.sleep(0.01)
        assert jobs[0].status is JobStatus.RUNNING
    assert not fake.sent(method="sendVideo")
    async with harness.bot() as bot:
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=60)
        await bot.services.tasks.wait_idle()
        jobs = await bot.services.jobs.recent(ANN.id)
        assert [job.status for job in jobs] == [JobStatus.DELIVERED]
    async with harness.bot() as bot:  # a further restart finds nothing left to do
        await bot.services.tasks.wait_idle()
    assert len(fake.sent(method="sendVideo")) == 1


async def test_double_tap_on_generate_makes_one_job(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        confirm = await _to_confirm(fake, media)
        data = button(fake, confirm, "Generate")
        fake.press(ANN, confirm, data)
        fake.press(ANN, confirm, data)
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=60)
        await bot.services.tasks.wait_idle()
        assert len(await bot.services.jobs.recent(ANN.id)) == 1
        assert len(fake.sent(method="sendVideo")) == 1


async def test_webhook_mode_checks_the_secret(harness: Harness) -> None:
    fake = harness.fake
    port = harness.settings().http_port
    env = {
        "TELEGRAM_MODE": "webhook",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HTTP_PORT": str(port),
        "TELEGRAM_WEBHOOK_SECRET": "s3cret-Token_1",
    }
    async with harness.bot(**env):
        assert fake.webhook_url == f"http://127.0.0.1:{port}/telegram"
        assert fake.webhook_secret == "s3cret-Token_1"
        mark = fake.mark()
        fake.send_command(ANN, "/start")  # the fake posts it to the webhook with the secret
        await said(fake, ANN.id, "Hi Ann", mark)
        update = {
            "update_id": 99,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "/start",
                "chat": {"id": BOB.id, "type": "private"},
                "from": BOB.as_dict(),
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        assert await fake.post_webhook_raw(update, None) == 403
        assert await fake.post_webhook_raw(update, "wrong") == 403
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
            bad = await client.post(
                f"http://127.0.0.1:{port}/telegram",
                content=b"{not json",
                headers={SECRET_HEADER: "s3cret-Token_1"},
            )
        assert health.json() == {"ok": True}
        assert bad.status_code == 400
        await fake.drain_webhooks()
        assert not fake.sent(chat_id=BOB.id, method="sendMessage")


async def test_flood_control_429_is_retried(fake: FakeTelegram, bot) -> None:
    fake.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    mark = fake.mark()
    fake.send_command(ANN, "/start")
    await said(fake, ANN.id, "Hi Ann", mark)
    attempts = fake.sent(chat_id=ANN.id, method="sendMessage")
    assert [call.status for call in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0


async def test_group_members_have_their_own_conversations(
    fake: FakeTelegram, bot, media: Media
) -> None:
    group = fake.group()
    confirm = await _to_confirm(fake, media, ANN, chat=group)
    # Prompts in groups are replies that force a reply (privacy mode).
    prompts = [c for c in fake.sent(chat_id=group["id"], method="sendMessage")]
    assert prompts[0].params["reply_markup"]["force_reply"] is True
    assert prompts[0].params["reply_markup"]["selective"] is True
    mark = fake.mark()
    fake.press(BOB, confirm, button(fake, confirm, "Generate"))
    answer = (await fake.wait_for("answerCallbackQuery", since=mark))[0]
    assert "belongs to someone else" in answer.params["text"]
    assert await bot.services.jobs.recent(ANN.id) == []
    mark = fake.mark()
    fake.press(ANN, confirm, button(fake, confirm, "Generate"))
    await fake.wait_for("sendVideo", to_chat(group["id"]), since=mark, timeout=60)


async def test_caption_shortcut_in_a_group(fake: FakeTelegram, bot, media: Media) -> None:
    group = fake.group()
    mark = fake.mark()
    fake.send_photo(ANN, media.photo.read_bytes(), chat=group, caption="/lipsync@lipsync_test_bot")
    await said(fake, group["id"], "Now the voice", mark)


async def test_jobs_lists_and_resends(fake: FakeTelegram, bot, media: Media) -> None:
    confirm = await _to_confirm(fake, media)
    fake.press(ANN, confirm, button(fake, confirm, "Generate"))
    first = (await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=60))[0]
    await bot.services.tasks.wait_idle()
    mark = fake.mark()
    fake.send_command(ANN, "/jobs")
    listing = await said(fake, ANN.id, "Your recent videos", mark)
    assert "delivered" in listing.params["text"]
    mark = fake.mark()
    fake.press(ANN, listing.result, fake.buttons(listing.result)[0][1])
    again = (await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark))[0]
    assert again.params["video"] == first.result["video"]["file_id"]
    assert not again.files  # re-sent by file_id, no upload


async def test_again_keeps_the_face(fake: FakeTelegram, bot, media: Media) -> None:
    confirm = await _to_confirm(fake, media)
    fake.press(ANN, confirm, button(fake, confirm, "Generate"))
    video = (await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=60))[0]
    mark = fake.mark()
    fake.press(ANN, video.result, button(fake, video.result, "Again"))
    await said(fake, ANN.id, "Now the voice", mark)
    mark = fake.mark()
    fake.press(BOB, video.result, button(fake, video.result, "Again"))
    answer = (await fake.wait_for("answerCallbackQuery", since=mark))[0]
    assert "someone else" in answer.params["text"]


async def test_blocked_user_is_not_retried(fake: FakeTelegram, bot, media: Media) -> None:
    confirm = await _to_confirm(fake, media)
    fake.blocked_chats.add(ANN.id)
    fake.press(ANN, confirm, button(fake, confirm, "Generate"))
    refused = await fake.wait_for("sendVideo", lambda call: call.status == 403, timeout=60)
    await bot.services.tasks.wait_idle()
    assert len(refused) == len(fake.sent(method="sendVideo")) == 1
    jobs = await bot.services.jobs.recent(ANN.id)
    assert [job.status for job in jobs] == [JobStatus.FAILED]
    assert await bot.services.users.is_blocked(ANN.id)


async def test_a_failed_generate_keeps_the_draft(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        confirm = await _to_confirm(fake, media)

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(bot.services.jobs, "create", broken)
        mark = fake.mark()
        fake.press(ANN, confirm, button(fake, confirm, "Generate"))
        await said(fake, ANN.id, "something went wrong on my side", mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.step is Step.CONFIRM
        assert draft.voice is not None
