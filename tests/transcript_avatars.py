"""Issue 8 as a person sees it (tests/transcript.py prints it): the avatar picker, stock avatars
reading typed text through Creatify (one scene and three), a photo and typed text through
Aurora, /voice with Creatify's voices, Creatify failing with a long reason and running out of
credits, an avatar face swapped for a photo, a group's MEDIA prompt, and, with the bot not
public (no PUBLIC_URL), an avatar refusing a voice note and the dead end of an avatar whose
provider was turned off since.

Each part runs its own bot against the same fake Telegram, database and Creatify, with the
settings the part needs; buttons are tapped by their label, in the user's language."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.app import Running
from bot.i18n import Translator
from tests.conftest import Harness, Media
from tests.creatify_flows import creatify_env
from tests.fakes.creatify import FakeCreatify
from tests.transcript_recorder import Transcript

TEXTS = Translator.load()

#: The avatar picked in every avatar scenario (a woman, on the first page of [Women]).
ANA = "Ana Clara"
#: Stock personas past the first page, and names a provider might really send.
ODD_NAMES = (
    "Dr. Zoë O'Brien-Łukasz 🎤",
    "  Maria\u200b   da\tSilva  ",
    "\u202eAnnA\u202c the Great",
    "Sir Bartholomew Maximilian Fitzgerald-Worthington III, Esq., Presenter of Everything",
)
HELLO = {
    "en": "Hello! I am a ready-made avatar, reading the words you typed.",
    "pt_BR": "Olá! Eu sou um avatar pronto, lendo as palavras que você digitou.",
}
SCENES = {
    "en": "Good morning! This is the first scene.\n\n"
    "Here is the second one, a little longer.\n\n"
    "And the third scene says goodbye.",
    "pt_BR": "Bom dia! Esta é a primeira cena.\n\n"
    "Aqui está a segunda, um pouco mais longa.\n\n"
    "E a terceira cena se despede.",
}
#: A failure reason as long as Creatify's can be (it is cut for the user).
LONG_REASON = (
    "Avatar rendering failed: the lip movement model could not align the generated speech "
    "with the avatar's mouth in scene 1 because the audio track was shorter than the minimum "
    "segment length required by the renderer; please check the input text, make sure it "
    "contains at least one full sentence, and submit the job again, or contact support with "
    "the job id if the problem persists after several attempts."
)


def locale_of(t: Transcript) -> str:
    return "pt_BR" if (t.user.language_code or "").lower().startswith("pt") else "en"


def word(t: Transcript, key: str, **params: object) -> str:
    """Locale text ``key`` in the acting user's language."""
    return TEXTS.t(locale_of(t), key, **params)


def seed(creatify: FakeCreatify) -> None:
    """Twelve stock personas (two pages of eight) and four odd names."""
    creatify.seed_personas(12)
    for n, name in enumerate(ODD_NAMES):
        creatify.add_persona(name, "fm"[n % 2])


async def begin(t: Transcript, bot: Running) -> None:
    """The transcript follows ``bot``; its start-up calls are not printed."""
    t.bot = bot
    await asyncio.sleep(1.0)  # the avatar and voice lists are read in the background
    t.printed = len(t.fake.calls)


def sending(t: Transcript, text: str) -> tuple[str, Callable[[], Any]]:
    fake, user = t.fake, t.user
    shown = text if len(text) < 60 and "\n" not in text else f"{text[:40]!r}… ({len(text)} ch)"
    return f"types: {shown}", lambda: fake.send_text(user, text)


def command(t: Transcript, name: str) -> tuple[str, Callable[[], Any]]:
    fake, user = t.fake, t.user
    return name, lambda: fake.send_command(user, name)


async def pick(t: Transcript, name: str = ANA) -> None:
    """/new, [Avatars], the avatar ``name`` and [Use NAME]."""
    chat = t.user.id
    await t.act(*command(t, "/new"))
    await t.tap(chat, word(t, "avatars.open"))
    await t.tap(chat, name)
    # The VOICE prompt follows the face's confirmation after a moment.
    await t.tap(chat, word(t, "avatars.use", name=name), quiet=2.0)


async def order_avatar(t: Transcript, text: str, ratio: str = "9:16") -> None:
    """An avatar picked, ``text`` typed, ``ratio``, [Generate]."""
    chat = t.user.id
    await pick(t)
    await t.act(*sending(t, text))
    await t.tap(chat, ratio)
    await t.tap(chat, word(t, "button.generate"))
    await t.settle(2.0)


async def public(t: Transcript, media: Media, creatify: FakeCreatify) -> None:
    """Creatify among the other providers, the bot public (webhooks, media links)."""
    fake, user, chat = t.fake, t.user, t.user.id
    locale = locale_of(t)

    t.scenario("issue 8: the avatar picker: open, next page, Women, a name, Back, Use")
    await t.act(*command(t, "/new"))
    await t.tap(chat, word(t, "avatars.open"))
    await t.tap(chat, word(t, "avatars.next"))
    await t.tap(chat, word(t, "avatars.prev"))
    await t.tap(chat, word(t, "avatars.filter_f"))
    await t.tap(chat, ANA)
    await t.tap(chat, word(t, "avatars.back"))  # the still's [Back]
    await t.tap(chat, ANA)
    await t.tap(chat, word(t, "avatars.use", name=ANA), quiet=2.0)

    t.scenario("issue 8: the avatar reads typed text (Creatify lipsync), to delivery")
    await t.act(*sending(t, HELLO[locale]))
    await t.tap(chat, "9:16")
    await t.tap(chat, word(t, "button.generate"))
    await t.settle(2.0)

    t.scenario("issue 8: odd avatar names in the picker (the second page of All)")
    await t.act(*command(t, "/new"))
    await t.tap(chat, word(t, "avatars.open"))
    await t.tap(chat, word(t, "avatars.next"))
    await t.tap(chat, ODD_NAMES[-1][:12])
    await t.tap(chat, word(t, "avatars.back"))  # the still's
    await t.tap(chat, word(t, "avatars.back"))  # the picker's: the MEDIA prompt again
    await t.act(*command(t, "/cancel"))

    t.scenario("issue 8: a three-paragraph text: three scenes (Creatify lipsyncs v2)")
    await order_avatar(t, SCENES[locale], ratio="1:1")

    t.scenario("issue 8: an avatar, then a photo sent at the VOICE step (face swap offer)")
    await pick(t)
    await t.act(
        "a photo",
        lambda: fake.send_photo(user, media.photo.read_bytes(), width=640, height=480),
        quiet=3.0,
    )
    await t.tap(chat, word(t, "button.use_face"))
    await t.act(*command(t, "/cancel"))

    t.scenario("issue 8: a photo and typed text through Creatify Aurora")
    await t.act(*command(t, "/new"))
    await t.act(
        "a photo", lambda: fake.send_photo(user, media.photo.read_bytes(), width=640, height=480)
    )
    await t.act(*sending(t, HELLO[locale]))
    await t.tap(chat, "16:9")
    await t.tap(chat, word(t, "provider.creatify"))
    await t.tap(chat, word(t, "button.generate"))
    await t.settle(2.0)

    t.scenario("issue 8: /voice lists Creatify's voices after the built-in ones; one chosen")
    await t.act(*command(t, "/voice"))
    accent = "Helena" if locale == "pt_BR" else "Fatima"
    if not any(label.startswith(accent) for label, _ in fake.buttons(t.last_from_bot(chat))):
        await t.tap(chat, word(t, "voice.more"))  # English has more than a page of voices
    await t.tap(chat, accent)
    await t.settle(1.5)
    t.scenario("issue 8: typed text with a photo, read by the Creatify voice chosen")
    await t.act(*command(t, "/new"))
    await t.act(
        "a photo", lambda: fake.send_photo(user, media.photo.read_bytes(), width=640, height=480)
    )
    await t.act(*sending(t, HELLO[locale]))
    await t.tap(chat, "9:16")
    await t.tap(chat, word(t, "provider.preview"))
    await t.act(*command(t, "/cancel"))
    t.scenario("issue 8: back to the usual voice with /voice")
    await t.act(*command(t, "/voice"))
    await t.tap(chat, word(t, "voice.default"))
    await t.settle(1.5)

    t.scenario("issue 8: Creatify fails an avatar video, with a long reason")
    creatify.fail_next_jobs(reason=LONG_REASON)
    await order_avatar(t, HELLO[locale])
    await t.tap(chat, word(t, "button.other_provider"))
    await t.tap(chat, word(t, "button.retry"))
    await t.settle(2.0)

    t.scenario("issue 8: Creatify is out of credits for an avatar video")
    credits, creatify.credits = creatify.credits, 0.0
    await order_avatar(t, HELLO[locale])
    creatify.credits = credits
    await t.tap(chat, word(t, "button.other_provider"))
    await t.tap(chat, word(t, "button.retry"))
    await t.settle(2.0)


async def group(t: Transcript) -> None:
    fake = t.fake
    chat = fake.group(-100789, "Avatar fans")
    saved = t.quiet, t.chat_id
    t.quiet, t.chat_id = 3.5, chat["id"]  # groups are paced at 20 messages a minute
    try:
        t.scenario("issue 8: a group's MEDIA prompt says where the avatars are")
        await t.act("/new in the group", lambda: fake.send_command(t.user, "/new", chat=chat))
        await t.act("/cancel", lambda: fake.send_command(t.user, "/cancel", chat=chat))
    finally:
        t.quiet, t.chat_id = saved


async def not_public(t: Transcript, media: Media) -> None:
    """Creatify and the preview, without PUBLIC_URL: an avatar takes typed text only."""
    fake, user = t.fake, t.user
    t.scenario("issue 8: without PUBLIC_URL an avatar refuses a voice note")
    await pick(t)
    await t.act(
        "a voice message", lambda: fake.send_voice(user, media.voice.read_bytes(), duration=3)
    )


async def provider_gone(t: Transcript) -> None:
    """The conversation of ``not_public`` goes on after Creatify was turned off."""
    chat = t.user.id
    t.scenario("issue 8: the avatar's provider turned off meanwhile: no provider can make it")
    t.say("(the operator restarts the bot with PROVIDERS=preview)")
    await t.act(*sending(t, HELLO[locale_of(t)]))
    await t.tap(chat, "9:16")
    await t.tap(chat, word(t, "button.new"))
    await t.act(*command(t, "/cancel"))


async def creatify_alone(t: Transcript, media: Media) -> None:
    """Creatify the only provider, not public: it takes no photo (it fetches faces by URL)."""
    fake, user, chat = t.fake, t.user, t.user.id
    t.scenario("issue 8: Creatify alone without PUBLIC_URL, and a photo sent as the face")
    await t.act(*command(t, "/new"))
    await t.act(
        "a photo", lambda: fake.send_photo(user, media.photo.read_bytes(), width=640, height=480)
    )
    await t.act(*sending(t, HELLO[locale_of(t)]))
    await t.tap(chat, "9:16")
    await t.act(*command(t, "/cancel"))


async def run(
    t: Transcript,
    harness: Harness,
    media: Media,
    remote_env: dict[str, str],
    creatify: FakeCreatify,
) -> None:
    """Every part, each with its own bot (the caller's bot must be stopped)."""
    seed(creatify)
    keys = creatify_env(creatify, public=False)
    credentials = {k: v for k, v in keys.items() if k.startswith("CREATIFY_")}
    everything = remote_env | credentials
    everything["PROVIDERS"] = "creatify,magichour,lipsync_studio,preview"
    async with harness.bot(**everything) as bot:
        await begin(t, bot)
        await public(t, media, creatify)
        await group(t)
    async with harness.bot(**keys, PROVIDERS="creatify,preview") as bot:
        await begin(t, bot)
        await not_public(t, media)
    async with harness.bot(PROVIDERS="preview") as bot:
        await begin(t, bot)
        await provider_gone(t)
    async with harness.bot(**keys, PROVIDERS="creatify") as bot:
        await begin(t, bot)
        await creatify_alone(t, media)
