"""A dialogue as data (issue 9): two voices and the way they take turns in the order, its
length (the quota's price), the draft that holds it across a restart, and what providers
declare they make."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot.media.retention import MediaRetention
from bot.models import (
    AspectRatio,
    AudioVoice,
    AvatarFace,
    Capabilities,
    Dialogue,
    Draft,
    FaceKind,
    FileFace,
    Gender,
    InputFile,
    NewJob,
    Order,
    Probe,
    Step,
    TextVoice,
    Turns,
    VoiceKind,
)
from bot.quotas import price
from storage import Database, DraftRepository, JobRepository
from storage.db import now
from storage.media_refs import MediaReferences

PHOTO = FileFace(kind=FaceKind.PHOTO, path="in/two.jpg", probe=Probe(duration=None))
ANN = AvatarFace(provider="creatify", avatar_id="a-1", name="Ann")
BOB = AvatarFace(provider="creatify", avatar_id="b-2", name="Bob")


def recording(path: str, seconds: float) -> AudioVoice:
    return AudioVoice(path=path, probe=Probe(duration=seconds, has_audio=True))


def typed(text: str, seconds: float, voice_id: str | None = None) -> TextVoice:
    probe = Probe(duration=seconds, has_audio=True)
    return TextVoice(
        text=text, language="en", voice_id=voice_id, path=f"in/{text}.mp3", probe=probe
    )


def dialogue_order(turns: Turns, first: float = 4.2, second: float = 2.6) -> Order:
    second_voice = typed("hi", second)
    return Order(
        face=PHOTO,
        voice=recording("in/left.ogg", first),
        ratio=AspectRatio.SQUARE,
        dialogue=Dialogue(voice=second_voice, turns=turns),
    )


@pytest.mark.parametrize(
    ("turns", "seconds"),
    [(Turns.ONE_AFTER_THE_OTHER, 6.8), (Turns.AT_THE_SAME_TIME, 4.2)],
)
def test_a_dialogue_lasts_the_sum_one_after_the_other_and_the_longer_at_once(
    turns: Turns, seconds: float
) -> None:
    order = dialogue_order(turns)
    assert order.seconds == pytest.approx(seconds)
    assert order.files() == [Path("in/two.jpg"), Path("in/left.ogg"), Path("in/hi.mp3")]
    # The quota's price is the dialogue's length, like any video's.
    assert price(order.seconds) == price(seconds)


def test_an_order_stored_before_dialogues_loads_without_one() -> None:
    stored = (
        '{"face": {"kind": "photo", "path": "p.jpg", "probe": {"duration": null}},'
        ' "voice": {"kind": "audio", "path": "v.ogg", "probe": {"duration": 3.0}},'
        ' "ratio": "9:16"}'
    )
    order = Order.model_validate_json(stored)
    assert order.dialogue is None
    assert order.seconds == 3.0
    assert len(order.voices) == 1


def test_a_dialogue_order_survives_its_json_column() -> None:
    order = Order(
        face=ANN,
        voice=typed("one", 2.0, "creatify:x"),
        ratio=AspectRatio.PORTRAIT,
        dialogue=Dialogue(voice=typed("two", 3.0), avatar=BOB, turns=Turns.ONE_AFTER_THE_OTHER),
    )
    again = Order.model_validate_json(order.model_dump_json())
    assert again == order
    assert again.dialogue is not None
    assert again.dialogue.avatar == BOB


@pytest.mark.parametrize(
    "order",
    [
        dialogue_order(Turns.AT_THE_SAME_TIME),
        Order(
            face=ANN,
            voice=typed("one", 2.0),
            ratio=AspectRatio.PORTRAIT,
            dialogue=Dialogue(
                voice=typed("two", 3.0, "creatify:y"), avatar=BOB, turns=Turns.ONE_AFTER_THE_OTHER
            ),
        ),
    ],
)
def test_a_draft_of_a_dialogue_order_makes_the_same_order(order: Order) -> None:
    """[Try again] and [Other provider] keep a dialogue whole (Draft.of_order)."""
    draft = Draft.of_order(order, source="retry", chat_id=1, user_id=1, token="t")
    assert draft.dialogue
    assert draft.seconds == pytest.approx(order.seconds)
    assert draft.voice_kinds is not None
    assert len(draft.voice_kinds) == 2
    assert draft.order() == order
    # Stored and read back, as after a restart.
    assert Draft.model_validate_json(draft.model_dump_json()).order() == order


def test_a_second_speakers_text_keeps_its_language_after_a_first_recording() -> None:
    """[Try again] of a Brazilian's dialogue whose left voice is a recording: the right
    speaker's text is still Portuguese (a draft takes its language from the first speaker's
    text, and there was none)."""
    right = typed("oi", 2.0).model_copy(update={"language": "pt-br"})
    order = dialogue_order(Turns.AT_THE_SAME_TIME).model_copy(
        update={"dialogue": Dialogue(voice=right, turns=Turns.AT_THE_SAME_TIME)}
    )
    draft = Draft.of_order(order, source="retry", chat_id=1, user_id=1, token="t")
    assert draft.order() == order
    made = draft.order().dialogue
    assert made is not None
    assert isinstance(made.voice, TextVoice)
    assert made.voice.language == "pt-br"


def test_an_avatars_gender_is_kept_and_old_ones_load_without() -> None:
    ann = ANN.model_copy(update={"gender": Gender.FEMALE})
    assert AvatarFace.model_validate_json(ann.model_dump_json()) == ann
    stored = '{"kind": "avatar", "provider": "creatify", "avatar_id": "a-1", "name": "Ann"}'
    assert AvatarFace.model_validate_json(stored).gender is None


def test_a_draft_stored_before_dialogues_loads_as_one_speaker() -> None:
    stored = '{"chat_id": 1, "user_id": 2, "token": "t", "step": "voice_check"}'
    draft = Draft.model_validate_json(stored)
    assert (draft.dialogue, draft.turns, draft.avatar2, draft.voice2) == (False, None, None, None)
    assert draft.step is Step.VOICE_CHECK


def test_a_dialogue_draft_without_its_turns_makes_no_order() -> None:
    draft = Draft.of_order(
        dialogue_order(Turns.AT_THE_SAME_TIME), source="r", chat_id=1, user_id=1, token="t"
    )
    with pytest.raises(ValueError, match="turns"):
        draft.model_copy(update={"turns": None}).order()
    with pytest.raises(ValueError, match="voice"):
        draft.model_copy(update={"voice2": None}).order()


def test_what_providers_declare_they_make() -> None:
    studio = Capabilities(
        faces=frozenset({FaceKind.PHOTO}),
        dialogue_faces=frozenset({FaceKind.PHOTO}),
        dialogue_turns=frozenset(Turns),
    )
    avatars = Capabilities(
        faces=frozenset({FaceKind.AVATAR}),
        native_text=True,
        max_seconds=60,
        dialogue_faces=frozenset({FaceKind.AVATAR}),
        dialogue_turns=frozenset({Turns.ONE_AFTER_THE_OTHER}),
        dialogue_audio=False,
    )
    single = Capabilities(faces=frozenset({FaceKind.PHOTO}))
    both = (VoiceKind.AUDIO, VoiceKind.TEXT)
    assert studio.accepts_dialogue(FaceKind.PHOTO, both, Turns.AT_THE_SAME_TIME)
    assert not studio.accepts_dialogue(FaceKind.AVATAR, both)
    assert not single.accepts_dialogue(FaceKind.PHOTO)
    texts = (VoiceKind.TEXT, VoiceKind.TEXT)
    assert avatars.accepts_dialogue(FaceKind.AVATAR, texts, Turns.ONE_AFTER_THE_OTHER, 60)
    assert not avatars.accepts_dialogue(FaceKind.AVATAR, texts, Turns.AT_THE_SAME_TIME)
    assert not avatars.accepts_dialogue(FaceKind.AVATAR, both)  # its scenes take text only
    assert not avatars.accepts_dialogue(FaceKind.AVATAR, texts, seconds=61)


async def test_retention_keeps_the_second_voice_of_jobs_and_drafts(tmp_path: Path) -> None:
    """The sweep reads the files a job's order and a draft refer to: a dialogue's second
    voice is one of them."""
    db = await Database.open(tmp_path / "bot.db")
    await db.migrate()
    try:
        inputs = tmp_path / "inputs"
        inputs.mkdir()
        old = (now() - timedelta(hours=100)).timestamp()
        names = ("two.jpg", "left.ogg", "right.mp3", "draft-left.ogg", "draft-right.ogg")
        for name in names:
            (inputs / name).write_bytes(b"x")
            os.utime(inputs / name, (old, old))
        paths = {name: str(inputs / name) for name in names}
        order = Order(
            face=PHOTO.model_copy(update={"path": paths["two.jpg"]}),
            voice=recording(paths["left.ogg"], 3.0),
            ratio=AspectRatio.SQUARE,
            dialogue=Dialogue(
                voice=recording(paths["right.mp3"], 2.0), turns=Turns.AT_THE_SAME_TIME
            ),
        )
        new = NewJob(
            chat_id=1, user_id=1, chat_type="private", locale="en", provider="x", order=order
        )
        await JobRepository(db).create(new)
        probe = Probe(duration=2.0)
        draft = Draft(
            chat_id=2,
            user_id=2,
            token="t",
            dialogue=True,
            step=Step.VOICE2,
            voice=InputFile(file_id="", source="voice", path=paths["draft-left.ogg"], probe=probe),
            voice2=InputFile(
                file_id="", source="voice", path=paths["draft-right.ogg"], probe=probe
            ),
        )
        await DraftRepository(db).save(draft)
        retention = MediaRetention(MediaReferences(db), [inputs], timedelta(hours=24))
        assert await retention.sweep(at=now()) == 0
        assert all((inputs / name).exists() for name in names)
    finally:
        await db.close()
