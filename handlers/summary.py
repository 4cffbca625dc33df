"""The summary at the CONFIRM step: the face, the voice, the shape, the provider, the price in
the user's own unit, and the notes that matter before [Generate]."""

from __future__ import annotations

from telegram.constants import ChatType

from bot.catalog import Catalog
from bot.i18n import Translator
from bot.models import Draft
from bot.quotas import Allowance, price
from bot.speech import LOCAL, engine_of
from handlers import quota_text


def price_of(draft: Draft) -> int:
    """Seconds of quota the draft's video costs (what [Generate] reserves)."""
    assert draft.voice is not None
    assert draft.voice.probe is not None
    return price(draft.voice.probe.duration)


def summary(
    t: Translator,
    catalog: Catalog,
    admins: frozenset[int],
    draft: Draft,
    allowances: list[Allowance],
) -> str:
    """The CONFIRM step's text: what will be made, by whom, at what price, and notes."""
    locale = draft.locale
    assert draft.voice is not None
    assert draft.voice.probe is not None
    assert draft.provider
    seconds = price_of(draft)
    notes = []
    if catalog.reads_text(draft):
        provider = t.t(locale, f"provider.{draft.provider}")
        notes.append(t.t(locale, "note.spoken_natively", provider=provider))
    elif draft.voice_text is not None and engine_of(draft.voice_id or "") == LOCAL:
        notes.append(t.t(locale, "note.spoken"))  # a provider's voice is no robot
    if catalog.is_preview(draft.provider):
        notes.append(t.t(locale, "note.preview"))
    if draft.user_id in admins and draft.chat_type == ChatType.PRIVATE:
        # Provider credits are money: only the bot's admins see them, and not in a group.
        credits = catalog.quote(draft, draft.provider)
        if credits:
            notes.append(t.t(locale, "price.admin_credits", credits=f"{credits:g}"))
    short = quota_text.short_of(seconds, allowances)
    if short is not None:
        # Said before [Generate] rather than only after it.
        key = "short" if quota_text.offers_shorter(short, seconds) else "nothing_left"
        notes.append(t.t(locale, f"price.{key}", left=short.left))
    return t.t(
        locale,
        "prompt.confirm",
        face=t.t(
            locale, f"face.{draft.face_kind}", name=draft.avatar.name if draft.avatar else ""
        ),
        seconds=seconds,  # rounded as the price is: the two never disagree
        ratio=draft.ratio,
        provider=t.t(locale, f"provider.{draft.provider}"),
        cost=quota_text.price(t, locale, seconds, allowances),
        note="\n".join(notes),
    ).strip()
