"""Two Creatify avatars talking, end to end (issue 9): the real bot, the fake Telegram server
and the fake Creatify over 127.0.0.1. [Dialogue], the picker twice (the first speaker, then
the second), typed lines for each (a recording is refused: Creatify's scenes take text), no
TURNS step (Creatify makes them one after the other only), the summary naming both avatars,
and lipsyncs_v2 with the speakers' paragraphs in turn; the quota reserves their sum."""

from __future__ import annotations

from bot.models import AvatarFace, JobStatus, Step, TextVoice, Turns
from bot.quotas import price
from tests.conftest import Harness, Media, to_chat
from tests.creatify_flows import (
    creates,
    creatify_env,
    job_reaching,
    press_generate,
    remote_job,
    seconds_used,
    transcript,
    with_button,
)
from tests.dialogue_flows import Call, labels, said, tap, text
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import FakeTelegram, User
from tests.flows import button

ANN = User(951, "Ann", language_code="en")
LUIZA = User(952, "Luiza", language_code="pt-br")
FIRST = "Hi Bob! Lovely weather today.\n\nShall we go for a walk?"
SECOND = "Hello Ann. Yes, let's go."


async def use(fake: FakeTelegram, user: User, prompt: Call, name: str) -> Call:
    """From a MEDIA prompt with [Avatars]: the picker, ``name``'s still, [Use NAME]; the
    prompt that follows."""
    picker = await tap(fake, user, prompt, text(user, "avatars.open"), "avatars.title")
    mark = fake.mark()
    fake.press(user, picker.result, button(fake, picker.result, name))
    label = text(user, "avatars.use", name=name)
    still = (await fake.wait_for("sendPhoto", with_button(user.id, label), since=mark))[0]
    mark = fake.mark()
    fake.press(user, still.result, button(fake, still.result, label))
    return (await fake.wait_for("sendMessage", to_chat(user.id), since=mark))[0]


async def test_two_avatars_with_typed_lines(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    fake = harness.fake
    creatify.personas = {}
    ann = creatify.add_persona("Ann Speaker", "f")
    bob = creatify.add_persona("Bob Speaker", "m")
    creatify.webhook_mode = "drop"  # followed through the v2 list
    async with harness.bot(**creatify_env(creatify)) as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        prompt = await said(fake, ANN, "prompt.media", mark)
        two = await tap(fake, ANN, prompt, "Dialogue", "dialogue.media_avatars")
        assert labels(two) == ["Avatars", "One speaker"]
        second = await use(fake, ANN, two, "Ann Speaker")
        assert second.params["text"].startswith("First speaker: Ann Speaker. Now pick a different")
        first_voice = await use(fake, ANN, second, "Bob Speaker")
        asked = str(first_voice.params["text"])
        assert asked.startswith("First speaker (Ann Speaker):\nPut a blank line between")
        assert "Now type the text the avatar should say." in asked
        mark = fake.mark()
        fake.send_voice(ANN, media.voice.read_bytes(), duration=3)
        await said(fake, ANN, "error.dialogue_text_only", mark)
        mark = fake.mark()
        fake.send_text(ANN, FIRST)
        await said(fake, ANN, "dialogue.second", mark)
        mark = fake.mark()
        fake.send_text(ANN, SECOND)
        # One way only at Creatify: no TURNS step.
        ratios = await said(fake, ANN, "prompt.ratio", mark)
        summary = await tap(fake, ANN, ratios, "9:16", "prompt.confirm_dialogue")
        shown = str(summary.params["text"])
        press_generate(fake, ANN, summary)
        job = await job_reaching(
            bot, ANN, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DELIVERED
        )
        reserved = await seconds_used(bot, ANN)
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=60)
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        print(transcript(fake, ANN.id))
    assert "Face: avatars Ann Speaker and Bob Speaker" in shown
    assert "First speaker (Ann Speaker): typed text" in shown
    assert "Second speaker (Bob Speaker): typed text" in shown
    assert "Turns: one after the other" in shown
    assert "The texts are spoken by Creatify's own voices." in shown
    dialogue = job.order.dialogue
    assert dialogue is not None
    assert isinstance(job.order.face, AvatarFace)
    assert job.order.face.avatar_id == ann.id
    assert dialogue.avatar is not None
    assert dialogue.avatar.avatar_id == bob.id
    assert dialogue.turns is Turns.ONE_AFTER_THE_OTHER
    assert isinstance(job.order.voice, TextVoice)
    assert isinstance(dialogue.voice, TextVoice)
    # Priced by the built-in voice's reading of both texts, one after the other.
    assert reserved == price(job.order.seconds)
    first_s, second_s = job.order.voice.probe.duration, dialogue.voice.probe.duration
    assert first_s is not None
    assert second_s is not None
    assert job.order.seconds == first_s + second_s
    [create] = creates(creatify, "/api/lipsyncs_v2/")
    scenes = [
        (scene["character"]["avatar_id"], scene["voice"]["input_text"])
        for scene in create.json["video_inputs"]
    ]
    assert scenes == [
        (ann.id, "Hi Bob! Lovely weather today."),
        (bob.id, SECOND),
        (ann.id, "Shall we go for a walk?"),
    ]
    # English: each avatar reads with its own voice (no accent put in).
    assert all("voice_id" not in scene["voice"] for scene in create.json["video_inputs"])
    assert remote_job(creatify, job, "v2").status == "done"


def accents(creatify: FakeCreatify, name: str) -> list[str]:
    """The accent ids of the fake Creatify's voice ``name``."""
    return [
        accent for voice in creatify.voices if voice.name == name for accent, _ in voice.accents
    ]


async def test_two_avatars_in_portuguese_speak_with_two_voices(
    harness: Harness, creatify: FakeCreatify
) -> None:
    """Not English: the avatars' own (English) voices would not do, so each speaker gets a
    Creatify voice of the language, one matching each avatar's gender, never the same
    one for both; each VOICE prompt's button names the voice that speaker will have."""
    fake = harness.fake
    creatify.personas = {}
    bob = creatify.add_persona("Bob Speaker", "m")
    ann = creatify.add_persona("Ann Speaker", "f")
    async with harness.bot(**creatify_env(creatify)) as bot:
        mark = fake.mark()
        fake.send_command(LUIZA, "/new")
        prompt = await said(fake, LUIZA, "prompt.media", mark)
        two = await tap(fake, LUIZA, prompt, "Diálogo", "dialogue.media_avatars")
        second = await use(fake, LUIZA, two, "Bob Speaker")
        first_voice = await use(fake, LUIZA, second, "Ann Speaker")
        mark = fake.mark()
        fake.send_text(LUIZA, "Oi, Ana!\n\nVamos?")
        second_voice = await said(fake, LUIZA, "dialogue.second", mark)
        mark = fake.mark()
        fake.send_text(LUIZA, "Oi, Beto. Vamos, sim.")
        ratios = await said(fake, LUIZA, "prompt.ratio", mark)
        summary = await tap(fake, LUIZA, ratios, "9:16", "prompt.confirm_dialogue")
        press_generate(fake, LUIZA, summary)
        job = await job_reaching(bot, LUIZA, JobStatus.DELIVERED, timeout=60)
    assert labels(first_voice) == ["Voz: Tiago, Brazilian (Creatify)"]
    assert labels(second_voice) == ["Voz: Helena, Brazilian (Creatify)"]
    [create] = creates(creatify, "/api/lipsyncs_v2/")
    spoken = [
        (scene["character"]["avatar_id"], scene["voice"].get("voice_id"))
        for scene in create.json["video_inputs"]
    ]
    [tiago], [helena] = accents(creatify, "Tiago"), accents(creatify, "Helena")
    assert spoken == [(bob.id, tiago), (ann.id, helena), (bob.id, tiago)]
    dialogue = job.order.dialogue
    assert dialogue is not None
    assert isinstance(job.order.voice, TextVoice)
    assert isinstance(dialogue.voice, TextVoice)
    assert (job.order.voice.voice_id, dialogue.voice.voice_id) == (
        f"creatify:{tiago}",
        f"creatify:{helena}",
    )


async def test_the_same_avatar_twice_asks_for_another(
    harness: Harness, creatify: FakeCreatify
) -> None:
    """A dialogue is of two people: the first speaker's avatar picked again for the second
    is not taken, and the prompt asks for a different one."""
    fake = harness.fake
    creatify.personas = {}
    creatify.add_persona("Ann Speaker", "f")
    creatify.add_persona("Bob Speaker", "m")
    async with harness.bot(**creatify_env(creatify)) as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        prompt = await said(fake, ANN, "prompt.media", mark)
        two = await tap(fake, ANN, prompt, "Dialogue", "dialogue.media_avatars")
        second = await use(fake, ANN, two, "Ann Speaker")
        again = await use(fake, ANN, second, "Ann Speaker")
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert str(again.params["text"]).startswith(
            "First speaker: Ann Speaker. Now pick a different avatar for the second speaker"
        )
        assert draft is not None
        assert (draft.step, draft.avatar2) == (Step.MEDIA, None)
        voice = await use(fake, ANN, again, "Bob Speaker")
        assert str(voice.params["text"]).startswith("First speaker (Ann Speaker):")


#: About 40 seconds each as the built-in voice says them: together longer than the 60 s
#: Creatify's Aurora takes, which are a photo's limit, not its avatars' (lipsyncs_v2).
LONG = " ".join(["We could walk along the river and talk about the weather for a while."] * 12)


async def test_two_lines_longer_together_than_auroras_limit_go_on(
    harness: Harness, creatify: FakeCreatify
) -> None:
    """Each text fits the bot's limit for a voice, both together are longer than Aurora's
    60 s: a dialogue of avatars is no Aurora job, so on to the summary and the video, the
    quota reserving their sum."""
    fake = harness.fake
    creatify.personas = {}
    creatify.add_persona("Ann Speaker", "f")
    creatify.add_persona("Bob Speaker", "m")
    async with harness.bot(**creatify_env(creatify)) as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        prompt = await said(fake, ANN, "prompt.media", mark)
        two = await tap(fake, ANN, prompt, "Dialogue", "dialogue.media_avatars")
        second = await use(fake, ANN, two, "Ann Speaker")
        await use(fake, ANN, second, "Bob Speaker")
        mark = fake.mark()
        fake.send_text(ANN, LONG)
        await said(fake, ANN, "dialogue.second", mark)
        mark = fake.mark()
        fake.send_text(ANN, LONG)
        ratios = await said(fake, ANN, "prompt.ratio", mark)
        summary = await tap(fake, ANN, ratios, "9:16", "prompt.confirm_dialogue")
        press_generate(fake, ANN, summary)
        job = await job_reaching(
            bot, ANN, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DELIVERED
        )
        reserved = await seconds_used(bot, ANN)
    assert job.order.seconds > 60
    assert job.provider == "creatify"
    assert reserved == price(job.order.seconds)
    [create] = creates(creatify, "/api/lipsyncs_v2/")
    assert len(create.json["video_inputs"]) == 2
