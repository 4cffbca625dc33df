"""Turning typed text into speech. ``LocalSpeech`` is the built-in offline engine (eSpeak NG)."""

from bot.speech.local import LocalSpeech, VoiceInfo, clean_text

__all__ = ["LocalSpeech", "VoiceInfo", "clean_text"]
