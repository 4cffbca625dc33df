"""Steps of a dialogue (two people talking, issue 9) as a Telegram user takes them, found by
their locale texts so the same steps work for an English and a Brazilian user."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import Media, free_port, to_chat
from tests.creatify_flows import TEXTS
from tests.fakes import lipsync_studio
from tests.fakes.lipsync_studio import FakeLipsyncStudio
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button


def locale_of(user: User) -> str:
    return "pt_BR" if (user.language_code or "").lower().startswith("pt") else "en"


def text(user: User, key: str, **params: object) -> str:
    """Locale text ``key`` in the user's language."""
    return TEXTS.t(locale_of(user), key, **params)


def start(user: User, key: str) -> str:
    """The fixed start of locale text ``key`` (up to its first placeholder)."""
    return TEXTS.t(locale_of(user), key).split("{")[0].strip()[:40]


async def said(fake: FakeTelegram, user: User, key: str, since: int) -> Call:
    """The bot's next message to ``user`` starting its text like locale text ``key``."""
    wanted = start(user, key)
    found = await fake.wait_for("sendMessage", to_chat(user.id, wanted), since=since)
    return found[0]


async def tap(fake: FakeTelegram, user: User, message: Call, label: str, key: str) -> Call:
    """Press the button whose label starts with ``label`` on ``message``; the edit saying
    locale text ``key``."""
    mark = fake.mark()
    fake.press(user, message.result, button(fake, message.result, label))
    found = await fake.wait_for("editMessageText", to_chat(user.id, start(user, key)), since=mark)
    return found[0]


def labels(message: Call) -> list[str]:
    return [label for label, _ in FakeTelegram.buttons(message.result)]


@dataclass
class Studio:
    """The fake lipsync.studio (and Magic Hour's absence: only it and the preview are on)."""

    fake: FakeLipsyncStudio
    env: dict[str, str]


@contextlib.asynccontextmanager
async def serving_studio(output: Path, **extra: str) -> AsyncIterator[Studio]:
    """The fake lipsync.studio rendering ``output``, and settings enabling it and the
    preview, with webhooks to the bot's port and quick polls and retries."""
    fake = FakeLipsyncStudio(output=output)
    fake.render_seconds = 0.05
    port = free_port()
    async with lipsync_studio.running(fake) as url:
        env = {
            "HTTP_PORT": str(port),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PROVIDERS": "lipsync_studio,preview",
            "LIPSYNC_STUDIO_API_KEY": fake.api_key,
            "LIPSYNC_STUDIO_API_URL": url,
            "ALLOW_PRIVATE_URLS": "true",
            "POLL_INTERVAL_SECONDS": "0.3",
            "PROVIDER_RETRY_BASE_SECONDS": "0.01",
            **extra,
        }
        yield Studio(fake, env)


async def to_second_voice(fake: FakeTelegram, media: Media, user: User) -> Call:
    """/new, [Dialogue], a photo of two, a voice note for the left speaker: the prompt for
    the right speaker's voice."""
    mark = fake.mark()
    fake.send_command(user, "/new")
    prompt = await said(fake, user, "prompt.media", mark)
    await tap(fake, user, prompt, text(user, "dialogue.button"), "dialogue.media_photo")
    mark = fake.mark()
    fake.send_photo(user, media.photo.read_bytes(), width=640, height=480)
    await said(fake, user, "dialogue.first", mark)
    mark = fake.mark()
    fake.send_voice(user, media.voice.read_bytes(), duration=3)
    return await said(fake, user, "dialogue.second", mark)


async def photo_dialogue(
    fake: FakeTelegram, media: Media, user: User, words: str, turns: str
) -> Call:
    """A photo dialogue up to its summary: a voice note on the left, ``words`` typed on the
    right, ``turns`` (``one_after_the_other``...), 9:16; the summary with [Generate]."""
    await to_second_voice(fake, media, user)
    mark = fake.mark()
    fake.send_text(user, words)
    asked = await said(fake, user, "dialogue.turns", mark)
    ratios = await tap(fake, user, asked, text(user, f"button.{turns}"), "prompt.ratio")
    return await tap(fake, user, ratios, "9:16", "prompt.confirm_dialogue")
