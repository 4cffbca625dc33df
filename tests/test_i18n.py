"""Locales: same keys and placeholders everywhere, and the language negotiation."""

from __future__ import annotations

import string
import tomllib
from datetime import UTC, datetime

import pytest

from bot.i18n import LOCALES_DIR, Translator, flatten
from bot.models import JobStatus


def _catalogs() -> dict[str, dict[str, str]]:
    return {
        path.stem: flatten(tomllib.loads(path.read_text("utf-8")))
        for path in LOCALES_DIR.glob("*.toml")
    }


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_english_and_brazilian_portuguese_ship() -> None:
    assert {"en", "pt_BR"} <= set(_catalogs())


def test_every_locale_has_the_same_keys_and_placeholders() -> None:
    catalogs = _catalogs()
    english = catalogs["en"]
    for locale, catalog in catalogs.items():
        assert set(catalog) == set(english), f"{locale} keys differ"
        for key, template in catalog.items():
            assert _placeholders(template) == _placeholders(english[key]), f"{locale}:{key}"


def test_every_job_status_has_a_label() -> None:
    english = _catalogs()["en"]
    assert {f"status.{status}" for status in JobStatus} <= set(english)


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("pt-br", "pt_BR"),
        ("pt", "pt_BR"),
        ("PT-PT", "pt_BR"),
        ("en-GB", "en"),
        ("de", "en"),
        (None, "en"),
    ],
)
def test_negotiate(code: str | None, locale: str) -> None:
    assert Translator.load().negotiate(code) == locale


def test_unknown_locale_falls_back_to_english() -> None:
    t = Translator.load()
    assert t.t("xx", "cancel.nothing") == t.t("en", "cancel.nothing")
    assert "60" in t.t("pt_BR", "error.too_long", limit=60, duration=90)


def test_a_day_is_written_the_readers_way() -> None:
    t = Translator.load()
    moment = datetime(2026, 12, 2, 3, 4, tzinfo=UTC)
    assert t.date("en", moment) == "2026-12-02"
    assert t.date("pt_BR", moment) == "02/12/2026"
