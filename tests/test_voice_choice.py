"""/voice through the fake Telegram: the accents of the user's language, a choice remembered
per user and answered with a sample voice note, typed text then read by that voice; someone
else's or a forged button changes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.media.probe import probe
from tests.conftest import Harness, Media, to_chat
from tests.fakes.telegram import User
from tests.flows import at_voice_step, button, said

ANN = User(711, "Ann", language_code="en")
BOB = User(712, "Bob", language_code="en")
WORDS = "Hello there, this is my text."


async def test_choose_a_voice_hear_it_and_have_text_read_by_it(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/voice")
        menu = await said(fake, ANN.id, "Which voice reads the text you type?", mark)
        labels = [label for label, _ in fake.buttons(menu.result)]
        assert "✓ English (America)" in labels
        assert "English (Scotland)" in labels
        assert not [label for label in labels if "Shavian" in label]
        mark = fake.mark()
        fake.press(ANN, menu.result, button(fake, menu.result, "English (Scotland)"))
        sample = (await fake.wait_for("sendVoice", to_chat(ANN.id), since=mark))[0]
        assert sample.status == 200
        assert await bot.services.voices.chosen_id(ANN.id) == "gmw/en-GB-scotland"
        await at_voice_step(fake, media, ANN)
        mark = fake.mark()
        fake.send_text(ANN, WORDS)
        await said(fake, ANN.id, "Pick the shape", mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.voice is not None
    key = f"en\0gmw/en-GB-scotland\0{WORDS}".encode()
    assert Path(str(draft.voice.path)).name == f"text-{hashlib.sha256(key).hexdigest()[:32]}.wav"
    stored = fake.files[sample.result["voice"]["file_id"]]
    assert stored.disk_path is not None
    heard = await probe(Path(stored.disk_path))
    assert heard.has_audio
    assert heard.duration is not None
    assert heard.duration > 1


async def test_someone_elses_or_a_forged_voice_button_changes_nothing(harness: Harness) -> None:
    fake = harness.fake
    async with harness.bot() as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/voice")
        menu = await said(fake, ANN.id, "Which voice", mark)
        data = button(fake, menu.result, "English (Scotland)")
        mark = fake.mark()
        fake.press(BOB, menu.result, data)
        fake.press(ANN, menu.result, f"vc:{ANN.id}:../../etc/passwd", forged=True)
        fake.press(ANN, menu.result, f"vc:{ANN.id}:roa/pt-BR", forged=True)  # not English
        answers = await fake.wait_for("answerCallbackQuery", count=3, since=mark)
        assert all(a.params.get("show_alert") for a in answers)
        assert await bot.services.voices.chosen_id(ANN.id) is None
        assert await bot.services.voices.chosen_id(BOB.id) is None


async def test_the_voice_prompt_offers_the_voice_button_in_private(
    harness: Harness, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot():
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        fake.send_photo(ANN, media.photo.read_bytes(), width=640, height=480)
        prompt = await said(fake, ANN.id, "Now the voice", mark)
        assert [label for label, _ in fake.buttons(prompt.result)] == ["Voice: English (America)"]
        data = button(fake, prompt.result, "Voice:")
        mark = fake.mark()
        fake.press(BOB, prompt.result, data)
        refused = (await fake.wait_for("answerCallbackQuery", since=mark))[0]
        assert refused.params.get("show_alert")
        mark = fake.mark()
        fake.press(ANN, prompt.result, data)
        menu = await said(fake, ANN.id, "Which voice reads the text you type?", mark)
        assert "English (Scotland)" in [label for label, _ in fake.buttons(menu.result)]
