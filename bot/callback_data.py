"""Inline-button payloads: short prefixed strings (<= 64 bytes) that survive restarts.

Conversation buttons carry the owner's user id and the draft's token, so a button from an
earlier conversation, or someone else's in a group, is recognised and answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.untrusted import ascii_int

RATIO = "r"
PROVIDER = "p"
GENERATE = "go"
CANCEL = "x"
#: [Shorter voice]: a conversation button (see ``step``) when the voice costs more quota
#: than is left; back to the VOICE step keeping the face and choices.
SHORTER_VOICE = "short"
#: A dialogue's conversation buttons (see ``step``): [Dialogue] and [One speaker] at the
#: MEDIA step (no value), and the TURNS step's choice (value: a ``Turns``).
DIALOGUE = "dlg"
ONE_SPEAKER = "solo"
TURNS = "t"
AGAIN = "again"
NEW = "new"
RESEND = "send"
#: [Get my video]: send a video whose first upload Telegram never confirmed (job id).
GET_VIDEO = "get"
#: [Use this face instead]: a conversation button (see ``step``) with no value.
USE_FACE = "face"
#: Buttons on a job's status message ([Cancel]) and on its failure message ([Try again]
#: [Other provider] [New], and [Other photo] for a dialogue's photo); each carries the job
#: id, and only the job's owner may press them.
STOP = "stop"
RETRY = "retry"
OTHER_PROVIDER = "other"
OTHER_PHOTO = "photo"
RESTART = "anew"

#: Patterns for CallbackQueryHandler. They match on the prefix alone, so a malformed or forged
#: payload still reaches its handler, whose parser rejects it and answers "stale button".
STEP_PATTERN = (
    rf"^({RATIO}|{PROVIDER}|{GENERATE}|{CANCEL}|{SHORTER_VOICE}|{DIALOGUE}|{ONE_SPEAKER}|{TURNS}):"
)
AGAIN_PATTERN = rf"^{AGAIN}:"
NEW_PATTERN = rf"^{NEW}$"
RESEND_PATTERN = rf"^{RESEND}:"
GET_VIDEO_PATTERN = rf"^{GET_VIDEO}:"
USE_FACE_PATTERN = rf"^{USE_FACE}:"
JOB_CONTROL_PATTERN = rf"^({STOP}|{RETRY}|{OTHER_PROVIDER}|{OTHER_PHOTO}|{RESTART}):"
#: /voice's buttons: ``vc:<user id>:<voice id>``, or ``-`` for the language's own voice.
VOICE = "vc"
VOICE_PATTERN = rf"^{VOICE}:"
#: [Voice: NAME] under the VOICE prompt: opens /voice's choices (``vm:<user id>``).
VOICE_MENU = "vm"
VOICE_MENU_PATTERN = rf"^{VOICE_MENU}:"
#: The avatar picker's buttons, conversation buttons (see ``step``) so that someone else's
#: or an old conversation's are recognised: a page (value ``<filter letter><page>``), an
#: avatar shown and [Use NAME] (value: the avatar's ref), [Back] to the MEDIA prompt, and
#: [Back] from an avatar's still (no value).
AVATARS = "av"
AVATAR_SHOW = "avs"
AVATAR_USE = "avu"
AVATAR_BACK = "avb"
AVATAR_CLOSE = "avx"
AVATAR_PATTERN = rf"^({AVATARS}|{AVATAR_SHOW}|{AVATAR_USE}|{AVATAR_BACK}|{AVATAR_CLOSE}):"
_AVATAR_PAGE = re.compile(r"([a-z])([0-9]{1,4})")
#: bot.avatars.ref_of: 8 bytes in URL-safe base64.
_AVATAR_REF = re.compile(r"[A-Za-z0-9_-]{11}")
#: What a voice id may hold (eSpeak's voice files: ``gmw/en-GB-x-rp``).
_VOICE_ID = re.compile(r"[A-Za-z0-9/_-]{1,40}")
#: The language's own voice (no choice remembered).
DEFAULT_VOICE = "-"


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
    """The button ``data`` describes; None when it is malformed (forged or from an old version)."""
    parts = data.split(":", 3)
    user_id = ascii_int(parts[1]) if len(parts) == 4 else None
    if user_id is None:
        return None
    return StepButton(parts[0], user_id, parts[2], parts[3])


def job_action(action: str, job_id: int) -> str:
    return f"{action}:{job_id}"


def job_id_of(data: str) -> int | None:
    """The job id of an ``action:<id>`` payload; None when it is not a sane id."""
    _, sep, job_id = data.partition(":")
    return ascii_int(job_id) if sep else None


def voice_choice(user_id: int, voice_id: str) -> str:
    return f"{VOICE}:{user_id}:{voice_id}"


def parse_voice_choice(data: str) -> tuple[int, str] | None:
    """(user id, voice id or DEFAULT_VOICE) of a /voice button; None when malformed."""
    parts = data.split(":", 2)
    if len(parts) != 3 or parts[0] != VOICE:
        return None
    user_id = ascii_int(parts[1])
    voice_id = parts[2]
    if user_id is None or not (voice_id == DEFAULT_VOICE or _VOICE_ID.fullmatch(voice_id)):
        return None
    return user_id, voice_id


def voice_menu(user_id: int) -> str:
    return f"{VOICE_MENU}:{user_id}"


def parse_voice_menu(data: str) -> int | None:
    """The owner's user id of a [Voice: NAME] button; None when malformed."""
    action, sep, user_id = data.partition(":")
    return ascii_int(user_id) if action == VOICE_MENU and sep else None


def avatar_page(user_id: int, token: str, filter_letter: str, page: int) -> str:
    return step(AVATARS, user_id, token, f"{filter_letter}{page}")


def parse_avatar_page(value: str) -> tuple[str, int] | None:
    """(filter letter, page) of a picker page button's value; None when malformed."""
    match = _AVATAR_PAGE.fullmatch(value)
    return (match[1], int(match[2])) if match else None


def is_avatar_ref(value: str) -> bool:
    return _AVATAR_REF.fullmatch(value) is not None
