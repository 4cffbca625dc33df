"""Where typed text, once spoken, is kept: one WAV per (language, voice, text) in the users'
inputs folder (swept like any input file).

Two writers share the one name: bot.media.intake, which looks there before speaking, and a
provider's speech (bot.speech.remote), whose paid job puts its audio there itself, so that
audio is not lost when no one waits for it any more (the user sent /cancel, /new or another
text, or stopped waiting) and the same words sent again are not paid for twice.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from pathlib import Path

from bot.telegram.files import move_into_place


def spoken_path(folder: Path, text: str, language: str, voice_id: str | None) -> Path:
    """The file ``text`` spoken in ``language`` by ``voice_id`` (None: the language's own
    voice) is kept in, inside ``folder``."""
    key = f"{language}\0{text}" if voice_id is None else f"{language}\0{voice_id}\0{text}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return folder / f"text-{digest}.wav"


def keep(source: Path, dest: Path) -> None:
    """Copy ``source`` to ``dest`` whole or not at all (through a name of its own); a file
    already there is kept (it is the same words, and may be in use)."""
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.{secrets.token_hex(6)}.part")
    try:
        shutil.copyfile(source, part)
        move_into_place(part, dest)
    finally:
        part.unlink(missing_ok=True)
