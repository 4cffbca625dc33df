"""Steps of /avatar as a Telegram user takes them, and the small real videos they send, for
the end-to-end tests of custom avatars (issue 9)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Running
from bot.i18n import Translator
from bot.models.custom_avatars import CustomAvatar, CustomAvatarState
from tests import media as make
from tests.conftest import Harness, to_chat
from tests.creatify_flows import creatify_env
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button

ANN = User(911, "Ann", language_code="en")  # an admin: may make avatars
BOB = User(922, "Bob", language_code="pt-br")  # not an admin
TEXTS = Translator.load()


def words(key: str, user: User = ANN) -> str:
    """The fixed start of locale text ``key`` in the user's language (up to a placeholder)."""
    locale = "pt_BR" if (user.language_code or "").startswith("pt") else "en"
    return TEXTS.t(locale, key).split("{")[0].strip()[:40]


class Videos:
    """Small real videos, made once per session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.training = make.make_video(folder / "training.mp4", width=320, height=240, seconds=16)
        self.consent = make.make_video(folder / "consent.mp4", width=320, height=240, seconds=4)
        self.short = make.make_video(folder / "short.mp4", width=320, height=240, seconds=6)
        self.mute = make.make_video(
            folder / "mute.mp4", width=320, height=240, seconds=16, audio=False
        )
        self.hushed = folder / "hushed.mp4"  # a sound track of silence
        make.ffmpeg(
            *("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25"),
            *("-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono"),
            *("-t", "16", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
            *("-c:a", "aac", "-movflags", "+faststart", "-f", "mp4", self.hushed),
        )
        self.webm = folder / "clip.webm"
        make.ffmpeg(
            *("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25"),
            *("-f", "lavfi", "-i", "sine=f=330:sample_rate=48000"),
            *("-t", "16", "-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libopus"),
            *("-f", "webm", self.webm),
        )
        self.photo = make.make_photo(folder / "face.jpg")


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Videos:
    return Videos(tmp_path_factory.mktemp("avatar-videos"))


@pytest.fixture
def env(creatify: FakeCreatify) -> dict[str, str]:
    creatify.custom.build_seconds = 0.3
    return creatify_env(creatify, ADMIN_IDS=str(ANN.id), PROVIDERS="creatify")


@pytest.fixture
async def bot(harness: Harness, env: dict[str, str]) -> AsyncIterator[Running]:
    async with harness.bot(**env) as running_bot:
        yield running_bot


# --- steps as the user takes them -------------------------------------------------------------


async def said(fake: FakeTelegram, user: User, key: str, since: int) -> Call:
    calls = await fake.wait_for("sendMessage", to_chat(user.id, words(key, user)), since=since)
    return calls[0]


async def edited(fake: FakeTelegram, user: User, key: str, since: int) -> Call:
    found = await fake.wait_for("editMessageText", to_chat(user.id, words(key, user)), since=since)
    return found[0]


async def listed(fake: FakeTelegram, user: User = ANN, chat: dict | None = None) -> Call:
    """/avatar; the list (in the private chat), or why there is none."""
    starts = tuple(
        words(key, user)
        for key in ("avatar.list_header", "avatar.list_none", "avatar.not_allowed", "avatar.off")
    )

    def answer(call: Call) -> bool:
        return to_chat(user.id)(call) and str(call.params.get("text")).startswith(starts)

    mark = fake.mark()
    fake.send_command(user, "/avatar", chat=chat)
    return (await fake.wait_for("sendMessage", answer, since=mark))[0]


async def new_avatar(fake: FakeTelegram, user: User = ANN, chat: dict | None = None) -> Call:
    """/avatar and [New avatar]: the first step's prompt."""
    shown = await listed(fake, user, chat)
    mark = fake.mark()
    fake.press(user, shown.result, button(fake, shown.result, words("avatar.button_new", user)))
    return await said(fake, user, "avatar.ask_training", mark)


def send_video(fake: FakeTelegram, user: User, path: Path, seconds: int) -> None:
    fake.send_video(user, path.read_bytes(), duration=seconds, width=320, height=240)


async def to_summary(fake: FakeTelegram, videos: Videos, user: User = ANN, **where: dict) -> Call:
    """Every step up to the summary with [Create]."""
    await new_avatar(fake, user, where.get("chat"))
    mark = fake.mark()
    send_video(fake, user, videos.training, 16)
    await said(fake, user, "avatar.ask_consent", mark)
    mark = fake.mark()
    send_video(fake, user, videos.consent, 4)
    await said(fake, user, "avatar.ask_name", mark)
    mark = fake.mark()
    fake.send_text(user, "Ann's twin")
    genders = await said(fake, user, "avatar.ask_gender", mark)
    mark = fake.mark()
    fake.press(user, genders.result, button(fake, genders.result, words("avatar.button_f", user)))
    return await edited(fake, user, "avatar.summary", mark)


async def create(fake: FakeTelegram, summary: Call, user: User = ANN) -> None:
    mark = fake.mark()
    fake.press(user, summary.result, button(fake, summary.result, words("avatar.button_create")))
    await said(fake, user, "avatar.building", mark)


async def settled(bot: Running, user: User = ANN) -> CustomAvatar:
    async with asyncio.timeout(10):
        while True:
            mine = await bot.services.custom_avatars.mine(user.id)
            if mine and mine[0].state is not CustomAvatarState.PENDING:
                return mine[0]
            await asyncio.sleep(0.02)
