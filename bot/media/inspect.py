"""Deciding whether a file a user sent can be used as the face or the voice.

Each check raises the :class:`~bot.errors.MediaError` whose message tells the user what to do
differently; the order is cheapest check first.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from bot.errors import CorruptMedia, MediaTooLong, SilentAudio, UnsupportedMedia
from bot.media.probe import check_decodes, max_volume_db, probe
from bot.models import PADDING_SECONDS, MediaKind, Probe

log = logging.getLogger(__name__)

#: Smallest width and height of a face picture: below this there is no face to find, and
#: lip-sync services reject such inputs anyway.
MIN_FACE_SIDE = 64
#: Seconds of a face video decoded up front. A truncated upload usually breaks early, and
#: decoding two seconds takes a fraction of a second even for 1080p.
DECODE_CHECK_SECONDS = 2.0
#: Shortest usable voice. Anything shorter is an accidental tap on the record button, so it
#: is reported as SilentAudio ("there is no speech in it"), not as a damaged file.
MIN_VOICE_SECONDS = 0.3
#: A voice whose loudest sample is this quiet has no speech in it. Speech peaks around
#: -20..0 dB; a muted microphone's hiss stays below -60 dB; -91 dB is digital silence.
SILENT_MAX_DB = -50.0
#: Budget for decoding a whole voice for the loudness check (ten minutes of Opus decode in
#: about a second, so this only trips on pathological files).
VOLUME_TIMEOUT = 60.0


async def inspect_face(path: Path, kind: MediaKind) -> Probe:
    """Check that ``path`` is a usable face: a picture for PHOTO, a moving video for VIDEO.

    Args:
        path: The downloaded file.
        kind: What the user sent it as.

    Returns:
        The probe of the file, with display (rotation-corrected) dimensions.

    Raises:
        UnsupportedMedia: no picture in it, a still sent as a video (or the reverse), or
            smaller than :data:`MIN_FACE_SIDE`.
        CorruptMedia: ffmpeg cannot read or decode it.
    """
    info = await probe(path)
    if not info.has_video:
        raise UnsupportedMedia(f"{path.name}: no picture in it")
    if kind is MediaKind.PHOTO and not info.is_image:
        raise UnsupportedMedia(f"{path.name}: a video, not a photo")
    if kind is MediaKind.VIDEO and (info.is_image or not info.duration or info.duration <= 0):
        raise UnsupportedMedia(f"{path.name}: a still image, not a video")
    if info.width is None or info.height is None:
        raise UnsupportedMedia(f"{path.name}: picture size unknown")
    if min(info.width, info.height) < MIN_FACE_SIDE:
        raise UnsupportedMedia(f"{path.name}: {info.width}x{info.height} is too small")
    if kind is MediaKind.VIDEO:
        await check_decodes(path, seconds=DECODE_CHECK_SECONDS)
    log.debug("face %s ok: %s", path.name, info)
    return info


async def inspect_voice(path: Path, *, max_seconds: float) -> Probe:
    """Check that ``path`` is a usable voice: audio, not too short or long, not silent.

    Args:
        path: The downloaded file (a voice note, an audio file, or a video with sound).
        max_seconds: The longest voice accepted (MAX_VOICE_SECONDS).

    Returns:
        The probe of the file.

    Raises:
        UnsupportedMedia: there is no audio stream.
        CorruptMedia: ffmpeg cannot read or decode it, or its length is unknown.
        SilentAudio: shorter than :data:`MIN_VOICE_SECONDS` or no louder than
            :data:`SILENT_MAX_DB`.
        MediaTooLong: longer than ``max_seconds``; params ``limit`` and ``duration``.
    """
    info = await probe(path)
    if not info.has_audio:
        raise UnsupportedMedia(f"{path.name}: no audio in it")
    duration = info.duration
    if duration is None:
        # Without a length the provider cannot be billed or limited; no sane voice lacks one.
        raise CorruptMedia(f"{path.name}: unknown duration")
    if duration < MIN_VOICE_SECONDS:
        raise SilentAudio(f"{path.name}: only {duration:.2f} s")
    # Container padding (a few hundredths) is forgiven here as in the price: a 3 s voice
    # note probing as 3.02 s is not "3 seconds long; the limit is 3 seconds".
    if duration - PADDING_SECONDS > max_seconds:
        raise MediaTooLong(limit=int(max_seconds), duration=math.ceil(duration))
    # Decodes everything, so a damaged voice fails here too (CorruptMedia).
    loudest = await max_volume_db(path, timeout=VOLUME_TIMEOUT)
    if loudest <= SILENT_MAX_DB:
        raise SilentAudio(f"{path.name}: max volume {loudest} dB")
    log.debug("voice %s ok: %s, max %.1f dB", path.name, info, loudest)
    return info
