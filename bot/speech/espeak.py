"""A ctypes binding of the few eSpeak NG calls the bot needs, from the ``espeakng-loader`` wheel.

Signatures and constants are those of espeak-ng's public header
``src/include/espeak-ng/speak_lib.h`` (API revision 12; the wheel ships libespeak-ng 1.52).
Only what is used here is declared.

The library keeps its state in globals and is not thread-safe: an :class:`Espeak` must be
created and used on one thread only, and there must be one per process for each library
file (ctypes opens a file once, so two would share, and reset, the same globals).
``bot.speech.local`` owns that thread and that one instance.
``espeak_Synth`` is a plain C call, so ctypes releases the GIL while it runs, and the event
loop keeps going; the GIL is taken back only for the callback, once per block of samples.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

from bot.errors import SpeechError, SpeechUnavailable

# espeak_AUDIO_OUTPUT: "as RETRIEVAL but doesn't return until synthesis is completed", so
# every sample has reached the callback when espeak_Synth returns, on the calling thread.
AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_Initialize options, bit 15: return an error instead of calling exit(1) when the
# data is missing (without it, a broken install would end the whole bot process).
INITIALIZE_DONT_EXIT = 0x8000
# espeak_Synth flags. espeakSSML (0x10) and espeakPHONEMES (0x100) are deliberately never
# set: users' text is read as words, never as <markup> or [[phoneme codes]].
CHARS_UTF8 = 1
# espeak_POSITION_TYPE
POS_CHARACTER = 1
# espeak_ERROR
EE_OK = 0
# espeak_PARAMETER, and espeakRATE_NORMAL (words per minute)
RATE = 1
RATE_NORMAL = 175
#: Length of each block handed to the callback, in ms of audio (0 would mean 60 ms). Bigger
#: blocks mean fewer GIL round trips per second of speech.
BUFFER_MS = 200
#: Files espeak_Initialize reads; checked first, since without them it prints and goes on.
REQUIRED_DATA = ("phontab", "phonindex", "phondata", "intonations", "voices", "lang")


class _Voice(ctypes.Structure):
    """``espeak_VOICE``. ``languages`` is a void pointer because it is not one C string but
    a list of (priority byte, language, NUL) ending with a zero byte (c_char_p would copy
    the first one only)."""

    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


# int SynthCallback(short *wav, int numsamples, espeak_EVENT *events): 0 goes on, 1 aborts.
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(frozen=True, slots=True)
class EspeakVoice:
    """One entry of ``espeak_ListVoices``."""

    #: The voice file under espeak-ng-data/voices or lang, e.g. ``roa/pt-BR``.
    identifier: str
    #: e.g. ``Portuguese (Brazil)``.
    name: str
    #: Language tags, lower case, most preferred first, e.g. ``("pt-br", "pt")``.
    languages: tuple[str, ...]


def _languages(address: int | None) -> tuple[str, ...]:
    """Read espeak_VOICE.languages: repeated (priority byte, UTF-8 name, NUL), then a 0."""
    if not address:
        return ()
    found: list[tuple[int, str]] = []
    offset = 0
    while len(found) < 32:  # a voice file has a handful; the bound guards a bad pointer
        priority = ctypes.c_ubyte.from_address(address + offset).value
        if priority == 0:
            break
        name = ctypes.string_at(address + offset + 1)
        found.append((priority, name.decode("utf-8", "replace").lower()))
        offset += len(name) + 2
    return tuple(name for _, name in sorted(found, key=lambda item: item[0]))


def check_data(data: Path) -> None:
    """Raise SpeechUnavailable unless ``data`` looks like an espeak-ng-data folder."""
    missing = [name for name in REQUIRED_DATA if not (data / name).exists()]
    if missing:
        raise SpeechUnavailable(f"eSpeak NG data missing in {data}: {', '.join(missing)}")


class Espeak:
    """One initialized eSpeak NG library. Not thread-safe: use it from one thread only.

    Raises:
        SpeechUnavailable: the library or its data cannot be loaded.
    """

    def __init__(self, library: Path, data: Path) -> None:
        check_data(data)
        try:
            lib = ctypes.CDLL(str(library))
            self._declare(lib)
        except (OSError, AttributeError) as exc:  # not a library, or not this one
            raise SpeechUnavailable(f"cannot load {library}: {exc}") from exc
        self._lib = lib
        self._samples = bytearray()
        self._keep_bytes = self._count = self._stop_at = 0
        # Kept on self: the library holds the pointer, so the callback must outlive any call.
        self._callback = _SYNTH_CALLBACK(self._on_samples)
        rate_hz = lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_MS, str(data).encode(), INITIALIZE_DONT_EXIT
        )
        if rate_hz <= 0:
            raise SpeechUnavailable(f"espeak_Initialize failed ({rate_hz})")
        self.sample_rate: int = rate_hz
        self.data = data
        lib.espeak_SetSynthCallback(self._callback)
        #: Read once: the voice files do not change while the bot runs.
        self.voices: tuple[EspeakVoice, ...] = tuple(self.list_voices())

    @staticmethod
    def _declare(lib: ctypes.CDLL) -> None:
        lib.espeak_Initialize.argtypes = (
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        )
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = (_SYNTH_CALLBACK,)
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = (ctypes.c_void_p,)
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_Synth.argtypes = (
            ctypes.c_char_p,  # const void *text
            ctypes.c_size_t,  # size
            ctypes.c_uint,  # position
            ctypes.c_int,  # espeak_POSITION_TYPE
            ctypes.c_uint,  # end_position
            ctypes.c_uint,  # flags
            ctypes.c_void_p,  # unsigned int *unique_identifier (NULL)
            ctypes.c_void_p,  # void *user_data (NULL)
        )
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Terminate.argtypes = ()
        lib.espeak_Terminate.restype = ctypes.c_int

    def list_voices(self) -> list[EspeakVoice]:
        """Every voice in the data folder (``espeak_ListVoices(NULL)``)."""
        table = self._lib.espeak_ListVoices(None)
        voices: list[EspeakVoice] = []
        index = 0
        while table and table[index]:
            entry = table[index].contents
            identifier = (entry.identifier or b"").decode("utf-8", "replace")
            voices.append(
                EspeakVoice(
                    identifier=identifier,
                    name=(entry.name or b"").decode("utf-8", "replace") or identifier,
                    languages=_languages(entry.languages),
                )
            )
            index += 1
        return voices

    def set_voice(self, name: str) -> None:
        """Select a voice by its name, file name or language tag (``espeak_SetVoiceByName``).

        Raises:
            SpeechError: no such voice.
        """
        status = self._lib.espeak_SetVoiceByName(name.encode())
        if status != EE_OK:
            raise SpeechError(f"eSpeak NG has no voice {name!r} ({status})")

    def set_rate(self, words_per_minute: int) -> None:
        """Set the speed (eSpeak accepts 80 to 450; 175 is its default).

        Raises:
            SpeechError: the library refused the value.
        """
        status = self._lib.espeak_SetParameter(RATE, words_per_minute, 0)
        if status != EE_OK:
            raise SpeechError(f"eSpeak NG refused the rate {words_per_minute} ({status})")

    def synth(self, text: str, *, keep: int, count: int) -> tuple[bytearray, int]:
        """Speak ``text`` (plain words: no SSML, no phoneme codes) as 16-bit mono PCM at
        :attr:`sample_rate`.

        Args:
            text: the words.
            keep: samples to keep; past them, speech is only counted (memory stays bounded
                while the true length of an over-long text is still measured).
            count: samples after which synthesis is stopped altogether (bounds the CPU).

        Returns:
            The first ``keep`` samples (or a block more), and how many were made in all
            (``count`` or a block more if it was stopped).

        Raises:
            SpeechError: the library refused the text.
        """
        data = text.encode("utf-8")
        self._samples = bytearray()
        self._keep_bytes = keep * 2
        self._count, self._stop_at = 0, count
        try:
            status = self._lib.espeak_Synth(
                data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None
            )
            if status != EE_OK:
                raise SpeechError(f"espeak_Synth failed ({status})")
            # Handed over, not copied: minutes of speech are megabytes.
            return self._samples, self._count
        finally:
            self._samples = bytearray()

    def _on_samples(
        self,
        wav: ctypes._Pointer[ctypes.c_short],
        count: int,
        _events: int | None,
    ) -> int:
        # A NULL wav marks the end; a count of 0 does not (speak_lib.h).
        if wav and count > 0:
            self._count += count
            if len(self._samples) < self._keep_bytes:
                self._samples += ctypes.string_at(wav, count * 2)
        return 1 if self._count >= self._stop_at else 0

    def terminate(self) -> None:
        self._lib.espeak_Terminate()
