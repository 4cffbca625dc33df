"""Job rows written straight into the bot's database, as an earlier run would have left them
(for tests about what the bot does with a job in a given state, not about how it got there)."""

from __future__ import annotations

from bot.app import Running
from bot.models import Job, MediaKind, Probe
from storage import JobRepository

#: A still picture's probe; good enough as the voice's too where nothing reads it.
STILL = Probe(duration=3.0, width=640, height=480, has_video=True, is_image=True)


async def job_row(bot: Running, user_id: int, provider: str = "magichour") -> Job:
    """A new job of ``user_id`` in ``submitting``, in their private chat."""
    return await JobRepository(bot.services.db).create(
        chat_id=user_id,
        user_id=user_id,
        chat_type="private",
        locale="en",
        provider=provider,
        media_kind=MediaKind.PHOTO,
        media_path="face.jpg",
        media_probe=STILL,
        voice_path="voice.mp3",
        voice_probe=STILL,
        ratio="9:16",
    )
