"""Provider reasons made fit to show a user: one line, no control characters, short.

A provider's reason is its own free text: it can be thousands of characters long (Telegram
refuses a message over 4,096, so the failure would never be shown) or hold terminal escapes,
bidi overrides or zero-width characters that garble or disguise the message around it.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest reason shown: a sentence or two, well inside any Telegram message.
MAX_REASON_CHARS = 300
#: Control (Cc), format (Cf: bidi overrides, zero-width), surrogate and private-use characters.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co"})
_WHITESPACE = re.compile(r"\s+")


def shown_reason(reason: str | None, limit: int = MAX_REASON_CHARS) -> str | None:
    """``reason`` on one line, without invisible characters, cut to ``limit`` characters
    (ending in "…" when cut). None when nothing readable is left."""
    if reason is None:
        return None
    # Whitespace first (\n, \t and \u2028 are whitespace, and \n is also Cc): a line break
    # becomes a space instead of gluing two words together.
    spaced = _WHITESPACE.sub(" ", reason)
    visible = "".join(ch for ch in spaced if unicodedata.category(ch) not in _HIDDEN).strip()
    visible = _WHITESPACE.sub(" ", visible)
    if not visible:
        return None
    if len(visible) <= limit:
        return visible
    return visible[: limit - 1].rstrip() + "…"
