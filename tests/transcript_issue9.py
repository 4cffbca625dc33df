"""Issue 9 as a person sees it (tests/transcript.py --issue9 prints it): /avatar from the list
to [New avatar], every step (a bad input at one), [Create] and the ready notice; an avatar
made in a group and shared, picked there by another member with /avatars; a
lipsync.studio dialogue (a photo of two, two voices, at the same time) to delivery, then the
two-faces refusal with [Other photo]; a photo dialogue of two typed lines under a daily quota
(the second voice's room, its own voice); a dialogue of two Creatify avatars; a sync.so
video.

Each part runs its own bot against the same fake Telegram and database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.models import Gender
from bot.models.custom_avatars import CustomAvatarState
from tests.avatar_flows import Videos
from tests.conftest import Harness, Media
from tests.creatify_flows import creatify_env
from tests.dialogue_flows import serving_studio
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import User
from tests.test_sync_e2e import serving_sync
from tests.transcript_avatars import begin, command, locale_of, sending, word
from tests.transcript_recorder import Transcript

LINES = {
    "en": (
        "Hi Bob! Lovely weather today.\n\nShall we go for a walk?",
        "Hello Ann. Yes, let's go.",
    ),
    "pt_BR": ("Oi, Beto! Que dia bonito.\n\nVamos dar uma volta?", "Oi, Bia. Vamos, sim."),
}


def photo(t: Transcript, media: Media) -> tuple[str, Callable[[], Any]]:
    fake, user = t.fake, t.user
    return "a photo of two", lambda: fake.send_photo(
        user, media.photo.read_bytes(), width=640, height=480
    )


async def custom_avatar(t: Transcript, videos: Videos, creatify: FakeCreatify) -> None:
    fake, user, chat = t.fake, t.user, t.user.id

    def video(path: Path, seconds: int, what: str) -> tuple[str, Callable[[], Any]]:
        return what, lambda: fake.send_video(
            user, path.read_bytes(), duration=seconds, width=320, height=240
        )

    t.scenario("issue 9: /avatar, [New avatar], the steps (a bad input), [Create], ready")
    await t.act(*command(t, "/avatar"))
    await t.tap(chat, word(t, "avatar.button_new"))
    await t.act(*video(videos.short, 6, "a 6-second training video (too short)"), quiet=2.0)
    await t.act(*video(videos.training, 16, "a 16-second training video"), quiet=2.0)
    await t.act(*video(videos.consent, 4, "a 4-second consent video"), quiet=2.0)
    await t.act(*sending(t, "Ann's twin" if locale_of(t) == "en" else "Gêmea da Bia"))
    await t.tap(chat, word(t, "avatar.button_f"))
    await t.tap(chat, word(t, "avatar.button_create"), quiet=3.0)
    await t.act(*command(t, "/avatar"))


async def group_avatar(t: Transcript, videos: Videos) -> None:
    """The owner's avatar made from a group and shared; a member picks it there with
    /avatars (a third member's tap refused), and does not find it in private."""
    fake, owner = t.fake, t.user
    pt = locale_of(t) == "pt_BR"
    code = owner.language_code
    member = User(9101, "Beto" if pt else "Bob", language_code=code)
    other = User(9102, "Caio" if pt else "Cal", language_code=code)
    group = fake.group(-100909, "Família" if pt else "Family")
    chat = group["id"]
    name = "Sósia da Bia" if pt else "Ann's double"
    t.scenario("issue 9: an avatar made in a group, shared, picked there with /avatars")
    t.say(f"({owner.first_name} made {name!r} with /avatar sent in the group: the same steps)")
    service = t.bot.services.custom_avatars
    made = await service.create(
        owner.id, chat, name, Gender.FEMALE, videos.training, videos.consent, locale=locale_of(t)
    )
    while (await service.get(owner.id, made.id)).state is CustomAvatarState.PENDING:
        await t.settle(0.5)
    await t.settle(1.0)
    await t.act(*command(t, "/avatar"))
    await t.tap(owner.id, word(t, "avatar.button_share", name=name))
    quiet, t.quiet = t.quiet, 3.5  # groups are paced at 20 messages a minute
    with t.as_user(member, chat):
        await t.act("/new in the group", lambda: fake.send_command(member, "/new", chat=group))
        await t.act(
            "/avatars in the group", lambda: fake.send_command(member, "/avatars", chat=group)
        )
    with t.as_user(other, chat):
        await t.tap(chat, word(t, "avatars.filter_o"))
    with t.as_user(member, chat):
        await t.tap(chat, word(t, "avatars.filter_o"))
        await t.tap(chat, name)
        await t.tap(chat, word(t, "avatars.use", name=name))
        text = "Olá a todos!" if pt else "Hello, everyone!"
        await t.act(
            f"types, replying to the prompt: {text}",
            lambda: fake.send_text(member, text, chat=group, reply_to=t.last_from_bot(chat)),
        )
        await t.tap(chat, "9:16")
        await t.tap(chat, word(t, "button.generate"))
        await t.settle(4.0)
    t.quiet = quiet
    with t.as_user(member):
        fake.chat_for(member)
        t.scenario("issue 9: the same member in private: the group's avatar is not there")
        await t.act(*command(t, "/new"))
        await t.tap(member.id, word(t, "avatars.open"))


async def studio_dialogue(t: Transcript, media: Media) -> None:
    fake, user, chat = t.fake, t.user, t.user.id
    t.scenario("issue 9: a lipsync.studio dialogue: a photo, two voices, at the same time")
    await t.act(*command(t, "/new"))
    await t.tap(chat, word(t, "dialogue.button"))
    await t.act(*photo(t, media))
    await t.act(
        "a voice message", lambda: fake.send_voice(user, media.voice.read_bytes(), duration=3)
    )
    await t.act(*sending(t, LINES[locale_of(t)][1]))
    await t.tap(chat, word(t, "button.at_the_same_time"))
    await t.tap(chat, "9:16")
    await t.tap(chat, word(t, "button.generate"))
    await t.settle(3.0)


async def two_faces_refused(t: Transcript, media: Media, studio_fake: object) -> None:
    fake, user, chat = t.fake, t.user, t.user.id
    t.scenario("issue 9: a photo with one face: refused, [Other photo] keeps the voices")
    studio_fake.faces_seen = 1  # type: ignore[attr-defined]
    await t.act(*command(t, "/new"))
    await t.tap(chat, word(t, "dialogue.button"))
    await t.act(*photo(t, media))
    await t.act(
        "a voice message", lambda: fake.send_voice(user, media.voice.read_bytes(), duration=3)
    )
    await t.act(*sending(t, LINES[locale_of(t)][1]))
    await t.tap(chat, word(t, "button.one_after_the_other"))
    await t.tap(chat, "9:16")
    await t.tap(chat, word(t, "button.generate"))
    await t.settle(3.0)
    studio_fake.faces_seen = 2  # type: ignore[attr-defined]
    await t.tap(chat, word(t, "button.other_photo"))
    await t.act(*photo(t, media))
    await t.tap(chat, word(t, "button.generate"))
    await t.settle(3.0)


async def two_typed_lines(t: Transcript, media: Media) -> None:
    """Both speakers typed: the second's prompt says what the first leaves of the quota and
    names the other voice that will read it; the summary names both voices."""
    chat = t.user.id
    first, second = LINES[locale_of(t)]
    t.scenario("issue 9: a photo dialogue of two typed lines, with a daily quota of 60 s")
    await t.act(*command(t, "/new"))
    await t.tap(chat, word(t, "dialogue.button"))
    await t.act(*photo(t, media))
    await t.act(*sending(t, first.replace("\n\n", " ")))
    await t.act(*sending(t, second))
    await t.tap(chat, word(t, "button.one_after_the_other"))
    await t.tap(chat, "9:16")
    await t.tap(chat, word(t, "button.generate"))
    await t.settle(3.0)


async def avatars_dialogue(t: Transcript) -> None:
    chat = t.user.id
    first, second = LINES[locale_of(t)]
    t.scenario("issue 9: a dialogue of two Creatify avatars with typed lines")
    await t.act(*command(t, "/new"))
    await t.tap(chat, word(t, "dialogue.button"))
    for name in ("Ann Speaker", "Bob Speaker"):
        await t.tap(chat, word(t, "avatars.open"))
        await t.tap(chat, name)
        await t.tap(chat, word(t, "avatars.use", name=name), quiet=2.0)
    await t.act(*sending(t, first))
    await t.act(*sending(t, second))
    await t.tap(chat, "9:16")
    await t.tap(chat, word(t, "button.generate"))
    await t.settle(3.0)


async def sync_video(t: Transcript, media: Media) -> None:
    fake, user, chat = t.fake, t.user, t.user.id
    t.scenario("issue 9: a video and a voice note through sync.so")
    await t.act(*command(t, "/new"))
    await t.act(
        "a video",
        lambda: fake.send_video(user, media.video.read_bytes(), duration=2, width=640, height=360),
    )
    await t.act(
        "a voice message", lambda: fake.send_voice(user, media.voice.read_bytes(), duration=3)
    )
    await t.tap(chat, "9:16")
    await t.tap(chat, word(t, "provider.sync"))
    await t.tap(chat, word(t, "button.generate"))
    await t.settle(3.0)


async def run(
    t: Transcript, harness: Harness, media: Media, output: Path, creatify: FakeCreatify
) -> None:
    """Every part, each with its own bot (the caller's bot must be stopped)."""
    (media.folder / "avatars").mkdir(exist_ok=True)
    videos = Videos(media.folder / "avatars")
    admin = {"ADMIN_IDS": str(t.user.id), "LOG_LEVEL": "CRITICAL"}
    creatify.custom.build_seconds = 0.5
    creatify.personas = {}
    creatify.add_persona("Ann Speaker", "f")
    creatify.add_persona("Bob Speaker", "m")
    async with harness.bot(**creatify_env(creatify) | admin | {"PROVIDERS": "creatify"}) as bot:
        await begin(t, bot)
        await custom_avatar(t, videos, creatify)
        await group_avatar(t, videos)
        await avatars_dialogue(t)
    async with serving_studio(output, **admin) as studio, harness.bot(**studio.env) as bot:
        await begin(t, bot)
        await studio_dialogue(t, media)
        await two_faces_refused(t, media, studio.fake)
    # Not an admin here: a daily quota like anyone's.
    quota = {"USER_DAILY_QUOTA_SECONDS": "60", "LOG_LEVEL": "CRITICAL"}
    async with serving_studio(output, **quota) as studio, harness.bot(**studio.env) as bot:
        await begin(t, bot)
        await two_typed_lines(t, media)
    async with serving_sync(output) as sync, harness.bot(**(sync.env | admin)) as bot:
        await begin(t, bot)
        await sync_video(t, media)
