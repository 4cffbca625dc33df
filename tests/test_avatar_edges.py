"""Avatars at the edges of the conversation: a photo sent after choosing one, typed text with
a provider's voice chosen, the avatar's provider turned off, and groups."""

from __future__ import annotations

from bot.models import FaceKind, Step
from tests.conftest import Harness, Media
from tests.creatify_flows import creatify_env
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import button, said
from tests.test_avatar_text_only import pick

ANN = User(841, "Ann", language_code="en")
TEXT_ONLY = "Now type the text the avatar should say."


async def test_a_photo_sent_after_an_avatar_replaces_it(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    fake = harness.fake
    creatify.add_persona("Zelda", "f")
    env = creatify_env(creatify, public=False, PROVIDERS="creatify,preview")
    async with harness.bot(**env) as bot:
        await pick(fake, ANN, "Zelda", TEXT_ONLY)
        mark = fake.mark()
        fake.send_photo(ANN, media.photo.read_bytes())
        offer = await said(fake, ANN.id, "new face", mark)
        mark = fake.mark()
        fake.press(ANN, offer.result, button(fake, offer.result, "Use this face instead"))
        await said(fake, ANN.id, "Now the voice: send a voice message", mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.avatar is None
    assert draft.face_kind is FaceKind.PHOTO


async def test_an_avatar_reads_text_without_paying_for_another_voice(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    zelda = creatify.add_persona("Zelda", "f")
    accent = creatify.accent_ids()[0]
    async with harness.bot(**creatify_env(creatify, public=False)) as bot:
        await bot.services.users.set_voice(ANN.id, f"creatify:{accent}")
        await pick(fake, ANN, "Zelda", TEXT_ONLY)
        mark = fake.mark()
        fake.send_text(ANN, "Priced by the built-in voice, read by Creatify's.")
        ratios = await said(fake, ANN.id, "Pick the shape", mark)
        mark = fake.mark()
        fake.press(ANN, ratios.result, button(fake, ratios.result, "1:1"))
        summary = (await fake.wait_for("editMessageText", since=mark))[-1]
        mark = fake.mark()
        fake.press(ANN, summary.result, button(fake, summary.result, "Generate"))
        await fake.wait_for("sendVideo", since=mark, timeout=60)
    # No text_to_speech job was paid for: the lipsync itself reads the text, in that accent.
    assert not [c for c in creatify.calls if c.path.startswith("/api/text_to_speech/")]
    made = [c.json for c in creatify.calls if (c.method, c.path) == ("POST", "/api/lipsyncs/")]
    assert [(m["creator"], m["accent"]) for m in made] == [(zelda.id, accent)]


async def test_an_avatar_whose_provider_was_turned_off_is_no_dead_end(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    creatify.add_persona("Zelda", "f")
    async with harness.bot(**creatify_env(creatify, public=False)):
        await pick(fake, ANN, "Zelda", TEXT_ONLY)
    async with harness.bot(PROVIDERS="preview") as bot:  # the operator turned Creatify off
        mark = fake.mark()
        fake.send_text(ANN, "Hello there.")
        ratios = await said(fake, ANN.id, "Pick the shape", mark)
        mark = fake.mark()
        fake.press(ANN, ratios.result, button(fake, ratios.result, "9:16"))
        stuck = (await fake.wait_for("editMessageText", since=mark))[-1]
        assert "No provider can make this video right now" in stuck.params["text"]
        assert [text for text, _ in FakeTelegram.buttons(stuck.result)] == ["New video"]
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.PROVIDER


async def test_groups_are_told_where_the_avatars_are(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    group = fake.group()
    async with harness.bot(**creatify_env(creatify, public=False)):
        mark = fake.mark()
        fake.send_command(ANN, "/new", chat=group)
        prompt = (await fake.wait_for("sendMessage", since=mark))[0]
    assert "To see the ready-made avatars, send /avatars." in prompt.params["text"]


async def test_a_still_telegram_refuses_leaves_the_name_and_the_button(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    creatify.add_persona("Zelda", "f")
    fake.fail("sendPhoto", 400, "Bad Request: IMAGE_PROCESS_FAILED")
    async with harness.bot(**creatify_env(creatify, public=False)):
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        prompt = (await fake.wait_for("sendMessage", since=mark))[0]
        mark = fake.mark()
        fake.press(ANN, prompt.result, button(fake, prompt.result, "Avatars"))
        picker = (await fake.wait_for("editMessageText", since=mark))[0]
        mark = fake.mark()
        fake.press(ANN, picker.result, button(fake, picker.result, "Zelda"))
        # Telegram would not take the picture: the name alone, with its button.
        named = await said(fake, ANN.id, "Zelda", mark)
        mark = fake.mark()
        fake.press(ANN, named.result, button(fake, named.result, "Use Zelda"))
        await said(fake, ANN.id, TEXT_ONLY, mark)


async def test_a_photo_is_refused_up_front_when_only_avatars_can_be_made(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    fake = harness.fake
    creatify.add_persona("Zelda", "f")
    async with harness.bot(**creatify_env(creatify, public=False)) as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        await said(fake, ANN.id, "Pick a ready-made avatar to speak for you.", mark)
        mark = fake.mark()
        fake.send_photo(ANN, media.photo.read_bytes())
        await said(fake, ANN.id, "please pick a ready-made avatar instead", mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert (draft.step, draft.media) == (Step.MEDIA, None)  # nothing downloaded


async def test_a_photo_instead_of_an_avatar_drops_the_avatars_voice(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    fake = harness.fake
    creatify.add_persona("Zelda", "f")
    accent = creatify.accent_ids()[0]
    env = creatify_env(creatify, public=False, PROVIDERS="creatify,preview")
    async with harness.bot(**env) as bot:
        await bot.services.users.set_voice(ANN.id, f"creatify:{accent}")
        await pick(fake, ANN, "Zelda", TEXT_ONLY)
        mark = fake.mark()
        fake.send_text(ANN, "Hello there.")
        await said(fake, ANN.id, "Pick the shape", mark)
        mark = fake.mark()
        fake.send_photo(ANN, media.photo.read_bytes())
        offer = await said(fake, ANN.id, "new face", mark)
        mark = fake.mark()
        fake.press(ANN, offer.result, button(fake, offer.result, "Use this face instead"))
        await fake.wait_for("sendMessage", since=mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert (draft.avatar, draft.voice_id, draft.voice_text) == (None, None, "Hello there.")
