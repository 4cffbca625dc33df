"""What a person sees: drive the real bot through every everyday scenario and print each
message the bot sends (text, buttons, reply placeholder), each edit and each button answer,
in order. Read the output as a new user would.

    .venv/bin/python -m tests.transcript [en|pt_BR]

It runs offline: the fake Telegram, Magic Hour and lipsync.studio servers on 127.0.0.1, real
ffmpeg, a temporary SQLite database.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests import media as make
from tests.conftest import TOKEN, Harness, Media
from tests.fakes.magichour import FakeMagicHour
from tests.fakes.telegram import FakeTelegram, User
from tests.fakes.telegram import running as serve_telegram
from tests.test_providers_e2e import serving_remote
from tests.transcript_recorder import Transcript

os.environ.setdefault("PTB_TIMEDELTA", "1")

LANGUAGE_CODES = {"en": "en", "pt_BR": "pt-br"}
PLAYLIST = b"#EXTM3U\n#EXTINF:3,\nvoice.ogg\n#EXT-X-ENDLIST\n"


# ---------------------------------------------------------------------- scenarios


async def private_chat(t: Transcript, media: Media, mh: FakeMagicHour) -> None:
    fake, user, chat = t.fake, t.user, t.user.id

    def photo(**kw: Any) -> Callable[[], Any]:
        return lambda: fake.send_photo(user, media.photo.read_bytes(), width=640, height=480, **kw)

    def voice(path: Path, duration: int = 3) -> Callable[[], Any]:
        return lambda: fake.send_voice(user, path.read_bytes(), duration=duration)

    async def order(ratio: str, provider: str) -> None:
        """/new, a photo, a voice, ``ratio``, ``provider`` and [Generate]."""
        await t.act("/new", lambda: fake.send_command(user, "/new"))
        await t.act("a photo", photo())
        await t.act("a voice message", voice(media.voice))
        await t.press(chat, "r:", f":{ratio}")
        await t.press(chat, "p:", f":{provider}")
        await t.press(chat, "go:")

    t.scenario("/start")
    await t.act("/start", lambda: fake.send_command(user, "/start"))
    t.scenario("/help")
    await t.act("/help", lambda: fake.send_command(user, "/help"))
    t.scenario("unknown command")
    await t.act("/hello", lambda: fake.send_command(user, "/hello"))

    t.scenario("a full preview video: photo + voice -> 9:16 -> preview")
    await t.press(chat, "new")  # the [New video] button under /start
    await t.act("a photo", photo())
    await t.act("a voice message", voice(media.voice))
    await t.press(chat, "r:", ":9:16")
    await t.press(chat, "p:", ":preview")
    await t.press(chat, "go:")
    await t.settle(2.0)

    t.scenario("bad input at each step")
    await t.act("/new", lambda: fake.send_command(user, "/new"))
    await t.act("a sticker", lambda: fake.send_sticker(user))
    await t.act(
        "a PDF", lambda: fake.send_document(user, b"%PDF-1.4 nothing", "cv.pdf", "application/pdf")
    )
    await t.act("a voice message (before any face)", voice(media.voice))
    await t.act(
        "a corrupt video",
        lambda: fake.send_video(
            user, media.corrupt_video.read_bytes(), duration=2, width=640, height=360
        ),
    )
    await t.act("a photo", photo())
    await t.act("typed text", lambda: fake.send_text(user, "Hello, this is what she says"))
    await t.act("a sticker", lambda: fake.send_sticker(user))
    await t.act("a silent voice message", voice(media.silent_voice))
    await t.act(
        "a 10-minute audio file",
        lambda: fake.send_audio(user, media.mp3.read_bytes(), duration=600),
    )
    await t.act(
        "a playlist sent as audio (list.m3u8)",
        lambda: fake.send_audio(
            user, PLAYLIST, duration=3, file_name="list.m3u8", mime_type="audio/x-mpegurl"
        ),
    )
    await t.act("a voice message", voice(media.voice))
    await t.act("typed text at the ratio step", lambda: fake.send_text(user, "16:9 please"))

    t.scenario("an old button")
    old = t.last_from_bot(chat, "r:")
    await t.act("/new", lambda: fake.send_command(user, "/new"))
    await t.press_on(old, "r:")

    t.scenario("/cancel mid-conversation, and with nothing to cancel")
    await t.act("a photo", photo())
    await t.act("/cancel", lambda: fake.send_command(user, "/cancel"))
    await t.act("/cancel", lambda: fake.send_command(user, "/cancel"))

    t.scenario("face swap: a new face at the voice step, then at the confirm step")
    await t.act("/new", lambda: fake.send_command(user, "/new"))
    await t.act("a photo", photo())
    video = lambda: fake.send_video(  # noqa: E731 - a one-line action
        user, media.video.read_bytes(), duration=2, width=640, height=360
    )
    await t.act("a video of another face", video)
    await t.press(chat, "face:")
    await t.act("a voice message", voice(media.voice))
    await t.press(chat, "r:", ":1:1")
    await t.press(chat, "p:", ":lipsync_studio")
    await t.act("a photo of another face", photo())
    await t.press(chat, "face:")
    await t.press(chat, "x:")

    t.scenario("/cancel while a job runs (Magic Hour, still rendering)")
    mh.auto_complete = False
    await order("9:16", "magichour")
    await t.settle(1.5)
    await t.act("/cancel", lambda: fake.send_command(user, "/cancel"))
    mh.auto_complete = True

    t.scenario("[Cancel] on the status message")
    mh.auto_complete = False
    await order("16:9", "magichour")
    await t.settle(1.5)
    await t.press(chat, "stop:")
    mh.auto_complete = True

    t.scenario("a provider failure: Magic Hour finds no face")
    mh.fail_next_jobs(2)
    await order("9:16", "magichour")
    await t.settle(2.0)
    await t.press(chat, "retry:")
    await t.settle(2.0)
    await t.press(chat, "other:")
    await t.settle(1.0)
    if any(d.startswith("p:") for _, d in fake.buttons(t.last_from_bot(chat))):
        await t.press(chat, "p:", ":preview")
        await t.settle(1.0)
        if any(d.startswith("go:") for _, d in fake.buttons(t.last_from_bot(chat))):
            await t.press(chat, "go:")
            await t.settle(2.0)
    await t.press(chat, "anew:")

    t.scenario("/jobs")
    await t.act("/jobs", lambda: fake.send_command(user, "/jobs"))
    await t.press(chat, "send:")
    await t.act("/cancel", lambda: fake.send_command(user, "/cancel"))


async def group_chat(t: Transcript, media: Media) -> None:
    fake, user = t.fake, t.user
    group = fake.group()
    chat = group["id"]
    t.quiet = 3.5  # groups are paced at 20 messages a minute
    t.chat_id = chat

    def reply() -> dict:
        return t.last_from_bot(chat)

    t.scenario("group: /start, /help, then a video by replying to each prompt")
    await t.act("/start in the group", lambda: fake.send_command(user, "/start", chat=group))
    await t.act("/help in the group", lambda: fake.send_command(user, "/help", chat=group))
    await t.act("/new in the group", lambda: fake.send_command(user, "/new", chat=group))
    await t.act(
        "a photo, not as a reply (privacy mode hides it from the bot)",
        lambda: fake.send_photo(user, media.photo.read_bytes(), chat=group),
    )
    await t.act(
        "a photo, replying to the prompt",
        lambda: fake.send_photo(user, media.photo.read_bytes(), chat=group, reply_to=reply()),
    )
    await t.act(
        "a voice, replying to the prompt",
        lambda: fake.send_voice(
            user, media.voice.read_bytes(), duration=3, chat=group, reply_to=reply()
        ),
    )
    await t.press(chat, "r:", ":9:16")
    await t.press(chat, "p:", ":preview")
    await t.press(chat, "go:")
    await t.settle(4.0)
    await t.act("/jobs in the group", lambda: fake.send_command(user, "/jobs", chat=group))
    await t.act("/unknown in the group", lambda: fake.send_command(user, "/unknown", chat=group))


# ---------------------------------------------------------------------- running it


async def run(locale: str) -> list[str]:
    user = User(111, "Ann" if locale == "en" else "Bia", language_code=LANGUAGE_CODES[locale])
    with tempfile.TemporaryDirectory(prefix="transcript-") as tmp:
        folder = Path(tmp)
        media = Media(folder / "media")
        media.folder.mkdir()
        output = make.make_video(folder / "result.mp4", width=480, height=854, seconds=3.0)
        fake = FakeTelegram(TOKEN)
        async with (
            serve_telegram(fake) as telegram_url,
            serving_remote(output, LOG_LEVEL="CRITICAL") as remote,
        ):
            harness = Harness(fake, telegram_url, folder)
            try:
                async with harness.bot(**remote.env) as bot:
                    transcript = Transcript(fake, bot, user)
                    await transcript.settle(0.5)
                    transcript.printed = len(fake.calls)  # start-up calls are not the user's
                    await private_chat(transcript, media, remote.mh)
                    await group_chat(transcript, media)
            finally:
                await fake.aclose()
    return transcript.lines


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    locales = args or list(LANGUAGE_CODES)
    for locale in locales:
        if locale not in LANGUAGE_CODES:
            raise SystemExit(f"unknown locale {locale!r}: use one of {', '.join(LANGUAGE_CODES)}")
        print(f"\n######## {locale} (Telegram language {LANGUAGE_CODES[locale]}) ########")
        asyncio.run(run(locale))


if __name__ == "__main__":
    main()
