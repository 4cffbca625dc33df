"""What the conversation says for a dialogue (two people talking, design §1): the MEDIA
prompt asking for a photo of both or two avatars (the second once the first is picked, a new
photo when the voices are kept from a failed job), the lead naming whose voice is asked
for, how long the second voice may be, and the TURNS step."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram import InlineKeyboardMarkup
from telegram.constants import ChatType

from bot.catalog import Catalog
from bot.i18n import Translator
from bot.models import Draft, FaceKind, Gender, Step, Turns
from bot.quotas import Allowance, price
from bot.speech import LOCAL, VoiceInfo
from handlers import keyboards, quota_text


def offered(catalog: Catalog, *, picker: bool) -> bool:
    """Whether some enabled provider makes dialogues of a face the user can give ([Dialogue]
    at the MEDIA step, /dialogue): a photo, or avatars when the picker has any."""
    faces = catalog.dialogue_faces()
    return FaceKind.PHOTO in faces or (FaceKind.AVATAR in faces and picker)


def media(
    t: Translator, catalog: Catalog, draft: Draft, *, picker: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The MEDIA prompt of a dialogue, and its buttons ([Avatars] where avatars make
    dialogues, [One speaker]; private chats only, as everywhere at MEDIA: groups are told of
    /avatars)."""
    locale = draft.locale
    private = draft.chat_type == ChatType.PRIVATE
    faces = catalog.dialogue_faces()
    photo, avatars = FaceKind.PHOTO in faces, FaceKind.AVATAR in faces and picker
    # [Other photo]: the voices and the rest are kept (faces_again: avatars too, see
    # DraftService.face_again)
    if draft.voice is not None and not draft.faces_again:
        return t.t(locale, "dialogue.other_photo"), None
    if draft.avatar is not None:
        text = t.t(locale, "dialogue.second_avatar", name=draft.avatar.name)
    elif photo and avatars:
        text = t.t(locale, "dialogue.media")
    else:
        text = t.t(locale, "dialogue.media_photo" if photo else "dialogue.media_avatars")
    if avatars and not private:
        text += "\n" + t.t(locale, "prompt.avatars_command")  # no buttons in groups
    if not private:
        return text, None
    return text, keyboards.media_choices(t, draft, avatars=avatars, solo=True)


def speaker(t: Translator, draft: Draft, *, second: bool) -> str:
    """Who speaks: an avatar's name, or where they are in the photo."""
    avatar = draft.avatar2 if second else draft.avatar
    if avatar is not None:
        return avatar.name
    return t.t(draft.locale, "dialogue.right" if second else "dialogue.left")


def voice_name(t: Translator, locale: str, voice: VoiceInfo) -> str:
    """A voice's name as users see it: a built-in voice made a woman's or a man's (a
    dialogue's second speaker's: :func:`bot.speech.local.variant_of`) says so."""
    if voice.engine != LOCAL or voice.gender not in (Gender.FEMALE, Gender.MALE):
        return voice.name
    return t.t(locale, f"voice.variant_{voice.gender.value}", name=voice.name)


def voice_lead(t: Translator, draft: Draft) -> str:
    """The line above a dialogue's VOICE prompt: whose voice it asks for (and, for avatars,
    how their texts become scenes)."""
    second = draft.step in (Step.VOICE2, Step.VOICE2_CHECK)
    key = "dialogue.second" if second else "dialogue.first"
    lead = t.t(draft.locale, key, speaker=speaker(t, draft, second=second))
    if draft.avatar is not None and not second:
        lead += "\n" + t.t(draft.locale, "dialogue.scenes")
    return lead


def turns(
    t: Translator, catalog: Catalog, draft: Draft
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The TURNS step: one after the other, or at the same time."""
    ways = catalog.turns_offered(draft)
    return t.t(draft.locale, "dialogue.turns"), keyboards.turns(t, draft, ways)


@dataclass(frozen=True)
class Room:
    """How long a dialogue's second voice may be: ``limit`` for its prompt's "up to"
    (None: nothing fits, ``notes`` say what to do instead); with ``quota_note``, the
    quota left cuts it as for any voice (and says so), else ``notes`` say why."""

    limit: int | None
    quota_note: bool = False
    notes: list[str] = field(default_factory=list)


def second_room(
    t: Translator,
    draft: Draft,
    rooms: dict[Turns, int],
    tightest: Allowance | None,
    longest: int,
) -> Room | None:
    """The second voice's room, from ``rooms`` (the providers': see
    :meth:`DraftService.second_room`), the quota left (``tightest``) and the bot's limit for
    one voice (``longest``): one after the other, the first voice's seconds count too. The
    turns not chosen yet (TURNS comes next): the longest that can work, and on a line of its
    own what the other way leaves. None: no provider would make the dialogue (the usual
    prompt; PROVIDER says so later)."""
    if not rooms:
        return None
    locale = draft.locale
    assert draft.voice is not None
    assert draft.voice.probe is not None
    first = price(draft.voice.probe.duration)
    left = tightest.left if tightest is not None else None

    def room(turns: Turns) -> int:
        if left is None:
            return rooms[turns]
        if first > left:
            return 0  # the first alone does not fit: neither way can work
        return min(rooms[turns], left - first if turns is Turns.ONE_AFTER_THE_OTHER else left)

    best = max(rooms, key=room)
    most = room(best)
    if most <= 0 and tightest is not None:
        limit = quota_text.label(t, locale, tightest)
        note = t.t(locale, "price.voice2_none_left", first=first, left=left, limit=limit)
        return Room(None, notes=[note])
    notes = []
    quota_bound = left is not None and most < rooms[best]
    if best is Turns.ONE_AFTER_THE_OTHER and most < longest:
        if tightest is not None and quota_bound:
            limit = quota_text.label(t, locale, tightest)
            notes.append(
                t.t(locale, "price.voice2_quota", first=first, left=left, limit=limit, room=most)
            )
        else:
            notes.append(t.t(locale, "dialogue.room_together", room=most))
    for other in rooms:
        if room(other) >= most:
            continue
        turns = t.t(locale, f"dialogue.{other.value}")
        if room(other) > 0:
            notes.append(t.t(locale, "dialogue.room_turns", turns=turns, limit=room(other)))
        elif left is not None and rooms[other] > 0:  # the quota's doing, not a provider's
            button = t.t(locale, f"button.{best.value}")
            notes.append(t.t(locale, "dialogue.room_turns_none", turns=turns, button=button))
    if best is Turns.AT_THE_SAME_TIME and quota_bound:
        # As for any voice: the providers' room, which the quota left cuts, with its note.
        return Room(rooms[best], quota_note=True, notes=notes)
    return Room(max(most, 0), notes=notes)
