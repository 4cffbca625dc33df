"""How long a dialogue's second voice may be, as its prompt says (issue 9): the quota left
less what the first voice already takes where the two speak one after the other; where the
turns are still to choose, the longest that can work (at the same time) and, on a line of its
own, what one after the other leaves; none left, a way forward instead of "up to 0 seconds"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.i18n import Translator
from bot.models import Draft, InputFile, MediaKind, Probe, Step, Turns
from bot.quotas import Allowance, Period, price
from handlers.dialogue_screens import Room, second_room
from tests import media as make
from tests.conftest import Harness, Media
from tests.creatify_flows import creatify_env
from tests.dialogue_flows import Studio, said, serving_studio, tap, to_second_voice
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import User
from tests.test_dialogue_avatars import use

ANN = User(961, "Ann", language_code="en")
LUIZA = User(962, "Luiza", language_code="pt-br")
#: Some five seconds as the built-in voice says it.
LINE = "Hi Bob! Lovely weather today. Shall we go for a walk?"


@pytest.fixture(scope="session")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dialogue-room")
    return make.make_video(folder / "result.mp4", width=480, height=854, seconds=2.0)


@pytest.fixture
async def studio(output: Path) -> AsyncIterator[Studio]:
    async with serving_studio(output) as served:
        yield served


async def test_turns_still_to_choose_say_both_rooms(
    harness: Harness, studio: Studio, media: Media
) -> None:
    """lipsync.studio takes either way: at the same time the second voice may use all that
    is left, one after the other only what the first leaves (said on a line of its own)."""
    fake = harness.fake
    async with harness.bot(**studio.env, USER_DAILY_QUOTA_SECONDS="30") as bot:
        prompt = await to_second_voice(fake, media, ANN)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.voice is not None
    assert draft.voice.probe is not None
    first = price(draft.voice.probe.duration)
    assert str(prompt.params["text"]).splitlines() == [
        "Second speaker (on the right):",
        "Now the voice: send a voice message or an audio file (up to 30 seconds), or type "
        "the text to say.",
        "You have 30 s left (your daily quota): a longer voice would not fit.",
        f"If they talk one after the other, this voice can last up to {30 - first} "
        "seconds (you choose how they talk next).",
    ]


async def test_one_after_the_other_leaves_the_quota_less_the_first_voice(
    harness: Harness, creatify: FakeCreatify
) -> None:
    """Two Creatify avatars (one after the other only, text only): the second's prompt says
    what the first takes of what is left, and what the second may last."""
    fake = harness.fake
    creatify.personas = {}
    creatify.add_persona("Ann Speaker", "f")
    creatify.add_persona("Bob Speaker", "m")
    async with harness.bot(**creatify_env(creatify), USER_DAILY_QUOTA_SECONDS="30") as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        prompt = await said(fake, ANN, "prompt.media", mark)
        two = await tap(fake, ANN, prompt, "Dialogue", "dialogue.media_avatars")
        second = await use(fake, ANN, two, "Ann Speaker")
        await use(fake, ANN, second, "Bob Speaker")
        mark = fake.mark()
        fake.send_text(ANN, LINE)
        asked = await said(fake, ANN, "dialogue.second", mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.voice is not None
    assert draft.voice.probe is not None
    first = price(draft.voice.probe.duration)
    assert 2 < first < 15
    assert str(asked.params["text"]).splitlines() == [
        "Second speaker (Bob Speaker):",
        "Now type the text the avatar should say.",
        f"The first voice takes {first} s of the 30 s you have left (your daily quota), so "
        f"the second can last up to {30 - first} s.",
    ]


async def test_a_first_voice_taking_all_that_is_left_says_what_to_do(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    creatify.personas = {}
    creatify.add_persona("Ann Speaker", "f")
    creatify.add_persona("Bob Speaker", "m")
    async with harness.bot(**creatify_env(creatify), USER_DAILY_QUOTA_SECONDS="3") as bot:
        mark = fake.mark()
        fake.send_command(LUIZA, "/new")
        prompt = await said(fake, LUIZA, "prompt.media", mark)
        two = await tap(fake, LUIZA, prompt, "Diálogo", "dialogue.media_avatars")
        second = await use(fake, LUIZA, two, "Ann Speaker")
        await use(fake, LUIZA, second, "Bob Speaker")
        mark = fake.mark()
        fake.send_text(LUIZA, "Oi Bob! Que dia bonito hoje. Vamos dar uma volta pelo parque?")
        asked = await said(fake, LUIZA, "dialogue.second", mark)
        draft = await bot.services.drafts.get(LUIZA.id, LUIZA.id)
    assert draft is not None
    assert draft.step is Step.VOICE2
    assert draft.voice is not None
    assert draft.voice.probe is not None
    first = price(draft.voice.probe.duration)
    lines = str(asked.params["text"]).splitlines()
    assert lines[0] == "Segunda pessoa (Bob Speaker):"
    # No "up to 0 seconds": what to do instead.
    assert lines[1:] == [
        f"A primeira voz usa {first} s e restam só 3 s (a sua cota diária): não sobra espaço "
        "para uma segunda voz. Mande /new para recomeçar com uma primeira voz mais curta; "
        "/quota diz quando a cota renova."
    ]


T = Translator.load()
ONE, SAME = Turns.ONE_AFTER_THE_OTHER, Turns.AT_THE_SAME_TIME


def asking_second(first: float) -> Draft:
    """A photo dialogue at VOICE2, its first voice ``first`` seconds long."""
    voice = InputFile(file_id="v", source="voice", path="v.ogg", probe=Probe(duration=first))
    return Draft(
        chat_id=1,
        user_id=1,
        token="t",
        step=Step.VOICE2,
        dialogue=True,
        media_kind=MediaKind.PHOTO,
        voice=voice,
    )


def left(seconds: int) -> Allowance:
    return Allowance("user", Period.DAY, seconds, 0, datetime(2030, 1, 1, tzinfo=UTC))


def test_a_providers_limit_on_both_voices_is_said() -> None:
    """No quota: a provider's limit on the two together (the prompt may be for typed text
    only, with no number of its own)."""
    room = second_room(T, asking_second(40), {ONE: 20}, None, 60)
    assert room == Room(20, notes=["With the first voice, the second can last up to 20 s."])
    assert second_room(T, asking_second(40), {ONE: 60}, None, 60) == Room(60)
    assert second_room(T, asking_second(40), {}, left(10), 60) is None  # no provider at all


def test_one_after_the_other_not_fitting_says_what_to_choose() -> None:
    room = second_room(T, asking_second(10), {ONE: 60, SAME: 60}, left(10), 60)
    assert room == Room(
        60,
        quota_note=True,
        notes=[
            "Talking one after the other would not fit in what you have left: choose "
            "“At the same time” next."
        ],
    )


def test_a_first_voice_longer_than_what_is_left_leaves_nothing_either_way() -> None:
    room = second_room(T, asking_second(12), {ONE: 60, SAME: 60}, left(10), 60)
    assert room is not None
    assert room.limit is None
    assert room.notes == [
        "The first voice takes 12 s and you have 10 s left (your daily quota): there is no "
        "room for a second voice. Send /new to start over with a shorter first voice; /quota "
        "says when your quota resets."
    ]
