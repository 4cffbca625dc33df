"""What the conversation says for a dialogue (two people talking, design §1): the MEDIA
prompt asking for a photo of both or two avatars (the second once the first is picked, a new
photo when the voices are kept from a failed job), the lead naming whose voice is asked
for, and the TURNS step."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup
from telegram.constants import ChatType

from bot.catalog import Catalog
from bot.i18n import Translator
from bot.models import Draft, FaceKind, Step
from handlers import keyboards


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
    if draft.voice is not None:  # [Other photo]: the voices and the rest are kept
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
