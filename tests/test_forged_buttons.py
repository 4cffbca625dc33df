"""Forged callback data (a modified client can send any) is answered as a stale button."""

from __future__ import annotations

import logging

import pytest

from bot import callback_data as cd
from bot.app import Running
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import said

ANN = User(111, "Ann", language_code="en")
HUGE = "9" * 59

FORGED = [
    f"{cd.RESEND}:{HUGE}",
    f"{cd.AGAIN}:{HUGE}",
    f"{cd.RESEND}:²",
    f"{cd.AGAIN}:١٢",
    f"{cd.AGAIN}:-1",
    f"{cd.RESEND}:",
    f"{cd.RATIO}:{HUGE}:token:9x16",
    f"{cd.GENERATE}:²:token:",
    f"{cd.CANCEL}:{ANN.id}",
    f"{cd.PROVIDER}:{2**63}:token:preview",
    "zzz",
    "",
]


@pytest.mark.parametrize("data", FORGED)
async def test_forged_buttons_get_the_stale_button_alert(
    bot: Running, fake: FakeTelegram, data: str, caplog: pytest.LogCaptureFixture
) -> None:
    mark = fake.mark()
    fake.send_command(ANN, "/new")
    prompt = await said(fake, ANN.id, "Send a photo", mark)
    mark = fake.mark()
    query = fake.press(ANN, prompt.result, data, forged=True)["callback_query"]
    await fake.wait_for("answerCallbackQuery", since=mark)
    answer = fake.callback_answers[query["id"]]
    assert answer.get("show_alert") is True
    assert "earlier conversation" in str(answer.get("text"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("send:7", 7),
        (f"send:{2**63 - 1}", 2**63 - 1),
        (f"send:{2**63}", None),
        (f"send:{HUGE}", None),
        ("send:²", None),
        ("send:+7", None),
        ("send: 7", None),
        ("send:", None),
        ("send", None),
    ],
)
def test_job_ids_are_ascii_digits_that_fit_in_63_bits(data: str, expected: int | None) -> None:
    assert cd.job_id_of(data) == expected


def test_a_step_button_round_trips() -> None:
    data = cd.step(cd.RATIO, 42, "tok", "9:16")
    assert cd.parse_step(data) == cd.StepButton(cd.RATIO, 42, "tok", "9:16")
    assert cd.parse_step(cd.step(cd.RATIO, 2**63, "tok", "9:16")) is None
