"""Where a dialogue's draft goes once its second voice is checked (bot.conversation.steps):
two voices longer together than any enabled provider takes are asked for again, the second
alone when the first leaves it room, else both, rather than leading to a PROVIDER step with
nothing to pick; and how long the second may be, by the providers, before it is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from bot.catalog import Catalog
from bot.conversation.steps import StepRules
from bot.health import ProviderHealth
from bot.jobs.service import JobService
from bot.models import (
    AvatarFace,
    Capabilities,
    Draft,
    FaceKind,
    InputFile,
    Probe,
    Step,
    Turns,
    VoiceKind,
)
from bot.providers import Provider

ANN = AvatarFace(provider="creatify", avatar_id="a-1", name="Ann")
BOB = AvatarFace(provider="creatify", avatar_id="b-2", name="Bob")
#: A provider of avatar dialogues taking 60 s at most (Creatify's Aurora limit is for photos
#: only: bot.providers.creatify).
AVATARS = Capabilities(
    faces=frozenset({FaceKind.AVATAR}),
    native_text=True,
    max_seconds=60,
    dialogue_faces=frozenset({FaceKind.AVATAR}),
    dialogue_turns=frozenset({Turns.ONE_AFTER_THE_OTHER}),
    dialogue_audio=False,
)


@dataclass
class Declared:
    """A provider as the catalog reads it: what it makes."""

    capabilities: Capabilities


def rules(**providers: Capabilities) -> StepRules:
    enabled = {name: cast(Provider, Declared(caps)) for name, caps in providers.items()}
    catalog = Catalog(enabled, cast(ProviderHealth, None), cast(JobService, None))
    return StepRules(catalog)


def spoken(seconds: float) -> InputFile:
    return InputFile(
        file_id="", source="text", path=f"{seconds}.wav", probe=Probe(duration=seconds)
    )


def typed(first: float, second: float) -> Draft:
    """Two avatars' texts, spoken ``first`` and ``second`` seconds long, both checked."""
    return Draft(
        chat_id=1,
        user_id=1,
        token="t",
        step=Step.VOICE2_CHECK,
        dialogue=True,
        avatar=ANN,
        avatar2=BOB,
        voice=spoken(first),
        voice_kind=VoiceKind.TEXT,
        voice_text="one",
        voice2=spoken(second),
        voice2_kind=VoiceKind.TEXT,
        voice2_text="two",
    )


def test_two_voices_that_fit_go_on() -> None:
    steps = rules(creatify=AVATARS)
    assert steps.too_long(typed(30, 29)) is None
    assert steps.advance(typed(30, 29)).step is Step.RATIO


def test_the_second_is_asked_again_when_the_first_leaves_room() -> None:
    again = rules(creatify=AVATARS).too_long(typed(40, 40))
    assert again is not None
    assert again.step is Step.VOICE2
    assert (again.voice2, again.voice2_text, again.voice2_kind) == (None, None, None)
    assert again.voice_text == "one"
    assert again.voice is not None


def test_both_are_asked_again_when_the_first_leaves_none() -> None:
    again = rules(creatify=AVATARS).too_long(typed(60, 1))
    assert again is not None
    assert again.step is Step.VOICE
    assert (again.voice, again.voice_text, again.voice2, again.voice2_text) == (
        None,
        None,
        None,
        None,
    )


def test_at_the_same_time_a_dialogue_lasts_its_longer_voice() -> None:
    both_ways = AVATARS.model_copy(update={"dialogue_turns": frozenset(Turns)})
    steps = rules(creatify=both_ways)
    assert steps.too_long(typed(40, 40)) is None  # at the same time: 40 s
    chosen = typed(40, 40).model_copy(update={"turns": Turns.ONE_AFTER_THE_OTHER})
    again = steps.too_long(chosen)
    assert again is not None
    assert again.step is Step.VOICE2


def test_no_provider_at_all_is_not_a_matter_of_length() -> None:
    """Its provider switched off (a restart): PROVIDER says so, the voices stay."""
    assert rules().too_long(typed(40, 40)) is None


def asking_second(first: float, turns: Turns | None = None) -> Draft:
    """Two avatars at VOICE2, the first's text ``first`` seconds long."""
    cleared = {"voice2": None, "voice2_kind": None, "voice2_text": None}
    return typed(first, 0).model_copy(update={"step": Step.VOICE2, "turns": turns, **cleared})


def test_the_second_voice_has_the_room_the_first_leaves() -> None:
    one, same = Turns.ONE_AFTER_THE_OTHER, Turns.AT_THE_SAME_TIME
    assert rules(creatify=AVATARS).second_room(asking_second(40), 120) == {one: 20}
    assert rules(creatify=AVATARS).second_room(asking_second(40.5), 120) == {one: 19}
    both_ways = AVATARS.model_copy(update={"dialogue_turns": frozenset(Turns)})
    steps = rules(creatify=both_ways)
    assert steps.second_room(asking_second(40), 120) == {one: 20, same: 60}
    assert steps.second_room(asking_second(40), 45) == {one: 20, same: 45}  # the bot's limit
    assert steps.second_room(asking_second(40, same), 120) == {same: 60}  # chosen already
    unlimited = AVATARS.model_copy(update={"max_seconds": None})
    assert rules(creatify=unlimited).second_room(asking_second(40), 120) == {one: 120}
    assert rules().second_room(asking_second(40), 120) == {}
