"""Creatify's wire format: job ids, request bodies, and reading its answers defensively.

Kept apart from :mod:`bot.providers.creatify` (which sends) so the shapes can be read and
tested on their own. Contract: providers.md section 1. Every answer is untrusted: a field of
the wrong type, an id that could change a request path, or a progress of ``"abc"`` is read as
absent, never as an exception from deep inside a poll.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import Enum
from itertools import zip_longest
from typing import Any

from bot.errors import ProviderRejected
from bot.models import (
    AspectRatio,
    AvatarFace,
    FaceKind,
    FileFace,
    JobStatus,
    Order,
    RemoteJob,
    TextVoice,
)
from bot.providers.base import Inputs, amount, identifier, text
from bot.untrusted import clean_text

PROVIDER = "creatify"
#: ``TextVoice.voice_id`` of a Creatify accent; any other voice id belongs to another engine
#: (eSpeak...) and is never sent.
ACCENT_PREFIX = "creatify:"
#: Longest name Creatify keeps (``name`` is ≤ 255 in the v2 schema).
MAX_NAME = 255
MAX_REASON = 300


class Kind(Enum):
    """The three job endpoints; the value prefixes our job id so fetch() knows where to ask."""

    V1 = "v1"
    V2 = "v2"
    AURORA = "au"

    @property
    def path(self) -> str:
        return {
            Kind.V1: "/api/lipsyncs/",
            Kind.V2: "/api/lipsyncs_v2/",
            Kind.AURORA: "/api/aurora/",
        }[self]


def job_id(kind: Kind, bare: str) -> str:
    """Our id for Creatify job ``bare``: ``v1_<uuid>``, ``v2_<uuid>`` or ``au_<uuid>``."""
    return f"{kind.value}_{bare}"


def split_id(provider_job_id: str) -> tuple[Kind | None, str]:
    """The kind and Creatify's own id of one of our ids. A bare id (a webhook's ``id``, kept
    when a job was claimed by its webhook after a lost create answer) has no kind: Creatify's
    UUIDs hold no ``_``, so a prefix is never mistaken for part of one."""
    head, sep, rest = provider_job_id.partition("_")
    for kind in Kind:
        if sep and head == kind.value and rest:
            return kind, rest
    return None, provider_job_id


def ratio_text(ratio: AspectRatio, style: str) -> str:
    """``aspect_ratio`` as Creatify spells it: ``9x16`` (current docs) or ``9:16`` (old)."""
    return ratio.value.replace(":", "x") if style == "x" else ratio.value


def accent(voice_id: str | None) -> str | None:
    """The Creatify accent id in a ``TextVoice.voice_id``, or None for another engine's."""
    if voice_id is None or not voice_id.startswith(ACCENT_PREFIX):
        return None
    return identifier(voice_id.removeprefix(ACCENT_PREFIX))


# --- request bodies -------------------------------------------------------------------------

#: Aurora takes at most 60 s of audio [C]; Creatify's TTS at most 8000 characters [C] (the
#: only text limit documented, taken for lipsync texts too).
AURORA_MAX_SECONDS = 60.0
MAX_TEXT_CHARS = 8000
#: Scenes a v2 video is made of at most: how scenes are billed is undocumented, and 1,500
#: characters of one-word paragraphs would otherwise be some 750 of them. Paragraphs past
#: the last scene join it.
MAX_SCENES = 10


def route(order: Order, inputs: Inputs, aurora_model: str) -> tuple[Kind, dict[str, Any]]:
    """The endpoint and the body proper (no ratio, name or webhook) of ``order``:

    - photo + any voice -> Aurora, with the photo's and the spoken audio's URLs;
    - avatar + recording -> v1 with the recording's URL;
    - avatar + text -> v1 with the text, or v2 with one scene per paragraph when several;
    - two avatars, each with a text (a dialogue) -> v2, the speakers' paragraphs in turn.

    Raises:
        ProviderRejected: an order Creatify cannot take (a video face, media without
            PUBLIC_URL...): possible only when settings changed after it was made.
    """
    if order.dialogue is not None:
        return Kind.V2, {"video_inputs": _dialogue_scenes(order)}
    face, voice = order.face, order.voice
    if isinstance(face, FileFace):
        if face.kind is not FaceKind.PHOTO:
            raise ProviderRejected(PROVIDER, "Creatify cannot animate a video")
        if order.seconds > AURORA_MAX_SECONDS:
            raise ProviderRejected(PROVIDER, "Aurora takes at most 60 seconds of audio")
        if not inputs.face_url or not inputs.voice_url:
            raise ProviderRejected(PROVIDER, _NOT_PUBLIC)
        body = {"image": inputs.face_url, "audio": inputs.voice_url, "model_version": aurora_model}
        return Kind.AURORA, body
    if identifier(face.avatar_id) != face.avatar_id:
        raise ProviderRejected(PROVIDER, "not an avatar of Creatify")
    if not isinstance(voice, TextVoice):
        if not inputs.voice_url:
            raise ProviderRejected(PROVIDER, _NOT_PUBLIC)
        return Kind.V1, {"creator": face.avatar_id, "audio": inputs.voice_url}
    paragraphs = _paragraphs([voice])[0]
    voice_id = accent(voice.voice_id)  # another engine's voice id is never sent
    paragraphs = _at_most(paragraphs, MAX_SCENES)
    if len(paragraphs) > 1:
        return Kind.V2, {"video_inputs": _scenes(face.avatar_id, paragraphs, voice_id)}
    body = {"creator": face.avatar_id, "text": paragraphs[0]}
    return Kind.V1, body | ({"accent": voice_id} if voice_id else {})


def _paragraphs(voices: list[TextVoice]) -> list[list[str]]:
    """Each text's paragraphs (one scene each).

    Raises:
        ProviderRejected: a text is empty, or they are longer than Creatify reads.
    """
    split = [voice.paragraphs() for voice in voices]
    if not all(split):
        raise ProviderRejected(PROVIDER, "the text is empty")
    if sum(len(paragraph) for paragraphs in split for paragraph in paragraphs) > MAX_TEXT_CHARS:
        raise ProviderRejected(PROVIDER, f"texts are limited to {MAX_TEXT_CHARS} characters")
    return split


def _at_most(paragraphs: list[str], scenes: int) -> list[str]:
    """``paragraphs`` as ``scenes`` at most, those past the last joined into it."""
    if len(paragraphs) <= scenes:
        return paragraphs
    return [*paragraphs[: scenes - 1], "\n\n".join(paragraphs[scenes - 1 :])]


def _dialogue_scenes(order: Order) -> list[dict[str, Any]]:
    """Two avatars talking: one scene per paragraph, the speakers in turn (A1, B1, A2,
    B2...; the longer text's extra paragraphs at the end), each read by its own speaker's
    voice. At most MAX_SCENES: a speaker's paragraphs past their share join their last."""
    dialogue = order.dialogue
    assert dialogue is not None
    first, second = order.face, dialogue.avatar
    voices = [order.voice, dialogue.voice]
    if not isinstance(first, AvatarFace) or second is None:
        raise ProviderRejected(PROVIDER, "Creatify makes dialogues of two avatars only")
    texts = [voice for voice in voices if isinstance(voice, TextVoice)]
    if len(texts) != len(voices):
        raise ProviderRejected(PROVIDER, "each avatar of a dialogue needs a typed text")
    for avatar in (first, second):
        if identifier(avatar.avatar_id) != avatar.avatar_id:
            raise ProviderRejected(PROVIDER, "not an avatar of Creatify")
    a, b = _paragraphs(texts)
    # A short side keeps all its scenes; the other gets the rest of the budget.
    half = MAX_SCENES // 2
    a = _at_most(a, max(half, MAX_SCENES - min(len(b), half)))
    b = _at_most(b, MAX_SCENES - len(a))
    accents = [accent(voice.voice_id) for voice in texts]
    scenes = []
    for line_a, line_b in zip_longest(a, b):
        if line_a is not None:
            scenes += _scenes(first.avatar_id, [line_a], accents[0])
        if line_b is not None:
            scenes += _scenes(second.avatar_id, [line_b], accents[1])
    return scenes


_NOT_PUBLIC = "Creatify takes media only by URL, and the bot has no PUBLIC_URL"


def common(ratio: str, name: str) -> dict[str, Any]:
    """What every create carries: ``aspect_ratio`` and our ``name`` for the job."""
    return {"aspect_ratio": ratio, "name": name[:MAX_NAME]}


def _scenes(avatar_id: str, paragraphs: list[str], voice: str | None) -> list[dict[str, Any]]:
    """One scene per paragraph, the same avatar in each (providers.md 1.5's minimal scene)."""
    scenes = []
    for paragraph in paragraphs:
        spoken: dict[str, Any] = {"type": "text", "input_text": paragraph}
        if voice:
            spoken["voice_id"] = voice
        character = {"type": "avatar", "avatar_id": avatar_id, "avatar_style": "normal"}
        scenes.append({"character": character, "voice": spoken})
    return scenes


# --- answers --------------------------------------------------------------------------------


def percent(value: object) -> int | None:
    """``progress`` (a string in v1/v2, a number in Aurora; its scale is undocumented) as a
    percentage: 1 or less is read as a fraction. Anything unreadable is None."""
    if isinstance(value, str) and len(value) <= 32:
        try:
            amount = float(value.strip())
        except ValueError:
            return None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            amount = float(value)
        except OverflowError:  # an integer of hundreds of digits
            return None
    else:
        return None
    if not math.isfinite(amount) or amount < 0:
        return None
    return min(100, math.floor(amount * 100 if amount <= 1 else amount))


def parse_job(
    data: object, kind: Kind | None, status_of: Callable[[object], JobStatus]
) -> RemoteJob | None:
    """The job in a create/GET/list answer or a webhook, under our id (``kind`` prefixed, or
    bare when None); None when it has no usable id.

    Raises:
        UnknownStatus: from ``status_of``, for a status word we do not know.
    """
    if not isinstance(data, dict):
        return None
    bare = identifier(data.get("id"))
    if bare is None or len(bare) > 120:  # leaves room for the prefix within 128
        return None
    status = status_of(data.get("status"))
    # Lipsyncs name the video ``output``, Aurora ``video_output``: either is taken.
    url = text(data.get("output")) or text(data.get("video_output"))
    if status is JobStatus.SUCCEEDED and not url:
        status = JobStatus.RUNNING  # "done" without a video is not done for us
    reason = text(data.get("failed_reason")) if status is JobStatus.FAILED else None
    return RemoteJob(
        provider_job_id=job_id(kind, bare) if kind else bare,
        status=status,
        progress=100 if status is JobStatus.SUCCEEDED else percent(data.get("progress")),
        output_url=url if status is JobStatus.SUCCEEDED else None,
        error=(clean_text(reason, MAX_REASON) or None) if reason else None,
        credits=amount(data.get("credits_used")),
        name=text(data.get("name")),
    )


def items(data: object) -> list[Any]:
    """The items of a list answer: a bare array, or DRF's paginated ``{"results": [...]}``."""
    if isinstance(data, dict):
        data = data.get("results")
    return data if isinstance(data, list) else []
