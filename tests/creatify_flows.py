"""Steps of Creatify and typed-text orders as a Telegram user takes them, and what the tests
measure afterwards (the fake's create bodies, a video's loudness, a transcript to read).

Prompts are found by their buttons or by the first words of their locale text, so the same
steps work for an English and a Brazilian user.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.app import Running
from bot.i18n import Translator
from bot.media.ffmpeg import ffmpeg_exe
from bot.media.probe import probe
from bot.models import Job, JobStatus
from tests.conftest import free_port, to_chat
from tests.fakes.creatify import Call as CreatifyCall
from tests.fakes.creatify import FakeCreatify
from tests.fakes.creatify import Job as FakeJob
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button

TEXTS = Translator.load()


def words(user: User, key: str) -> str:
    """The fixed start of locale text ``key`` in the user's language (up to a placeholder)."""
    locale = "pt_BR" if (user.language_code or "").lower().startswith("pt") else "en"
    return TEXTS.t(locale, key).split("{")[0].strip()[:40]


def creatify_env(creatify: FakeCreatify, *, public: bool = True, **extra: str) -> dict[str, str]:
    """Settings for the bot with the fake Creatify; ``public``: PUBLIC_URL on the bot's own
    port (webhooks and media links), else Creatify is followed by polling only."""
    port = free_port()
    env = {
        "HTTP_PORT": str(port),
        "CREATIFY_API_ID": creatify.api_id,
        "CREATIFY_API_KEY": creatify.api_key,
        "CREATIFY_API_URL": creatify.base_url,
        "ALLOW_PRIVATE_URLS": "true",
        "POLL_INTERVAL_SECONDS": "0.3",
        "PROVIDER_RETRY_BASE_SECONDS": "0.01",
    }
    if public:
        env["PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    return env | extra


def with_button(chat_id: int, label: str) -> Callable[[Call], bool]:
    """A wait_for predicate: a message to ``chat_id`` with a button starting with ``label``."""

    def match(call: Call) -> bool:
        if call.status != 200 or str(call.params.get("chat_id")) != str(chat_id):
            return False
        result = call.result if isinstance(call.result, dict) else {}
        return any(text.startswith(label) for text, _ in FakeTelegram.buttons(result))

    return match


async def message(fake: FakeTelegram, user: User, key: str, since: int) -> Call:
    """The bot's next message to ``user`` saying locale text ``key``."""
    return (await fake.wait_for("sendMessage", to_chat(user.id, words(user, key)), since=since))[0]


async def edit(fake: FakeTelegram, user: User, key: str, since: int) -> Call:
    """The bot's next edit in ``user``'s chat saying locale text ``key``."""
    found = await fake.wait_for("editMessageText", to_chat(user.id, words(user, key)), since=since)
    return found[0]


async def pick_avatar(fake: FakeTelegram, user: User, name: str) -> None:
    """/new, [Avatars], the avatar ``name``, [Use NAME]: the conversation waits for a voice
    (or, without PUBLIC_URL, for a text)."""
    mark = fake.mark()
    fake.send_command(user, "/new")
    prompt = (await fake.wait_for("sendMessage", since=mark))[0]  # photos may not be taken
    mark = fake.mark()
    fake.press(user, prompt.result, button(fake, prompt.result, words(user, "avatars.open")))
    picker = await edit(fake, user, "avatars.title", mark)
    mark = fake.mark()
    fake.press(user, picker.result, button(fake, picker.result, name))
    use = words(user, "avatars.use")
    still = (await fake.wait_for("sendPhoto", with_button(user.id, use), since=mark))[0]
    mark = fake.mark()
    fake.press(user, still.result, button(fake, still.result, use))
    # Without PUBLIC_URL an avatar takes typed text only, and the prompt says so.
    prompts = (words(user, "prompt.voice"), words(user, "prompt.voice_text_only"))

    def voice_prompt(call: Call) -> bool:
        return to_chat(user.id)(call) and str(call.params.get("text")).startswith(prompts)

    await fake.wait_for("sendMessage", voice_prompt, since=mark)


async def to_summary(
    fake: FakeTelegram, user: User, since: int, ratio: str = "9:16", provider: str | None = None
) -> Call:
    """From the RATIO prompt (sent after ``since``): ``ratio``, then ``provider`` when asked;
    returns the summary with [Generate]."""
    ratios = (await fake.wait_for("sendMessage", with_button(user.id, ratio), since=since))[0]
    mark = fake.mark()
    fake.press(user, ratios.result, button(fake, ratios.result, ratio))
    generate = words(user, "button.generate")
    if provider is not None:
        choice = await fake.wait_for("editMessageText", with_button(user.id, provider), since=mark)
        mark = fake.mark()
        fake.press(user, choice[0].result, button(fake, choice[0].result, provider))
    return (await fake.wait_for("editMessageText", with_button(user.id, generate), since=mark))[0]


async def say_text(
    fake: FakeTelegram, user: User, text: str, *, ratio: str = "9:16", provider: str | None = None
) -> Call:
    """At the VOICE step: types ``text``, picks ``ratio`` (and ``provider``); the summary."""
    mark = fake.mark()
    fake.send_text(user, text)
    return await to_summary(fake, user, mark, ratio, provider)


async def send_voice_note(
    fake: FakeTelegram,
    user: User,
    voice: Path,
    *,
    ratio: str = "9:16",
    provider: str | None = None,
) -> Call:
    """At the VOICE step: a voice note, ``ratio`` (and ``provider``); the summary."""
    mark = fake.mark()
    fake.send_voice(user, voice.read_bytes(), duration=3)
    return await to_summary(fake, user, mark, ratio, provider)


def press_generate(fake: FakeTelegram, user: User, summary: Call) -> None:
    fake.press(user, summary.result, button(fake, summary.result, words(user, "button.generate")))


async def job_reaching(
    bot: Running,
    user: User,
    *statuses: JobStatus,
    timeout: float = 30.0,  # noqa: ASYNC109 - the harness API takes a plain timeout
) -> Job:
    """The user's latest job, once it is in one of ``statuses``."""
    async with asyncio.timeout(timeout):
        while True:
            jobs = await bot.services.jobs.recent(user.id)
            if jobs and jobs[0].status in statuses:
                return jobs[0]
            await asyncio.sleep(0.02)


async def seconds_used(bot: Running, user: User) -> int:
    """Seconds of the user's daily quota used (reserved or committed)."""
    allowances = await bot.services.quotas.allowances(user.id, user.id, "private")
    return next(a.used for a in allowances if a.scope == "user" and a.period.value == "day")


def creates(creatify: FakeCreatify, path: str) -> list[CreatifyCall]:
    """The fake's answered creates at ``path`` (``/api/lipsyncs/``...)."""
    return [c for c in creatify.calls if c.method == "POST" and c.path == path]


def remote_job(creatify: FakeCreatify, job: Job, kind: str) -> FakeJob:
    """The fake's record of ``job``, whose id must be of ``kind`` (``v1``, ``v2``, ``au``)."""
    assert job.provider_job_id is not None
    assert job.provider_job_id.startswith(f"{kind}_"), job.provider_job_id
    return creatify.jobs[job.provider_job_id.removeprefix(f"{kind}_")]


def mean_volume_db(path: Path) -> float:
    """Mean loudness of the file's first audio stream in dB (digital silence: -91)."""
    run = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "volumedetect",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found = re.findall(r"mean_volume: (-?[\d.]+|-inf) dB", run.stderr)
    assert found, run.stderr[-2000:]
    return float(found[-1])


async def audio_seconds(path: Path) -> float:
    """Length of the file's audio in seconds."""
    found = await probe(path)
    assert found.has_audio, found
    assert found.duration is not None, found
    return found.duration


def transcript(fake: FakeTelegram, chat_id: int) -> str:
    """What the user saw in ``chat_id``: every message, edit, photo and video, with buttons
    and alerts, in order (printed by the tests, to be read)."""
    lines = []
    for call in fake.calls:
        params: dict[str, Any] = call.params
        if call.status != 200 or str(params.get("chat_id")) != str(chat_id):
            if call.method == "answerCallbackQuery" and params.get("text"):
                lines.append(f"  (alert) {params['text']}")
            continue
        if call.method in ("sendMessage", "editMessageText", "sendPhoto", "sendVideo"):
            text = params.get("text") or params.get("caption") or ""
            kind = {"editMessageText": "edit"}.get(call.method, call.method.removeprefix("send"))
            result = call.result if isinstance(call.result, dict) else {}
            buttons = " ".join(f"[{t}]" for t, _ in FakeTelegram.buttons(result))
            lines.append(f"{kind.lower()}: {text} {buttons}".rstrip())
    return "\n".join(lines)
