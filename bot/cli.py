"""``lipsync-bot [run|check|migrate]`` (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bot import checks
from bot.config import Settings, StorageSettings, load_settings, load_storage_settings
from bot.errors import BotError, ConfigError
from bot.logs import secrets_in, setup_logging
from bot.media import ffmpeg
from bot.providers import enabled_names

DESCRIPTION = (
    "Run the lipsync-bot Telegram bot (the default), check its configuration, or bring its "
    "database up to date. Settings come from the environment and the --env-file."
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "migrate":
            return _migrate_command(load_storage_settings(env_file=args.env_file))
        settings = load_settings(env_file=args.env_file)
        providers = enabled_names(settings)
    except ConfigError as exc:
        print(f"Configuration error:\n{exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        return _check(settings, providers, online=args.online)
    setup_logging(settings.log_level, secrets_in(settings))
    from bot.app import run  # imports PTB and handlers: only when running

    try:
        asyncio.run(run(settings))
    except BotError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lipsync-bot", description=DESCRIPTION)
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "check", "migrate"],
        help="run the bot (default), check the configuration, or migrate the database "
        "(migrate needs no token)",
    )
    parser.add_argument("--env-file", default=".env", help="read settings from this file too")
    parser.add_argument(
        "--online",
        action="store_true",
        help="with check: also ask Telegram and each provider whether they accept the keys",
    )
    return parser


def _check(settings: Settings, providers: list[str], *, online: bool) -> int:
    """Print what the bot would run with; exit 1 if something it needs is missing."""
    problems = checks.placeholders(settings)
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
    for note in checks.notes(settings, providers):
        print(f"Note: {note}")
    if online:
        for result in asyncio.run(checks.online(settings)):
            label = f"{result.name}:".ljust(14)
            print(f"{label} {'OK' if result.ok else 'FAILED'}, {result.detail}")
            if not result.ok:
                problems.append(f"the {result.name} check failed (see above)")
    for problem in problems:
        print(f"Problem: {problem}", file=sys.stderr)
    print("Configuration OK" if not problems else "Configuration has problems")
    return 1 if problems else 0


def _migrate_command(settings: StorageSettings) -> int:
    setup_logging(settings.log_level, [])
    try:
        version = asyncio.run(_migrate(settings))
    except BotError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(f"Database {settings.database_path} is at schema version {version}")
    return 0


async def _migrate(settings: StorageSettings) -> int:
    from storage import Database

    db = await Database.open(settings.database_path)
    try:
        return await db.migrate()
    finally:
        await db.close()
