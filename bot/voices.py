"""Which voice reads a user's typed text (/voice): the voices of their language (the built-in
accents, American, British, Scottish English..., then the enabled providers' voices), the one
they chose (remembered per user), and a short sample of each.

A choice whose provider was turned off since is kept (it comes back with the provider), but
meanwhile the language's own voice reads the text, and /voice says so.

A dialogue's two speakers are read by two voices (:meth:`Voices.for_speaker`): two avatars by
their provider's, a photo of two by the user's and then another of the language, always
found (the built-in engine makes any of its voices a woman's).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from bot.errors import RenderError, SpeechError
from bot.media.ffmpeg import input_args, run_ffmpeg
from bot.models import AvatarFace, Draft, Gender, Step
from bot.speech import VoiceInfo
from bot.speech.engine import LOCAL, engine_of, family
from bot.speech.local import variant_of
from bot.speech.router import Speech
from storage import UserRepository

log = logging.getLogger(__name__)

#: Voice buttons on one page of /voice.
PAGE_SIZE = 8
#: A sample is a taste: a provider's preview longer than this is cut.
SAMPLE_SECONDS = 20
#: What a button may carry as a voice id as it is (callback data is 64 bytes, and ``:`` parts
#: it): the built-in voices' ids. Any other is carried as its :func:`ref`.
_PLAIN = re.compile(r"[A-Za-z0-9/_-]{1,40}")
_REF_PREFIX = "id/"


def ref(voice_id: str) -> str:
    """What a /voice button carries for ``voice_id``: the id itself when it fits (built-in
    voices, so buttons sent before provider voices existed still work), else ``id/`` and a
    digest of it (``creatify:<uuid>`` is too long, and holds a ``:``). eSpeak's voice
    families (``gmw``, ``roa``...) are never ``id``."""
    if _PLAIN.fullmatch(voice_id) and not voice_id.startswith(_REF_PREFIX):
        return voice_id
    digest = hashlib.sha256(voice_id.encode()).digest()[:9]
    return _REF_PREFIX + base64.urlsafe_b64encode(digest).decode()


@dataclass(frozen=True)
class Current:
    """The voice reading a user's text now, and whether it is not the one they chose (its
    provider is off, or it is no longer offered)."""

    voice: VoiceInfo
    replaced: bool


#: What a provider's stock avatars speak with their own voices (Creatify's are English).
AVATARS_LANGUAGE = "en"


class Voices:
    def __init__(self, speech: Speech, users: UserRepository, samples: Path) -> None:
        self._speech = speech
        self._users = users
        self._samples = samples

    async def choices(self, language: str) -> list[VoiceInfo]:
        """The voices for ``language`` (``en``, ``pt-br``, ``de``...), built-in first; the
        English ones for a language without any."""
        return await self._speech.voices(language) or await self._speech.voices("en")

    async def current(self, user_id: int, language: str) -> VoiceInfo:
        """The voice that reads this user's text now."""
        return (await self.status(user_id, language)).voice

    async def voice(self, language: str, voice_id: str | None) -> VoiceInfo:
        """The voice that speaks for ``voice_id`` (None, or one whose provider is off: the
        language's own)."""
        return await self._speech.voice(language, voice_id)

    async def status(self, user_id: int, language: str) -> Current:
        stored = await self._users.voice_of(user_id)
        voice = await self._speech.voice(language, stored)
        replaced = stored is not None and not await self._speech.offers(stored)
        return Current(voice, replaced)

    async def chosen_id(self, user_id: int) -> str | None:
        """The voice id to speak this user's text with: their choice while its provider
        offers it, else None (the language's own voice), so that a text spoken meanwhile by
        the built-in voice is never kept under the provider voice's name."""
        stored = await self._users.voice_of(user_id)
        if stored is None or not await self._speech.offers(stored):
            return None
        return stored

    async def for_speaker(self, draft: Draft) -> str | None:
        """The voice id the text typed at ``draft``'s step is ordered with (see
        :meth:`reading`): the speaker it asks for is a dialogue's second at VOICE2, who never
        gets the first speaker's voice while their avatars' provider has another; after a
        typed text, a photo's second speaker never (see :meth:`other_than`)."""
        avatar, typed, taken = _speaker(draft)
        language = draft.language or draft.locale
        if avatar is None and typed:
            return await self.other_than(draft.user_id, language, taken)
        provider = avatar.provider if avatar is not None else None
        gender = avatar.gender if avatar is not None else None
        return await self.reading(draft.user_id, language, provider, gender=gender, taken=taken)

    async def speaker_voice(self, draft: Draft) -> VoiceInfo | None:
        """The voice that reads the text typed at ``draft``'s step (to name it on the
        prompt's button); None: an avatar's own."""
        if draft.avatar is not None:
            return await self.reads_speaker(draft)
        return await self._speech.voice(
            draft.language or draft.locale, await self.for_speaker(draft)
        )

    async def other_than(self, user_id: int, language: str, taken: str | None) -> str | None:
        """The voice id for a photo dialogue's second speaker, whose first's text ``taken``
        read (None: the language's own voice): the user's choice unless that is the one;
        else another voice of its provider for ``language``, of another gender where the
        voices say theirs; else (a built-in voice, or a provider's only one) the built-in
        voice of the language as a woman's, or its plain (a man's) after a woman's."""
        first = await self._speech.voice(language, taken)
        chosen = await self.chosen_id(user_id)
        if chosen is not None and (await self._speech.voice(language, chosen)) != first:
            return chosen
        other = Gender.MALE if first.gender is Gender.FEMALE else Gender.FEMALE
        if first.engine != LOCAL:
            listed = await self._speech.voices(language)
            own = [v for v in listed if v.engine == first.engine and v.voice_id != first.voice_id]
            voice = _suited(own, other, None)
            if voice is not None:
                return voice.voice_id
            first = await self._speech.voice(language, None)  # the built-in one, then
        return variant_of(first.voice_id, other)

    async def reads_speaker(self, draft: Draft) -> VoiceInfo | None:
        """The voice an avatar reads the text typed at ``draft``'s step with (see
        :meth:`for_speaker`); None: the avatar's own."""
        voice_id = await self.for_speaker(draft)
        if voice_id is None:
            return None
        return await self._speech.voice(draft.language or draft.locale, voice_id)

    async def reading(
        self,
        user_id: int,
        language: str,
        provider: str | None,
        *,
        gender: Gender | None = None,
        taken: str | None = None,
    ) -> str | None:
        """The voice id a typed text is ordered with. For an avatar of ``provider`` (which
        reads the text with its own voices): the user's choice if it is one of that
        provider's; else the avatar's own voice (None) for English, what stock avatars speak;
        else one of that provider's voices for ``language``, since a Brazilian's text must not
        be read by the avatar's English voice: one of the avatar's ``gender`` where the
        voices say theirs. ``taken``: the voice the other speaker of a dialogue already has,
        which this one gets only when the provider has no other for ``language`` (an
        English avatar then speaks with its own)."""
        chosen = await self.chosen_id(user_id)
        if provider is None:
            return chosen
        if chosen is not None and engine_of(chosen) == provider and chosen != taken:
            return chosen
        if family(language) == AVATARS_LANGUAGE:
            return None
        own = [v for v in await self._speech.voices(language) if v.engine == provider]
        voice = _suited(own, gender, taken)
        return None if voice is None else voice.voice_id

    async def choose(self, user_id: int, language: str, voice_ref: str) -> VoiceInfo | None:
        """Remember the voice a button's ``voice_ref`` (see :func:`ref`) names; None (nothing
        changed) when it is not one of :meth:`choices` (a forged or outdated button, another
        language's or a provider's that is off)."""
        voice = next(
            (v for v in await self.choices(language) if ref(v.voice_id) == voice_ref), None
        )
        if voice is not None:
            await self._users.set_voice(user_id, voice.voice_id)
        return voice

    async def forget(self, user_id: int) -> None:
        """Back to the voice of the user's language."""
        await self._users.set_voice(user_id, None)

    async def sample(self, voice: VoiceInfo, text: str) -> Path | None:
        """A short sample of ``voice`` as an OGG Opus voice note (the caller deletes it):
        ``text`` read by a built-in voice, a provider's own preview otherwise. None when
        there is none free (a provider would charge for it) or it could not be made (a
        sample is a courtesy)."""
        self._samples.mkdir(parents=True, exist_ok=True)
        stem = self._samples / f"sample-{secrets.token_hex(6)}"
        source, ogg = stem.with_suffix(".source"), stem.with_suffix(".ogg")
        try:
            if not await self._speech.sample(voice, text, source):
                return None
            # A provider's preview is its file, not ours: read only as a plain audio file.
            args = [*input_args(source), "-vn", "-t", str(SAMPLE_SECONDS)]
            await run_ffmpeg([*args, "-c:a", "libopus", "-b:a", "32k", str(ogg)], timeout=30)
        except (SpeechError, RenderError) as exc:
            log.warning("Could not make a sample of %s: %s", voice.voice_id, exc)
            ogg.unlink(missing_ok=True)
            return None
        finally:
            source.unlink(missing_ok=True)
        return ogg

    def has_free_sample(self, voice: VoiceInfo) -> bool:
        """Whether choosing ``voice`` is answered with a sample (built-in voices are spoken
        here; a provider's only when it hosts a preview)."""
        return voice.engine not in self._speech.engines or voice.sample_url is not None


def _speaker(draft: Draft) -> tuple[AvatarFace | None, bool, str | None]:
    """The avatar of the speaker whose text ``draft``'s step asks for (None: a photo),
    whether that is a dialogue's second after a typed text, and the voice that text has (the
    other speaker's; None: the language's own)."""
    if draft.step not in (Step.VOICE2, Step.VOICE2_CHECK):
        return draft.avatar, False, None
    typed = draft.voice_text is not None
    return draft.avatar2, typed, draft.voice_id if typed else None


def _suited(voices: list[VoiceInfo], gender: Gender | None, taken: str | None) -> VoiceInfo | None:
    """The first of ``voices`` that is not ``taken`` (``taken`` when it is the only one),
    one of ``gender`` if any is."""
    free = [voice for voice in voices if voice.voice_id != taken] or voices
    matching = (voice for voice in free if gender is not None and voice.gender == gender)
    return next(matching, free[0] if free else None)
