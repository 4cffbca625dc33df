"""The summary's note about who reads a typed text (found reading tests/transcript.py): "the
built-in voice, which sounds robotic" only when the built-in voice reads it, never when the
user chose a provider's voice with /voice (Creatify's text_to_speech spoke it)."""

from __future__ import annotations

from bot.i18n import Translator
from tests.conftest import Harness, Media
from tests.creatify_flows import creatify_env, say_text
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import User
from tests.flows import at_voice_step

ANN = User(961, "Ann", language_code="en")
BOB = User(962, "Bob", language_code="en")
ROBOTIC = Translator.load().t("en", "note.spoken")


async def test_the_robotic_voice_note_only_for_the_built_in_voice(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    fake = harness.fake
    accent = creatify.accent_ids()[0]
    async with harness.bot(
        **creatify_env(creatify, public=False, PROVIDERS="creatify,preview")
    ) as bot:
        await bot.services.users.set_voice(ANN.id, f"creatify:{accent}")
        await at_voice_step(fake, media, ANN)
        chosen = await say_text(fake, ANN, "Read by Creatify's voice, which I chose.")
        await at_voice_step(fake, media, BOB)
        default = await say_text(fake, BOB, "Read by the built-in voice.")
    assert [job.kind for job in creatify.jobs.values()] == ["tts"]  # Creatify spoke Ann's
    assert ROBOTIC not in chosen.params["text"]
    assert ROBOTIC in default.params["text"]
