"""A new face after the MEDIA step: offer [Use this face instead], and swap it in when pressed.

The voice and the choices already made are kept. The new face goes through the MEDIA step's
checks (size at once, download and probe in the background), and the old face stays until the
new one has passed them, so a bad file costs the user nothing.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import Bot, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.context import BotContext
from bot.errors import MediaError
from bot.models import Draft, Step
from bot.services import Services
from handlers.incoming import Incoming
from handlers.prompts import able_providers, offer_face, refuse, swapped

log = logging.getLogger(__name__)


async def offer(context: BotContext, draft: Draft, incoming: Incoming) -> None:
    """Keep the face just sent on the draft and offer it; a file too big is refused now."""
    assert incoming.file is not None
    assert incoming.media_kind is not None
    services = context.services
    try:
        services.media.check_size(incoming.file)
    except MediaError as exc:
        await refuse(context.bot, services, draft, exc.key, **exc.params)
        return
    draft = draft.model_copy(
        update={"offered_media": incoming.file, "offered_media_kind": incoming.media_kind}
    )
    await offer_face(context.bot, services, await services.drafts.save(draft))


async def on_button(update: Update, context: BotContext) -> None:
    """[Use this face instead]: check the offered face in the background, then swap it in."""
    query, chat, user = update.callback_query, update.effective_chat, update.effective_user
    assert query is not None
    assert query.data is not None
    assert user is not None
    services = context.services
    t, locale = services.translator, services.translator.negotiate(user.language_code)
    button = cd.parse_step(query.data)
    if button is None or button.action != cd.USE_FACE or chat is None:
        await query.answer(t.t(locale, "error.stale_button"), show_alert=True)
        return
    if button.user_id != user.id:
        await query.answer(t.t(locale, "error.not_your_button"), show_alert=True)
        return
    draft = await services.drafts.get(chat.id, user.id)
    if draft is None or draft.token != button.token or draft.offered_media is None:
        await query.answer(t.t(locale, "error.stale_button"), show_alert=True)
        return
    await query.answer(t.t(locale, "swap.checking"))
    # Its own task key: a voice check running at the same time must not cancel it.
    key = f"swap:{draft.chat_id}:{draft.user_id}"
    services.tasks.spawn(key, _swap(context.bot, services, draft), replace=True)


async def _swap(bot: Bot, services: Services, draft: Draft) -> None:
    offered, kind = draft.offered_media, draft.offered_media_kind
    assert offered is not None
    assert kind is not None
    with contextlib.suppress(TelegramError):  # only a courtesy
        await bot.send_chat_action(draft.chat_id, ChatAction.TYPING)
    error: MediaError | None = None
    try:
        face = await services.media.ingest_face(offered, kind)
    except MediaError as exc:
        log.info("Refused a replacement face in chat %d: %s", draft.chat_id, exc)
        error = exc
    cleared = {"offered_media": None, "offered_media_kind": None}

    def swap_in(current: Draft) -> Draft:
        if error is not None:
            return current.model_copy(update=cleared)
        update = {"media": face, "media_kind": kind, **cleared}
        return _keep_choices(services, current.model_copy(update=update))

    current = await services.drafts.update(draft, swap_in)
    if current is None:
        return  # canceled, generated or started over meanwhile
    if error is not None:
        await refuse(bot, services, current, error.key, **error.params)
    elif current.step not in (Step.MEDIA_CHECK, Step.VOICE_CHECK):  # a check prompts when done
        await swapped(bot, services, current)


def _keep_choices(services: Services, draft: Draft) -> Draft:
    """The draft with its choices still valid for the new face: a provider that cannot take
    it is dropped, and at CONFIRM that means picking again (or the only one able)."""
    if draft.provider is None or draft.provider in able_providers(services, draft):
        return draft
    if draft.step is not Step.CONFIRM:
        return draft.model_copy(update={"provider": None})
    able = able_providers(services, draft)
    if len(able) == 1:
        return draft.model_copy(update={"provider": able[0]})
    return draft.model_copy(update={"provider": None, "step": Step.PROVIDER})
