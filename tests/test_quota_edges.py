"""Quota corners a review found: a limit of 0 offers no endless [Shorter voice]; a refused
[Try again] never replaces the conversation the user has going; old buttons cannot act on
the order a new voice makes; the voice's length and its price agree; an admin's reply to
their own (or a forwarded) message targets nobody; a banned member's group chatter does not
use up their one refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.models import Step
from bot.quotas import Period
from tests import media as make
from tests.conftest import Harness, Media
from tests.fakes.telegram import User
from tests.flows import at_voice_step, button, edited, said, to_confirm, to_ratio
from tests.test_quota_refusals import failed_video, press_generate

ANN = User(511, "Ann", language_code="en")
ADMIN = User(512, "Ada", language_code="en")


async def test_a_limit_of_zero_offers_no_shorter_voice(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        await bot.services.quotas.set_user_limit(ANN.id, Period.DAY, 0)
        summary = await to_confirm(fake, media, ANN)
        assert "Shorter voice" not in [label for label, _ in fake.buttons(summary.result)]
        refusal = await press_generate(fake, ANN, summary)
    assert "This limit is 0 s" in str(refusal.params["text"])
    assert "reply_markup" not in refusal.params


async def test_a_refused_try_again_keeps_the_conversation_going(
    harness: Harness, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    async with harness.bot(USER_DAILY_QUOTA_SECONDS="5") as bot:
        failure = await failed_video(fake, bot, media, monkeypatch, ANN)
        await to_ratio(fake, media, ANN)  # a new conversation, at the RATIO step
        going = await bot.services.drafts.get(ANN.id, ANN.id)
        await bot.services.quotas.grant(ANN.id, -5, by=0)  # nothing left
        mark = fake.mark()
        fake.press(ANN, failure.result, button(fake, failure.result, "Try again"))
        refusal = await said(fake, ANN.id, "Not enough seconds left", mark)
        assert "Ready to make your video" not in str(refusal.params["text"])
        assert await bot.services.drafts.get(ANN.id, ANN.id) == going


async def test_old_buttons_cannot_act_on_the_order_a_new_voice_makes(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot(USER_DAILY_QUOTA_SECONDS="2") as bot:
        summary = await to_confirm(fake, media, ANN)
        refusal = await press_generate(fake, ANN, summary)
        mark = fake.mark()
        fake.press(ANN, refusal.result, button(fake, refusal.result, "Shorter voice"))
        await said(fake, ANN.id, "Now the voice", mark)
        # The summary's [Generate] is from the conversation before the new voice.
        old = fake.messages[(ANN.id, summary.result["message_id"])]
        assert fake.buttons(old) == []
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        assert draft.step is Step.VOICE
        assert draft.token not in button(fake, summary.result, "Generate")


async def test_the_voice_and_its_price_agree(
    harness: Harness, media: Media, tmp_path: Path
) -> None:
    """4.4 s rounds to 4 but costs 5 (whole seconds, rounded up): the summary says 5 twice."""
    fake = harness.fake
    voice = make.make_mp3(tmp_path / "voice.mp3", seconds=4.4)
    async with harness.bot():
        await at_voice_step(fake, media, ANN)
        mark = fake.mark()
        fake.send_audio(ANN, voice.read_bytes(), duration=4)
        ratios = await said(fake, ANN.id, "Pick the shape", mark)
        mark = fake.mark()
        fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
        summary = await edited(fake, ANN.id, "Ready", mark)
    text = str(summary.params["text"])
    assert "• Voice: 5 s" in text
    assert "Price: 5 s of video" in text


async def test_an_admin_replying_to_their_own_message_targets_nobody(
    harness: Harness,
) -> None:
    fake = harness.fake
    async with harness.bot(ADMIN_IDS=str(ADMIN.id)) as bot:
        own = fake.send_text(ADMIN, "forwarded from someone")["message"]
        mark = fake.mark()
        fake.send_command(ADMIN, "/grant", "60", reply_to=own)
        answer = await said(fake, ADMIN.id, "/grant", mark)
        assert "Usage" in str(answer.params["text"]) or "/grant <" in str(answer.params["text"])
        assert await bot.services.db.scalar("SELECT COUNT(*) FROM ledger") == 0


async def test_group_chatter_does_not_use_up_a_banned_members_refusal(
    harness: Harness,
) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        group = fake.group()
        await bot.services.moderation.ban(ANN.id)
        fake.send_text(ANN, "hello everyone", chat=group)
        mark = fake.mark()
        fake.send_command(ANN, "/new", chat=group)
        await said(fake, group["id"], "", mark)
        texts = [c.params.get("text") for c in fake.calls[mark:] if c.method == "sendMessage"]
        assert len(texts) == 1


async def test_the_voice_prompt_asks_for_what_fits(harness: Harness, media: Media) -> None:
    fake = harness.fake
    async with harness.bot(USER_DAILY_QUOTA_SECONDS="20"):
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        fake.send_photo(ANN, media.photo.read_bytes(), width=640, height=480)
        prompt = await said(fake, ANN.id, "Now the voice", mark)
    assert str(prompt.params["text"]).splitlines() == [
        "Now the voice: send a voice message or an audio file (up to 20 seconds), or type "
        "the text to say.",
        "You have 20 s left (your daily quota): a longer voice would not fit.",
    ]
