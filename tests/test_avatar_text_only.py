"""A Creatify avatar when the bot is not public (no PUBLIC_URL): Creatify takes recordings only
by URL, so the avatar speaks typed text only. The VOICE prompt asks for text, a recording is
refused with a way forward, and typed text makes the video by polling."""

from __future__ import annotations

from bot.models import JobStatus, TextVoice
from tests.conftest import Harness, Media
from tests.creatify_flows import creatify_env, edit, job_reaching, press_generate
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import button, said

ANN = User(831, "Ann", language_code="en")
LUIZA = User(832, "Luiza", language_code="pt-br")


async def pick(fake: FakeTelegram, user: User, avatar: str, voice_prompt: str) -> None:
    mark = fake.mark()
    fake.send_command(user, "/new")
    prompt = (await fake.wait_for("sendMessage", since=mark))[0]  # photos may not be taken
    mark = fake.mark()
    fake.press(user, prompt.result, button(fake, prompt.result, "Avat"))  # Avatars / Avatares
    picker = await edit(fake, user, "avatars.title", mark)
    mark = fake.mark()
    fake.press(user, picker.result, button(fake, picker.result, avatar))
    still = (await fake.wait_for("sendPhoto", since=mark))[0]
    mark = fake.mark()
    fake.press(user, still.result, fake.buttons(still.result)[0][1])  # [Use NAME]
    await said(fake, user.id, voice_prompt, mark)


async def test_an_avatar_without_public_url_takes_typed_text_only(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    fake = harness.fake
    zelda = creatify.add_persona("Zelda", "f")
    async with harness.bot(**creatify_env(creatify, public=False)) as bot:
        await pick(fake, ANN, "Zelda", "Now type the text the avatar should say.")
        mark = fake.mark()
        fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
        await said(fake, ANN.id, "This avatar speaks typed text only", mark)
        assert (await bot.services.drafts.get(ANN.id, ANN.id)).step == "voice"  # type: ignore[union-attr]
        mark = fake.mark()
        fake.send_text(ANN, "Hello from a stock avatar.")
        ratios = await said(fake, ANN.id, "Pick the shape", mark)
        mark = fake.mark()
        fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
        # Creatify is the only provider for its avatar: straight to the summary.
        summary = (await fake.wait_for("editMessageText", since=mark))[-1]
        assert "Zelda" in summary.params["text"]
        assert "spoken by Creatify's own voice" in summary.params["text"]
        press_generate(fake, ANN, summary)
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED, timeout=60)
    assert isinstance(job.order.voice, TextVoice)
    sent = [c.json for c in creatify.calls if (c.method, c.path) == ("POST", "/api/lipsyncs/")]
    assert len(sent) == 1
    assert (sent[0]["creator"], sent[0]["text"]) == (zelda.id, "Hello from a stock avatar.")
    assert sent[0].get("audio") is None
    assert sent[0].get("webhook_url") is None


async def test_the_refusal_in_portuguese(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    fake = harness.fake
    creatify.add_persona("Zelda", "f")
    async with harness.bot(**creatify_env(creatify, public=False)):
        await pick(fake, LUIZA, "Zelda", "Agora digite o texto que o avatar deve dizer.")
        mark = fake.mark()
        fake.send_voice(LUIZA, media.voice.read_bytes(), duration=3)
        await said(fake, LUIZA.id, "Este avatar só fala texto digitado", mark)
