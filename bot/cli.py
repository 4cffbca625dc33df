"""``lipsync-bot [run|check|migrate]`` (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bot.config import Settings, load_settings
from bot.errors import BotError, ConfigError
from bot.logs import setup_logging
from bot.media import ffmpeg
from bot.providers import enabled_names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lipsync-bot", description=__doc__)
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "check", "migrate"],
        help="run the bot (default), check the configuration, or migrate the database",
    )
    parser.add_argument("--env-file", default=".env", help="read settings from this file too")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(env_file=args.env_file)
        providers = enabled_names(settings)
    except ConfigError as exc:
        print(f"Configuration error:\n{exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        return _check(settings, providers)
    setup_logging(settings.log_level, _secrets(settings))
    try:
        if args.command == "migrate":
            version = asyncio.run(_migrate(settings))
            print(f"Database {settings.database_path} is at schema version {version}")
            return 0
        from bot.app import run  # imports PTB and handlers: only when running

        asyncio.run(run(settings))
    except BotError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


def _check(settings: Settings, providers: list[str]) -> int:
    """Print what the bot would run with; exit 1 if something it needs is missing."""
    problems = []
    try:
        exe = ffmpeg.ffmpeg_exe()
    except Exception as exc:  # imageio-ffmpeg raises RuntimeError when the binary is absent
        exe = f"missing ({exc})"
        problems.append("ffmpeg binary not found (reinstall imageio-ffmpeg)")
    webhook = f" at {settings.public_url}/telegram" if settings.telegram_mode == "webhook" else ""
    print(
        "\n".join(
            [
                f"Telegram API:  {settings.telegram_api_url} ({settings.telegram_mode}{webhook})",
                f"Web server:    http://{settings.http_host}:{settings.http_port}",
                f"Database:      {settings.database_path}",
                f"Data dir:      {settings.data_dir}",
                f"Providers:     {', '.join(providers)}",
                f"Admins:        {', '.join(map(str, sorted(settings.admin_ids))) or 'none'}",
                f"ffmpeg:        {exe}",
            ]
        )
    )
    if not settings.admin_ids:
        print("Note: ADMIN_IDS is empty, so nobody gets admin commands.")
    for problem in problems:
        print(f"Problem: {problem}", file=sys.stderr)
    print("Configuration OK" if not problems else "Configuration has problems")
    return 1 if problems else 0


async def _migrate(settings: Settings) -> int:
    from storage import Database

    db = await Database.open(settings.database_path)
    try:
        return await db.migrate()
    finally:
        await db.close()


def _secrets(settings: Settings) -> list[str]:
    values = [settings.telegram_bot_token, settings.telegram_webhook_secret]
    values += [
        settings.creatify_api_key,
        settings.magichour_api_key,
        settings.magichour_webhook_secret,
        settings.lipsync_studio_api_key,
        settings.sync_api_key,
        settings.sync_webhook_secret,
    ]
    return [value.get_secret_value() for value in values if value is not None]
