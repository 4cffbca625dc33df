"""Two background tasks that change one draft (a face swap and a voice check) never undo each
other's step: each saves with a compare-and-set, and re-reads on a conflict."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.app import Running
from bot.errors import SilentAudio
from bot.models import Draft, MediaKind, Step
from tests.conftest import Media
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import at_voice_step, button, said

ANN = User(111, "Ann", language_code="en")


async def _until(read: Callable[[], Awaitable[Draft | None]], step: Step) -> None:
    for _ in range(500):
        draft = await read()
        if draft is not None and draft.step is step:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the draft never reached {step}")


async def test_a_swap_that_read_before_a_voice_refusal_does_not_wedge_the_draft(
    fake: FakeTelegram, bot: Running, media: Media, monkeypatch
) -> None:
    """The swap reads the draft at VOICE_CHECK; the voice check then refuses the voice
    (VOICE, no voice); the swap's save must not bring back VOICE_CHECK with no check left."""
    repo = bot.services.drafts
    read = repo.get
    ingest_face = bot.services.media.ingest_face
    swap_has_read = asyncio.Event()
    swap_reading = False

    def current() -> Awaitable[Draft | None]:
        return read(ANN.id, ANN.id)

    async def slow_face(*args: object, **kwargs: object) -> object:
        nonlocal swap_reading
        face = await ingest_face(*args, **kwargs)  # type: ignore[arg-type]
        await _until(current, Step.VOICE_CHECK)  # the voice is being checked meanwhile
        swap_reading = True
        return face

    async def refused_voice(*args: object, **kwargs: object) -> object:
        await swap_has_read.wait()
        raise SilentAudio()

    async def get(chat_id: int, user_id: int) -> Draft | None:
        nonlocal swap_reading
        draft = await read(chat_id, user_id)
        if swap_reading:
            # The swap's read: hold it until the voice check has written its refusal.
            swap_reading = False
            swap_has_read.set()
            await _until(current, Step.VOICE)
        return draft

    await at_voice_step(fake, media, ANN)
    monkeypatch.setattr(bot.services.media, "ingest_face", slow_face)
    monkeypatch.setattr(bot.services.media, "ingest_voice", refused_voice)
    monkeypatch.setattr(repo, "get", get)
    mark = fake.mark()
    fake.send_video(ANN, media.video.read_bytes(), duration=2, width=640, height=360)
    offer = await said(fake, ANN.id, "new face", mark)
    fake.press(ANN, offer.result, button(fake, offer.result, "Use this face instead"))
    await asyncio.sleep(0.05)  # the swap is downloading
    fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
    await said(fake, ANN.id, "is silent", mark)
    await bot.services.tasks.wait_idle()
    draft = await read(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.VOICE  # asks for the voice again, not "still checking" forever
    assert draft.voice is None
    assert draft.media_kind is MediaKind.VIDEO  # and the swap did land
