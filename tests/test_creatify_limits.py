"""Creatify's length limit, per kind of order (providers.md §1): Aurora (a photo) takes 60 s
of audio at most, the only limit documented; lipsyncs (an avatar, v1, and v2's scenes: one
avatar's paragraphs or two avatars talking) document none, so the bot's own limit for a voice
is theirs."""

from __future__ import annotations

import httpx

from bot.models import (
    AspectRatio,
    AudioVoice,
    AvatarFace,
    Dialogue,
    FaceKind,
    FileFace,
    Order,
    Probe,
    TextVoice,
    Turns,
)
from bot.providers.creatify import CreatifyProvider
from bot.providers.http import ProviderHTTP

STILL = Probe(duration=None, width=640, height=480, has_video=True, is_image=True)
PHOTO = FileFace(kind=FaceKind.PHOTO, path="face.jpg", probe=STILL)
ANN = AvatarFace(provider="creatify", avatar_id="ann", name="Ann")
BOB = AvatarFace(provider="creatify", avatar_id="bob", name="Bob")


def creatify(*, public: bool) -> CreatifyProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(500)))
    return CreatifyProvider(
        ProviderHTTP("creatify", client), "https://api.example", "id", "key", public=public
    )


def recording(seconds: float) -> AudioVoice:
    return AudioVoice(path="voice.ogg", probe=Probe(duration=seconds))


def typed(seconds: float) -> TextVoice:
    return TextVoice(text="Hi.", language="en", path="t.wav", probe=Probe(duration=seconds))


def single(face: FileFace | AvatarFace, voice: AudioVoice | TextVoice) -> Order:
    return Order(face=face, voice=voice, ratio=AspectRatio.PORTRAIT)


def two_avatars(first: float, second: float) -> Order:
    dialogue = Dialogue(voice=typed(second), avatar=BOB, turns=Turns.ONE_AFTER_THE_OTHER)
    return Order(face=ANN, voice=typed(first), ratio=AspectRatio.PORTRAIT, dialogue=dialogue)


def test_aurora_takes_a_photo_with_60_seconds_at_most() -> None:
    caps = creatify(public=True).capabilities
    assert caps.makes(single(PHOTO, recording(60)))
    assert not caps.makes(single(PHOTO, recording(60.5)))
    assert not caps.makes(single(PHOTO, typed(61)))
    assert caps.limit(FaceKind.PHOTO) == 60


def test_avatars_are_not_held_to_auroras_limit() -> None:
    """v1 (one avatar, a text or a recording) and v2 (scenes; two avatars talking, one
    after the other) document no length: longer than 60 s is theirs to take."""
    caps = creatify(public=True).capabilities
    assert caps.limit(FaceKind.AVATAR) is None
    assert caps.makes(single(ANN, typed(90)))
    assert caps.makes(single(ANN, recording(90)))
    assert caps.makes(two_avatars(45, 45))
    assert caps.makes(two_avatars(100, 100))


def test_without_a_public_url_only_avatars_with_text() -> None:
    caps = creatify(public=False).capabilities
    assert not caps.makes(single(PHOTO, recording(10)))
    assert not caps.makes(single(ANN, recording(10)))
    assert caps.makes(single(ANN, typed(90)))
    assert caps.makes(two_avatars(45, 45))
