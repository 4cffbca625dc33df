"""A face swap lands while the user keeps talking: a second face sent during the check stays
offered, and a message or button handled around the swap never undoes it (design §1: nothing
the user already sent is lost)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.app import Running
from bot.models import AspectRatio, Draft, MediaKind, Step
from tests.conftest import Media
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import at_voice_step, button, edited, said, to_ratio

ANN = User(111, "Ann", language_code="en")
USE_FACE = "Use this face instead"


class HeldSwap:
    """The offered face's check waits at ``entered`` until ``release``; ``hold_next_read``
    lets the next draft read (a handler's) return its copy only after the swap has landed."""

    def __init__(self, bot: Running, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self._hold = False
        repo, media = bot.services.drafts, bot.services.media
        self._read = repo.get
        ingest_face = media.ingest_face

        async def held_face(*args: object, **kwargs: object) -> object:
            self.entered.set()
            await self.release.wait()
            return await ingest_face(*args, **kwargs)  # type: ignore[arg-type]

        async def get(chat_id: int, user_id: int) -> Draft | None:
            draft = await self._read(chat_id, user_id)
            if self._hold:
                self._hold = False
                self.release.set()
                await self._until(lambda d: d.media_kind is MediaKind.VIDEO)
            return draft

        monkeypatch.setattr(media, "ingest_face", held_face)
        monkeypatch.setattr(repo, "get", get)

    def hold_next_read(self) -> None:
        self._hold = True

    async def stored(self) -> Draft:
        draft = await self._read(ANN.id, ANN.id)
        assert draft is not None
        return draft

    async def _until(self, landed: Callable[[Draft], bool]) -> None:
        for _ in range(500):
            if landed(await self.stored()):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the swap never landed")


async def _offer_video(fake: FakeTelegram, media: Media) -> Call:
    mark = fake.mark()
    fake.send_video(ANN, media.video.read_bytes(), duration=2, width=640, height=360)
    return await said(fake, ANN.id, "new face", mark)


async def _swap_held(fake: FakeTelegram, media: Media, held: HeldSwap) -> None:
    """Offer a video face and press [Use this face instead]; its check is held."""
    offer = await _offer_video(fake, media)
    fake.press(ANN, offer.result, button(fake, offer.result, USE_FACE))
    await asyncio.wait_for(held.entered.wait(), 10)


async def test_a_face_sent_while_another_is_checked_stays_offered(
    fake: FakeTelegram, bot: Running, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    await at_voice_step(fake, media, ANN)
    held = HeldSwap(bot, monkeypatch)
    await _swap_held(fake, media, held)
    mark = fake.mark()
    fake.send_photo(ANN, media.photo.read_bytes(), width=640, height=480)
    second = await said(fake, ANN.id, "new face", mark)
    held.release.set()
    await said(fake, ANN.id, "New face in place", mark)
    await bot.services.tasks.wait_idle()
    draft = await held.stored()
    assert draft.media_kind is MediaKind.VIDEO  # the first offer landed
    assert draft.offered_media_kind is MediaKind.PHOTO  # and the second is still offered
    mark = fake.mark()
    fake.press(ANN, second.result, button(fake, second.result, USE_FACE))
    await said(fake, ANN.id, "New face in place", mark)
    await bot.services.tasks.wait_idle()
    draft = await held.stored()
    assert draft.media_kind is MediaKind.PHOTO
    assert draft.offered_media is None


async def test_a_ratio_pressed_while_the_swap_lands_keeps_the_new_face(
    fake: FakeTelegram, bot: Running, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    ratios = await to_ratio(fake, media, ANN)
    held = HeldSwap(bot, monkeypatch)
    await _swap_held(fake, media, held)
    held.hold_next_read()
    mark = fake.mark()
    fake.press(ANN, ratios.result, button(fake, ratios.result, "16:9"))
    await edited(fake, ANN.id, "Face: a video", mark)
    await bot.services.tasks.wait_idle()
    draft = await held.stored()
    assert draft.media_kind is MediaKind.VIDEO
    assert draft.ratio is AspectRatio.LANDSCAPE


async def test_a_face_sent_while_the_swap_lands_keeps_both(
    fake: FakeTelegram, bot: Running, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    await at_voice_step(fake, media, ANN)
    held = HeldSwap(bot, monkeypatch)
    await _swap_held(fake, media, held)
    held.hold_next_read()
    mark = fake.mark()
    fake.send_photo(ANN, media.photo.read_bytes(), width=640, height=480)
    await said(fake, ANN.id, "new face", mark)
    await bot.services.tasks.wait_idle()
    draft = await held.stored()
    assert draft.media_kind is MediaKind.VIDEO
    assert draft.offered_media_kind is MediaKind.PHOTO


async def test_a_voice_sent_while_the_swap_lands_keeps_the_new_face(
    fake: FakeTelegram, bot: Running, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    await at_voice_step(fake, media, ANN)
    held = HeldSwap(bot, monkeypatch)
    await _swap_held(fake, media, held)
    held.hold_next_read()
    mark = fake.mark()
    fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
    await said(fake, ANN.id, "Pick the shape", mark)
    await bot.services.tasks.wait_idle()
    draft = await held.stored()
    assert draft.media_kind is MediaKind.VIDEO
    assert draft.voice is not None
    assert draft.step is Step.RATIO
