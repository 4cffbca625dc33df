"""Inline-button payloads: short prefixed strings (<= 64 bytes) that survive restarts.

Conversation buttons carry the owner's user id and the draft's token, so a button from an
earlier conversation, or someone else's in a group, is recognised and answered.
"""

from __future__ import annotations

from dataclasses import dataclass

RATIO = "r"
PROVIDER = "p"
GENERATE = "go"
CANCEL = "x"
AGAIN = "again"
NEW = "new"
RESEND = "send"

#: Patterns for CallbackQueryHandler.
STEP_PATTERN = rf"^({RATIO}|{PROVIDER}|{GENERATE}|{CANCEL}):"
AGAIN_PATTERN = rf"^{AGAIN}:\d+$"
NEW_PATTERN = rf"^{NEW}$"
RESEND_PATTERN = rf"^{RESEND}:\d+$"


@dataclass(frozen=True)
class StepButton:
    """A press on a conversation button."""

    action: str
    user_id: int
    token: str
    value: str


def step(action: str, user_id: int, token: str, value: str = "") -> str:
    return f"{action}:{user_id}:{token}:{value}"


def parse_step(data: str) -> StepButton | None:
    parts = data.split(":", 3)
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    return StepButton(parts[0], int(parts[1]), parts[2], parts[3])


def job_action(action: str, job_id: int) -> str:
    return f"{action}:{job_id}"


def job_id_of(data: str) -> int:
    return int(data.rsplit(":", 1)[1])
