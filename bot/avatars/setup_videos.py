"""The training and consent videos of a new avatar: what is refused before any download (its
declared kind, size and length), then, in the background, the download and the checks of what
it really holds, so that nothing Creatify would refuse (or build badly) is ever uploaded.

Creatify takes MP4 or QuickTime videos [C] and states no length: a training video of 15 s to
5 min of the person speaking, and a consent video of 3 s to 1 min, are our bounds, said in the
prompts. Telegram only lets a bot download files up to its limit (20 MB on the cloud API), which
in practice caps a phone video at a minute or two: the prompt says that too.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import httpx
from telegram import Bot
from telegram.error import TelegramError

from bot.avatars.custom_errors import CustomAvatarError
from bot.errors import MediaError, UnsupportedFormat, UnsupportedMedia
from bot.media.inspect import SILENT_MAX_DB, VOLUME_TIMEOUT, inspect_face
from bot.media.probe import max_volume_db
from bot.models import InputFile, MediaKind
from bot.telegram import files as telegram_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoRule:
    """What one of the two videos must be."""

    #: ``training`` or ``consent``: the file's name, and the locale keys' part.
    kind: str
    min_seconds: int
    max_seconds: int


TRAINING = VideoRule("training", 15, 300)
CONSENT = VideoRule("consent", 3, 60)
#: Declared types a video document may have (Creatify's two, and the .m4v flavour of MP4).
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime", "video/x-m4v"})
#: Seconds of slack on Telegram's declared length (whole seconds, rounded either way).
_DECLARED_SLACK = 1


class SetupRefused(CustomAvatarError):
    """A video or a name that cannot be used; ``key`` and ``params`` say why."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key, **params)
        self.key = key


def check_declared(
    rule: VideoRule, file: InputFile, seconds: int | None, *, download_limit: int
) -> None:
    """Refuse, before any download, a video Telegram says is too big, too short or too long,
    or of a type Creatify does not take.

    Raises:
        SetupRefused: why.
    """
    if file.source == "animation":
        # A GIF sent as a video: Telegram strips any sound from animations.
        raise SetupRefused("avatar.video_silent")
    if file.file_size is not None and file.file_size > download_limit:
        raise SetupRefused("error.file_too_big", limit_mb=download_limit // 1_000_000)
    if file.source == "document" and (file.mime_type or "") not in VIDEO_TYPES:
        raise SetupRefused("avatar.video_format")
    if seconds is not None:
        _check_length(rule, seconds, slack=_DECLARED_SLACK)


async def fetch_and_check(
    rule: VideoRule,
    file: InputFile,
    folder: Path,
    *,
    bot: Bot,
    http: httpx.AsyncClient,
    download_limit: int,
) -> tuple[Path, float]:
    """Download ``file`` into ``folder`` and check it: an MP4 or MOV, a moving picture that
    decodes, a sound track that is not silent, a length within ``rule``. Returns where it is
    (``<kind>.mp4`` or ``<kind>.mov``) and its length.

    Raises:
        SetupRefused: why it cannot be used (the file is deleted).
    """
    partial = folder / f"{rule.kind}.download"
    # A leftover of a check a restart cut short would be kept in place of the new download.
    partial.unlink(missing_ok=True)
    try:
        await telegram_files.download(bot, http, file.file_id, partial, limit=download_limit)
        suffix = _container(partial)
        if suffix is None:
            raise SetupRefused("avatar.video_format")
        seconds = await _inspect(rule, partial)
        final = folder / f"{rule.kind}{suffix}"
        partial.replace(final)
    except SetupRefused:
        partial.unlink(missing_ok=True)
        raise
    except UnsupportedFormat as exc:
        partial.unlink(missing_ok=True)
        raise SetupRefused("avatar.video_format") from exc
    except UnsupportedMedia as exc:
        partial.unlink(missing_ok=True)
        raise SetupRefused("avatar.video_unusable") from exc
    except MediaError as exc:  # too big, damaged, a failed download: its own words
        partial.unlink(missing_ok=True)
        raise SetupRefused(exc.key, **exc.params) from exc
    except TelegramError as exc:  # getFile timed out or failed: sending it again may work
        partial.unlink(missing_ok=True)
        raise SetupRefused("error.download_failed") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return final, seconds


async def _inspect(rule: VideoRule, path: Path) -> float:
    info = await inspect_face(path, MediaKind.VIDEO)  # a moving picture that decodes
    if not info.has_audio:
        raise SetupRefused("avatar.video_silent")
    assert info.duration is not None  # inspect_face refuses a video without one
    _check_length(rule, info.duration, slack=0)
    if await max_volume_db(path, timeout=VOLUME_TIMEOUT) <= SILENT_MAX_DB:
        raise SetupRefused("avatar.video_silent")
    log.debug("%s video %s ok: %s", rule.kind, path.name, info)
    return info.duration


def _check_length(rule: VideoRule, seconds: float, *, slack: int) -> None:
    bounds = {"least": rule.min_seconds, "most": rule.max_seconds}
    if seconds + slack < rule.min_seconds:
        raise SetupRefused("avatar.video_too_short", seconds=math.floor(seconds), **bounds)
    if seconds - slack > rule.max_seconds:
        raise SetupRefused("avatar.video_too_long", seconds=math.ceil(seconds), **bounds)


def _container(path: Path) -> str | None:
    """``.mp4`` or ``.mov`` by the file's first box (Creatify takes nothing else); None for
    anything else (WebM, MKV, AVI...)."""
    with path.open("rb") as handle:
        head = handle.read(12)
    box = head[4:8]
    if box == b"ftyp":
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if box in (b"moov", b"mdat", b"wide", b"free"):  # QuickTime files without a type box
        return ".mov"
    return None
