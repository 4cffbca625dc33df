"""Design section 5: an empty value (``NAME=`` as in .env.example) means "not set"."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.providers import enabled_names
from bot.web import webhook_secret
from tests.bot_process import clean_environment

EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"
TOKEN = "4242:real-looking-token-abcdef"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting leaks in from the developer's environment."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def _example_copy(folder: Path) -> Path:
    """The shipped .env.example with only the token filled in, as an operator would."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    filled = [
        f"TELEGRAM_BOT_TOKEN={TOKEN}" if line.startswith("TELEGRAM_BOT_TOKEN=") else line
        for line in lines
    ]
    assert filled != lines, ".env.example must have a TELEGRAM_BOT_TOKEN line"
    env = folder / ".env"
    env.write_text("\n".join(filled) + "\n", encoding="utf-8")
    return env


def test_the_example_file_with_a_token_runs_preview_only(tmp_path: Path, clean_env: None) -> None:
    settings = load_settings(env_file=_example_copy(tmp_path))
    assert enabled_names(settings) == ["preview"]
    assert settings.magichour_api_key is None
    assert settings.telegram_webhook_secret is None
    assert settings.providers == ()
    assert webhook_secret(settings)  # derived from the token, never empty


def test_check_accepts_the_example_file(tmp_path: Path) -> None:
    env = _example_copy(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--env-file", str(env)],
        env=clean_environment(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Providers:     preview" in done.stdout
    assert "Configuration OK" in done.stdout


@pytest.mark.parametrize("blank", ["", " ", "\t  "])
def test_blank_values_in_a_mapping_are_unset(blank: str) -> None:
    settings = load_settings(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "PROVIDERS": blank,
            "MAGICHOUR_API_KEY": blank,
            "TELEGRAM_WEBHOOK_SECRET": blank,
            "HTTP_PORT": blank,
            "ADMIN_IDS": blank,
        },
        env_file=None,
    )
    assert enabled_names(settings) == ["preview"]
    assert settings.telegram_webhook_secret is None
    assert settings.http_port == 8080


def test_blank_token_is_missing() -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^TELEGRAM_BOT_TOKEN is required but not set$"):
        load_settings({"TELEGRAM_BOT_TOKEN": "  "}, env_file=None)


def test_blank_values_in_the_environment_are_unset(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("TELEGRAM_WEBHOOK_SECRET=from-the-file\nPROVIDERS=  \n", encoding="utf-8")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "")  # empty: the file's value stands
    monkeypatch.setenv("MAGICHOUR_API_KEY", " ")
    settings = load_settings(env_file=env)
    assert settings.telegram_webhook_secret is not None
    assert settings.telegram_webhook_secret.get_secret_value() == "from-the-file"
    assert enabled_names(settings) == ["preview"]


def test_values_are_trimmed() -> None:
    settings = load_settings(
        {"TELEGRAM_BOT_TOKEN": f" {TOKEN} ", "MAGICHOUR_API_KEY": " mhk \n"}, env_file=None
    )
    assert settings.telegram_bot_token.get_secret_value() == TOKEN
    assert settings.magichour_api_key is not None
    assert settings.magichour_api_key.get_secret_value() == "mhk"


def test_the_example_file_names_every_setting() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    named = {line.split("=", 1)[0] for line in text.splitlines() if re.match(r"^[A-Z_]+=", line)}
    assert named == {field.upper() for field in Settings.model_fields}
