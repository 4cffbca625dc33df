"""/voice: which built-in voice reads the user's typed text (the accents of their language),
remembered per user; a choice answers with a short sample of the voice."""

from __future__ import annotations

import contextlib
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.context import BotContext
from bot.speech import VoiceInfo
from handlers.buttons import locale_of, not_yours, pressed, stale

log = logging.getLogger(__name__)


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
    """Send the choices: a button per voice of the user's language (the current one
    ticked), and the language's usual voice."""
    locale = locale_of(update, context)
    language = language_code or locale
    choices = await context.voices.choices(language) or await context.voices.choices("en")
    current = await context.voices.current(user_id, language)
    rows = [
        [
            InlineKeyboardButton(
                _label(v, current), callback_data=cd.voice_choice(user_id, v.voice_id)
            )
        ]
        for v in choices
    ]
    default = context.t.t(locale, "voice.default")
    rows.append(
        [InlineKeyboardButton(default, callback_data=cd.voice_choice(user_id, cd.DEFAULT_VOICE))]
    )
    text = context.t.t(locale, "voice.ask", name=current.name)
    await context.bot.send_message(chat_id, text, reply_markup=InlineKeyboardMarkup(rows))


async def on_button(update: Update, context: BotContext) -> None:
    """A voice picked on /voice's message: remembered, then a sample of it."""
    query, data = pressed(update)
    user = update.effective_user
    assert user is not None
    choice = cd.parse_voice_choice(data)
    if choice is None:
        await stale(update, context)
        return
    owner, voice_id = choice
    if owner != user.id:
        await not_yours(update, context)
        return
    locale = locale_of(update, context)
    language = user.language_code or locale
    if voice_id == cd.DEFAULT_VOICE:
        await context.voices.forget(user.id)
        chosen = await context.voices.current(user.id, language)
    else:
        picked = await context.voices.choose(user.id, language, voice_id)
        if picked is None:
            await stale(update, context)  # not a voice of this language (forged, or old)
            return
        chosen = picked
    await query.answer(context.t.t(locale, "voice.set", name=chosen.name))
    if query.message is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_text(context.t.t(locale, "voice.chosen", name=chosen.name))
    # The sample (speech, then an Opus encode) runs in the background: never in the queue.
    context.application.create_task(
        _send_sample(context, user.id, chosen, locale), update=update, name="voice-sample"
    )


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
