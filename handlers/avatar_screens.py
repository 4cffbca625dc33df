"""What /avatar says: the user's own avatars as a list with a row of buttons each, and the
prompt of each step of making one (also how the setup's background work reaches the user).

Every button carries ``ca:<action>:<user id>:<value>``; the setup's buttons carry its token,
so a summary from an earlier setup is recognised as stale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
)
from telegram.error import TelegramError

from bot.avatars import label
from bot.avatars.custom_notice import reason_words
from bot.avatars.names import MAX_NAME
from bot.avatars.setup_state import CHECKS, AvatarSetup, SetupStep
from bot.avatars.setup_videos import CONSENT, TRAINING
from bot.context import BotContext
from bot.i18n import Translator
from bot.models import Gender
from bot.models.custom_avatars import CustomAvatar, CustomAvatarState
from bot.untrusted import ascii_int

log = logging.getLogger(__name__)

PREFIX = "ca"
PATTERN = rf"^{PREFIX}:"
# The list's buttons (value: an avatar id, or the origin for NEW and LIST).
NEW, RENAME, DELETE, DELETE_YES, LIST, SHARE, UNSHARE = "n", "r", "d", "dy", "l", "s", "u"
# The setup's buttons (value: its token, and ``.<gender>`` for GENDER).
GENDER, CREATE, CANCEL = "g", "ok", "x"
_ACTIONS = frozenset(
    {NEW, RENAME, DELETE, DELETE_YES, LIST, SHARE, UNSHARE, GENDER, CREATE, CANCEL}
)
#: Avatars listed, newest first: failed ones pile up, and a message holds 4,096 characters
#: (a failure's reason alone may take 300).
MAX_LISTED = 10
#: Names in buttons are cut shorter than elsewhere: a row may hold two.
_NAME_IN_BUTTON = 16


@dataclass(frozen=True)
class Press:
    action: str
    user_id: int
    value: str


def data(action: str, user_id: int, value: object = "") -> str:
    return f"{PREFIX}:{action}:{user_id}:{value}"


def parse(payload: str) -> Press | None:
    """The press ``payload`` describes; None when malformed (forged, or an older version)."""
    parts = payload.split(":", 3)
    if len(parts) != 4 or parts[0] != PREFIX or parts[1] not in _ACTIONS:
        return None
    user_id = ascii_int(parts[2])
    return None if user_id is None else Press(parts[1], user_id, parts[3])


def avatar_id_of(value: str) -> int | None:
    return ascii_int(value)


def origin_in(message: MaybeInaccessibleMessage | None) -> str:
    """The origin the list on ``message`` was made for (its [New avatar] or [No] button)."""
    markup = message.reply_markup if isinstance(message, Message) else None
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            press = parse(str(button.callback_data or ""))
            if press is not None and press.action in (NEW, LIST):
                return press.value
    return ""


# --- the list ---------------------------------------------------------------------------------


def listing(
    t: Translator, locale: str, user_id: int, avatars: list[CustomAvatar], new_origin: str | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The user's avatars and a row of buttons each; [New avatar] (made for ``new_origin``)
    when they may make one."""
    lines = [t.t(locale, "avatar.list_header" if avatars else "avatar.list_none")]
    rows: list[list[InlineKeyboardButton]] = []
    for number, avatar in enumerate(avatars[:MAX_LISTED], start=1):
        lines.append(_line(t, locale, number, avatar))
        name = label(avatar.name)[:_NAME_IN_BUTTON]
        rows.append(
            [
                _button(t, locale, "avatar.button_rename", RENAME, user_id, avatar.id, name),
                _button(t, locale, "avatar.button_delete", DELETE, user_id, avatar.id, name),
            ]
        )
        if avatar.made_in_group:
            key, action = (
                ("avatar.button_unshare", UNSHARE)
                if avatar.shared_with_chat
                else ("avatar.button_share", SHARE)
            )
            rows.append([_button(t, locale, key, action, user_id, avatar.id, name)])
    if len(avatars) > MAX_LISTED:
        lines.append(t.t(locale, "avatar.list_more", count=len(avatars) - MAX_LISTED))
    if new_origin is not None:
        lines.append(t.t(locale, "avatar.list_new_hint"))
        rows.append([_button(t, locale, "avatar.button_new", NEW, user_id, new_origin)])
    return "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None


def delete_question(
    t: Translator, locale: str, avatar: CustomAvatar, origin: str
) -> tuple[str, InlineKeyboardMarkup]:
    name = label(avatar.name)[:_NAME_IN_BUTTON]
    uid = avatar.owner_id
    markup = InlineKeyboardMarkup(
        [
            [_button(t, locale, "avatar.button_delete_yes", DELETE_YES, uid, avatar.id, name)],
            [_button(t, locale, "avatar.button_delete_no", LIST, uid, origin)],
        ]
    )
    return t.t(locale, "avatar.confirm_delete", name=avatar.name), markup


def _line(t: Translator, locale: str, number: int, avatar: CustomAvatar) -> str:
    if avatar.state is CustomAvatarState.READY:
        state = t.t(
            locale,
            "avatar.state_ready",
            date=_date(t, locale, avatar.ready_at or avatar.created_at),
        )
    elif avatar.state is CustomAvatarState.FAILED:
        # The reason in the reader's language, not the one it was made in.
        reason = reason_words(t, avatar.model_copy(update={"locale": locale}))
        state = t.t(
            locale, "avatar.state_failed", date=_date(t, locale, avatar.updated_at), reason=reason
        )
    else:
        state = t.t(locale, "avatar.state_pending", date=_date(t, locale, avatar.created_at))
    line = t.t(locale, "avatar.list_line", number=number, name=avatar.name, state=state)
    if avatar.shared_with_chat:
        line += " " + t.t(locale, "avatar.list_shared")
    return line


def _date(t: Translator, locale: str, moment: object) -> str:
    # Stored in UTC; a day is precise enough for something that takes days. Written the
    # reader's way (02/12/2026 in Brazil), never 2026-12-02 to everyone.
    if not isinstance(moment, datetime):
        return "?"
    return t.date(locale, moment)


def _button(
    t: Translator,
    locale: str,
    key: str,
    action: str,
    user_id: int,
    value: object = "",
    name: str = "",
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        t.t(locale, key, name=name), callback_data=data(action, user_id, value)
    )


# --- the setup's prompts ----------------------------------------------------------------------


class SetupScreens:
    """Renders setups for one bot; also how the setup's background work reaches the user."""

    def __init__(self, bot: Bot, translator: Translator, download_limit: int) -> None:
        self._bot = bot
        self._t = translator
        self._download_limit = download_limit

    @classmethod
    def of(cls, context: BotContext) -> SetupScreens:
        return cls(context.bot, context.t, context.avatar_setups.download_limit)

    def render(self, setup: AvatarSetup) -> tuple[str, InlineKeyboardMarkup | None]:
        """What the setup's step asks for, and its buttons."""
        t, locale, step = self._t, setup.locale, setup.step
        if step is SetupStep.TRAINING:
            size_mb = self._download_limit // 1_000_000
            minutes = TRAINING.max_seconds // 60
            text = t.t(locale, "avatar.ask_training", least=TRAINING.min_seconds, minutes=minutes)
            return text + "\n" + t.t(locale, "avatar.video_rules", size_mb=size_mb), None
        if step is SetupStep.CONSENT:
            most = CONSENT.max_seconds
            return t.t(locale, "avatar.ask_consent", least=CONSENT.min_seconds, most=most), None
        if step in CHECKS:
            return t.t(locale, "avatar.checking"), None
        if step is SetupStep.NAME:
            return t.t(locale, "avatar.ask_name", limit=MAX_NAME), None
        if step is SetupStep.GENDER:
            return t.t(locale, "avatar.ask_gender", name=setup.name), self._genders(setup)
        if step is SetupStep.CONFIRM:
            return self._summary(setup), self._confirm(setup)
        if step is SetupStep.RENAME:
            return t.t(locale, "avatar.ask_rename", name=setup.name, limit=MAX_NAME), None
        return t.t(locale, "avatar.sending"), None

    async def prompt(
        self, setup: AvatarSetup, refusal: tuple[str, dict[str, object]] | None = None
    ) -> None:
        """Ask for what the setup's step wants (after why the last answer was refused)."""
        text, markup = self.render(setup)
        if refusal is not None:
            key, params = refusal
            text = self._t.t(setup.locale, key, **params) + "\n\n" + text
        await self._send(setup.user_id, text, markup)

    async def tell(self, setup: AvatarSetup, key: str, **params: object) -> None:
        await self._send(setup.user_id, self._t.t(setup.locale, key, **params), None)

    async def _send(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> None:
        try:
            await self._bot.send_message(chat_id, text, reply_markup=markup)
        except TelegramError as exc:  # blocked meanwhile: /avatar shows where it is
            log.info("Could not write to %d about their avatar: %s", chat_id, exc)

    def _summary(self, setup: AvatarSetup) -> str:
        t, locale = self._t, setup.locale
        gender = t.t(locale, f"avatar.gender_{setup.gender or Gender.NONBINARY}")
        where = "avatar.summary_group" if setup.made_in_group else "avatar.summary_private"
        return t.t(
            locale,
            "avatar.summary",
            name=setup.name,
            gender=gender,
            training=round(setup.training_seconds or 0),
            consent=round(setup.consent_seconds or 0),
            where=t.t(locale, where),
        )

    def _genders(self, setup: AvatarSetup) -> InlineKeyboardMarkup:
        t, locale, uid = self._t, setup.locale, setup.user_id
        return InlineKeyboardMarkup(
            [
                [
                    _button(t, locale, f"avatar.button_{g}", GENDER, uid, f"{setup.token}.{g}")
                    for g in (Gender.FEMALE, Gender.MALE, Gender.NONBINARY)
                ]
            ]
        )

    def _confirm(self, setup: AvatarSetup) -> InlineKeyboardMarkup:
        t, locale, uid = self._t, setup.locale, setup.user_id
        return InlineKeyboardMarkup(
            [
                [
                    _button(t, locale, "avatar.button_create", CREATE, uid, setup.token),
                    _button(t, locale, "avatar.button_cancel", CANCEL, uid, setup.token),
                ]
            ]
        )
