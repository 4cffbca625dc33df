"""Turning typed text into speech. ``LocalSpeech`` is the built-in offline engine (eSpeak NG);
the providers' voices (Creatify, Magic Hour) and the router that picks an engine by voice id
are in ``bot.speech.router`` (imported apart: it needs the providers)."""

from bot.speech.engine import LOCAL, SpeechEngine, VoiceInfo, engine_of
from bot.speech.local import LocalSpeech, clean_text

__all__ = ["LOCAL", "LocalSpeech", "SpeechEngine", "VoiceInfo", "clean_text", "engine_of"]
