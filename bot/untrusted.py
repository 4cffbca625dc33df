"""Reading values that come from outside (URL paths, headers, button payloads, request bodies)
without raising on hostile input: every helper answers None or False (or cleaned text) instead.

The traps they avoid: ``"²".isdigit()`` is true but ``int("²")`` raises; ``int()`` of 60 digits
overflows SQLite; ``secrets.compare_digest`` raises TypeError on non-ASCII ``str``;
``json.loads`` raises RecursionError on deeply nested input; and text a provider or a user
wrote may hold newlines, NULs or right-to-left overrides that forge log lines or messages.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from typing import Any

#: Ids and timestamps we accept fit in a signed 64-bit SQLite integer.
MAX_ID = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def ascii_int(text: str) -> int | None:
    """``text`` as a non-negative int when it is 1 to 19 ASCII digits within 63 bits."""
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison that also works for non-ASCII ``given`` (it never matches)."""
    # Bytes, because compare_digest refuses str with non-ASCII characters; surrogatepass,
    # because a decoded path or header can hold lone surrogates that plain UTF-8 refuses.
    return secrets.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def json_object(body: bytes) -> dict[str, Any] | None:
    """``body`` decoded as a JSON object; None when it is not JSON, too deep, or not an object."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def clean_text(value: str, limit: int) -> str:
    """``value`` fit to show on one line of a chat or a log: whitespace (newlines, tabs)
    becomes spaces; other control characters (NUL, ESC), format characters (right-to-left
    overrides, zero-width spaces), surrogates, private-use and unassigned ones are dropped;
    runs of spaces collapse; at most ``limit`` characters, ending in "…" when cut. Empty
    when nothing is left."""
    kept = " ".join("".join(_shown(char) for char in value[: limit * 4 + 1]).split())
    return kept if len(kept) <= limit else kept[: limit - 1].rstrip() + "…"


def _shown(char: str) -> str:
    if char.isspace():  # line breaks and tabs too: they part two words
        return " "
    return "" if unicodedata.category(char)[0] == "C" else char


#: What ends a sentence, in the scripts users and providers write (a "…" says it was cut).
_STOPS = frozenset(".!?…。！？")
#: What may close a sentence after its stop: quotes and brackets.
_CLOSERS = "\"')]}»”’›"


def sentence(text: str) -> str:
    """``text`` (a reason, one line) as a whole sentence: as it is when it ends in a stop
    (``.``, ``?``, ``!``, ``…``; inside closing quotes or brackets too), else with a ``.``
    after it; so that a text that puts it before its own next words never shows two
    stops (``face..``). Trailing spaces go; empty stays empty."""
    text = text.rstrip()
    if not text or text.rstrip(_CLOSERS)[-1:] in _STOPS:
        return text
    return text + "."
