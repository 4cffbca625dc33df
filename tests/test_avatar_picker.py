"""The avatar picker at the MEDIA step (design §1, issue 8), through the fake Telegram: the
[Avatars] button only when a provider has avatars, pages, filters and [Back], a still with
[Use NAME] [Back], someone else's and old buttons, a restart in the middle of picking,
hostile names; and the catalogue behind it (bot.avatars.catalog): kept on disk, refreshed
in the background, a failing or empty refresh keeping the last good list."""

from __future__ import annotations

import asyncio
import json
import time
import unicodedata
from collections.abc import Awaitable
from pathlib import Path

import httpx

from bot.avatars import AvatarCatalog, Filter, ref_of
from bot.avatars.catalog import MAX_AVATARS
from bot.avatars.lists import cleaned
from bot.avatars.names import MAX_LABEL, MAX_NAME, clean_name
from bot.models import Step
from bot.models.avatars import Avatar, Gender
from bot.providers.creatify import CreatifyProvider
from bot.providers.creatify_catalog import parse_avatar, parse_avatars
from bot.providers.http import ProviderHTTP
from tests.conftest import Harness, to_chat
from tests.fakes.creatify import FakeCreatify
from tests.fakes.creatify_catalog import Persona, persona_object
from tests.fakes.telegram import Call, FakeTelegram, User
from tests.flows import button, edited, said

ANN = User(811, "Ann", language_code="en")
BOB = User(812, "Bob", language_code="en")
GENDERS = (Gender.FEMALE, Gender.MALE, None)  # by number % 3


class Source:
    """A provider's avatar listing that a test steers: its answer, a failure, a hold."""

    def __init__(self, avatars: list[Avatar]) -> None:
        self.avatars = avatars
        self.calls = 0
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> list[Avatar]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return list(self.avatars)


def stock(
    count: int, stills: str = "https://cdn.example.com", provider: str = "x"
) -> list[Avatar]:
    """``count`` avatars named "Avatar 01"... (sorted as numbered): 3, 6... are women,
    1, 4... men, the others neither."""
    return [
        Avatar(
            provider=provider,
            avatar_id=f"id-{n:04d}",
            name=f"Avatar {n:02d}",
            gender=GENDERS[n % 3],
            preview_images={"9:16": f"{stills}/still/{n}.jpg"},
        )
        for n in range(1, count + 1)
    ]


# --- through the fake Telegram and the fake Creatify ------------------------------------------


def seed(creatify: FakeCreatify, count: int) -> dict[str, str]:
    """``count`` personas named "Avatar 01"... (sorted as numbered): 3, 6... are women, 1,
    4... men, the others non-binary. Returns their ids by name."""
    creatify.personas = {}
    made = [
        creatify.add_persona(f"Avatar {n:02d}", "fmn"[n % 3].replace("n", "nb"))
        for n in range(1, count + 1)
    ]
    return {p.creator_name: p.id for p in made}


def on(creatify: FakeCreatify) -> dict[str, str]:
    """The bot's settings for the fake Creatify (on 127.0.0.1, so private URLs are allowed)."""
    return {
        "CREATIFY_API_ID": creatify.api_id,
        "CREATIFY_API_KEY": creatify.api_key,
        "CREATIFY_API_URL": creatify.base_url,
        "ALLOW_PRIVATE_URLS": "true",
        # The preview takes photos: the MEDIA prompt asks for one, with [Avatars] under it.
        "PROVIDERS": "creatify,preview",
    }


async def media_prompt(fake: FakeTelegram, user: User) -> Call:
    mark = fake.mark()
    fake.send_command(user, "/new")
    return await said(fake, user.id, "Send a photo", mark)


async def tap(fake: FakeTelegram, user: User, message: dict, label: str, what: str) -> Call:
    """Press the button starting with ``label``; the edit whose text contains ``what``."""
    mark = fake.mark()
    fake.press(user, message, button(fake, message, label))
    return await edited(fake, user.id, what, mark)


def names(message: dict) -> list[str]:
    return [text for text, data in FakeTelegram.buttons(message) if data.startswith("avs:")]


async def test_avatars_button_only_when_a_provider_has_avatars(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    async with harness.bot():  # the preview provider alone: no avatars
        prompt = await media_prompt(fake, ANN)
        assert fake.buttons(prompt.result) == []
    async with harness.bot(**on(creatify)):
        prompt = await media_prompt(fake, ANN)
        # Creatify's avatars also make dialogues (issue 9): [Dialogue] under [Avatars].
        labels = [text for text, _ in fake.buttons(prompt.result)]
        assert labels == ["Avatars", "Dialogue (two people)"]
        group = fake.group()
        mark = fake.mark()
        fake.send_command(ANN, "/new", chat=group)
        in_group = await said(fake, group["id"], "Send a photo", mark)
        assert in_group.params["reply_markup"]["force_reply"] is True  # a reply, not a button


async def test_pages_filters_and_back(harness: Harness, creatify: FakeCreatify) -> None:
    fake = harness.fake
    seed(creatify, 20)
    async with harness.bot(**on(creatify)):
        prompt = await media_prompt(fake, ANN)
        first = await tap(fake, ANN, prompt.result, "Avatars", "page 1 of 3")
        assert first.params["message_id"] == prompt.result["message_id"]  # edited in place
        assert names(first.result) == [f"Avatar {n:02d}" for n in range(1, 9)]
        labels = [text for text, _ in fake.buttons(first.result)]
        assert "< Prev" not in labels
        assert labels[-5:] == ["Next >", "Women", "Men", "✓ All", "Back"]
        assert all(len(data.encode()) <= 64 for _, data in fake.buttons(first.result))
        second = await tap(fake, ANN, first.result, "Next >", "page 2 of 3")
        assert names(second.result) == [f"Avatar {n:02d}" for n in range(9, 17)]
        third = await tap(fake, ANN, second.result, "Next >", "page 3 of 3")
        assert names(third.result) == [f"Avatar {n:02d}" for n in range(17, 21)]
        assert "Next >" not in [text for text, _ in fake.buttons(third.result)]
        back = await tap(fake, ANN, third.result, "< Prev", "page 2 of 3")
        women = await tap(fake, ANN, back.result, "Women", "Women, page 1 of 1")
        assert names(women.result) == [f"Avatar {n:02d}" for n in (3, 6, 9, 12, 15, 18)]
        men = await tap(fake, ANN, women.result, "Men", "Men, page 1 of 1")
        assert names(men.result) == [f"Avatar {n:02d}" for n in (1, 4, 7, 10, 13, 16, 19)]
        everyone = await tap(fake, ANN, men.result, "All", "All, page 1 of 3")
        media_step = await tap(fake, ANN, everyone.result, "Back", "Send a photo")
        labels = [text for text, _ in fake.buttons(media_step.result)]
        assert labels == ["Avatars", "Dialogue (two people)"]


async def test_a_still_then_use_it_as_the_face(harness: Harness, creatify: FakeCreatify) -> None:
    fake = harness.fake
    ids = seed(creatify, 10)
    async with harness.bot(**on(creatify)) as bot:
        prompt = await media_prompt(fake, ANN)
        picker = await tap(fake, ANN, prompt.result, "Avatars", "page 1 of 2")
        mark = fake.mark()
        fake.press(ANN, picker.result, button(fake, picker.result, "Avatar 03"))
        still = (await fake.wait_for("sendPhoto", to_chat(ANN.id, "Avatar 03"), since=mark))[0]
        assert still.result["reply_to_message"]["message_id"] == picker.result["message_id"]
        assert [text for text, _ in fake.buttons(still.result)] == ["Use Avatar 03", "Back"]
        mark = fake.mark()
        fake.press(ANN, still.result, button(fake, still.result, "Back"))
        await fake.wait_for("deleteMessage", since=mark)
        # Again: sent by Telegram's file id, neither downloaded nor uploaded a second time.
        mark = fake.mark()
        fake.press(ANN, picker.result, button(fake, picker.result, "Avatar 03"))
        again = (await fake.wait_for("sendPhoto", to_chat(ANN.id, "Avatar 03"), since=mark))[0]
        assert again.params["photo"] == still.result["photo"][-1]["file_id"]
        assert creatify.requests["GET /_media/"] == 1
        assert len([u for u in fake.uploads if u.method == "sendPhoto"]) == 1
        mark = fake.mark()
        fake.press(ANN, again.result, button(fake, again.result, "Use Avatar 03"))
        await said(fake, ANN.id, "Now type the text the avatar should say", mark)
        await edited(fake, ANN.id, "Face: Avatar 03, a ready-made avatar.", mark)
        assert fake.buttons(fake.message(ANN.id, again.result["message_id"])) == []
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.VOICE
    assert draft.avatar is not None
    assert (draft.avatar.provider, draft.avatar.avatar_id) == ("creatify", ids["Avatar 03"])
    assert draft.media is None


async def test_someone_elses_old_or_forged_buttons_change_nothing(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    seed(creatify, 20)
    async with harness.bot(**on(creatify)) as bot:
        prompt = await media_prompt(fake, ANN)
        picker = await tap(fake, ANN, prompt.result, "Avatars", "page 1 of 3")
        token = button(fake, picker.result, "Next").split(":")[2]
        mark = fake.mark()
        fake.press(BOB, picker.result, button(fake, picker.result, "Next >"))
        fake.press(BOB, picker.result, button(fake, picker.result, "Avatar 01"))
        for value in ("z0", "a99999", "a-1", "a²", "", "a0:extra"):
            fake.press(ANN, picker.result, f"av:{ANN.id}:{token}:{value}", forged=True)
        fake.press(ANN, picker.result, f"avu:{ANN.id}:{token}:AAAAAAAAAAA", forged=True)
        fake.press(ANN, picker.result, f"avu:{ANN.id}:{token}:../../etc", forged=True)
        answers = await fake.wait_for("answerCallbackQuery", count=10, since=mark)
        assert all(a.params.get("show_alert") for a in answers)
        texts = [str(a.params.get("text")) for a in answers]
        assert texts.count("This button belongs to someone else.") == 2
        # Not carried by the picker (forged): refused before anything is looked up.
        assert sum("earlier conversation" in text for text in texts) == 8
        assert "page 1 of 3" in fake.message(ANN.id, picker.result["message_id"])["text"]
        # A new conversation: the old picker's buttons are stale.
        await media_prompt(fake, ANN)
        mark = fake.mark()
        fake.press(ANN, picker.result, button(fake, picker.result, "Next >"))
        fake.press(ANN, picker.result, button(fake, picker.result, "Avatar 01"))
        answers = await fake.wait_for("answerCallbackQuery", count=2, since=mark)
        assert all("earlier conversation" in str(a.params.get("text")) for a in answers)
        assert not fake.sent(ANN.id, "sendPhoto")
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.step is Step.MEDIA
    assert draft.avatar is None


async def test_a_restart_in_the_middle_of_picking(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    ids = seed(creatify, 20)
    async with harness.bot(**on(creatify)):
        prompt = await media_prompt(fake, ANN)
        picker = await tap(fake, ANN, prompt.result, "Avatars", "page 1 of 3")
        picker = await tap(fake, ANN, picker.result, "Next >", "page 2 of 3")
    # Creatify is down after the restart: the list kept on disk is shown.
    creatify.fail_next("GET /api/personas/", 503, times=1000)
    async with harness.bot(**on(creatify), PROVIDER_RETRY_BASE_SECONDS="0") as bot:
        picker = await tap(fake, ANN, picker.result, "Next >", "page 3 of 3")
        mark = fake.mark()
        fake.press(ANN, picker.result, button(fake, picker.result, "Avatar 18"))
        still = (await fake.wait_for("sendPhoto", to_chat(ANN.id, "Avatar 18"), since=mark))[0]
        mark = fake.mark()
        fake.press(ANN, still.result, button(fake, still.result, "Use Avatar 18"))
        await said(fake, ANN.id, "Now type the text the avatar should say", mark)
        draft = await bot.services.drafts.get(ANN.id, ANN.id)
    assert draft is not None
    assert draft.avatar is not None
    assert draft.avatar.avatar_id == ids["Avatar 18"]


async def test_a_tap_never_waits_for_a_refresh(harness: Harness, creatify: FakeCreatify) -> None:
    fake = harness.fake
    seed(creatify, 12)
    async with harness.bot(**on(creatify)):
        prompt = await media_prompt(fake, ANN)
        await tap(fake, ANN, prompt.result, "Avatars", "page 1 of 2")
    # Old on disk, so the next start asks Creatify at once; Creatify takes 5 s to answer.
    cached = harness.folder / "data" / "avatars" / "creatify.json"
    cached.write_text(json.dumps({**json.loads(cached.read_text()), "fetched_at": 0}))
    asked = creatify.requests["GET /api/personas/"]
    creatify.fail_next("GET /api/personas/", 503, delay=5.0)
    async with harness.bot(**on(creatify)):
        started = time.monotonic()
        prompt = await media_prompt(fake, ANN)
        assert creatify.requests["GET /api/personas/"] == asked + 1  # the refresh is held...
        picker = await tap(fake, ANN, prompt.result, "Avatars", "page 1 of 2")
        assert picker.at - started < 2.0  # ...and neither the start nor the tap waited


async def test_hostile_names_are_short_plain_and_visible(
    harness: Harness, creatify: FakeCreatify
) -> None:
    fake = harness.fake
    creatify.personas = {}
    raw = [
        "A" * 10_000,
        "\u202egpj.exe Evil",
        "<b>Bold</b> & <i>co</i>",
        "Line\nbreak\tand   spaces",
        "Z\u0301\u0302\u0303\u0304\u0305algo",
        "\u200b\u202e\u200d",  # nothing visible: listed under a made-up name, not dropped
    ]
    for name in raw:
        creatify.add_persona(name)
    async with harness.bot(**on(creatify)):
        prompt = await media_prompt(fake, ANN)
        picker = await tap(fake, ANN, prompt.result, "Avatars", "page 1 of 1")
    labels = names(picker.result)
    assert len(labels) == len(raw)
    assert all(0 < len(text) <= MAX_LABEL for text in labels)
    assert "<b>Bold</b> & <i>co</i>" in labels  # as plain text, not markup
    assert "Line break and spaces" in labels
    assert sum(text.startswith("Avatar ") for text in labels) == 1
    for text in labels:
        assert not [c for c in text if unicodedata.category(c)[0] == "C"], text
    assert "parse_mode" not in picker.params


# --- the catalogue ------------------------------------------------------------------------------


def test_names_are_cleaned() -> None:
    assert clean_name("A" * 10_000, "x") == "A" * (MAX_NAME - 1) + "…"
    assert clean_name("\u202eevil\u202c", "x") == "evil"
    assert clean_name(" \n\t ", "fallback") == "fallback"
    assert clean_name(None, "fallback") == "fallback"
    assert clean_name("e\u0301\u0301\u0301\u0301", "x") == unicodedata.normalize(
        "NFC", "e\u0301\u0301\u0301"
    )


def test_creatify_checks_the_shape_and_leaves_names_to_the_catalogue() -> None:
    first, second = (f"0b5c2f6e-aaaa-4bbb-8ccc-00000000000{n}" for n in (1, 2))
    raw = " Ana\u202e\nClara\u200b " + "x" * 100
    avatar = parse_avatar(
        {
            "id": first,
            "creator_name": raw,
            "preview_image_9_16": "https://cdn.example/a.jpg",
            "preview_image_1_1": "javascript:alert(1)",
            "preview_video_9_16": "https://cdn.example/a b.mp4",
        }
    )
    assert avatar is not None
    assert avatar.name == raw  # as sent: cleaned for display once, by bot.avatars
    assert avatar.preview_images == {"9:16": "https://cdn.example/a.jpg"}
    assert avatar.preview_videos == {}
    huge = parse_avatar({"id": first, "creator_name": "A" * 100_000})
    assert huge is not None
    assert MAX_NAME < len(huge.name) <= 4096
    assert parse_avatar({"id": first, "creator_name": 7}) is None
    assert parse_avatar({"id": "../x", "creator_name": "Ann"}) is None
    hidden = parse_avatar({"id": second, "creator_name": "\u200b"})
    assert hidden is not None
    listed = cleaned("creatify", [avatar, hidden], 10)
    assert [a.name for a in listed] == [clean_name(raw, "-"), "Avatar 0b5c2f6e"]


async def test_a_big_list_is_parsed_and_cleaned_off_the_event_loop(tmp_path: Path) -> None:
    count = MAX_AVATARS
    personas = [
        persona_object(
            Persona(f"{n:08d}-aaaa-4bbb-8ccc-dddddddddddd", "Ana\u0301 Clara " * 80, "f"),
            "https://cdn.example",
        )
        for n in range(count)
    ]
    body = json.dumps(personas).encode()
    # What the whole takes in one go, on this machine under this load: the loop's worst
    # pause must be a small part of it (decoding the JSON, swapping the list in).
    started = time.perf_counter()
    cleaned("creatify", parse_avatars(json.loads(body), count), count)
    whole = time.perf_counter() - started
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=body))
    async with httpx.AsyncClient(transport=transport) as client:
        http = ProviderHTTP("creatify", client)
        api = CreatifyProvider(http, "https://api.example", "id", "key", public=False)
        lags = []
        # The best of three: a busy machine may pause the whole process once; work on the
        # loop would pause it every time.
        for attempt in range(3):
            catalog = AvatarCatalog({"creatify": api.avatars}, tmp_path / str(attempt))
            lags.append(await worst_lag(catalog.refresh("creatify")))
            assert catalog.page(Filter.ALL, 0, ANN.id).total == count
            if min(lags) < whole / 4:
                break
    assert min(lags) < whole / 4, (lags, whole)


async def worst_lag(work: Awaitable[object]) -> float:
    """The longest the event loop went without running another task while ``work`` ran."""
    worst, done = 0.0, False

    async def tick() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            worst, last = max(worst, now - last), now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    try:
        await work
    finally:
        done = True
        await ticker
    return worst


async def test_a_failing_or_empty_refresh_keeps_the_last_good_list(tmp_path: Path) -> None:
    source = Source(stock(10))
    catalog = AvatarCatalog({"x": source}, tmp_path, retry_first=30)
    await catalog.start()
    try:
        await _until(lambda: source.calls == 1 and not catalog.is_empty())
        assert catalog.page(Filter.ALL, 0, ANN.id).total == 10
        source.error = RuntimeError("boom")
        assert not await catalog.refresh("x")
        source.error, source.avatars = None, []
        assert not await catalog.refresh("x")
        assert catalog.page(Filter.ALL, 0, ANN.id).total == 10
        source.avatars = stock(3)
        assert await catalog.refresh("x")
        assert catalog.page(Filter.ALL, 5, ANN.id).total == 3  # a page past the end: the last
    finally:
        await catalog.close()
    kept = json.loads((tmp_path / "x.json").read_text())
    assert [a["avatar_id"] for a in kept["avatars"]] == ["id-0001", "id-0002", "id-0003"]
    assert not list(tmp_path.glob("*.part"))


async def test_a_fresh_copy_on_disk_is_not_fetched_again(tmp_path: Path) -> None:
    source = Source(stock(5))
    first = AvatarCatalog({"x": source}, tmp_path)
    await first.start()
    await _until(lambda: (tmp_path / "x.json").exists())
    await first.close()
    source.gate = asyncio.Event()  # any second fetch would hang
    second = AvatarCatalog({"x": source}, tmp_path)
    await second.start()
    try:
        assert second.page(Filter.ALL, 0, ANN.id).total == 5  # at once, from disk
        await asyncio.sleep(0.05)
        assert source.calls == 1
    finally:
        await second.close()


async def test_an_empty_picker_asks_again_after_a_pause(tmp_path: Path) -> None:
    source = Source(stock(4))
    source.error = RuntimeError("down")
    catalog = AvatarCatalog({"x": source}, tmp_path, retry_first=0.2)
    await catalog.start()
    try:
        await _until(lambda: source.calls == 1)
        catalog.wanted()  # within the pause: not asked again at once
        await asyncio.sleep(0.05)
        assert source.calls == 1
        source.error = None
        catalog.wanted()
        await _until(lambda: not catalog.is_empty())
        assert source.calls == 2
    finally:
        await catalog.close()


async def test_custom_avatars_are_their_owners_only(tmp_path: Path) -> None:
    mine = Avatar(provider="x", avatar_id="custom-1", name="Me", owner_id=ANN.id)
    source = Source([*stock(2), mine])
    catalog = AvatarCatalog({"x": source}, tmp_path)
    assert await catalog.refresh("x")
    assert catalog.page(Filter.ALL, 0, ANN.id).total == 2
    assert [a.name for a in catalog.page(Filter.MINE, 0, ANN.id).avatars] == ["Me"]
    assert catalog.has_own(ANN.id)
    assert not catalog.has_own(BOB.id)
    assert catalog.find(ref_of(mine), ANN.id) is not None
    assert catalog.find(ref_of(mine), BOB.id) is None


async def _until(check: object, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    assert callable(check)
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)
