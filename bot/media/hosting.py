"""Provider inputs: normalized copies served at ``PUBLIC_URL/media/...`` behind signed,
expiring links (never a Telegram file URL: those contain the bot token)."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from bot.media import render
from bot.models import FaceKind, Job
from bot.providers import Inputs
from bot.signing import Signer
from bot.untrusted import ascii_int

log = logging.getLogger(__name__)

#: How long a link works. Providers fetch inputs when the job starts, usually within minutes;
#: a queue at the provider can delay that, so the margin is wide.
LINK_TTL_SECONDS = 6 * 3600
#: How long hosted files stay after their job ended (a late provider retry can still fetch).
GRACE_SECONDS = 3600
#: Links are dated from their job's first send (see _issued); a job prepared before it was
#: sent, from when it went to its provider, or now when that leaves less than this to live.
MIN_LINK_SECONDS = 3600
#: The only file names ever served: anything else is 404 before the disk is touched.
SERVED_NAMES = frozenset({"face.jpg", "face.mp4", "voice.mp3", "voice2.mp3"})
_JOB_ID = re.compile(r"^[0-9]{1,18}$")


class LinkDenied(Exception):
    """A media request that must not be served; ``status`` is 403 (bad link) or 404."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class MediaHost:
    def __init__(self, root: Path, public_url: str, signer: Signer) -> None:
        self._root = root
        self._public_url = public_url
        self._signer = signer

    async def prepare(self, job: Job) -> Inputs:
        """Normalize the job's inputs (once) and sign links to them when the bot is public.

        Face: photo -> JPEG, video -> H.264 MP4, both cropped to fill the chosen ratio (the
        video looped or cut to the voice's length); an avatar has no file. Voice (a
        recording, or typed text as spoken) -> MP3, and a dialogue's second voice too.

        Raises:
            RenderError: ffmpeg failed.
        """
        folder = self._root / str(job.id)
        folder.mkdir(parents=True, exist_ok=True)
        order = job.order
        source = order.face_file
        face: Path | None = None
        if source is not None and source.kind is FaceKind.PHOTO:
            face = await _once(
                folder / "face.jpg",
                lambda out: render.to_jpeg(Path(source.path), out, size=job.ratio.size),
            )
        elif source is not None:
            face = await _once(
                folder / "face.mp4", lambda out: render.to_provider_video(order, out)
            )
        voice = await _once(folder / "voice.mp3", lambda out: render.to_mp3(order.voice_file, out))
        voice2: Path | None = None
        if order.dialogue is not None:
            second = Path(order.dialogue.voice.path)
            voice2 = await _once(folder / "voice2.mp3", lambda out: render.to_mp3(second, out))
        if not self._public_url:
            return Inputs(face=face, voice=voice, voice2=voice2)
        issued = _issued(job)
        return Inputs(
            face=face,
            voice=voice,
            face_url=None if face is None else self.link(job.id, face.name, now=issued),
            voice_url=self.link(job.id, voice.name, now=issued),
            voice2=voice2,
            voice2_url=None if voice2 is None else self.link(job.id, voice2.name, now=issued),
        )

    def link(self, job_id: int, name: str, *, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + LINK_TTL_SECONDS)
        signature = self._signer.sign(f"media:{job_id}/{name}:{expires}")
        return f"{self._public_url}/media/{job_id}/{name}?exp={expires}&sig={signature}"

    def resolve(
        self, job_id: str, name: str, expires: str, signature: str, *, now: float | None = None
    ) -> Path:
        """The file a media link points at.

        Raises:
            LinkDenied: 404 for names we never serve or files that are gone; 403 for a link
                that is forged, altered or expired.
        """
        if not _JOB_ID.match(job_id) or name not in SERVED_NAMES:
            raise LinkDenied(404)
        expiry = ascii_int(expires)
        if expiry is None or not self._signer.verify(
            f"media:{int(job_id)}/{name}:{expires}", signature
        ):
            raise LinkDenied(403)
        if expiry < (now if now is not None else time.time()):
            raise LinkDenied(403)
        path = self._root / str(int(job_id)) / name
        if not path.is_file():
            raise LinkDenied(404)
        return path

    def remove(self, job_id: int) -> bool:
        """Delete a job's hosted files. Returns whether there were any."""
        folder = self._root / str(job_id)
        if not folder.exists():
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def hosted_job_ids(self) -> list[int]:
        if not self._root.exists():
            return []
        return [int(p.name) for p in self._root.iterdir() if _JOB_ID.match(p.name)]

    async def sweep(self, lookup: Callable[[int], Awaitable[Job | None]], *, at: datetime) -> int:
        """Delete the hosted inputs of jobs that ended more than the grace period before
        ``at`` (or that no longer exist). Returns how many jobs' files were removed.

        The disk is listed and deleted from in worker threads, like the retention sweep: a
        slow disk or many folders must not stall the event loop.

        Args:
            lookup: reads a job by id.
            at: the time now.
        """
        cutoff = at - timedelta(seconds=GRACE_SECONDS)
        removed = 0
        for job_id in await asyncio.to_thread(self.hosted_job_ids):
            job = await lookup(job_id)
            if job is None or (job.finished_at is not None and job.finished_at < cutoff):
                removed += await asyncio.to_thread(self.remove, job_id)
        return removed


def _issued(job: Job) -> float | None:
    """When ``job``'s links are dated from: its first send (``submit_started_at``, stored
    before the create leaves, as the Submitter sets it), exactly, so every send of the job
    carries the very same links (a create sent again under an idempotency key, sync.so's,
    must carry the same body; never dated from the clock, which moves between resends).
    Not yet sent: when it went to its provider, or None (now) when that would leave them
    less than MIN_LINK_SECONDS to live."""
    if job.submit_started_at is not None:
        return job.submit_started_at.timestamp()
    if job.started_at is None:
        return None
    current = time.time()
    start = min(job.started_at.timestamp(), current)
    return start if start + LINK_TTL_SECONDS - current >= MIN_LINK_SECONDS else None


async def _once(path: Path, make: Callable[[Path], Awaitable[None]]) -> Path:
    """Run ``make(tmp)`` unless ``path`` exists, then move the result into place atomically
    (a crash mid-way never leaves a half file under the served name)."""
    if path.exists():
        return path
    partial = path.with_name(f".{path.name}.part{path.suffix}")
    await make(partial)
    partial.replace(path)
    return path
