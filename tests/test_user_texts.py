"""What users read: no raw {placeholder}, no locale key, no provider's internal name, no
English inside the Portuguese; and the wording problems the transcript (tests/transcript.py)
showed stay fixed."""

from __future__ import annotations

import re
import string
import tomllib

import pytest

from bot.i18n import LOCALES_DIR, Translator, flatten
from bot.providers import VENDORS
from tests.conftest import Harness, Media
from tests.fakes.telegram import FakeTelegram, User
from tests.test_providers_e2e import Remote, provider_output, remote  # noqa: F401 (fixtures)
from tests.transcript import Transcript

LOCALES = ("en", "pt_BR")
ENGLISH = flatten(tomllib.loads((LOCALES_DIR / "en.toml").read_text("utf-8")))
PORTUGUESE = flatten(tomllib.loads((LOCALES_DIR / "pt_BR.toml").read_text("utf-8")))
KEY = re.compile(r"\b[a-z]+(?:_[a-z]+)*\.[a-z]+(?:_[a-z]+)*\b")
#: Sample values: plain words and numbers, nothing that looks like a key or a placeholder.
SAMPLES = {
    "provider": "Magic Hour",
    "reason": "Please use an image with a detectable face",
    "name": "Ann",
    "bot": "lipsync_test_bot",
}


def internal_names() -> set[str]:
    """Provider ids a user must never read: those that are not just their label in lower
    case (``magichour`` is not, ``preview`` is)."""
    names = set()
    for name in VENDORS:
        label = ENGLISH.get(f"provider.{name}", "").lower()
        if "_" in name or name not in label:
            names.add(name)
    return names


def problems(text: str) -> list[str]:
    """What is wrong with ``text`` as a user would see it."""
    found = [f"placeholder {m!r}" for m in re.findall(r"\{[^}]*\}?|\}", text)]
    found += [f"locale key {m!r}" for m in KEY.findall(text) if m in ENGLISH]
    found += [
        f"internal name {name!r}"
        for name in internal_names()
        if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", text)
    ]
    return found


def english_fragments() -> set[str]:
    """Pieces of English templates long enough to be sure they are English, and absent from
    the Portuguese catalog (so names like "lipsync.studio" do not count)."""
    portuguese = "\n".join(PORTUGUESE.values())
    pieces = set()
    for template in ENGLISH.values():
        for literal, *_ in string.Formatter().parse(template):
            for piece in re.split(r"[\n:.,;!?()•·]", literal):
                piece = piece.strip()
                if len(piece) >= 14 and piece not in portuguese:
                    pieces.add(piece)
    return pieces


def render(t: Translator, locale: str, key: str) -> str:
    template = ENGLISH[key]
    names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
    return t.t(locale, key, **{n: SAMPLES.get(n, "7") for n in names})


def test_the_checker_sees_each_problem() -> None:
    assert problems("Video #{job_id}: done.")
    assert problems("Video #1 failed: error.render_failed")
    assert problems("Made by: magichour")
    assert problems("lipsync_studio is down")
    assert not problems("Made by Magic Hour, lipsync.studio or Preview (preview).")


@pytest.mark.parametrize("locale", LOCALES)
def test_every_string_renders_as_plain_text(locale: str) -> None:
    t = Translator.load()
    bad = {key: problems(render(t, locale, key)) for key in ENGLISH}
    assert {key: found for key, found in bad.items() if found} == {}


@pytest.mark.parametrize("locale", LOCALES)
def test_strings_without_placeholders_have_no_braces(locale: str) -> None:
    """Translator.t returns such a template unformatted, so a {{ would show as is."""
    catalog = ENGLISH if locale == "en" else PORTUGUESE
    assert [key for key, text in catalog.items() if "{" not in text and "}" in text] == []
    literal = [key for key, text in catalog.items() if "{{" in text or "}}" in text]
    assert literal == []


@pytest.mark.parametrize("locale", LOCALES)
def test_every_provider_has_a_label(locale: str) -> None:
    catalog = ENGLISH if locale == "en" else PORTUGUESE
    assert {f"provider.{name}" for name in VENDORS} <= set(catalog)


# --------------------------------------------------------------------------- end to end


async def _conversation(harness: Harness, remote: Remote, media: Media, user: User) -> list[str]:  # noqa: F811
    """/start, typed text at the voice step, text at the ratio step, a Magic Hour job that
    fails (no face), [Other provider] -> preview -> video, /jobs: everything the bot said."""
    fake = harness.fake
    remote.mh.fail_next_jobs()
    async with harness.bot(**remote.env) as bot:
        t = Transcript(fake, bot, user, quiet=0.4)
        chat = user.id

        def photo() -> None:
            fake.send_photo(user, media.photo.read_bytes(), width=640, height=480)

        await t.act("/start", lambda: fake.send_command(user, "/start"))
        await t.press(chat, "new")
        await t.act("a photo", photo)
        await t.act("text", lambda: fake.send_text(user, "Hello there"))
        await t.act("voice", lambda: fake.send_voice(user, media.voice.read_bytes(), duration=3))
        await t.act("text", lambda: fake.send_text(user, "16:9 please"))
        await t.press(chat, "r:", ":9:16")
        await t.press(chat, "p:", ":magichour")
        await t.press(chat, "go:")
        await t.settle(1.5)
        await t.press(chat, "other:")
        await t.press(chat, "p:", ":preview")
        await t.press(chat, "go:")
        await t.settle(1.5)
        await t.act("/jobs", lambda: fake.send_command(user, "/jobs"))
        await t.act("/hello", lambda: fake.send_command(user, "/hello"))
    return [line for line in t.lines if line.startswith(("BOT", "    "))]


def _shown(fake: FakeTelegram) -> list[str]:
    """Every text, caption, button and alert the bot sent."""
    texts = []
    for call in fake.calls:
        for name in ("text", "caption"):
            if isinstance(call.params.get(name), str):
                texts.append(call.params[name])
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict):
            rows = markup.get("inline_keyboard") or []
            texts += [button["text"] for row in rows for button in row]
            if markup.get("input_field_placeholder"):
                texts.append(markup["input_field_placeholder"])
    return texts


@pytest.mark.parametrize("code", ["en", "pt-br"])
async def test_a_whole_conversation_reads_cleanly(
    harness: Harness,
    remote: Remote,  # noqa: F811 (the imported fixture)
    media: Media,
    code: str,
) -> None:
    user = User(111, "Ann", language_code=code)
    lines = await _conversation(harness, remote, media, user)
    shown = _shown(harness.fake)
    transcript = "\n".join(lines)
    assert shown, transcript
    assert {text: problems(text) for text in shown if problems(text)} == {}, transcript
    if code == "pt-br":
        leaks = {p for p in english_fragments() for text in shown if p in text}
        assert leaks == set(), transcript
    said = "\n".join(shown)
    # The voice step comes before any provider is picked.
    assert "this provider" not in said
    assert "Este provedor" not in said
    # The buttons come with the message, under its text.
    assert "buttons above" not in said
    assert "botões acima" not in said
    # A provider's own words are set apart, not chained after a second colon.
    assert "this video: Please" not in said
    assert "este vídeo: Please" not in said
