"""Handlers see narrow services through the typed context (design §2), never the whole bag."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.context import BotContext

HANDLERS = Path(__file__).parent.parent / "handlers"


def test_handlers_do_not_import_the_services_bag_storage_or_providers() -> None:
    for path in sorted(HANDLERS.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                module = node.module
                assert module != "bot.services", path.name
                assert not module.startswith(("storage", "bot.providers", "bot.jobs")), path.name
            if isinstance(node, ast.Attribute):
                assert node.attr != "services", f"{path.name}:{node.lineno}"


def test_the_context_offers_only_narrow_services() -> None:
    public = {name for name in vars(BotContext) if not name.startswith("_")}
    assert public == {
        "drafts",
        "jobs",
        "catalog",
        "t",
        "admins",
        "users",
        "moderation",
        "groups",
        "cooldown",
        "admin_tools",
        "quotas",
        "voices",
        "avatars",
        "custom_avatars",
        "avatar_setups",
    }
