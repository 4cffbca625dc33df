"""Where a conversation goes when an avatar picked earlier is no longer offered
(FaceSteps.face_again): back to the face, everything else kept; a dialogue keeps its first
avatar while it is still offered, and its MEDIA prompt then takes avatars again (not only
[Other photo]'s photo of both)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from bot.catalog import Catalog
from bot.conversation.faces import FaceSteps
from bot.conversation.picker import AvatarPicker
from bot.health import ProviderHealth
from bot.i18n import Translator
from bot.jobs.service import JobService
from bot.models import (
    AspectRatio,
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
from handlers import dialogue_screens

TEXTS = Translator.load()
KEPT = AvatarFace(provider="creatify", avatar_id="kept", name="Kept")
GONE = AvatarFace(provider="creatify", avatar_id="gone", name="Gone")
AVATARS = Capabilities(
    faces=frozenset({FaceKind.AVATAR}),
    native_text=True,
    max_seconds=60,
    dialogue_faces=frozenset({FaceKind.AVATAR}),
    dialogue_turns=frozenset({Turns.ONE_AFTER_THE_OTHER}),
    dialogue_audio=False,
)


@dataclass
class Picker:
    """The picker's answer: these avatars are no longer offered."""

    gone_ids: set[str] = field(default_factory=set)

    def gone(self, draft: Draft) -> list[AvatarFace]:
        faces = [f for f in (draft.avatar, draft.avatar2) if f is not None]
        return [f for f in faces if f.avatar_id in self.gone_ids]


@dataclass
class Declared:
    capabilities: Capabilities


def steps(*gone: str) -> FaceSteps:
    made = FaceSteps()
    made.picker = cast(AvatarPicker, Picker(set(gone)))
    return made


def spoken(text: str) -> dict[str, object]:
    voice = InputFile(file_id="", source="text", path="v.wav", probe=Probe(duration=3.0))
    return {"voice": voice, "voice_kind": VoiceKind.TEXT, "voice_text": text}


def confirmed(**fields: object) -> Draft:
    return Draft.model_validate(
        {
            "chat_id": -5,
            "user_id": 1,
            "token": "old",
            "chat_type": "supergroup",
            "step": Step.CONFIRM,
            "ratio": AspectRatio.PORTRAIT,
            "provider": "creatify",
            **spoken("hello"),
            **fields,
        }
    )


def test_every_face_still_offered_changes_nothing() -> None:
    assert steps().face_again(confirmed(avatar=KEPT)) is None
    assert steps("gone").face_again(confirmed(avatar=KEPT)) is None


def test_one_speaker_goes_back_to_the_face_with_the_rest_kept() -> None:
    draft = confirmed(avatar=GONE)
    back = steps("gone").face_again(draft)
    assert back is not None
    assert (back.step, back.avatar, back.faces_again) == (Step.MEDIA, None, False)
    assert (back.voice_text, back.ratio, back.provider) == ("hello", "9:16", "creatify")
    assert back.token != draft.token  # the summary's [Generate] is stale


def test_a_dialogue_keeps_its_first_avatar_while_offered() -> None:
    two = {"dialogue": True, "turns": Turns.ONE_AFTER_THE_OTHER, **_second("hi")}
    back = steps("gone").face_again(confirmed(avatar=KEPT, avatar2=GONE, **two))
    assert back is not None
    assert (back.avatar, back.avatar2, back.faces_again) == (KEPT, None, True)
    assert (back.voice_text, back.voice2_text, back.turns) == (
        "hello",
        "hi",
        Turns.ONE_AFTER_THE_OTHER,
    )
    back = steps("gone").face_again(confirmed(avatar=GONE, avatar2=KEPT, **two))
    assert back is not None
    assert (back.avatar, back.avatar2, back.faces_again) == (None, None, True)
    # [Again]: no voice yet, so nothing to keep: an ordinary dialogue's MEDIA step.
    fresh = confirmed(avatar=GONE, avatar2=KEPT, dialogue=True, voice=None, voice_text=None)
    back = steps("gone").face_again(fresh.model_copy(update={"step": Step.VOICE}))
    assert back is not None
    assert back.faces_again is False


def test_a_dialogue_asking_for_avatars_again_says_so_not_other_photo() -> None:
    enabled = {"creatify": cast(Provider, Declared(AVATARS))}
    catalog = Catalog(enabled, cast(ProviderHealth, None), cast(JobService, None))
    two = {"dialogue": True, "turns": Turns.ONE_AFTER_THE_OTHER, **_second("hi")}
    back = steps("gone").face_again(confirmed(avatar=KEPT, avatar2=GONE, **two))
    assert back is not None
    text, _ = dialogue_screens.media(TEXTS, catalog, back, picker=True)
    assert text.startswith(TEXTS.t("en", "dialogue.second_avatar", name="Kept"))
    back = steps("gone").face_again(confirmed(avatar=GONE, avatar2=GONE, **two))
    assert back is not None
    text, _ = dialogue_screens.media(TEXTS, catalog, back, picker=True)
    assert not text.startswith(TEXTS.t("en", "dialogue.other_photo"))
    assert text.startswith(TEXTS.t("en", "dialogue.media_avatars"))


def _second(text: str) -> dict[str, object]:
    return {f"voice2{name[5:]}": value for name, value in spoken(text).items()}
