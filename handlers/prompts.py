"""What the conversation says: the prompt for each step, refusals, and where it is sent.

In groups every prompt replies to the user and forces a reply, so their answer reaches the
bot under privacy mode.
"""

from __future__ import annotations

import logging

from telegram import Bot, ForceReply, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.models import Draft, Step
from bot.services import Services
from handlers import keyboards

log = logging.getLogger(__name__)


def able_providers(services: Services, draft: Draft) -> list[str]:
    """Enabled providers able to do this media with this voice, in menu order."""
    if draft.media_kind is None or draft.voice_kind is None:
        return []
    return [
        name
        for name, provider in services.providers.items()
        if provider.capabilities.accepts(draft.media_kind, draft.voice_kind)
        and name not in draft.avoid
    ]


def render_step(services: Services, draft: Draft) -> tuple[str, InlineKeyboardMarkup | None]:
    """The prompt text and buttons for the step the draft is at."""
    t, locale = services.translator, draft.locale
    if draft.step is Step.MEDIA:
        return t.t(locale, "prompt.media"), None
    if draft.step is Step.VOICE:
        return t.t(locale, "prompt.voice", limit=int(services.media.max_voice_seconds)), None
    if draft.step is Step.RATIO:
        return t.t(locale, "prompt.ratio"), keyboards.ratios(draft)
    if draft.step is Step.PROVIDER:
        choices = [
            (name, _provider_label(services, draft, name))
            for name in able_providers(services, draft)
        ]
        return t.t(locale, "prompt.provider"), keyboards.providers(draft, choices)
    if draft.step is Step.CONFIRM:
        return _summary(services, draft), keyboards.confirm(t, draft)
    return t.t(locale, "error.still_checking"), None


async def prompt(bot: Bot, services: Services, draft: Draft) -> None:
    """Send the prompt for the draft's step as a new message."""
    text, markup = render_step(services, draft)
    await _send(bot, services, draft, text, markup)


def _summary(services: Services, draft: Draft) -> str:
    t, locale = services.translator, draft.locale
    assert draft.voice is not None
    assert draft.voice.probe is not None
    assert draft.provider
    seconds = round(draft.voice.probe.duration or 0)
    provider = services.providers[draft.provider]
    note = t.t(locale, "note.preview") if provider.capabilities.is_preview else ""
    return t.t(
        locale,
        "prompt.confirm",
        face=t.t(locale, f"face.{draft.media_kind}"),
        seconds=seconds,
        ratio=draft.ratio,
        provider=t.t(locale, f"provider.{draft.provider}"),
        cost=_cost(services, draft, draft.provider),
        note=note,
    ).strip()


def _provider_label(services: Services, draft: Draft, name: str) -> str:
    t = services.translator
    return f"{t.t(draft.locale, f'provider.{name}')} · {_cost(services, draft, name)}"


def _cost(services: Services, draft: Draft, name: str) -> str:
    t = services.translator
    assert draft.media_kind
    assert draft.media
    assert draft.media.probe
    seconds = (draft.voice.probe.duration or 0) if draft.voice and draft.voice.probe else 0
    cost = services.providers[name].estimate_cost(draft.media_kind, draft.media.probe, seconds)
    if cost == 0:
        return t.t(draft.locale, "cost.free")
    return t.t(draft.locale, "cost.credits", credits=f"{cost:g}")


async def refuse(bot: Bot, services: Services, draft: Draft, key: str, **params: object) -> None:
    """Explain what was wrong, then ask for the same step again (nothing already sent is lost)."""
    t = services.translator
    reason = t.t(draft.locale, key, **params)
    text, markup = render_step(services, draft)
    await _send(bot, services, draft, f"{reason}\n\n{text}", markup)


async def offer_face(bot: Bot, services: Services, draft: Draft) -> None:
    """A face came after the MEDIA step: offer to use it, under the step's prompt again."""
    t = services.translator
    text, markup = render_step(services, draft)
    offer = t.t(draft.locale, "swap.offer")
    await _send(
        bot, services, draft, f"{offer}\n\n{text}", keyboards.with_use_face(t, draft, markup)
    )


async def swapped(bot: Bot, services: Services, draft: Draft) -> None:
    """The offered face is in place: say so, with the prompt for the step the draft is at."""
    text, markup = render_step(services, draft)
    done = services.translator.t(draft.locale, "swap.done")
    await _send(bot, services, draft, f"{done}\n\n{text}", markup)


async def say(bot: Bot, services: Services, draft: Draft, key: str) -> None:
    await _send(bot, services, draft, services.translator.t(draft.locale, key), None)


async def _send(
    bot: Bot, services: Services, draft: Draft, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    in_group = draft.chat_type != ChatType.PRIVATE
    reply_markup: InlineKeyboardMarkup | ForceReply | None = markup
    reply = None
    if in_group:
        if markup is None:
            # Under privacy mode the bot only sees replies to its own messages.
            placeholder = services.translator.t(draft.locale, f"placeholder.{draft.step}")
            reply_markup = keyboards.force_reply(placeholder)
        if draft.reply_to is not None:
            reply = ReplyParameters(draft.reply_to, allow_sending_without_reply=True)
    await bot.send_message(draft.chat_id, text, reply_markup=reply_markup, reply_parameters=reply)


async def edit(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    try:
        await bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, reply_markup=markup
        )
    except TelegramError as exc:
        log.info("Could not edit message %d in chat %d: %s", message_id, chat_id, exc)
