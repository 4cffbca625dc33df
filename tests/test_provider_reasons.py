"""Provider reasons reach users cut to a sane length and without control characters."""

from __future__ import annotations

import pytest

from bot.jobs.reasons import MAX_REASON_CHARS, shown_reason
from tests.conftest import Harness, Media
from tests.flows import edited
from tests.test_providers_e2e import (  # noqa: F401 - fixtures
    ANN,
    Remote,
    order,
    provider_output,
    remote,
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Face not found", "Face not found"),
        ("  two\nlines\r\n\tand tabs  ", "two lines and tabs"),
        ("\x1b[31mred\x1b[0m\x00", "[31mred[0m"),
        ("left\u202eright\u200b", "leftright"),  # bidi override and zero-width space
        ("a\u2028b", "a b"),  # Unicode line separator
        ("\x07\n ", None),  # nothing left
        (None, None),
    ],
)
def test_reasons_lose_control_characters(raw: str | None, shown: str | None) -> None:
    assert shown_reason(raw) == shown


def test_long_reasons_are_cut_with_an_ellipsis() -> None:
    shown = shown_reason("word " * 2000)
    assert shown is not None
    assert len(shown) <= MAX_REASON_CHARS
    assert shown.endswith("…")
    assert shown.startswith("word word")


async def test_a_5000_character_reason_is_shown_cut(
    harness: Harness,
    remote: Remote,  # noqa: F811 - the fixture
    media: Media,
) -> None:
    reason = "\x1b[2JFace not found\n" + "x" * 5000
    remote.mh.fail_next_jobs(outcome=("unknown_error", reason))
    fake = harness.fake
    async with harness.bot(**remote.env):
        mark = fake.mark()
        await order(fake, media, "magichour")
        failed = await edited(fake, ANN.id, "failed", mark)
    text = failed.params["text"]
    assert "Magic Hour could not make this video — [2JFace not found xxx" in text
    assert "…" in text
    assert len(text) < 500
    assert "\x1b" not in text
    assert "\n" not in text
