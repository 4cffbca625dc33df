"""The summary at the CONFIRM step: the face, the voice, the shape, the provider, the price in
the user's own unit, and the notes that matter before [Generate]; a dialogue's names both
speakers, what each says it with and how they take turns."""

from __future__ import annotations

from telegram.constants import ChatType

from bot.catalog import Catalog
from bot.i18n import Translator
from bot.models import Draft
from bot.quotas import Allowance, price
from bot.speech import LOCAL, engine_of
from handlers import quota_text
from handlers.dialogue_screens import speaker


def price_of(draft: Draft) -> int:
    """Seconds of quota the draft's video costs (what [Generate] reserves): its length, a
    dialogue's by its turns (the order's, so the two never disagree)."""
    assert draft.voice is not None
    assert draft.voice.probe is not None
    return price(draft.seconds)


def summary(
    t: Translator,
    catalog: Catalog,
    admins: frozenset[int],
    draft: Draft,
    allowances: list[Allowance],
    voices: tuple[str | None, str | None] = (None, None),
) -> str:
    """The CONFIRM step's text: what will be made, by whom, at what price, and notes.
    ``voices``: the names of the voices reading a dialogue's typed texts, the first
    speaker's and the second's, where the bot's voices read them (a photo of two)."""
    locale = draft.locale
    assert draft.voice is not None
    assert draft.voice.probe is not None
    assert draft.provider
    seconds = price_of(draft)
    notes = []
    if catalog.reads_text(draft):
        provider = t.t(locale, f"provider.{draft.provider}")
        both = draft.dialogue and draft.voice_text is not None and draft.voice2_text is not None
        key = "note.spoken_natively_two" if both else "note.spoken_natively"
        notes.append(t.t(locale, key, provider=provider))
    elif robots := sum(engine_of(voice_id or "") == LOCAL for voice_id in _typed(draft)):
        # A provider's voice is no robot; a photo dialogue's two texts may both be.
        notes.append(t.t(locale, "note.spoken_two" if robots > 1 else "note.spoken"))
    if catalog.is_preview(draft.provider):
        notes.append(t.t(locale, "note.preview"))
    if draft.user_id in admins and draft.chat_type == ChatType.PRIVATE:
        # Provider credits are money: only the bot's admins see them, and not in a group.
        credits = catalog.quote(draft, draft.provider)
        if credits:
            amount = t.amount(locale, credits, catalog.credit_unit(draft.provider))
            notes.append(t.t(locale, "price.admin_credits", credits=amount))
    short = quota_text.short_of(seconds, allowances)
    if short is not None:
        # Said before [Generate] rather than only after it.
        key = "short" if quota_text.offers_shorter(short, seconds) else "nothing_left"
        notes.append(t.t(locale, f"price.{key}", left=short.left))
    common = {
        "seconds": seconds,  # rounded as the price is: the two never disagree
        "ratio": draft.ratio,
        "provider": t.t(locale, f"provider.{draft.provider}"),
        "cost": quota_text.price(t, locale, seconds, allowances),
        "note": "\n".join(notes),
    }
    if draft.dialogue:
        parts = _dialogue(t, draft, voices)
        return t.t(locale, "prompt.confirm_dialogue", **parts, **common).strip()
    face = t.t(locale, f"face.{draft.face_kind}", name=draft.avatar.name if draft.avatar else "")
    return t.t(locale, "prompt.confirm", face=face, **common).strip()


def _typed(draft: Draft) -> list[str | None]:
    """The chosen voice ids of the draft's typed texts (a dialogue's two)."""
    typed = [draft.voice_id] if draft.voice_text is not None else []
    if draft.dialogue and draft.voice2_text is not None:
        typed.append(draft.voice2_id)
    return typed


def _dialogue(
    t: Translator, draft: Draft, voices: tuple[str | None, str | None]
) -> dict[str, object]:
    """A dialogue summary's own parts: its faces, its speakers and what each says it with
    (a typed text, by which of ``voices`` where named), its turns."""
    locale = draft.locale
    if draft.avatar is not None and draft.avatar2 is not None:
        face = t.t(locale, "face.avatars", first=draft.avatar.name, second=draft.avatar2.name)
    else:
        face = t.t(locale, "face.two_people")

    def said_with(text: str | None, voice: str | None) -> str:
        if text is None:
            return t.t(locale, "dialogue.recording")
        if voice is None:
            return t.t(locale, "dialogue.typed")
        return t.t(locale, "dialogue.typed_by", name=voice)

    assert draft.turns is not None
    return {
        "face": face,
        "first": speaker(t, draft, second=False),
        "first_voice": said_with(draft.voice_text, voices[0]),
        "second": speaker(t, draft, second=True),
        "second_voice": said_with(draft.voice2_text, voices[1]),
        "turns": t.t(locale, f"dialogue.{draft.turns.value}"),
    }
