"""Creatify end to end (issue 8): the real bot, the fake Telegram server and the fake Creatify
over 127.0.0.1. Stock avatars with typed text or a voice note (lipsyncs v1), a text of several
paragraphs (lipsyncs_v2, polled through the ``?ids=`` list), a photo with a voice note
(Aurora); lost and repeated webhooks, failed jobs and their buttons, an empty account and a
throttled create."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
import pytest

from bot.models import AvatarFace, FileFace, JobStatus, TextVoice
from tests.conftest import Harness, Media, to_chat
from tests.creatify_flows import (
    creates,
    creatify_env,
    job_reaching,
    message,
    pick_avatar,
    press_generate,
    remote_job,
    say_text,
    seconds_used,
    send_voice_note,
    transcript,
)
from tests.fakes.creatify import FakeCreatify
from tests.fakes.telegram import User
from tests.flows import button

ANN = User(881, "Ann", language_code="en")
HELLO = "Hello! I am a ready-made avatar, reading the words you typed."


def first_persona(creatify: FakeCreatify) -> tuple[str, str]:
    """(id, name) of the fake's first stock persona."""
    persona = next(iter(creatify.personas.values()))
    return persona.id, persona.creator_name


@pytest.mark.parametrize(("style", "sent"), [("x", "9x16"), ("colon", "9:16")])
async def test_stock_avatar_with_typed_text(
    harness: Harness, creatify: FakeCreatify, style: str, sent: str
) -> None:
    """Avatar + text -> POST /api/lipsyncs/ with the avatar, the text itself (never audio),
    the ratio as configured and a per-job webhook URL; the video arrives; the quota is
    charged for the spoken length and Creatify's credits are kept with the job."""
    creatify.aspect_ratio_format = style  # type: ignore[assignment]
    avatar_id, name = first_persona(creatify)
    fake = harness.fake
    env = creatify_env(creatify, CREATIFY_RATIO_FORMAT=style)
    async with harness.bot(**env) as bot:
        await pick_avatar(fake, ANN, name)
        summary = await say_text(fake, ANN, HELLO)
        text = str(summary.params["text"])
        assert f"Face: avatar {name}" in text
        assert "Made by: Creatify" in text
        assert "spoken by Creatify's own voice" in text
        mark = fake.mark()
        press_generate(fake, ANN, summary)
        video = (await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30))[0]
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        used = await seconds_used(bot, ANN)
        token = bot.services.signer.webhook_token("creatify", job.id)
        print(transcript(fake, ANN.id))
    [create] = creates(creatify, "/api/lipsyncs/")
    body = create.json
    assert body["creator"] == avatar_id
    assert body["text"] == HELLO
    assert "audio" not in body
    assert body["aspect_ratio"] == sent
    assert body["webhook_url"] == f"{env['PUBLIC_URL']}/hooks/creatify/{job.id}/{token}"
    remote = remote_job(creatify, job, "v1")
    assert remote.status == "done"
    assert any(d.status_code == 200 for d in creatify.webhook_deliveries)
    assert "Creatify" in video.params["caption"]
    assert isinstance(job.order.face, AvatarFace)
    assert isinstance(job.order.voice, TextVoice)
    assert job.order.voice.text == HELLO
    assert job.seconds is not None
    assert job.seconds > 0
    # Reserved for the spoken length, charged for the video made (the fake's is 2 s).
    assert used == min(job.seconds, 2)
    assert job.credits == remote.credits_used == 5


async def test_stock_avatar_with_a_voice_note(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    """Avatar + recording -> POST /api/lipsyncs/ with ``audio``: a signed, expiring link to
    the bot's own copy (MP3), which Creatify downloads itself."""
    avatar_id, name = first_persona(creatify)
    fake = harness.fake
    env = creatify_env(creatify)
    async with harness.bot(**env) as bot:
        await pick_avatar(fake, ANN, name)
        summary = await send_voice_note(fake, ANN, media.voice)
        assert "Your text" not in str(summary.params["text"])
        press_generate(fake, ANN, summary)
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        print(transcript(fake, ANN.id))
    [create] = creates(creatify, "/api/lipsyncs/")
    body = create.json
    assert body["creator"] == avatar_id
    assert "text" not in body
    link = urlsplit(body["audio"])
    assert f"{link.scheme}://{link.netloc}" == env["PUBLIC_URL"]
    assert link.path == f"/media/{job.id}/voice.mp3"
    assert "sig=" in link.query
    assert "exp=" in link.query
    [fetched] = [f for f in creatify.fetched if f.field == "audio"]
    assert (fetched.url, fetched.status, fetched.format) == (body["audio"], 200, "mp3")
    remote = remote_job(creatify, job, "v1")
    assert remote.seconds == pytest.approx(3.0, abs=0.3)  # the fake measured what it got
    assert job.order.voice.kind == "audio"


THREE_PARAGRAPHS = (
    "Good morning! This is the first scene.\n\n"
    "Here is the second one, with a few more words.\n"
    "It runs over two lines.\n\n\n"
    "And the third scene says goodbye."
)


@pytest.mark.parametrize("how", ["no_public_url", "webhook_dropped"])
async def test_paragraphs_become_scenes_polled_through_the_list(
    harness: Harness, creatify: FakeCreatify, how: str
) -> None:
    """A text of three paragraphs -> POST /api/lipsyncs_v2/, one scene each with the same
    avatar; with no webhook to hear, the job is read through ``GET /api/lipsyncs_v2/?ids=``,
    never alone."""
    avatar_id, name = first_persona(creatify)
    creatify.webhook_mode = "drop"
    fake = harness.fake
    async with harness.bot(**creatify_env(creatify, public=how != "no_public_url")) as bot:
        await pick_avatar(fake, ANN, name)
        summary = await say_text(fake, ANN, THREE_PARAGRAPHS, ratio="1:1")
        press_generate(fake, ANN, summary)
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        print(transcript(fake, ANN.id))
    assert not creates(creatify, "/api/lipsyncs/")
    [create] = creates(creatify, "/api/lipsyncs_v2/")
    scenes = create.json["video_inputs"]
    assert [s["voice"]["input_text"] for s in scenes] == [
        "Good morning! This is the first scene.",
        "Here is the second one, with a few more words.\nIt runs over two lines.",
        "And the third scene says goodbye.",
    ]
    assert {s["character"]["avatar_id"] for s in scenes} == {avatar_id}
    assert create.json["aspect_ratio"] == "1x1"
    assert ("webhook_url" in create.json) is (how == "webhook_dropped")
    remote = remote_job(creatify, job, "v2")
    assert creatify.requests["GET /api/lipsyncs_v2/"] >= 1
    assert creatify.requests["GET /api/lipsyncs_v2/{id}/"] == 0
    lists = [c.query for c in creatify.calls if c.path == "/api/lipsyncs_v2/"]
    assert f"ids={remote.id}" in lists
    assert job.credits == remote.credits_used > 0
    assert len(fake.sent(ANN.id, "sendVideo")) == 1


async def test_photo_with_a_voice_note_through_aurora(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    """Photo + recording -> POST /api/aurora/ with the photo as JPEG and the voice as MP3,
    both downloaded by Creatify from the bot's signed links."""
    fake = harness.fake
    async with harness.bot(**creatify_env(creatify)) as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        fake.send_photo(ANN, media.photo.read_bytes(), width=640, height=480)
        await message(fake, ANN, "prompt.voice", mark)
        summary = await send_voice_note(fake, ANN, media.voice, ratio="16:9")
        assert "Made by: Creatify" in str(summary.params["text"])
        press_generate(fake, ANN, summary)
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        print(transcript(fake, ANN.id))
    [create] = creates(creatify, "/api/aurora/")
    body = create.json
    assert urlsplit(body["image"]).path.endswith(".jpg")
    assert urlsplit(body["audio"]).path.endswith(".mp3")
    assert body["aspect_ratio"] == "16x9"
    fetched = {f.field: (f.url, f.status, f.format) for f in creatify.fetched}
    assert fetched == {
        "image": (body["image"], 200, "jpeg"),
        "audio": (body["audio"], 200, "mp3"),
    }
    assert isinstance(job.order.face, FileFace)
    remote = remote_job(creatify, job, "au")
    assert job.credits == remote.credits_used == 3  # 1 credit a second of the 3 s voice


@pytest.mark.parametrize("mode", ["drop", "duplicate", "delay"])
async def test_lost_repeated_or_late_webhooks_deliver_once(
    harness: Harness, creatify: FakeCreatify, mode: str
) -> None:
    """A dropped webhook is made up by polling; a repeated or late one changes nothing."""
    creatify.webhook_mode = mode  # type: ignore[assignment]
    _, name = first_persona(creatify)
    fake = harness.fake
    async with harness.bot(**creatify_env(creatify)) as bot:
        await pick_avatar(fake, ANN, name)
        press_generate(fake, ANN, await say_text(fake, ANN, HELLO))
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        await creatify.drain_webhooks()
        await asyncio.sleep(1.0)  # time for a poll or two after the last webhook
        await bot.services.tasks.wait_idle()
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
    assert len(fake.sent(ANN.id, "sendVideo")) == 1
    done = [d for d in creatify.webhook_deliveries if d.job_status == "done"]
    assert len(done) == {"drop": 0, "duplicate": 2, "delay": 1}[mode]
    assert all(d.status_code == 200 for d in done)
    assert job.credits == 5


async def test_failed_job_explains_and_try_again_keeps_the_text(
    harness: Harness, creatify: FakeCreatify
) -> None:
    """Creatify fails the job: the user reads its reason with [Try again] [New] (no
    [Other provider]: no other provider takes an avatar); [Try again] makes the same order,
    typed text and all, and the first reservation goes back."""
    creatify.fail_next_jobs(reason="Avatar rendering failed, please retry")
    avatar_id, name = first_persona(creatify)
    fake = harness.fake
    async with harness.bot(**creatify_env(creatify)) as bot:
        await pick_avatar(fake, ANN, name)
        mark = fake.mark()
        press_generate(fake, ANN, await say_text(fake, ANN, HELLO))
        failure = await message(fake, ANN, "failure.text", mark)
        first = await job_reaching(bot, ANN, JobStatus.FAILED)
        assert await seconds_used(bot, ANN) == 0
        labels = [text for text, _ in fake.buttons(failure.result)]
        assert labels == ["Try again", "New video"]
        mark = fake.mark()
        fake.press(ANN, failure.result, button(fake, failure.result, "Try again"))
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30)
        second = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        print(transcript(fake, ANN.id))
    text = str(failure.params["text"])
    assert f"video #{first.id} did not work out" in text
    assert "Creatify could not make this video — Avatar rendering failed, please retry" in text
    assert failure.params["reply_parameters"]["message_id"] == first.status_message_id
    assert second.id != first.id
    assert isinstance(second.order.voice, TextVoice)
    assert second.order.voice == first.order.voice
    assert second.order.face == first.order.face
    bodies = [c.json for c in creates(creatify, "/api/lipsyncs/")]
    assert [(b["creator"], b["text"]) for b in bodies] == [(avatar_id, HELLO)] * 2


ADA = User(889, "Ada", language_code="en")


@pytest.mark.parametrize("how", ["402", "empty_account"])
async def test_no_credits_at_create_is_told_and_refunded(
    harness: Harness, creatify: FakeCreatify, how: str
) -> None:
    """Creatify refuses the create for lack of credits (a 402, or its 400 "Insufficient
    credits"): the user is told the provider cannot make videos now and keeps their quota;
    the admins hear why, once."""
    if how == "402":
        creatify.fail_next("POST /api/lipsyncs/", 402)
    else:
        creatify.credits = 0
    _, name = first_persona(creatify)
    fake = harness.fake
    async with harness.bot(**creatify_env(creatify, ADMIN_IDS=str(ADA.id))) as bot:
        mark = fake.mark()
        fake.send_command(ADA, "/start")  # admins must have opened a chat with the bot
        await fake.wait_for("sendMessage", to_chat(ADA.id), since=mark)
        await pick_avatar(fake, ANN, name)
        mark = fake.mark()
        press_generate(fake, ANN, await say_text(fake, ANN, HELLO))
        failure = await message(fake, ANN, "failure.text", mark)
        job = await job_reaching(bot, ANN, JobStatus.FAILED)
        alert = await fake.wait_for("sendMessage", to_chat(ADA.id, "out of credits"), since=mark)
        used = await seconds_used(bot, ANN)
        print(transcript(fake, ANN.id))
    assert "Creatify is unavailable right now" in failure.params["text"]
    assert "Insufficient credits" in alert[0].params["text"]
    assert used == 0
    assert job.provider_job_id is None
    assert not creatify.jobs
    assert not fake.sent(ANN.id, "sendVideo")


async def test_throttled_create_is_sent_again(harness: Harness, creatify: FakeCreatify) -> None:
    """A 429 on the create (Creatify made nothing) is retried after its Retry-After."""
    creatify.fail_next("POST /api/lipsyncs/", 429, retry_after=1)
    _, name = first_persona(creatify)
    fake = harness.fake
    async with harness.bot(**creatify_env(creatify)) as bot:
        await pick_avatar(fake, ANN, name)
        press_generate(fake, ANN, await say_text(fake, ANN, HELLO))
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED)
    assert creatify.requests["POST /api/lipsyncs/"] == 2
    assert [c.status for c in creates(creatify, "/api/lipsyncs/")] == [429, 201]
    assert list(creatify.jobs) == [remote_job(creatify, job, "v1").id]


async def test_photo_with_typed_text_through_aurora_then_another_provider(
    harness: Harness, creatify: FakeCreatify, media: Media
) -> None:
    """Photo + typed text -> Aurora with the spoken text as MP3 (Aurora has no text input);
    Creatify fails it with a reason full of markup, which is shown as plain words; [Other
    provider] offers the preview alone, which makes the same order, text and all."""
    creatify.fail_next_jobs(reason="<b>No face</b> found & <script>x</script> " + "z" * 5000)
    fake = harness.fake
    env = creatify_env(creatify, PROVIDERS="creatify,preview")
    async with harness.bot(**env) as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        fake.send_photo(ANN, media.photo.read_bytes(), width=640, height=480)
        await message(fake, ANN, "prompt.voice", mark)
        mark = fake.mark()
        summary = await say_text(fake, ANN, HELLO, provider="Creatify")
        press_generate(fake, ANN, summary)
        failure = await message(fake, ANN, "failure.text", mark)
        first = await job_reaching(bot, ANN, JobStatus.FAILED)
        mark = fake.mark()
        fake.press(ANN, failure.result, button(fake, failure.result, "Other provider"))
        # The preview alone is left: no PROVIDER step, the summary at once.
        confirm = await message(fake, ANN, "prompt.confirm", mark)
        assert "Made by: Preview" in str(confirm.params["text"])
        press_generate(fake, ANN, confirm)
        await fake.wait_for("sendVideo", to_chat(ANN.id), since=mark, timeout=30)
        second = await job_reaching(bot, ANN, JobStatus.DELIVERED)
        print(transcript(fake, ANN.id))
    text = str(failure.params["text"])
    assert "Creatify could not make this video — <b>No face</b> found & <script>" in text
    assert len(text) < 1000
    [create] = creates(creatify, "/api/aurora/")
    assert "text" not in create.json
    assert urlsplit(create.json["audio"]).path.endswith("/voice.mp3")
    [audio] = [f for f in creatify.fetched if f.field == "audio"]
    assert (audio.status, audio.format) == (200, "mp3")
    remote = remote_job(creatify, first, "au")
    assert remote.seconds == pytest.approx(first.order.seconds, abs=0.3)  # the spoken text
    assert (second.provider, second.order) == ("preview", first.order)
    assert isinstance(second.order.voice, TextVoice)


async def test_restart_while_creatify_works_delivers_once(
    harness: Harness, creatify: FakeCreatify
) -> None:
    """Creatify finishes while the bot is down (its webhook finds nobody): after the restart
    the job is polled and delivered, once, even across one more restart."""
    creatify.auto_complete = False
    _, name = first_persona(creatify)
    fake = harness.fake
    env = creatify_env(creatify)
    async with harness.bot(**env) as bot:
        await pick_avatar(fake, ANN, name)
        press_generate(fake, ANN, await say_text(fake, ANN, THREE_PARAGRAPHS))
        job = await job_reaching(bot, ANN, JobStatus.QUEUED, JobStatus.RUNNING)
    bare = str(job.provider_job_id).removeprefix("v2_")
    await creatify.wait_for(bare, "running")
    creatify.complete(bare)
    await creatify.wait_for(bare)
    await creatify.drain_webhooks()
    assert [d.status_code for d in creatify.webhook_deliveries] == [0]  # nobody listened
    async with harness.bot(**env) as bot:
        await fake.wait_for("sendVideo", to_chat(ANN.id), timeout=30)
        await bot.services.tasks.wait_idle()
    async with harness.bot(**env) as bot:
        await asyncio.sleep(0.8)
        await bot.services.tasks.wait_idle()
        assert (await job_reaching(bot, ANN, JobStatus.DELIVERED)).id == job.id
    assert len(fake.sent(ANN.id, "sendVideo")) == 1


async def test_creatify_webhook_with_a_wrong_token_is_refused(
    harness: Harness, creatify: FakeCreatify
) -> None:
    creatify.auto_complete = False
    _, name = first_persona(creatify)
    fake = harness.fake
    env = creatify_env(creatify)
    async with harness.bot(**env) as bot:
        await pick_avatar(fake, ANN, name)
        press_generate(fake, ANN, await say_text(fake, ANN, HELLO))
        job = await job_reaching(bot, ANN, JobStatus.QUEUED, JobStatus.RUNNING)
        bare = str(job.provider_job_id).removeprefix("v1_")
        body = {"id": bare, "status": "done", "failed_reason": None, "output": "http://evil/x.mp4"}
        other = bot.services.signer.webhook_token("creatify", job.id + 1)
        lss = bot.services.signer.webhook_token("lipsync_studio", job.id)
        base = f"{env['PUBLIC_URL']}/hooks/creatify"
        async with httpx.AsyncClient() as client:
            answers = [
                (await client.post(url, json=body)).status_code
                for url in (
                    f"{base}/{job.id}/{'0' * 32}",
                    f"{base}/{job.id}/{other}",
                    f"{base}/{job.id}/{lss}",
                    f"{base}/{job.id + 1}/{other}",  # a real token, for a job that is not there
                )
            ]
        await asyncio.sleep(0.3)
        assert (await job_reaching(bot, ANN, JobStatus.QUEUED, JobStatus.RUNNING)).id == job.id
    assert answers[:3] == [401, 401, 401]
    assert answers[3] in (200, 202, 404)  # accepted and ignored, or unknown: never acted on
    assert not fake.sent(ANN.id, "sendVideo")
