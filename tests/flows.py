"""Steps of a conversation as a Telegram user takes them, for end-to-end tests."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.app import Running
from bot.models import Job, JobStatus
from tests.conftest import Media, to_chat
from tests.fakes.telegram import Call, FakeTelegram, User


async def said(fake: FakeTelegram, chat_id: int, contains: str, since: int) -> Call:
    """The bot's next message to ``chat_id`` containing ``contains``."""
    calls = await fake.wait_for("sendMessage", to_chat(chat_id, contains), since=since)
    return calls[0]


async def edited(fake: FakeTelegram, chat_id: int, contains: str, since: int) -> Call:
    """The bot's next edit in ``chat_id`` whose text contains ``contains``."""
    calls = await fake.wait_for("editMessageText", to_chat(chat_id, contains), since=since)
    return calls[0]


def button(fake: FakeTelegram, message: dict, label: str) -> str:
    """The callback data of the button whose label starts with ``label``."""
    return next(data for text, data in fake.buttons(message) if text.startswith(label))


async def at_voice_step(fake: FakeTelegram, media: Media, user: User) -> None:
    """/new and a photo: the conversation waits for the voice."""
    mark = fake.mark()
    fake.send_command(user, "/new")
    fake.send_photo(user, media.photo.read_bytes(), width=640, height=480)
    await said(fake, user.id, "Now the voice", mark)


async def to_ratio(
    fake: FakeTelegram, media: Media, user: User, *, video: bool = False, chat: dict | None = None
) -> Call:
    """/new, a face and a voice; returns the ratio prompt."""
    where: dict[str, Any] = {"chat": chat} if chat is not None else {}
    chat_id = chat["id"] if chat is not None else user.id
    mark = fake.mark()
    fake.send_command(user, "/new", **where)
    prompt = await said(fake, chat_id, "Send a photo", mark)
    reply: dict[str, Any] = {"reply_to": prompt.result} if chat is not None else {}
    mark = fake.mark()
    if video:
        fake.send_video(
            user, media.video.read_bytes(), duration=2, width=640, height=360, **where, **reply
        )
    else:
        fake.send_photo(user, media.photo.read_bytes(), **where, **reply)
    prompt = await said(fake, chat_id, "Now the voice", mark)
    reply = {"reply_to": prompt.result} if chat is not None else {}
    mark = fake.mark()
    fake.send_voice(user, media.voice.read_bytes(), duration=3, **where, **reply)
    return await said(fake, chat_id, "Pick the shape", mark)


async def to_confirm(
    fake: FakeTelegram,
    media: Media,
    user: User,
    *,
    provider: str | None = None,
    chat: dict | None = None,
) -> Call:
    """/new, a photo, a voice, 9:16 and, when several are enabled, the provider whose label
    starts with ``provider``; returns the summary with [Generate]."""
    chat_id = chat["id"] if chat is not None else user.id
    ratios = await to_ratio(fake, media, user, chat=chat)
    mark = fake.mark()
    fake.press(user, ratios.result, button(fake, ratios.result, "9:16"))
    if provider is not None:
        choice = await edited(fake, chat_id, "Pick who makes the video", mark)
        mark = fake.mark()
        fake.press(user, choice.result, button(fake, choice.result, provider))
    return await edited(fake, chat_id, "Ready to make your video", mark)


async def generate(
    fake: FakeTelegram,
    media: Media,
    user: User,
    *,
    provider: str | None = None,
    chat: dict | None = None,
) -> Call:
    """``to_confirm`` and [Generate]; returns the summary the button was on."""
    confirm = await to_confirm(fake, media, user, provider=provider, chat=chat)
    fake.press(user, confirm.result, button(fake, confirm.result, "Generate"))
    return confirm


async def latest_job_reaching(
    bot: Running,
    user: User,
    *statuses: JobStatus,
    timeout: float = 30.0,  # noqa: ASYNC109
) -> Job:
    """The user's latest job, once it is in one of ``statuses``."""
    async with asyncio.timeout(timeout):
        while True:
            jobs = await bot.services.jobs.recent(user.id)
            if jobs and jobs[0].status in statuses:
                return jobs[0]
            await asyncio.sleep(0.02)
