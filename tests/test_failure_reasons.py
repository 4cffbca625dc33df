"""Why a job failed is stored as a code with parameters and put into words, in the user's
own language, only when a message is sent."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from bot.i18n import Translator
from bot.jobs.reasons import reason_text
from bot.models import Job, JobStatus, Probe, Reason
from tests.conftest import Harness, Media
from tests.fakes.telegram import User
from tests.flows import button, edited, said
from tests.job_rows import photo_order
from tests.test_providers_e2e import (  # noqa: F401 - fixtures
    Remote,
    job_of,
    provider_output,
    remote,
)

BIA = User(222, "Bia", language_code="pt-br")
STILL = Probe(duration=3.0, width=640, height=480, has_video=True, is_image=True)


async def test_a_provider_failure_is_stored_as_a_code_and_told_in_portuguese(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
) -> None:
    remote.mh.fail_next_jobs(outcome=("unknown_error", "Face\nnot found"))
    fake = harness.fake
    async with harness.bot(**remote.env) as bot:
        mark = fake.mark()
        fake.send_command(BIA, "/new")
        await said(fake, BIA.id, "Mande uma foto", mark)
        mark = fake.mark()
        fake.send_photo(BIA, media.photo.read_bytes())
        await said(fake, BIA.id, "Agora a voz", mark)
        mark = fake.mark()
        fake.send_voice(BIA, media.voice.read_bytes(), duration=3)
        ratios = await said(fake, BIA.id, "Escolha o formato", mark)
        mark = fake.mark()
        fake.press(BIA, ratios.result, button(fake, ratios.result, "9:16"))
        choice = await edited(fake, BIA.id, "Escolha quem faz", mark)
        mark = fake.mark()
        fake.press(BIA, choice.result, button(fake, choice.result, "Magic Hour"))
        confirm = await edited(fake, BIA.id, "Tudo pronto", mark)
        mark = fake.mark()
        fake.press(BIA, confirm.result, button(fake, confirm.result, "Gerar"))
        message = await said(fake, BIA.id, "não deu certo", mark)
        status = await edited(fake, BIA.id, "falhou", mark)
        job = await job_of(bot, BIA)
    assert job.status is JobStatus.FAILED
    # Data, not words: the provider's reason cleaned, and no label (it is filled when shown).
    assert job.reason == Reason(
        code="error.provider_rejected", params={"reason": "Face not found"}
    )
    assert job.error is None
    words = "Magic Hour não conseguiu fazer este vídeo — Face not found"
    assert words in message.params["text"]
    assert words in status.params["text"]


# --- the renderer, with odd rows ---------------------------------------------------------

T = Translator.load()


def _job(reason: Reason | None = None, error: str | None = None, **extra: object) -> Job:
    fields: dict[str, object] = {
        "id": 7,
        "chat_id": 1,
        "user_id": 1,
        "chat_type": "private",
        "locale": "pt_BR",
        "provider": "magichour",
        "status": JobStatus.FAILED,
        "order": photo_order(),
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
        "reason": reason,
        "error": error,
    }
    fields.update(extra)
    return Job.model_validate(fields)


def test_the_provider_label_is_filled_when_shown_never_from_the_row() -> None:
    job = _job(Reason(code="error.provider_canceled", params={"provider": "evil"}))
    assert reason_text(T, job) == "Magic Hour cancelou o pedido"


def test_a_provider_that_gave_no_reason_says_so() -> None:
    job = _job(Reason(code="error.provider_rejected"), locale="en")
    assert reason_text(T, job) == "Magic Hour could not make this video — it gave no reason"


def test_a_legacy_row_shows_its_stored_sentence() -> None:
    assert reason_text(T, _job(error="o vídeo não pôde ser gerado")) == (
        "o vídeo não pôde ser gerado"
    )


@pytest.mark.parametrize(
    "reason",
    [
        None,  # neither a reason nor a legacy sentence
        Reason(code="no.such.key"),
        Reason(code="error.too_long"),  # its {duration} and {limit} are missing
        Reason(code="error"),  # a section, not a text
        Reason(code="error.provider_rejected", params={"reason": "{0} {x.y} {"}),
    ],
)
def test_an_unusable_reason_falls_back_to_a_generic_text(
    reason: Reason | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    text = reason_text(T, _job(reason))
    if reason is not None and reason.code == "error.provider_rejected":
        # A provider's braces are its text, never a template.
        assert text == "Magic Hour não conseguiu fazer este vídeo — {0} {x.y} {"
        return
    assert text == T.t("pt_BR", "error.unknown")
    if reason is not None:
        assert "no.such.key" in caplog.text or reason.code in caplog.text


def test_a_provider_missing_from_the_catalog_shows_its_name() -> None:
    job = _job(Reason(code="error.provider_canceled"), provider="gone_provider")
    assert reason_text(T, job) == "gone_provider cancelou o pedido"
