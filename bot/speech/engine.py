"""What a speech engine is, and how a voice id names the engine that speaks it.

Voice ids are what ``users.voice_id`` remembers. A provider's are qualified by its engine
(``creatify:<accent uuid>``, ``magichour:<voice name>``); an id without a prefix belongs to
the built-in engine (eSpeak's voice files, ``gmw/en-GB-scotland``, hold no ``:``), which is
what every row stored before provider voices existed holds, so those keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from bot.models.avatars import Gender

#: The built-in, offline engine (bot.speech.local).
LOCAL = "local"


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """A voice some engine offers."""

    #: Stable id to remember a user's choice: ``roa/pt-BR`` (eSpeak's voice file) for the
    #: built-in engine, ``<engine>:<its own id>`` for a provider's.
    voice_id: str
    #: What users see, e.g. ``Portuguese (Brazil)``, ``Fatima, American (Creatify)``.
    name: str
    #: Main language tag, lower case, e.g. ``pt-br``.
    language: str
    #: The engine that speaks it (its ``name``).
    engine: str = LOCAL
    #: A short recording of the voice the provider hosts (fetched only through the safe
    #: download), if any.
    sample_url: str | None = None
    #: As its provider labels it, if it does: a dialogue's avatars get voices of their own.
    gender: Gender | None = None


class SpeechEngine(Protocol):
    """A provider's text-to-speech, as the router (bot.speech.router.Speech) uses it."""

    #: The prefix of its voice ids ("creatify").
    name: ClassVar[str]
    #: Its name as users know it ("Creatify").
    label: ClassVar[str]

    async def voices(self, language: str) -> list[VoiceInfo]:
        """The voices it offers for ``language`` (``en``, ``pt-BR``...), by name, from memory
        (never waits on the provider, never raises): empty until its list was read."""
        ...

    async def voice(self, voice_id: str) -> VoiceInfo | None:
        """The voice of this (qualified) id, or None when it does not offer it (any more);
        from memory, as :meth:`voices`."""
        ...

    async def speak(
        self,
        text: str,
        language: str,
        out: Path,
        *,
        voice_id: str | None = None,
        max_seconds: float | None = None,
    ) -> float:
        """Speak ``text`` with ``voice_id`` (qualified) into a WAV file at ``out``; returns
        its length in seconds.

        Raises:
            SpeechError: nothing to say.
            SpeechTooLong: longer than ``max_seconds``.
            SpeechTextTooLong: more characters than the engine takes.
            SpeechServiceFailed: the provider failed (or took too long).
        """
        ...

    async def sample(self, voice: VoiceInfo, out: Path) -> bool:
        """Write a short recording of ``voice`` to ``out`` (any audio format) if one is free
        to get; False when there is none (speaking one would cost credits)."""
        ...

    async def start(self) -> None:
        """Begin its background work (reading its voice list); returns at once."""
        ...

    async def close(self) -> None: ...


def engine_of(voice_id: str) -> str:
    """The engine a voice id belongs to: its prefix, or the built-in engine's."""
    name, sep, _ = voice_id.partition(":")
    return name if sep else LOCAL


def qualified(engine: str, own_id: str) -> str:
    return f"{engine}:{own_id}"


def own_id(voice_id: str) -> str:
    """The engine's own id inside a qualified one (``creatify:<uuid>`` -> ``<uuid>``)."""
    return voice_id.partition(":")[2]


def family(language: str) -> str:
    """``pt-BR``, ``pt_br``, ``pt`` -> ``pt``."""
    return language.replace("_", "-").lower().split("-")[0]
