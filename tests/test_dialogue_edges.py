"""A dialogue's edges (issue 9), through the fake Telegram and the fake lipsync.studio:
[Shorter voice] asks both voices again and keeps the turns and the rest; forged or
out-of-place dialogue buttons (a turns value that is none, [Dialogue] past MEDIA, [Other
photo] on a job that is no dialogue) are answered as stale and change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import callback_data as cd
from bot.models import JobStatus, Step, Turns
from tests import media as make
from tests.conftest import Harness, Media
from tests.creatify_flows import job_reaching, press_generate
from tests.dialogue_flows import Studio, labels, photo_dialogue, said, serving_studio, tap
from tests.fakes.telegram import User
from tests.flows import button, generate

ANN = User(961, "Ann", language_code="en")
LONG = (
    "This is a rather long line for the right speaker, long enough to take several "
    "seconds to say, so that the two voices one after the other cost more than is left."
)


@pytest.fixture(scope="session")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dialogue-edges")
    return make.make_video(folder / "result.mp4", width=480, height=854, seconds=2.0)


@pytest.fixture
async def studio(output: Path) -> AsyncIterator[Studio]:
    async with serving_studio(output, USER_DAILY_QUOTA_SECONDS="5") as served:
        yield served


async def test_a_shorter_voice_asks_both_again_and_keeps_the_rest(
    harness: Harness, studio: Studio, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot(**studio.env) as bot:
        summary = await photo_dialogue(fake, media, ANN, LONG, "one_after_the_other")
        assert "Shorter voice" in labels(summary)
        mark = fake.mark()
        fake.press(ANN, summary.result, button(fake, summary.result, "Shorter voice"))
        await said(fake, ANN, "dialogue.first", mark)
        mark = fake.mark()
        fake.send_text(ANN, "Hi.")
        await said(fake, ANN, "dialogue.second", mark)
        mark = fake.mark()
        fake.send_text(ANN, "Hello.")
        # The turns, the shape and the provider are kept: straight to the summary.
        again = await said(fake, ANN, "prompt.confirm_dialogue", mark)
        assert "Turns: one after the other" in str(again.params["text"])
        assert "Shorter voice" not in labels(again)
        press_generate(fake, ANN, again)
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED, timeout=60)
    assert job.order.dialogue is not None
    assert job.order.dialogue.turns is Turns.ONE_AFTER_THE_OTHER
    assert job.order.ratio == "9:16"
    assert [v.kind for v in job.order.voices] == ["text", "text"]


async def test_forged_and_out_of_place_dialogue_buttons_are_stale(
    harness: Harness, studio: Studio, media: Media
) -> None:
    fake = harness.fake
    async with harness.bot(**studio.env) as bot:
        mark = fake.mark()
        fake.send_command(ANN, "/new")
        prompt = await said(fake, ANN, "prompt.media", mark)
        two = await tap(fake, ANN, prompt, "Dialogue", "dialogue.media_photo")
        mark = fake.mark()
        fake.send_photo(ANN, media.photo.read_bytes(), width=640, height=480)
        await said(fake, ANN, "dialogue.first", mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
        assert draft is not None
        token = draft.token
        stale = []
        for data in (
            cd.step(cd.DIALOGUE, ANN.id, token),  # past MEDIA
            cd.step(cd.ONE_SPEAKER, ANN.id, token),
            cd.step(cd.TURNS, ANN.id, token, "at_the_same_time"),  # not at TURNS yet
            cd.step(cd.TURNS, ANN.id, token, "x" * 30),
        ):
            mark = fake.mark()
            answer = fake.press(ANN, two.result, data, forged=True)["callback_query"]
            await fake.wait_for("answerCallbackQuery", since=mark)
            stale.append(str(fake.callback_answers[answer["id"]].get("text")))
        assert all("earlier conversation" in text for text in stale), stale
        after = await bot.services.drafts.get(ANN.id, ANN.id)
        assert after is not None
        assert (after.step, after.dialogue, after.turns) == (Step.VOICE, True, None)
        # [Other photo] on a job of one speaker: nothing to keep for a second.
        await bot.services.conversation.cancel(after)
        confirm = await generate(fake, media, ANN, provider="lipsync.studio")
        assert confirm is not None
        job = await job_reaching(bot, ANN, JobStatus.DELIVERED, timeout=60)
        mark = fake.mark()
        query = fake.press(ANN, confirm.result, cd.job_action(cd.OTHER_PHOTO, job.id), forged=True)
        await fake.wait_for("answerCallbackQuery", since=mark)
        answer = str(fake.callback_answers[query["callback_query"]["id"]].get("text"))
        assert await bot.services.drafts.get(ANN.id, ANN.id) is None
    assert "earlier conversation" in answer
