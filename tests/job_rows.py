"""Job rows written straight into the bot's database, as an earlier run would have left them
(for tests about what the bot does with a job in a given state, not about how it got there)."""

from __future__ import annotations

from bot.app import Running
from bot.models import AspectRatio, AudioVoice, FaceKind, FileFace, Job, NewJob, Order, Probe
from storage import JobRepository

#: A still picture's probe; good enough as the voice's too where nothing reads it.
STILL = Probe(duration=3.0, width=640, height=480, has_video=True, is_image=True)


async def job_row(bot: Running, user_id: int, provider: str = "magichour") -> Job:
    """A new job of ``user_id`` in ``submitting``, in their private chat."""
    new = NewJob(
        chat_id=user_id,
        user_id=user_id,
        chat_type="private",
        locale="en",
        provider=provider,
        order=photo_order(),
    )
    return await JobRepository(bot.services.db).create(new)


def photo_order(
    face: str = "face.jpg",
    voice: str = "voice.mp3",
    *,
    face_probe: Probe = STILL,
    voice_probe: Probe = STILL,
    ratio: str = "9:16",
) -> Order:
    """An order of a photo and a recording (the files need not exist where nothing reads them)."""
    return Order(
        face=FileFace(kind=FaceKind.PHOTO, path=face, probe=face_probe),
        voice=AudioVoice(path=voice, probe=voice_probe),
        ratio=AspectRatio(ratio),
    )
