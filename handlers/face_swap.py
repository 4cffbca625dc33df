"""[Use this face instead]: swap in a face sent after the MEDIA step.

The voice and the choices already made are kept. The new face goes through the MEDIA step's
checks (size when it is sent, see ``conversation.take_face``; download and probe in the
background), and the old face stays until the new one has passed them, so a bad file costs
the user nothing.
"""

from __future__ import annotations

from telegram import Update

from bot import callback_data as cd
from bot.context import BotContext
from handlers.buttons import locale_of, pressed, stale, step_press


async def on_button(update: Update, context: BotContext) -> None:
    """[Use this face instead]: check the offered face in the background, then swap it in."""
    press = await step_press(update, context)
    if press is None:
        return
    button, draft = press
    if button.action != cd.USE_FACE or draft is None or draft.offered_media is None:
        await stale(update, context)
        return
    query, _ = pressed(update)
    await query.answer(context.t.t(locale_of(update, context), "swap.checking"))
    context.drafts.use_offered_face(draft)
