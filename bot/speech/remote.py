"""What the providers' voices share: a job to create and poll (bounded in time, with backoff),
its audio fetched through the safe download, checked, and turned into the WAV every engine
writes; one provider job for the same words at once; samples fetched the same way.

Every provider job costs credits, so none is lost and none is made twice:

- the same words in the same voice asked for meanwhile (two users, or a user sending the text
  again while it is spoken) share one job;
- a job goes on when its askers go away (/cancel, /new, a corrected text cancel the check) or
  stop waiting (``Pace.timeout``): it is polled on in the background, up to ``Pace.give_up``,
  and its audio is put in the typed text cache (bot.speech.cache) by the job itself, where
  bot.media.intake finds it when the same words come again.

A restart loses the jobs in flight (their ids are kept in memory only): the words are paid for
again if sent again. That is at most one short speech per text being spoken at the restart.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx

from bot.errors import (
    MediaError,
    ProviderError,
    ProviderUnavailable,
    RenderError,
    SpeechError,
    SpeechServiceFailed,
    SpeechTooLong,
    UnsafeURL,
)
from bot.media.ffmpeg import input_args, run_ffmpeg
from bot.media.outputs import OutputFetchError, download_output
from bot.media.probe import probe
from bot.speech.cache import keep, spoken_path
from bot.speech.engine import VoiceInfo
from bot.speech.local import clean_text

log = logging.getLogger(__name__)

#: Speech audio is small: a minute of MP3 is about 1 MB. Anything far bigger is refused.
MAX_AUDIO_BYTES = 25 * 1024 * 1024
MAX_SAMPLE_BYTES = 5 * 1024 * 1024
#: Faster than anyone speaks (characters a second): a text that would still be too long at
#: this pace is refused before a provider is paid to say it.
FASTEST_CHARS_PER_SECOND = 25.0
#: Lengths measured of recent texts, so one found too long is refused again for free.
REMEMBERED_LENGTHS = 256


@dataclass(frozen=True)
class Pace:
    """How a provider job is waited for: the first look after ``first`` seconds, each wait
    ``factor`` times longer up to ``longest``; an asker is told it failed after ``timeout``
    seconds, and the job itself (create, polls, download), awaited by no one by then, is given
    up after ``give_up`` seconds in all."""

    first: float = 0.5
    factor: float = 1.5
    longest: float = 5.0
    timeout: float = 180.0
    give_up: float = 900.0


@dataclass
class _Flight:
    task: asyncio.Task[float]
    path: Path
    #: Where the askers' cache wants the audio (bot.speech.cache): the job writes each.
    caches: set[Path]
    waiters: int = 0
    done: bool = False


class RemoteSpeech:
    """A provider's text-to-speech. Subclasses say how a job is made (:meth:`synthesize`)."""

    name: ClassVar[str]
    label: ClassVar[str]

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        allow_private: bool,
        work: Path,
        inputs: Path,
        pace: Pace,
    ) -> None:
        """``work``: where jobs' audio is made; ``inputs``: the typed text cache's folder."""
        self._http = http
        self._allow_private = allow_private
        self._work = work
        self._inputs = inputs
        self.pace = pace
        self._flights: dict[str, _Flight] = {}
        self._lengths: OrderedDict[str, float] = OrderedDict()

    async def synthesize(self, words: str, voice_id: str) -> str:
        """Hook: have the provider speak ``words`` with ``voice_id`` (qualified); return the
        URL of the audio once it is made.

        Raises:
            SpeechServiceFailed: the job failed.
            ProviderError: a call failed (reported as a failed service by :meth:`speak`).
        """
        raise NotImplementedError

    def check(self, words: str) -> None:
        """Hook: refuse, before any call, words the provider would refuse (its limits).

        Raises:
            SpeechTextTooLong: more characters than it takes.
        """

    async def speak(
        self,
        text: str,
        language: str,
        out: Path,
        *,
        voice_id: str | None = None,
        max_seconds: float | None = None,
    ) -> float:
        words = clean_text(text)
        if not words:
            raise SpeechError("there is no text to speak")
        if voice_id is None:
            raise SpeechError(f"{self.label} needs a voice")
        self.check(words)
        key = f"{voice_id}\0{words}"
        if max_seconds is not None:
            known = self._lengths.get(key)
            if known is not None and known > max_seconds:
                raise SpeechTooLong(known, max_seconds)
            if len(words) / FASTEST_CHARS_PER_SECOND > max_seconds:
                raise SpeechTooLong(
                    len(words) / FASTEST_CHARS_PER_SECOND, max_seconds, at_least=True
                )
        cache = spoken_path(self._inputs, text, language, voice_id)
        return await self._shared(
            key, lambda wav: self._make(words, voice_id, wav), out, cache, max_seconds
        )

    async def sample(self, voice: VoiceInfo, out: Path) -> bool:
        if voice.sample_url is None:
            return False
        try:
            await download_output(
                self._http,
                voice.sample_url,
                out,
                allow_private=self._allow_private,
                limit=MAX_SAMPLE_BYTES,
            )
        except (UnsafeURL, OutputFetchError) as exc:
            log.warning("%s: no sample of %s: %s", self.label, voice.voice_id, exc)
            return False
        return True

    async def start(self) -> None:
        """Hook: begin any background work (reading the voice list)."""

    async def close(self) -> None:
        # The jobs in flight are dropped here (see the module docstring).
        flights = [flight.task for flight in self._flights.values()]
        for task in flights:
            task.cancel()
        await asyncio.gather(*flights, return_exceptions=True)

    async def _shared(
        self,
        key: str,
        make: Callable[[Path], Coroutine[Any, Any, float]],
        out: Path,
        cache: Path,
        max_seconds: float | None,
    ) -> float:
        """``make`` the speech once for every caller asking for ``key`` meanwhile; each gets
        a copy at its own ``out``, and the job itself writes every caller's ``cache``. The job
        goes on when a caller is cancelled or stops waiting (after ``pace.timeout``)."""
        flight = self._flights.get(key)
        if flight is None:
            self._work.mkdir(parents=True, exist_ok=True)
            path = self._work / f"{self.name}-{secrets.token_hex(8)}.wav"
            caches: set[Path] = set()
            task = asyncio.get_running_loop().create_task(self._fly(key, make, path, caches))
            flight = _Flight(task, path, caches)
            self._flights[key] = flight
            flight.task.add_done_callback(lambda _: self._landed(key, flight))
        flight.caches.add(cache)
        flight.waiters += 1
        try:
            try:
                async with asyncio.timeout(self.pace.timeout):
                    seconds = await asyncio.shield(flight.task)
            except TimeoutError:
                raise SpeechServiceFailed(
                    self.label, f"no audio after {self.pace.timeout:g} s (still awaited)"
                ) from None
            if max_seconds is not None and seconds > max_seconds:
                raise SpeechTooLong(seconds, max_seconds)
            await asyncio.to_thread(shutil.copyfile, flight.path, out)
            return seconds
        finally:
            flight.waiters -= 1
            if flight.done and flight.waiters == 0:
                flight.path.unlink(missing_ok=True)

    async def _fly(
        self,
        key: str,
        make: Callable[[Path], Coroutine[Any, Any, float]],
        path: Path,
        caches: set[Path],
    ) -> float:
        """The job: ``make`` the audio at ``path``, remember its length, and put it in the
        cache for every asker (whoever still waits copies it from ``path``)."""
        seconds = await make(path)
        self._remember(key, seconds)
        for dest in list(caches):
            try:
                await asyncio.to_thread(keep, path, dest)
            except OSError as exc:  # a full disk: the askers waiting still get their copy
                log.warning("%s: could not keep the speech at %s: %s", self.label, dest, exc)
        return seconds

    def _landed(self, key: str, flight: _Flight) -> None:
        flight.done = True
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.task.cancelled():
            flight.task.exception()  # retrieved: each waiter raises it on its own
        if flight.waiters == 0:
            flight.path.unlink(missing_ok=True)

    def _remember(self, key: str, seconds: float) -> None:
        self._lengths[key] = seconds
        self._lengths.move_to_end(key)
        while len(self._lengths) > REMEMBERED_LENGTHS:
            self._lengths.popitem(last=False)

    async def _make(self, words: str, voice_id: str, wav: Path) -> float:
        """The provider's audio for ``words`` as a WAV at ``wav``; its length in seconds."""
        raw = wav.with_suffix(".download")
        try:
            async with asyncio.timeout(self.pace.give_up):
                try:
                    url = await self.synthesize(words, voice_id)
                except ProviderError as exc:
                    raise SpeechServiceFailed(self.label, str(exc)) from exc
                await self._download(url, raw)
            return await self._converted(raw, wav)
        except TimeoutError:
            log.warning("%s: a speech job gave no audio in %g s", self.label, self.pace.give_up)
            raise SpeechServiceFailed(
                self.label, f"no audio after {self.pace.give_up:g} s"
            ) from None
        except BaseException:
            wav.unlink(missing_ok=True)
            raise
        finally:
            raw.unlink(missing_ok=True)

    async def _download(self, url: str, dest: Path) -> None:
        try:
            await download_output(
                self._http, url, dest, allow_private=self._allow_private, limit=MAX_AUDIO_BYTES
            )
        except (UnsafeURL, OutputFetchError) as exc:
            raise SpeechServiceFailed(
                self.label, f"its audio could not be fetched: {exc}"
            ) from exc

    async def _converted(self, raw: Path, wav: Path) -> float:
        """``raw`` (whatever the provider made: MP3, WAV...) as 16-bit mono WAV."""
        try:
            found = await probe(raw)
        except MediaError as exc:
            raise SpeechServiceFailed(self.label, f"its audio is unreadable: {exc}") from exc
        if not found.has_audio or found.duration is None:
            raise SpeechServiceFailed(self.label, "its audio has no sound or no length")
        args = [*input_args(raw), "-vn", "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav", str(wav)]
        try:
            await run_ffmpeg(args, timeout=60)
        except RenderError as exc:
            raise SpeechServiceFailed(
                self.label, f"its audio could not be decoded: {exc}"
            ) from exc
        return found.duration

    async def poll(self, read: Callable[[], Awaitable[str | None]]) -> str:
        """Call ``read`` until it gives the audio's URL, waiting longer each time; a read
        that fails transiently is tried again (the whole is bounded by ``pace.give_up``)."""
        wait = self.pace.first
        while True:
            await asyncio.sleep(wait)
            try:
                url = await read()
            except ProviderUnavailable as exc:  # an unknown status word included
                log.info("%s: reading a speech job failed (%s); trying again", self.label, exc)
                url = None
            if url is not None:
                return url
            wait = min(wait * self.pace.factor, self.pace.longest)
