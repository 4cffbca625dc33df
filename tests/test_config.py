"""Settings: the fixed variable names, defaults, and one clear line per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.providers import enabled_names

TOKEN = {"TELEGRAM_BOT_TOKEN": "123:abc"}


def test_only_the_token_is_required() -> None:
    settings = load_settings(TOKEN, env_file=None)
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.telegram_mode == "polling"
    assert settings.database_path == Path("data/bot.db")
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.poll_interval_seconds == 10
    assert settings.user_daily_quota_seconds == 120
    assert settings.group_daily_quota_seconds == 600
    assert settings.max_voice_seconds == 60
    assert enabled_names(settings) == ["preview"]


def test_missing_token_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^TELEGRAM_BOT_TOKEN is required but not set$"):
        load_settings({}, env_file=None)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HTTP_PORT", "eighty", "HTTP_PORT: Input should be a valid integer"),
        ("TELEGRAM_MODE", "carrier-pigeon", "TELEGRAM_MODE: Input should be 'polling' or"),
        ("ADMIN_IDS", "12,bob", "ADMIN_IDS: invalid literal"),
        ("DATABASE_URL", "postgres://db/bot", "DATABASE_URL: only sqlite:///PATH"),
        ("POLL_INTERVAL_SECONDS", "0", "POLL_INTERVAL_SECONDS: Input should be greater than 0"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({**TOKEN, name: value}, env_file=None)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_webhook_mode_needs_public_url() -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_MODE=webhook needs PUBLIC_URL"):
        load_settings({**TOKEN, "TELEGRAM_MODE": "webhook"}, env_file=None)


def test_lists_and_secrets_are_parsed() -> None:
    settings = load_settings(
        {**TOKEN, "ADMIN_IDS": " 1, 2 ,", "PROVIDERS": "Preview", "PUBLIC_URL": "https://x.y/"},
        env_file=None,
    )
    assert settings.admin_ids == {1, 2}
    assert settings.providers == ("preview",)
    assert settings.public_url == "https://x.y"
    assert "abc" not in repr(settings)


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    env = tmp_path / ".env"
    env.write_text("TELEGRAM_BOT_TOKEN=999:fromfile\nHTTP_PORT=9090\n")
    settings = load_settings(env_file=env)
    assert settings.telegram_bot_token.get_secret_value() == "999:fromfile"
    assert settings.http_port == 9090


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROVIDERS": "sync"}, "PROVIDERS: sync needs SYNC_API_KEY"),
        ({"PROVIDERS": "sync", "SYNC_API_KEY": "sk"}, "PROVIDERS: sync needs PUBLIC_URL"),
        ({"PROVIDERS": "heygen"}, "PROVIDERS: heygen is not available in this version"),
        (
            {"PROVIDERS": "creatify", "CREATIFY_API_KEY": "k"},
            "PROVIDERS: creatify needs CREATIFY_API_ID",
        ),
        ({"PROVIDERS": "magichour"}, "PROVIDERS: magichour needs MAGICHOUR_API_KEY"),
        (
            {"PROVIDERS": "lipsync_studio", "LIPSYNC_STUDIO_API_KEY": "sk_x"},
            "PROVIDERS: lipsync_studio needs PUBLIC_URL",
        ),
    ],
)
def test_providers_that_cannot_run_are_refused(env: dict[str, str], message: str) -> None:
    settings = load_settings({**TOKEN, **env}, env_file=None)
    with pytest.raises(ConfigError, match=message):
        enabled_names(settings)


def test_providers_follow_credentials() -> None:
    env = {**TOKEN, "MAGICHOUR_API_KEY": "mhk", "LIPSYNC_STUDIO_API_KEY": "sk_x"}
    # lipsync.studio needs PUBLIC_URL to serve it the inputs, so it stays off without one.
    assert enabled_names(load_settings(env, env_file=None)) == ["magichour"]
    env["PUBLIC_URL"] = "https://bot.example"
    assert enabled_names(load_settings(env, env_file=None)) == ["magichour", "lipsync_studio"]
    env["PROVIDERS"] = "preview,lipsync_studio"
    assert enabled_names(load_settings(env, env_file=None)) == ["preview", "lipsync_studio"]


def test_half_set_credentials_fall_back_to_preview_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings({**TOKEN, "CREATIFY_API_KEY": "c"}, env_file=None)
    assert enabled_names(settings) == ["preview"]
    assert (
        "Credentials for creatify are set, but it is off: it needs CREATIFY_API_ID" in caplog.text
    )


def test_creatify_runs_without_public_url() -> None:
    # Avatars with typed text need no hosted inputs, so Creatify is on with its two keys.
    env = {**TOKEN, "CREATIFY_API_ID": "id", "CREATIFY_API_KEY": "key", "MAGICHOUR_API_KEY": "m"}
    assert enabled_names(load_settings(env, env_file=None)) == ["creatify", "magichour"]
