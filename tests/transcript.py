"""What a person sees: drive the real bot through every everyday scenario and print each
message the bot sends (text, buttons, reply placeholder), each edit and each button answer,
in order. Read the output as a new user would.

    .venv/bin/python -m tests.transcript [en|pt_BR] [--avatars | --issue9]

``--avatars`` prints issue 8's scenarios alone (tests/transcript_avatars.py: stock avatars,
Creatify, typed text, /voice), which come last otherwise; ``--issue9`` prints issue 9's alone
(tests/transcript_issue9.py: /avatar, dialogues, sync.so).

It runs offline: the fake Telegram, Magic Hour, lipsync.studio and Creatify servers on
127.0.0.1, real ffmpeg, a temporary SQLite database.
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
from tests import transcript_avatars as avatars
from tests import transcript_issue9 as issue9
from tests.conftest import TOKEN, Harness, Media
from tests.fakes.creatify import FakeCreatify
from tests.fakes.creatify import running as serve_creatify
from tests.fakes.magichour import TERMINAL, FakeMagicHour
from tests.fakes.telegram import FakeTelegram, User
from tests.fakes.telegram import running as serve_telegram
from tests.test_providers_e2e import serving_remote
from tests.transcript_recorder import Transcript

os.environ.setdefault("PTB_TIMEDELTA", "1")

LANGUAGE_CODES = {"en": "en", "pt_BR": "pt-br"}
#: What the built-in voice is asked to say, in each transcript's language.
SPOKEN = {"en": "Hello! This is what she says.", "pt-br": "Olá! É isso que ela diz."}
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

    t.scenario("typed text instead of a recording, spoken by the built-in voice")
    await t.act("/new", lambda: fake.send_command(user, "/new"))
    await t.act("a photo", photo())
    said_text = SPOKEN[t.user.language_code or "en"]
    await t.act(f"typed text: {said_text!r}", lambda: fake.send_text(user, said_text))
    await t.press(chat, "r:", ":1:1")
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
    await t.act(
        "2,000 characters of typed text", lambda: fake.send_text(user, "Hello there! " * 160)
    )
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


# ---------------------------------------------------------------------- issue 7: limits

#: Everyone but Ann; their Telegram language is set per run (see ``people``).
DAN, BOB, CAT = 222, 333, 444  # quota; the line
ADA, EVE = 7, 555  # a bot admin (ADMIN_IDS); a user she bans
OLGA, MIA, FAY = 666, 777, 888  # a group's admin and member; /new flooder
#: Ann and everyone else may make 60 s of video a day; one job at a time per provider, so a
#: second Magic Hour job waits in line (Ann's own scenarios never run two at once).
LIMITS = {"ADMIN_IDS": str(ADA), "USER_DAILY_QUOTA_SECONDS": "60", "PROVIDER_MAX_ACTIVE_JOBS": "1"}


def people(locale: str) -> dict[int, User]:
    code = LANGUAGE_CODES[locale]
    return {
        DAN: User(DAN, "Dan", code, "dan_q"),
        BOB: User(BOB, "Bob", code),
        CAT: User(CAT, "Cat", code),
        ADA: User(ADA, "Ada", code, "ada_admin"),
        EVE: User(EVE, "Eve", code, "eve_b"),
        OLGA: User(OLGA, "Olga", code),
        MIA: User(MIA, "Mia", code),
        FAY: User(FAY, "Fay", code),
    }


def command(t: Transcript, text: str, chat: dict | None = None) -> tuple[str, Callable[[], Any]]:
    """``text`` (a command and its arguments) from the acting user: what to print and do."""
    name, _, args = text.partition(" ")
    fake, user = t.fake, t.user
    return text, lambda: fake.send_command(user, name, args, chat=chat)


async def new_order(t: Transcript, media: Media, voice: Path, seconds: int, provider: str) -> None:
    """The acting user's /new, a photo, a ``seconds`` voice, 9:16 and ``provider``: the summary."""
    fake, user, chat = t.fake, t.user, t.user.id
    await t.act(*command(t, "/new"))
    await t.act(
        "a photo", lambda: fake.send_photo(user, media.photo.read_bytes(), width=640, height=480)
    )
    await t.act(
        f"a {seconds}-second voice message",
        lambda: fake.send_voice(user, voice.read_bytes(), duration=seconds),
    )
    await t.press(chat, "r:", ":9:16")
    await t.press(chat, "p:", f":{provider}")


async def quotas(t: Transcript, media: Media, long_voice: Path, dan: User) -> None:
    with t.as_user(dan):
        t.scenario("/quota before and after a video (Dan, 60 s a day)")
        await t.act(*command(t, "/quota"))
        await new_order(t, media, long_voice, 40, "preview")
        await t.press(dan.id, "go:")
        await t.settle(3.0)
        await t.act(*command(t, "/quota"))

        t.scenario("a video refused by the daily quota, then a shorter voice")
        await new_order(t, media, long_voice, 40, "preview")
        await t.press(dan.id, "go:")
        await t.press(dan.id, "short:")
        await t.act(
            "a 3-second voice message",
            lambda: t.fake.send_voice(dan, media.voice.read_bytes(), duration=3),
        )
        await t.press(dan.id, "go:")
        await t.settle(2.0)
        await t.act(*command(t, "/quota"))


def unfinished(mh: FakeMagicHour) -> list[str]:
    return [job_id for job_id, job in mh.jobs.items() if job.status not in TERMINAL]


async def waiting_line(
    t: Transcript, media: Media, mh: FakeMagicHour, bob: User, cat: User
) -> None:
    t.scenario("the line: Magic Hour takes one job at a time; Ann's renders, Bob and Cat wait")
    mh.auto_complete = False
    await new_order(t, media, media.voice, 3, "magichour")
    await t.press(t.user.id, "go:")
    await t.settle(1.5)
    with t.as_user(bob):
        await new_order(t, media, media.voice, 3, "magichour")
        await t.press(bob.id, "go:")
        t.scenario("the active-jobs cap: Bob's second and third videos (2 at once)")
        await new_order(t, media, media.voice, 3, "magichour")
        await t.press(bob.id, "go:")
        await new_order(t, media, media.voice, 3, "magichour")
        await t.press(bob.id, "go:")
    with t.as_user(cat):
        t.scenario("Cat joins the line, then cancels in line")
        await new_order(t, media, media.voice, 3, "magichour")
        await t.press(cat.id, "go:")
        await t.press(cat.id, "stop:")
        await t.settle(1.5)
        await t.act(*command(t, "/jobs"))
    t.scenario("the line moves: Magic Hour finishes Ann's video, then Bob's two")
    t.say("(Magic Hour finishes Ann's video)")
    for job_id in unfinished(mh):  # Ann's, and the two canceled earlier (still rendering there)
        mh.complete(job_id)
    await t.settle(1.5)
    t.say("(Magic Hour finishes Bob's first video, and from now on renders each job at once)")
    mh.auto_complete = True
    for job_id in unfinished(mh):
        mh.complete(job_id)
    await t.settle(2.5)
    with t.as_user(bob):
        await t.act(*command(t, "/jobs"))


async def bot_admin(t: Transcript, ada: User, dan: User, eve: User, bob: User) -> None:
    with t.as_user(eve):
        await t.act(*command(t, "/start"))
    with t.as_user(bob):
        t.scenario("a non-admin's /stats and /ban (must read as an unknown command)")
        await t.act(*command(t, "/stats"))
        await t.act(*command(t, "/ban @eve_b"))
    with t.as_user(ada):
        t.scenario("a bot admin: /help, /quota, /usage, /stats")
        await t.act(*command(t, "/help"))
        await t.act(*command(t, "/quota"))
        await t.act(*command(t, "/usage"))
        await t.act(*command(t, "/usage @dan_q"))
        await t.act(*command(t, "/usage -100123"))  # the group of group_chat
        await t.act(*command(t, "/stats"))
        t.scenario("a bot admin: /setquota and /grant, good and bad arguments")
        await t.act(*command(t, "/setquota @dan_q 30"))
        await t.act(*command(t, "/setquota @dan_q 900 monthly"))
        await t.act(*command(t, "/setquota @nobody_here 30"))
        await t.act(*command(t, "/setquota @dan_q -5"))
        await t.act(*command(t, "/setquota @dan_q ３０"))
        await t.act(*command(t, "/setquota @dan_q 99999999999"))
        await t.act(*command(t, "/setquota"))
        await t.act(*command(t, "/grant @dan_q 10"))
        await t.act(*command(t, "/grant 123456 10"))
    with t.as_user(dan):
        await t.act(*command(t, "/quota"))
    with t.as_user(ada):
        await t.act(*command(t, "/setquota @dan_q default"))
        t.scenario("a bot admin bans Eve; Eve tries twice; Ada lifts the ban")
        await t.act(*command(t, "/ban @eve_b"))
        await t.act(*command(t, "/ban @eve_b"))
        await t.act(*command(t, "/ban @ada_admin"))
    with t.as_user(eve):
        await t.act(*command(t, "/new"))
        await t.act(*command(t, "/new"))
        await t.act("hello?", lambda: t.fake.send_text(eve, "hello?"))
    with t.as_user(ada):
        await t.act(*command(t, "/unban @eve_b"))
        await t.act(*command(t, "/unban @eve_b"))
    with t.as_user(eve):
        await t.act(*command(t, "/new"))
        await t.act(*command(t, "/cancel"))


GROUP_ID = -100456


async def group_admin(t: Transcript, media: Media, olga: User, mia: User) -> None:
    fake = t.fake
    group = fake.group(GROUP_ID, "Book club")
    fake.chat_admins[GROUP_ID] = {olga.id}
    fake.members[GROUP_ID] |= {mia.id}
    t.quiet = 3.5  # groups are paced at 20 messages a minute
    with t.as_user(mia, GROUP_ID):
        t.scenario("a group: a member's /groupquota and /groupusage")
        await t.act(*command(t, "/groupquota 60 20", group))
        await t.act(*command(t, "/groupusage", group))
        await t.act(*command(t, "/quota", group))
    with t.as_user(olga, GROUP_ID):
        t.scenario("the group's admin sets a pool, reads it, switches the bot off")
        await t.act(*command(t, "/groupquota", group))
        await t.act(*command(t, "/groupquota 20 60", group))
        await t.act(*command(t, "/groupquota 60 20", group))
        await t.act(*command(t, "/groupusage", group))
    with t.as_user(mia, GROUP_ID):
        await t.act(*command(t, "/quota", group))
    with t.as_user(olga, GROUP_ID):
        await t.act(*command(t, "/bot", group))
        await t.act(*command(t, "/bot off", group))
    with t.as_user(mia, GROUP_ID):
        await t.act(*command(t, "/new", group))
        await t.act(*command(t, "/new", group))
    with t.as_user(olga, GROUP_ID):
        await t.act(*command(t, "/bot on", group))
    with t.as_user(mia, GROUP_ID):
        await t.act(*command(t, "/new", group))
        await t.act(*command(t, "/cancel", group))
    t.quiet = 0.7


async def cooldown(t: Transcript, fay: User) -> None:
    with t.as_user(fay):
        t.scenario("the /new cooldown: five quick /new")
        await t.act(
            "/new five times in a row",
            lambda: [t.fake.send_command(fay, "/new") for _ in range(5)],
        )
        await t.settle(11.0)
        await t.act(*command(t, "/new"))
        await t.act(*command(t, "/cancel"))


# ---------------------------------------------------------------------- running it


async def everyday(
    transcript: Transcript, media: Media, mh: FakeMagicHour, long_voice: Path, who: dict[int, User]
) -> None:
    """Everything before issue 8, on one bot (Magic Hour, lipsync.studio, the preview)."""
    user = transcript.user
    await private_chat(transcript, media, mh)
    await group_chat(transcript, media)
    transcript.chat_id, transcript.quiet = user.id, 0.7  # back in private
    await quotas(transcript, media, long_voice, who[DAN])
    await waiting_line(transcript, media, mh, who[BOB], who[CAT])
    await bot_admin(transcript, who[ADA], who[DAN], who[EVE], who[BOB])
    await group_admin(transcript, media, who[OLGA], who[MIA])
    await cooldown(transcript, who[FAY])


async def run(locale: str, only_avatars: bool = False, only_issue9: bool = False) -> list[str]:
    """Every scenario in ``locale``'s language; ``only_avatars``: issue 8's alone;
    ``only_issue9``: issue 9's alone."""
    user = User(111, "Ann" if locale == "en" else "Bia", language_code=LANGUAGE_CODES[locale])
    with tempfile.TemporaryDirectory(prefix="transcript-") as tmp:
        folder = Path(tmp)
        media = Media(folder / "media")
        media.folder.mkdir()
        output = make.make_video(folder / "result.mp4", width=480, height=854, seconds=3.0)
        long_voice = make.make_voice_ogg(folder / "long.ogg", seconds=40.0)
        who = people(locale)
        fake = FakeTelegram(TOKEN)
        creatify = FakeCreatify()  # quick jobs, as the tests' fixture makes them
        creatify.pending_seconds, creatify.queue_seconds, creatify.render_seconds = 0, 0.02, 0.1
        async with (
            serve_telegram(fake) as telegram_url,
            serving_remote(output, LOG_LEVEL="CRITICAL") as remote,
            serve_creatify(creatify),
        ):
            harness = Harness(fake, telegram_url, folder)
            try:
                async with harness.bot(**remote.env, **LIMITS) as bot:
                    transcript = Transcript(fake, bot, user)
                    await transcript.settle(0.5)
                    transcript.printed = len(fake.calls)  # start-up calls are not the user's
                    if not (only_avatars or only_issue9):
                        await everyday(transcript, media, remote.mh, long_voice, who)
                env = remote.env | {"LOG_LEVEL": "CRITICAL"}
                if not only_issue9:
                    await avatars.run(transcript, harness, media, env, creatify)
                if not only_avatars:
                    await issue9.run(transcript, harness, media, output, creatify)
            finally:
                await fake.aclose()
    return transcript.lines


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    only_avatars, only_issue9 = "--avatars" in args, "--issue9" in args
    locales = [a for a in args if not a.startswith("--")] or list(LANGUAGE_CODES)
    for locale in locales:
        if locale not in LANGUAGE_CODES:
            raise SystemExit(f"unknown locale {locale!r}: use one of {', '.join(LANGUAGE_CODES)}")
        print(f"\n######## {locale} (Telegram language {LANGUAGE_CODES[locale]}) ########")
        asyncio.run(run(locale, only_avatars, only_issue9))


if __name__ == "__main__":
    main()
