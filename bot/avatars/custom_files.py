"""The videos of custom avatars on disk: copied beside each avatar (``<folder>/<id>/``) while
it is built, deleted when it settles, and swept when no pending avatar owns them. Every
function here is blocking I/O: callers run it in a thread."""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Collection
from pathlib import Path

from bot.models.custom_avatars import CustomAvatar
from bot.providers.creatify_personas import content_type

log = logging.getLogger(__name__)


def usable(video: Path) -> bool:
    """A file the provider may take: there, not empty, an MP4 or a QuickTime movie."""
    try:
        return video.is_file() and video.stat().st_size > 0 and content_type(video) is not None
    except OSError:
        return False


def keep(folder: Path, training: Path, consent: Path | None) -> tuple[Path, Path | None]:
    """Copy the videos into ``folder``; their new paths."""
    folder.mkdir(parents=True, exist_ok=True)
    kept_training = folder / f"training{training.suffix.lower()}"
    shutil.copyfile(training, kept_training)
    kept_consent = None
    if consent is not None:
        kept_consent = folder / f"consent{consent.suffix.lower()}"
        shutil.copyfile(consent, kept_consent)
    return kept_training, kept_consent


def discard_files(avatar: CustomAvatar) -> None:
    """Delete an avatar's training and consent videos, and their folder."""
    for path in (avatar.training_path, avatar.consent_path):
        if path is not None:
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                path.parent.rmdir()


def sweep_folders(folder: Path, kept: Collection[int], grace: float) -> int:
    """Delete what is under ``folder`` (a folder per avatar, named by its id) but ``kept``'s
    and what changed in the last ``grace`` seconds (its avatar's row may be being written);
    how many went."""
    if not folder.is_dir():
        return 0
    swept = 0
    oldest = time.time() - grace
    for entry in folder.iterdir():
        if entry.name.isdecimal() and int(entry.name) in kept:
            continue
        try:
            if entry.stat().st_mtime > oldest:
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError as exc:
            log.warning("Could not delete %s: %s", entry, exc)
            continue
        swept += 1
    return swept
