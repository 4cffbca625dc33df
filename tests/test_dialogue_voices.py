"""Which voice reads each speaker's typed text in a dialogue (issue 9, bot.voices). Two
avatars: two voices of their language where the provider has more than one, one of each
avatar's gender where the voices say theirs; the user's own choice reads the first and,
unless the first has it, the second; with a single voice for the language both speakers get
it; English avatars keep their own voices. A photo of two: the first speaker's text is read
by the user's voice, the second's by another of the language: another of the same provider
(of the other gender where known), else the built-in voice as a woman's (eSpeak's variant)
or, after a woman's voice, as its plain one; so there is always a second voice."""

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
        """As the built-in engine answers: the language's own voice for None, a variant as
        its voice with the variant's gender."""
        base, _, variant = (voice_id or BUILT_IN.voice_id).partition("+")
        voice = next(voice for voice in self.listed if voice.voice_id == base)
        if variant:
            gender = Gender.FEMALE if variant.startswith("f") else Gender.MALE
            return VoiceInfo(voice_id or "", voice.name, voice.language, gender=gender)
        return voice


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


def photo(step: Step = Step.VOICE) -> Draft:
    """A dialogue of a photo of two at ``step``, in Brazilian Portuguese."""
    return at(step, ANN, BOB).model_copy(update={"avatar": None, "avatar2": None})


async def test_a_photo_dialogue_reads_the_second_text_with_a_womans_voice() -> None:
    """No choice made: the language's own voice reads the first text, the same as a
    woman's (eSpeak's variant) the second; the button names it."""
    speakers = voices(Listed(HELENA, TIAGO))
    assert await speakers.for_speaker(photo()) is None
    second = await speakers.for_speaker(said(photo(), None))
    assert second == "roa/pt-BR+f3"
    shown = await speakers.speaker_voice(said(photo(), None))
    assert shown == VoiceInfo("roa/pt-BR+f3", "Portuguese (Brazil)", "pt-br", gender=Gender.FEMALE)
    assert await speakers.speaker_voice(photo()) == BUILT_IN


async def test_a_providers_voice_chosen_gets_another_of_that_provider() -> None:
    speakers = voices(Listed(HELENA, TIAGO), chosen=HELENA.voice_id)
    first = await speakers.for_speaker(photo())
    assert first == HELENA.voice_id
    assert await speakers.for_speaker(said(photo(), first)) == TIAGO.voice_id


async def test_a_providers_only_voice_for_the_language_is_followed_by_the_built_in_one() -> None:
    """Helena (a woman's voice) is Creatify's only Brazilian one: the built-in voice, plain
    (a man's), reads the second text rather than Helena again."""
    speakers = voices(Listed(HELENA, FATIMA), chosen=HELENA.voice_id)
    assert await speakers.for_speaker(said(photo(), HELENA.voice_id)) == BUILT_IN.voice_id
    tiago = voices(Listed(TIAGO), chosen=TIAGO.voice_id)
    assert await tiago.for_speaker(said(photo(), TIAGO.voice_id)) == "roa/pt-BR+f3"


async def test_a_voice_chosen_at_the_second_voice_reads_it() -> None:
    speakers = voices(Listed(HELENA, TIAGO), chosen=TIAGO.voice_id)
    assert await speakers.for_speaker(said(photo(), None)) == TIAGO.voice_id
    # Chosen again as the first's: another, still.
    same = voices(Listed(HELENA, TIAGO), chosen=BUILT_IN.voice_id)
    assert await same.for_speaker(said(photo(), None)) == "roa/pt-BR+f3"


async def test_after_a_recording_the_second_text_has_the_users_voice() -> None:
    """The first speaker's own voice is no voice of ours: nothing to differ from."""
    recorded = photo(Step.VOICE2)
    assert await voices(Listed(HELENA, TIAGO)).for_speaker(recorded) is None
    chosen = voices(Listed(HELENA, TIAGO), chosen=HELENA.voice_id)
    assert await chosen.for_speaker(recorded) == HELENA.voice_id
