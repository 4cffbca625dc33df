"""/jobs tells a video waiting on [Get my video] apart from one being sent."""

from __future__ import annotations

from bot.app import Running
from bot.models import DeliveryClaim, JobStatus, MediaKind, Probe
from storage import JobRepository
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import said

ANN = User(111, "Ann", language_code="en")


async def test_a_video_offered_with_a_button_says_so_in_jobs(
    fake: FakeTelegram, bot: Running
) -> None:
    repo = JobRepository(bot.services.db)
    job = await repo.create(
        chat_id=ANN.id,
        user_id=ANN.id,
        chat_type="private",
        locale="en",
        provider="preview",
        media_kind=MediaKind.PHOTO,
        media_path="face.jpg",
        media_probe=Probe(duration=None, width=640, height=480, has_video=True, is_image=True),
        voice_path="voice.ogg",
        voice_probe=Probe(duration=3.0, has_audio=True),
        ratio="9:16",
    )
    assert await repo.transition(job.id, [JobStatus.SUBMITTING], JobStatus.SUCCEEDED)
    assert await repo.claim_delivery(job.id, None, DeliveryClaim.OFFERED)
    mark = fake.mark()
    fake.send_command(ANN, "/jobs")
    listing = await said(fake, ANN.id, f"#{job.id}", mark)
    assert "tap Get my video" in listing.params["text"]
    assert "sending" not in listing.params["text"]
