"""Avatar names come from a provider's catalogue: text nobody here wrote. They are cleaned
once, when a list is taken in, so every button, caption and summary shows the same short,
plain name.

What cleaning guards against: a 10 KB name (Telegram cuts long button labels and refuses
captions over 1,024 characters), bidirectional overrides (U+202E turns "gpj.exe" around and
drags the text after it along), zero-width and control characters (an invisible name, or one
that looks like another), piles of combining marks ("Zalgo" text that spills over the lines
around it), and an empty name (a button must say something). Markup such as ``<b>`` needs
nothing: names are always sent as plain text, never with a parse mode.
"""

from __future__ import annotations

import unicodedata

#: Longest name kept (characters): what a summary or a caption shows.
MAX_NAME = 40
#: Longest button label: two avatars a row must both fit on a phone.
MAX_LABEL = 24
#: Combining marks kept after one base character (accents stack two deep in Vietnamese).
MAX_MARKS = 2
#: What is read of a name at all: enough for MAX_NAME after cleaning, bounded work before.
_READ = 1024
_ELLIPSIS = "…"


def clean_name(raw: object, fallback: str) -> str:
    """``raw`` as a short, one-line, visible name; ``fallback`` when nothing visible is left."""
    text = unicodedata.normalize("NFC", str(raw)[:_READ]) if isinstance(raw, str) else ""
    kept: list[str] = []
    marks = 0
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "Z" or char in "\t\n\r\v\f":
            # Any space or line break is one ordinary space, and never two in a row.
            if kept and kept[-1] != " ":
                kept.append(" ")
            marks = 0
        elif category[0] == "C":
            continue  # controls, format characters (bidi, zero-width), unassigned, private use
        elif category[0] == "M":
            if kept and kept[-1] != " " and marks < MAX_MARKS:
                kept.append(char)
                marks += 1
        else:
            kept.append(char)
            marks = 0
    name = "".join(kept).strip()
    return shorten(name, MAX_NAME) if name else fallback


def shorten(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` characters, with an ellipsis when cut (never mid-mark)."""
    if len(name) <= limit:
        return name
    cut = name[: limit - 1]
    while cut and unicodedata.category(cut[-1])[0] == "M":
        cut = cut[:-1]  # a mark without its letter would sit on the ellipsis
    return cut.rstrip() + _ELLIPSIS


def label(name: str) -> str:
    """A cleaned name as a button label."""
    return shorten(name, MAX_LABEL)
