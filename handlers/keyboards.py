"""Pure builders: (translator, locale, data) -> reply markup."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup

from bot import callback_data as cd
from bot.avatars import Filter
from bot.i18n import Translator
from bot.models import AspectRatio, Draft, Turns


def ratios(draft: Draft) -> InlineKeyboardMarkup:
    """9:16 | 1:1 | 16:9, labelled exactly so."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    ratio.value,
                    callback_data=cd.step(cd.RATIO, draft.user_id, draft.token, ratio.value),
                )
                for ratio in AspectRatio
            ]
        ]
    )


def providers(draft: Draft, choices: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One row per provider: (name, label with cost)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    label, callback_data=cd.step(cd.PROVIDER, draft.user_id, draft.token, name)
                )
            ]
            for name, label in choices
        ]
    )


def confirm(t: Translator, draft: Draft, *, shorter: bool = False) -> InlineKeyboardMarkup:
    """[Generate] [Cancel], and [Shorter voice] under them when the voice costs more than
    is left."""
    rows = [
        [
            InlineKeyboardButton(
                t.t(draft.locale, "button.generate"),
                callback_data=cd.step(cd.GENERATE, draft.user_id, draft.token),
            ),
            InlineKeyboardButton(
                t.t(draft.locale, "button.cancel"),
                callback_data=cd.step(cd.CANCEL, draft.user_id, draft.token),
            ),
        ]
    ]
    if shorter:
        rows.append([shorter_voice(t, draft)])
    return InlineKeyboardMarkup(rows)


def media_choices(
    t: Translator, draft: Draft, *, avatars: bool, dialogue: bool = False, solo: bool = False
) -> InlineKeyboardMarkup | None:
    """The MEDIA prompt's buttons, one a row: [Avatars] (opens the ready-made avatars'
    picker in place), [Dialogue] (two people talking), [One speaker] (back from a
    dialogue); None when there is none."""
    locale = draft.locale

    def step(key: str, action: str) -> InlineKeyboardButton:
        data = cd.step(action, draft.user_id, draft.token)
        return InlineKeyboardButton(t.t(locale, key), callback_data=data)

    rows = []
    if avatars:
        data = cd.avatar_page(draft.user_id, draft.token, Filter.ALL.value, 0)
        rows.append([InlineKeyboardButton(t.t(locale, "avatars.open"), callback_data=data)])
    if dialogue:
        rows.append([step("dialogue.button", cd.DIALOGUE)])
    if solo:
        rows.append([step("dialogue.solo", cd.ONE_SPEAKER)])
    return InlineKeyboardMarkup(rows) if rows else None


def turns(t: Translator, draft: Draft, offered: Sequence[Turns]) -> InlineKeyboardMarkup:
    """[One after the other] [At the same time]: how a dialogue's speakers take turns."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.t(draft.locale, f"button.{way.value}"),
                    callback_data=cd.step(cd.TURNS, draft.user_id, draft.token, way.value),
                )
                for way in offered
            ]
        ]
    )


def shorter_voice(t: Translator, draft: Draft) -> InlineKeyboardButton:
    """[Shorter voice]: back to the VOICE step, keeping the face and the choices."""
    return InlineKeyboardButton(
        t.t(draft.locale, "button.shorter_voice"),
        callback_data=cd.step(cd.SHORTER_VOICE, draft.user_id, draft.token),
    )


def with_use_face(
    t: Translator, draft: Draft, markup: InlineKeyboardMarkup | None
) -> InlineKeyboardMarkup:
    """[Use this face instead] above the step's own buttons, if it has any."""
    use_face = InlineKeyboardButton(
        t.t(draft.locale, "button.use_face"),
        callback_data=cd.step(cd.USE_FACE, draft.user_id, draft.token),
    )
    rows = markup.inline_keyboard if markup is not None else ()
    return InlineKeyboardMarkup([[use_face], *rows])


def new_video(t: Translator, locale: str) -> InlineKeyboardMarkup:
    """The "New video" button under /start."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.t(locale, "button.new"), callback_data=cd.NEW)]]
    )


def resend(t: Translator, locale: str, job_ids: Sequence[int]) -> InlineKeyboardMarkup | None:
    """One "send again" button per delivered job in /jobs."""
    if not job_ids:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.t(locale, "button.resend", job_id=job_id),
                    callback_data=cd.job_action(cd.RESEND, job_id),
                )
            ]
            for job_id in job_ids
        ]
    )


def force_reply(placeholder: str) -> ForceReply:
    """In groups, makes the user's answer a reply, so the bot sees it under privacy mode.

    ``placeholder`` is a ``placeholder.*`` locale string: a test keeps those within
    Telegram's 64 characters, so none is cut mid-word.
    """
    return ForceReply(selective=True, input_field_placeholder=placeholder)
