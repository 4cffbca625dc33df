"""After a dialogue fails (issue 9): the failure message offers only the buttons that can
work ([Other provider] only when another enabled provider makes the order, a dialogue or
not; [Other photo] for a photo of both), and its words say what each does, in English and
Portuguese; the provider's own reason is shown once, not inside brackets of ours."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import callback_data as cd
from bot.delivery.status import failure_text, ways_forward
from bot.i18n import Translator
from bot.jobs.reasons import reason_text
from bot.models import (
    AspectRatio,
    AudioVoice,
    AvatarFace,
    Capabilities,
    Dialogue,
    FaceKind,
    FileFace,
    Job,
    JobStatus,
    Order,
    Probe,
    Reason,
    TextVoice,
    Turns,
)
from bot.providers.lipsync_studio import LipsyncStudioProvider
from bot.providers.magichour import MagicHourProvider
from bot.providers.preview import PreviewProvider
from tests import media as make
from tests.conftest import Harness, Media, to_chat
from tests.creatify_flows import job_reaching, press_generate
from tests.dialogue_flows import Studio, labels, photo_dialogue, said, serving_studio
from tests.fakes.telegram import User
from tests.flows import button

T = Translator.load()
VOICE = AudioVoice(path="left.ogg", probe=Probe(duration=3.0, has_audio=True))
PHOTO = FileFace(
    kind=FaceKind.PHOTO, path="two.jpg", probe=Probe(duration=None, width=640, height=480)
)
ANN = AvatarFace(provider="creatify", avatar_id="a-1", name="Ann")
BOB = AvatarFace(provider="creatify", avatar_id="b-2", name="Bob")
REFUSED = Reason(
    code="error.provider_rejected",
    params={"reason": "Fewer than two faces were detected in the image (found 1)"},
)
#: What the bot's providers declare they make (bot.providers).
STUDIO = LipsyncStudioProvider.capabilities
PREVIEW = PreviewProvider.capabilities
#: Creatify's, as it declares them with avatars only (bot.providers.creatify).
CREATIFY = Capabilities(
    faces=frozenset({FaceKind.AVATAR}),
    native_text=True,
    dialogue_faces=frozenset({FaceKind.AVATAR}),
    dialogue_turns=frozenset({Turns.ONE_AFTER_THE_OTHER}),
    dialogue_audio=False,
)
MAGIC_HOUR = MagicHourProvider.capabilities


def typed(words: str) -> TextVoice:
    probe = Probe(duration=2.0, has_audio=True)
    return TextVoice(text=words, language="en", path=f"{words}.mp3", probe=probe)


def photo_order(turns: Turns = Turns.ONE_AFTER_THE_OTHER) -> Order:
    dialogue = Dialogue(voice=typed("hello"), turns=turns)
    return Order(face=PHOTO, voice=VOICE, ratio=AspectRatio.PORTRAIT, dialogue=dialogue)


def avatars_dialogue() -> Order:
    dialogue = Dialogue(voice=typed("hello"), avatar=BOB, turns=Turns.ONE_AFTER_THE_OTHER)
    return Order(face=ANN, voice=typed("hi"), ratio=AspectRatio.PORTRAIT, dialogue=dialogue)


def failed(order: Order, provider: str = "lipsync_studio", locale: str = "en") -> Job:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    return Job(
        id=3,
        chat_id=1,
        user_id=1,
        chat_type="private",
        locale=locale,
        provider=provider,
        status=JobStatus.FAILED,
        order=order,
        reason=REFUSED,
        created_at=at,
        updated_at=at,
    )


def test_no_other_provider_for_a_photo_dialogue_no_other_provider_makes() -> None:
    job = failed(photo_order())
    makers = {"lipsync_studio": STUDIO, "preview": PREVIEW, "magichour": MAGIC_HOUR}
    assert ways_forward(job, makers) == [cd.RETRY, cd.OTHER_PHOTO, cd.RESTART]


def test_other_provider_when_another_makes_that_dialogue() -> None:
    job = failed(photo_order(Turns.AT_THE_SAME_TIME))
    meanwhile = STUDIO.model_copy(update={"dialogue_turns": frozenset({Turns.AT_THE_SAME_TIME})})
    in_turn = STUDIO.model_copy(update={"dialogue_turns": frozenset({Turns.ONE_AFTER_THE_OTHER})})
    square = STUDIO.model_copy(update={"ratios": frozenset({AspectRatio.SQUARE})})
    # Another that makes photo dialogues, but not at the same time, or not in 9:16: no.
    assert cd.OTHER_PROVIDER not in ways_forward(
        job, {"lipsync_studio": STUDIO, "other": in_turn, "third": square}
    )
    assert ways_forward(job, {"lipsync_studio": STUDIO, "other": meanwhile}) == [
        cd.RETRY,
        cd.OTHER_PROVIDER,
        cd.OTHER_PHOTO,
        cd.RESTART,
    ]


def test_a_dialogue_of_avatars_has_neither_other_provider_nor_other_photo() -> None:
    job = failed(avatars_dialogue(), provider="creatify")
    makers = {"creatify": CREATIFY, "lipsync_studio": STUDIO}
    assert ways_forward(job, makers) == [cd.RETRY, cd.RESTART]


def test_a_single_speaker_gets_other_provider_only_when_another_makes_it() -> None:
    """As for a dialogue: another enabled provider able to make the order, or no button."""
    order = Order(face=PHOTO, voice=VOICE, ratio=AspectRatio.PORTRAIT)
    job = failed(order, provider="magichour")
    assert ways_forward(job, {"magichour": MAGIC_HOUR}) == [cd.RETRY, cd.RESTART]
    assert ways_forward(job, {"magichour": MAGIC_HOUR, "creatify": CREATIFY}) == [
        cd.RETRY,
        cd.RESTART,
    ]
    assert ways_forward(job, {"magichour": MAGIC_HOUR, "preview": PREVIEW}) == [
        cd.RETRY,
        cd.OTHER_PROVIDER,
        cd.RESTART,
    ]
    assert ways_forward(job) == [cd.RETRY, cd.OTHER_PROVIDER, cd.RESTART]  # makers unknown
    avatar = Order(face=ANN, voice=typed("hi"), ratio=AspectRatio.PORTRAIT)
    assert ways_forward(failed(avatar, provider="creatify"), {"creatify": CREATIFY}) == [
        cd.RETRY,
        cd.RESTART,
    ]


@pytest.mark.parametrize("locale", ["en", "pt_BR"])
def test_the_words_follow_the_buttons(locale: str) -> None:
    other_photo = T.t(locale, "button.other_photo")
    other_provider = T.t(locale, "failure.next").split(",")[1].strip()  # "ask another provider"
    job = failed(photo_order(), locale=locale)
    photo = failure_text(T, job, [cd.RETRY, cd.OTHER_PHOTO, cd.RESTART])
    both = failure_text(T, job, [cd.RETRY, cd.OTHER_PROVIDER, cd.OTHER_PHOTO, cd.RESTART])
    same = failure_text(T, job, [cd.RETRY, cd.RESTART])
    for text in (photo, both):
        # What to do about the photo: another, with both faces; the voices are kept.
        assert other_photo in text
    assert other_provider not in photo
    assert other_provider in both
    assert other_photo not in same
    assert other_provider not in same


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (
            "en",
            "Sorry, video #3 did not work out: lipsync.studio could not make this video — Fewer"
            " than two faces were detected in the image (found 1).\n\nTap Other photo and send",
        ),
        (
            "pt_BR",
            "Desculpe, o vídeo #3 não deu certo: lipsync.studio não conseguiu fazer este vídeo"
            " — Fewer than two faces were detected in the image (found 1).\n\nToque em Outra"
            " foto e mande",
        ),
    ],
)
def test_the_fewer_faces_failure_reads_cleanly(locale: str, words: str) -> None:
    job = failed(photo_order(), locale=locale)
    text = failure_text(T, job, [cd.RETRY, cd.OTHER_PHOTO, cd.RESTART])
    assert text.startswith(words)
    # The provider's own brackets are the only ones.
    assert "(found 1))" not in text
    assert reason_text(T, job).count("(") == 1


LUIZA = User(971, "Luiza", language_code="pt-br")


@pytest.fixture(scope="session")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dialogue-failure")
    return make.make_video(folder / "result.mp4", width=480, height=854, seconds=2.0)


@pytest.fixture
async def studio(output: Path) -> AsyncIterator[Studio]:
    async with serving_studio(output) as served:
        yield served


async def test_try_again_makes_the_same_dialogue_in_portuguese(
    harness: Harness, studio: Studio, media: Media
) -> None:
    """The refusal told in Portuguese with its way forward; [Try again] makes the same
    dialogue (the photo, both voices, the turns) and its buttons go."""
    fake, lss = harness.fake, studio.fake
    lss.faces_seen = 1
    async with harness.bot(**studio.env) as bot:
        summary = await photo_dialogue(fake, media, LUIZA, "Olá da direita.", "at_the_same_time")
        mark = fake.mark()
        press_generate(fake, LUIZA, summary)
        failure = await said(fake, LUIZA, "failure.text", mark)
        first = await job_reaching(bot, LUIZA, JobStatus.FAILED)
        told = str(failure.params["text"])
        assert labels(failure) == ["Tentar de novo", "Outra foto", "Novo vídeo"]
        assert "não conseguiu fazer este vídeo — Fewer than two faces" in told
        assert "Toque em Outra foto e mande uma nova, com os dois rostos" in told
        lss.faces_seen = 2
        mark = fake.mark()
        fake.press(LUIZA, failure.result, button(fake, failure.result, "Tentar de novo"))
        await fake.wait_for("sendVideo", to_chat(LUIZA.id), since=mark, timeout=30)
        again = await job_reaching(bot, LUIZA, JobStatus.DELIVERED)
        left = fake.message(LUIZA.id, failure.result["message_id"])
    assert again.id != first.id
    assert again.order == first.order
    assert fake.buttons(left) == []
