"""``lipsync-bot check``: placeholders, notes, ``--online``; ``--help`` and ``migrate``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from tests.bot_process import clean_environment, run_bot
from tests.conftest import Harness, Media, free_port
from tests.fakes import lipsync_studio, magichour
from tests.fakes.lipsync_studio import FakeLipsyncStudio
from tests.fakes.magichour import FakeMagicHour

TOKEN = "4242:real-looking-token-abcdef"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Only what a test sets; the database and data folder in its temp dir."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _main(*args: str) -> int:
    return main([*args, "--env-file", "none.env"])


def test_check_names_placeholders_without_quoting_secrets(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("TELEGRAM_BOT_TOKEN", "123456789:replace-with-your-token")
    env.setenv("MAGICHOUR_API_KEY", "changeme")
    env.setenv("LIPSYNC_STUDIO_API_KEY", "sk_XXXX_YYYY")
    env.setenv("PUBLIC_URL", "https://your-domain.example")
    assert _main("check") == 1
    out, err = capsys.readouterr()
    for name in ("TELEGRAM_BOT_TOKEN", "MAGICHOUR_API_KEY", "LIPSYNC_STUDIO_API_KEY"):
        assert f"Problem: {name} looks like a placeholder" in err
    assert "PUBLIC_URL looks like a placeholder (https://your-domain.example)" in err
    for secret in ("replace-with-your-token", "changeme", "sk_XXXX_YYYY"):
        assert secret not in out + err
    assert "Configuration has problems" in out


def test_real_looking_values_are_not_placeholders(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("TELEGRAM_BOT_TOKEN", "7712345678:AAHx3kXxq9_xXxb-Zk2Qm4VwYy8Jt0LpNoE")
    env.setenv("MAGICHOUR_API_KEY", "mhk_live_9fKx2XxQw7")
    assert _main("check") == 0
    assert "placeholder" not in capsys.readouterr().err


def test_check_notes_magichour_without_public_url(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    env.setenv("MAGICHOUR_API_KEY", "mhk_live_abc123")
    assert _main("check") == 0
    assert "Note: Magic Hour without PUBLIC_URL" in capsys.readouterr().out
    env.setenv("PUBLIC_URL", "https://bot.example.org")
    env.setenv("MAGICHOUR_WEBHOOK_SECRET", "whsec_abc123")
    assert _main("check") == 0
    assert "Magic Hour" not in capsys.readouterr().out


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out
    assert "--online" in out


def test_migrate_needs_no_token(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("DATABASE_URL", "sqlite:///db/bot.sqlite")
    env.setenv(
        "TELEGRAM_MODE", "webhook"
    )  # invalid without PUBLIC_URL, and none of migrate's business
    assert _main("migrate") == 0
    assert (tmp_path / "db" / "bot.sqlite").exists()


async def _check_online(tmp_path: Path, **values: str) -> tuple[int, str]:
    env = clean_environment(**({"ALLOW_PRIVATE_URLS": "true"} | values))
    code, out, _ = await run_bot(tmp_path, env, "check", "--online", merge_output=True)
    return code, out


@pytest.fixture
async def providers(
    media: Media,
) -> AsyncIterator[tuple[FakeMagicHour, FakeLipsyncStudio, str, str]]:
    mh = FakeMagicHour(output=media.video)
    lss = FakeLipsyncStudio(output=media.video)
    async with magichour.running(mh) as mh_url, lipsync_studio.running(lss) as lss_url:
        yield mh, lss, mh_url, lss_url


async def test_check_online_asks_telegram_and_each_provider(
    harness: Harness, providers: tuple[FakeMagicHour, FakeLipsyncStudio, str, str], tmp_path: Path
) -> None:
    mh, lss, mh_url, lss_url = providers
    keys = {
        "TELEGRAM_BOT_TOKEN": harness.fake.token,
        "TELEGRAM_API_URL": harness.base_url,
        "PUBLIC_URL": "https://bot.example.org",
        "MAGICHOUR_API_KEY": mh.api_key,
        "MAGICHOUR_API_URL": mh_url,
        "MAGICHOUR_WEBHOOK_SECRET": mh.webhook_secret,
        "LIPSYNC_STUDIO_API_KEY": lss.api_key,
        "LIPSYNC_STUDIO_API_URL": lss_url,
    }
    code, out = await _check_online(tmp_path, **keys)
    assert code == 0, out
    assert "Telegram:      OK, token accepted, bot @lipsync_test_bot" in out
    assert f"magichour:     OK, key accepted, {mh.credits} credits left" in out
    assert "lipsync_studio: OK, key accepted" in out

    refused = {
        **keys,
        "TELEGRAM_BOT_TOKEN": "4242:wrong-token-value",
        "MAGICHOUR_API_KEY": "mhk_wrong_value",
        "LIPSYNC_STUDIO_API_KEY": "sk_wrong_value",
    }
    code, out = await _check_online(tmp_path, **refused)
    assert code == 1, out
    assert "Telegram:      FAILED, getMe answered 401: the token was refused" in out
    assert "magichour:     FAILED, key refused (401)" in out
    assert "lipsync_studio: FAILED, key refused (401)" in out
    for secret in ("wrong-token-value", "mhk_wrong_value", "sk_wrong_value"):
        assert secret not in out
    assert "Traceback" not in out


async def test_check_online_names_an_unreachable_telegram(tmp_path: Path) -> None:
    code, out = await _check_online(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=f"http://127.0.0.1:{free_port()}",
    )
    assert code == 1, out
    assert "Telegram:      FAILED, cannot reach http://127.0.0.1:" in out
    assert "TELEGRAM_API_URL" in out
    assert "real-looking-token" not in out
    assert "Traceback" not in out
