"""/voice: which voice reads the user's typed text (the built-in accents of their language, then
the enabled providers' voices, 8 a page), remembered per user; a choice answers with a short
sample of the voice, unless a provider would charge for one."""

from __future__ import annotations

import contextlib
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.context import BotContext
from bot.speech import VoiceInfo
from bot.voices import PAGE_SIZE, ref
from handlers.buttons import locale_of, not_yours, pressed, stale

log = logging.getLogger(__name__)

#: A /voice button turning the page carries ``pg/<page>`` instead of a voice (never a voice
#: id or ref: eSpeak has no ``pg`` family, refs start ``id/``).
PAGE = "pg/"


async def voice(update: Update, context: BotContext) -> None:
    """/voice: the voices of the user's language, the current one named."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    assert user is not None
    await _offer(update, context, message.chat_id, user.id, user.language_code)


async def on_menu_button(update: Update, context: BotContext) -> None:
    """[Voice: NAME] under the VOICE prompt: /voice's choices, for its owner."""
    query, data = pressed(update)
    user = update.effective_user
    assert user is not None
    owner = cd.parse_voice_menu(data)
    if owner is None or query.message is None:
        await stale(update, context)
        return
    if owner != user.id:
        await not_yours(update, context)
        return
    await query.answer()
    await _offer(update, context, query.message.chat.id, user.id, user.language_code)


async def _offer(
    update: Update, context: BotContext, chat_id: int, user_id: int, language_code: str | None
) -> None:
    """Send the choices: a button per voice of the user's language (the current one ticked),
    a page at a time, and the language's usual voice."""
    locale = locale_of(update, context)
    language = language_code or locale
    choices = await context.voices.choices(language)
    status = await context.voices.status(user_id, language)
    text = context.t.t(locale, "voice.ask", name=status.voice.name)
    if status.replaced:
        text += "\n\n" + context.t.t(locale, "voice.replaced", name=status.voice.name)
    markup = _keyboard(context, locale, user_id, choices, status.voice, 0)
    await context.bot.send_message(chat_id, text, reply_markup=markup)


def _keyboard(
    context: BotContext,
    locale: str,
    user_id: int,
    choices: list[VoiceInfo],
    current: VoiceInfo,
    page: int,
) -> InlineKeyboardMarkup:
    shown = choices[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = [
        [
            InlineKeyboardButton(
                _label(v, current), callback_data=cd.voice_choice(user_id, ref(v.voice_id))
            )
        ]
        for v in shown
    ]
    turns = []
    if page > 0:
        back = cd.voice_choice(user_id, f"{PAGE}{page - 1}")
        turns.append(
            InlineKeyboardButton(context.t.t(locale, "voice.previous"), callback_data=back)
        )
    if (page + 1) * PAGE_SIZE < len(choices):
        more = cd.voice_choice(user_id, f"{PAGE}{page + 1}")
        turns.append(InlineKeyboardButton(context.t.t(locale, "voice.more"), callback_data=more))
    if turns:
        rows.append(turns)
    default = context.t.t(locale, "voice.default")
    rows.append(
        [InlineKeyboardButton(default, callback_data=cd.voice_choice(user_id, cd.DEFAULT_VOICE))]
    )
    return InlineKeyboardMarkup(rows)


async def on_button(update: Update, context: BotContext) -> None:
    """A voice picked on /voice's message: remembered, then a sample of it; or another page
    of the voices."""
    query, data = pressed(update)
    user = update.effective_user
    assert user is not None
    choice = cd.parse_voice_choice(data)
    if choice is None:
        await stale(update, context)
        return
    owner, value = choice
    if owner != user.id:
        await not_yours(update, context)
        return
    locale = locale_of(update, context)
    language = user.language_code or locale
    if value.startswith(PAGE):
        await _turn(update, context, value.removeprefix(PAGE), locale, language)
        return
    if value == cd.DEFAULT_VOICE:
        await context.voices.forget(user.id)
        chosen = await context.voices.current(user.id, language)
    else:
        picked = await context.voices.choose(user.id, language, value)
        if picked is None:
            await stale(update, context)  # not a voice offered now (forged, or old)
            return
        chosen = picked
    free = context.voices.has_free_sample(chosen)
    key = "voice.set" if free else "voice.set_no_sample"
    await query.answer(context.t.t(locale, key, name=chosen.name), show_alert=not free)
    if query.message is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_text(context.t.t(locale, "voice.chosen", name=chosen.name))
    if free:
        # The sample (speech or a download, then an Opus encode) runs in the background.
        context.application.create_task(
            _send_sample(context, user.id, chosen, locale), update=update, name="voice-sample"
        )


async def _turn(
    update: Update, context: BotContext, number: str, locale: str, language: str
) -> None:
    """Show another page of the choices on the same message."""
    query, _ = pressed(update)
    user = update.effective_user
    assert user is not None
    choices = await context.voices.choices(language)
    pages = max(1, -(-len(choices) // PAGE_SIZE))
    page = int(number) if number.isascii() and number.isdigit() and len(number) <= 3 else -1
    if not 0 <= page < pages or query.message is None:
        await stale(update, context)
        return
    await query.answer()
    current = await context.voices.current(user.id, language)
    markup = _keyboard(context, locale, user.id, choices, current, page)
    with contextlib.suppress(TelegramError):  # pressed twice: "message is not modified"
        await query.edit_message_reply_markup(reply_markup=markup)


async def _send_sample(context: BotContext, user_id: int, chosen: VoiceInfo, locale: str) -> None:
    sample = await context.voices.sample(chosen, context.t.t(locale, "voice.sample"))
    if sample is None:
        return
    try:
        with sample.open("rb") as audio:
            await context.bot.send_voice(user_id, audio)
    except TelegramError as exc:  # a sample is a courtesy
        log.info("Could not send a voice sample to %d: %s", user_id, exc)
    finally:
        sample.unlink(missing_ok=True)


def _label(voice: VoiceInfo, current: VoiceInfo) -> str:
    return f"✓ {voice.name}" if voice.voice_id == current.voice_id else voice.name
