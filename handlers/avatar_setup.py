"""Making an avatar (/avatar, [New avatar]): the user's private messages while it is under way,
its buttons ([Woman] [Man] [Other], [Create] [Cancel]) and /cancel. Each step takes only what
it asks for; anything else is answered with why, and the same step again.

A user may also have a /new conversation in their private chat: whichever of the two they
touched last gets their messages (and /cancel), so neither has to be ended for the other.
"""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import filters

from bot.avatars.custom_errors import CustomAvatarError
from bot.avatars.setup import CHECKS, AvatarSetups, SetupRefused
from bot.avatars.setup_state import AvatarSetup, SetupStep
from bot.context import BotContext
from bot.models import Draft, MediaKind
from handlers import avatar_screens as screens
from handlers import commands, conversation
from handlers.avatar_screens import SetupScreens
from handlers.buttons import alert, locale_of, pressed, stale
from handlers.incoming import Kind, classify

_VIDEO_STEPS = (SetupStep.TRAINING, SetupStep.CONSENT)
_NAME_STEPS = (SetupStep.NAME, SetupStep.RENAME)


class InAvatarSetup(filters.MessageFilter):
    """Passes messages of users who are making an avatar (or renaming one): an in-memory
    look-up, no database read per update."""

    def __init__(self, setups: AvatarSetups) -> None:
        super().__init__(name="InAvatarSetup")
        self._setups = setups

    def filter(self, message: Message) -> bool:
        user = message.from_user
        return user is not None and self._setups.active(user.id)


async def on_message(update: Update, context: BotContext) -> None:
    """A private message while the user makes (or renames) an avatar: for the step it is at."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    setup = await context.avatar_setups.get(user.id)
    draft = await context.drafts.get(user.id, user.id)
    if setup is None or _newer(draft, setup):
        await conversation.on_message(update, context)
        return
    setup = setup.model_copy(update={"locale": context.t.negotiate(user.language_code)})
    presenter = SetupScreens.of(context)
    try:
        await _take(context, presenter, setup, message)
    except SetupRefused as refused:
        await presenter.prompt(setup, (refused.key, refused.params))


async def _take(
    context: BotContext, presenter: SetupScreens, setup: AvatarSetup, message: Message
) -> None:
    setups = context.avatar_setups
    incoming = classify(message)
    step = setup.step
    if step in _VIDEO_STEPS:
        if incoming.kind is Kind.FACE and incoming.media_kind is MediaKind.VIDEO:
            assert incoming.file is not None
            # Checked in the background; the next prompt (or why not) comes from there.
            await setups.take_video(setup, incoming.file, _declared_seconds(message))
            return
        raise SetupRefused(_not_a_video(incoming.kind, incoming.media_kind))
    if step in CHECKS:
        await presenter.tell(setup, "avatar.checking")
    elif step in _NAME_STEPS and incoming.kind is Kind.TEXT:
        if step is SetupStep.NAME:
            named = await setups.take_name(setup, incoming.text)
            if named is not None:
                await presenter.prompt(named)
            return
        try:
            name = await setups.rename(setup, incoming.text)
        except CustomAvatarError as refused:
            if isinstance(refused, SetupRefused):
                raise
            await presenter.tell(setup, refused.key, **refused.params)
            return
        await presenter.tell(setup, "avatar.renamed", name=name)
    elif step in _NAME_STEPS:
        raise SetupRefused("avatar.need_name")
    elif step is SetupStep.SENDING:
        await presenter.tell(setup, "avatar.sending")
    else:  # GENDER, CONFIRM
        raise SetupRefused("avatar.use_buttons")


def _not_a_video(kind: Kind, media_kind: MediaKind | None) -> str:
    if kind is Kind.FACE and media_kind is MediaKind.PHOTO:
        return "avatar.need_video_not_photo"
    if kind is Kind.VOICE:
        return "avatar.need_video_not_audio"
    return "avatar.need_video"


def _declared_seconds(message: Message) -> int | None:
    """The length Telegram gives for a video (None for a document: it gives none)."""
    media = message.video or message.video_note or message.animation
    # The raw value: PTB's ``duration`` property warns about its coming timedelta type.
    raw = getattr(media, "_duration", None) if media is not None else None
    if raw is None:
        return None
    return int(raw.total_seconds()) if hasattr(raw, "total_seconds") else int(raw)


def _newer(draft: Draft | None, setup: AvatarSetup) -> bool:
    """Whether the user's /new conversation was touched after their avatar setup."""
    if draft is None or draft.updated_at is None or setup.updated_at is None:
        return False
    return draft.updated_at > setup.updated_at


async def cancel(update: Update, context: BotContext) -> None:
    """/cancel in a private chat while making an avatar: stop it (videos deleted); a newer
    /new conversation is canceled instead. Too late once [Create] was pressed."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    setup = await context.avatar_setups.get(user.id)
    if setup is None or _newer(await context.drafts.get(user.id, user.id), setup):
        await commands.cancel(update, context)
        return
    key = "avatar.rename_canceled" if setup.step is SetupStep.RENAME else "avatar.setup_canceled"
    try:
        await context.avatar_setups.cancel(user.id)
    except SetupRefused as refused:
        key = refused.key
    await message.reply_text(context.t.t(context.t.negotiate(user.language_code), key))


async def on_setup_button(update: Update, context: BotContext, press: screens.Press) -> None:
    """[Woman] [Man] [Other], [Create] and [Cancel] of the user's setup."""
    query, _ = pressed(update)
    user = update.effective_user
    assert user is not None
    setups, locale = context.avatar_setups, locale_of(update, context)
    token, _, gender = press.value.partition(".")
    setup = await setups.get(user.id)
    if setup is None or setup.token != token:
        await stale(update, context)
        return
    setup = setup.model_copy(update={"locale": locale})
    presenter = SetupScreens.of(context)
    if press.action == screens.GENDER:
        chosen = await setups.choose_gender(setup, gender)
        if chosen is None:
            await stale(update, context)
            return
        await query.answer()
        text, markup = presenter.render(chosen)
        await _edit(update, text, markup)
    elif press.action == screens.CREATE:
        if not await setups.confirm(setup):
            if setup.step is SetupStep.SENDING:
                await alert(update, context, "avatar.sending")
            else:
                await stale(update, context)
            return
        await query.answer()
        await _edit(update, context.t.t(locale, "avatar.sending"), None)
    else:
        try:
            await setups.cancel(user.id)
        except SetupRefused as refused:  # an older copy of the summary, after [Create]
            await alert(update, context, refused.key, **refused.params)
            return
        await query.answer()
        await _edit(update, context.t.t(locale, "avatar.setup_canceled"), None)


async def _edit(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    query, _ = pressed(update)
    with contextlib.suppress(TelegramError):  # pressed twice: "message is not modified"
        await query.edit_message_text(text, reply_markup=markup)
