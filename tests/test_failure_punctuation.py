"""A failure's reason ends its sentence once: a provider's own reason that ends in a full stop
(or "?", "!", "…", a stop inside quotes or brackets) gets none of ours after it, one without
gets ours, in the status line and in the failure message, in English and Portuguese."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from telegram import Bot

from bot.delivery.progress import ProgressBoard
from bot.delivery.status import StatusMessages
from bot.i18n import Translator
from bot.models import (
    AspectRatio,
    AudioVoice,
    FaceKind,
    FileFace,
    Job,
    JobStatus,
    Order,
    Probe,
    Reason,
)
from bot.untrusted import sentence

T = Translator.load()
STILL = Probe(duration=None, width=640, height=480)
PHOTO = FileFace(kind=FaceKind.PHOTO, path="a.jpg", probe=STILL)
ORDER = Order(
    face=PHOTO, voice=AudioVoice(path="v.ogg", probe=Probe(duration=3.0)), ratio=AspectRatio.SQUARE
)


class Board:
    """What the status line was edited into."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    async def show(self, chat_id: int, message_id: int, text: str, **_: Any) -> None:
        self.shown.append(text)


class Sent:
    """What the bot sent (the failure message)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send_message(self, chat_id: int, text: str, **_: Any) -> None:
        self.texts.append(text)


def job(reason: Reason | None, locale: str = "en", error: str | None = None) -> Job:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    return Job(
        id=7,
        chat_id=1,
        user_id=1,
        chat_type="private",
        locale=locale,
        provider="lipsync_studio",
        status=JobStatus.FAILED,
        order=ORDER,
        reason=reason,
        error=error,
        status_message_id=5,
        created_at=at,
        updated_at=at,
    )


async def told(failed: Job) -> tuple[str, str]:
    """The status line and the failure message for ``failed``."""
    board, bot = Board(), Sent()
    status = StatusMessages(cast(ProgressBoard, board), T, cast(Bot, bot), makers={})
    await status.failed(failed)
    [line], [message] = board.shown, bot.texts
    return line, message


def said(reason: str) -> Reason:
    return Reason(code="error.provider_rejected", params={"reason": reason})


@pytest.mark.parametrize(
    ("reason", "ending"),
    [
        ("Photo has one face.", "— Photo has one face."),
        ("Photo has one face", "— Photo has one face."),
        ("Photo has one face...", "— Photo has one face..."),
        ("Is this a face?", "— Is this a face?"),
        ("No face!", "— No face!"),
        ("Fewer than two faces were found (1).", "— Fewer than two faces were found (1)."),
        ('It said "bad photo."', '— It said "bad photo."'),
        ("Fewer than two faces were detected (found 1)", "detected (found 1)."),
        ("x" * 400, "xx…"),  # cut to fit: the cut says so, no stop after it
    ],
)
async def test_a_providers_reason_ends_its_sentence_once(reason: str, ending: str) -> None:
    line, message = await told(job(said(reason)))
    assert line.startswith("Video #7 failed: lipsync.studio could not make this video — ")
    assert line.endswith(ending)
    first = message.split("\n\n")[0]
    assert first.endswith(ending)
    assert first.startswith("Sorry, video #7 did not work out: lipsync.studio could not make")
    assert ".." not in line.replace("...", "")
    assert ".." not in first.replace("...", "")


@pytest.mark.parametrize("locale", ["en", "pt_BR"])
async def test_our_own_reasons_get_their_stop(locale: str) -> None:
    line, message = await told(job(Reason(code="error.output_failed"), locale))
    reason = T.t(locale, "error.output_failed")
    assert line.endswith(f": {reason}.")
    assert message.split("\n\n")[0].endswith(f": {reason}.")
    line, _ = await told(job(said("Imagem inválida."), locale))
    assert line.endswith("— Imagem inválida.")


async def test_a_reason_stored_as_words_before_codes_existed() -> None:
    line, _ = await told(job(None, "pt_BR", error="o vídeo não pôde ser gerado."))
    assert line == "O vídeo #7 falhou: o vídeo não pôde ser gerado."


def test_sentence() -> None:
    assert sentence("done") == "done."
    assert sentence("done.") == "done."
    assert sentence("done. ") == "done."
    assert sentence("(done.)") == "(done.)"
    assert sentence("«feito.»") == "«feito.»"
    assert sentence("終わった。") == "終わった。"
    assert sentence("") == ""
