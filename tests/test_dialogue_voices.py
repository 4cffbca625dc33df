"""Which voice reads each speaker's typed text in a dialogue of avatars (issue 9,
bot.voices): two speakers get two voices of their language where the provider has more than
one, one of each avatar's gender where the voices say theirs; the user's own choice reads
the first and, unless the first has it, the second; with a single voice for the language
both speakers get it; English avatars keep their own voices."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from bot.models import AvatarFace, Draft, Gender, Step
from bot.speech import VoiceInfo
from bot.speech.router import Speech
from bot.voices import Voices
from storage import UserRepository


def creatify(name: str, gender: Gender | None, language: str = "pt-br") -> VoiceInfo:
    return VoiceInfo(f"creatify:{name}", name, language, engine="creatify", gender=gender)


HELENA = creatify("helena", Gender.FEMALE)
TIAGO = creatify("tiago", Gender.MALE)
FATIMA = creatify("fatima", Gender.FEMALE, "en")
MARCUS = creatify("marcus", Gender.MALE, "en")
BUILT_IN = VoiceInfo("roa/pt-BR", "Portuguese (Brazil)", "pt-br")
ANN = AvatarFace(provider="creatify", avatar_id="a-1", name="Ann", gender=Gender.FEMALE)
BOB = AvatarFace(provider="creatify", avatar_id="b-2", name="Bob", gender=Gender.MALE)


class Listed:
    """Speech as Voices reads it: the voices of a language, and whether one is offered."""

    def __init__(self, *voices: VoiceInfo) -> None:
        self.listed = [BUILT_IN, *voices]

    async def voices(self, language: str) -> list[VoiceInfo]:
        return [voice for voice in self.listed if voice.language.split("-")[0] == language[:2]]

    async def offers(self, voice_id: str) -> bool:
        return any(voice.voice_id == voice_id for voice in self.listed)

    async def voice(self, language: str, voice_id: str | None) -> VoiceInfo:
        return next(voice for voice in self.listed if voice.voice_id == voice_id)


class Chosen:
    """The user's /voice choice."""

    def __init__(self, voice_id: str | None = None) -> None:
        self.voice_id = voice_id

    async def voice_of(self, user_id: int) -> str | None:
        return self.voice_id


def voices(speech: Listed, chosen: str | None = None) -> Voices:
    return Voices(cast(Speech, speech), cast(UserRepository, Chosen(chosen)), Path("samples"))


def at(step: Step, first: AvatarFace, second: AvatarFace, **fields: object) -> Draft:
    """A dialogue of two avatars at ``step``, in Brazilian Portuguese unless said."""
    draft = Draft(
        chat_id=1,
        user_id=1,
        token="t",
        step=step,
        dialogue=True,
        avatar=first,
        avatar2=second,
        locale="pt_BR",
        language="pt-br",
    )
    return draft.model_copy(update=fields)


def said(draft: Draft, voice_id: str | None) -> Draft:
    """``draft`` at VOICE2, its first speaker's text typed and read by ``voice_id``."""
    return draft.model_copy(
        update={"step": Step.VOICE2, "voice_text": "Oi!", "voice_id": voice_id}
    )


async def both(
    speakers: Voices, first: AvatarFace, second: AvatarFace, **fields: object
) -> list[str | None]:
    """The voice ids of the first speaker and then the second."""
    draft = at(Step.VOICE, first, second, **fields)
    one = await speakers.for_speaker(draft)
    return [one, await speakers.for_speaker(said(draft, one))]


@pytest.mark.parametrize(("first", "second"), [(ANN, BOB), (BOB, ANN)])
async def test_each_avatar_gets_a_voice_of_its_gender(
    first: AvatarFace, second: AvatarFace
) -> None:
    found = await both(voices(Listed(HELENA, TIAGO)), first, second)
    wanted = {Gender.FEMALE: HELENA.voice_id, Gender.MALE: TIAGO.voice_id}
    assert found == [wanted[first.gender], wanted[second.gender]]  # type: ignore[index]


async def test_two_avatars_of_one_gender_get_two_voices() -> None:
    eve = AvatarFace(provider="creatify", avatar_id="e-3", name="Eve", gender=Gender.FEMALE)
    found = await both(voices(Listed(HELENA, TIAGO)), ANN, eve)
    assert found == [HELENA.voice_id, TIAGO.voice_id]


async def test_avatars_or_voices_without_a_gender_still_get_two() -> None:
    plain = [creatify("a", None), creatify("b", None)]
    unknown = ANN.model_copy(update={"gender": None})
    assert await both(voices(Listed(*plain)), unknown, BOB) == ["creatify:a", "creatify:b"]


async def test_a_single_voice_for_the_language_reads_both() -> None:
    """Nothing better: the avatars' own voices speak English."""
    found = await both(voices(Listed(HELENA)), ANN, BOB)
    assert found == [HELENA.voice_id, HELENA.voice_id]


async def test_the_users_choice_reads_the_first_and_not_the_second_too() -> None:
    found = await both(voices(Listed(HELENA, TIAGO), chosen=TIAGO.voice_id), ANN, BOB)
    assert found == [TIAGO.voice_id, HELENA.voice_id]


async def test_a_choice_made_at_the_second_voice_reads_it() -> None:
    speakers = voices(Listed(HELENA, TIAGO), chosen=HELENA.voice_id)
    draft = said(at(Step.VOICE, ANN, BOB), TIAGO.voice_id)
    assert await speakers.for_speaker(draft) == HELENA.voice_id
    shown = await speakers.reads_speaker(draft)
    assert shown is not None
    assert shown.name == "helena"


async def test_english_avatars_keep_their_own_voices() -> None:
    english = {"locale": "en", "language": "en"}
    assert await both(voices(Listed(FATIMA, MARCUS)), ANN, BOB, **english) == [None, None]
    # A Creatify voice chosen with /voice reads the first; the second keeps its own.
    chosen = voices(Listed(FATIMA, MARCUS), chosen=FATIMA.voice_id)
    assert await both(chosen, ANN, BOB, **english) == [FATIMA.voice_id, None]


async def test_a_photo_dialogue_reads_both_with_the_users_voice() -> None:
    """No avatar: the user's own choice (or the language's voice) reads both texts."""
    draft = at(Step.VOICE, ANN, BOB).model_copy(update={"avatar": None, "avatar2": None})
    speakers = voices(Listed(HELENA, TIAGO))
    assert await speakers.for_speaker(draft) is None
    assert await speakers.for_speaker(said(draft, None)) is None
