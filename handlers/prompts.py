"""What the conversation says: the prompt for each step, refusals, and where it is sent.

In groups every prompt replies to the user and forces a reply, so their answer reaches the
bot under privacy mode.
"""

from __future__ import annotations

import logging

from telegram import Bot, CallbackQuery, ForceReply, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.catalog import Catalog
from bot.context import BotContext
from bot.i18n import Translator
from bot.models import Draft, Step
from handlers import keyboards

log = logging.getLogger(__name__)


class Screens:
    """Renders drafts for one bot; also how background checks reach the user."""

    def __init__(
        self, bot: Bot, translator: Translator, catalog: Catalog, max_voice_seconds: float
    ) -> None:
        self._bot = bot
        self._t = translator
        self._catalog = catalog
        self._max_voice_seconds = max_voice_seconds

    @classmethod
    def of(cls, context: BotContext) -> Screens:
        return cls(context.bot, context.t, context.catalog, context.drafts.max_voice_seconds)

    def render(self, draft: Draft) -> tuple[str, InlineKeyboardMarkup | None]:
        """The prompt text and buttons for the step the draft is at."""
        t, locale = self._t, draft.locale
        if draft.step is Step.MEDIA:
            return t.t(locale, "prompt.media"), None
        if draft.step is Step.VOICE:
            return t.t(locale, "prompt.voice", limit=int(self._max_voice_seconds)), None
        if draft.step is Step.RATIO:
            return t.t(locale, "prompt.ratio"), keyboards.ratios(draft)
        if draft.step is Step.PROVIDER:
            choices = [(name, self._label(draft, name)) for name in self._catalog.able(draft)]
            return t.t(locale, "prompt.provider"), keyboards.providers(draft, choices)
        if draft.step is Step.CONFIRM:
            return self._summary(draft), keyboards.confirm(t, draft)
        return t.t(locale, "error.still_checking"), None

    async def prompt(self, draft: Draft) -> None:
        """Send the prompt for the draft's step as a new message."""
        await self._send(draft, *self.render(draft))

    async def refuse(self, draft: Draft, key: str, **params: object) -> None:
        """Explain what was wrong, then ask for the same step again (nothing already sent is
        lost)."""
        await self._lead(draft, self._t.t(draft.locale, key, **params))

    async def offer_face(self, draft: Draft) -> None:
        """A face came after the MEDIA step: offer to use it, under the step's prompt again."""
        text, markup = self.render(draft)
        offer = self._t.t(draft.locale, "swap.offer")
        markup = keyboards.with_use_face(self._t, draft, markup)
        await self._send(draft, f"{offer}\n\n{text}", markup)

    async def swapped(self, draft: Draft) -> None:
        """The offered face is in place: say so, with the prompt for the draft's step."""
        await self._lead(draft, self._t.t(draft.locale, "swap.done"))

    async def say(self, draft: Draft, key: str) -> None:
        await self._send(draft, self._t.t(draft.locale, key), None)

    async def show(self, query: CallbackQuery, draft: Draft) -> None:
        """Edit the message a step button was on into the draft's current step."""
        assert query.message is not None
        await edit(self._bot, draft.chat_id, query.message.message_id, *self.render(draft))

    async def _lead(self, draft: Draft, lead: str) -> None:
        text, markup = self.render(draft)
        await self._send(draft, f"{lead}\n\n{text}", markup)

    def _summary(self, draft: Draft) -> str:
        t, locale = self._t, draft.locale
        assert draft.voice is not None
        assert draft.voice.probe is not None
        assert draft.provider
        note = t.t(locale, "note.preview") if self._catalog.is_preview(draft.provider) else ""
        return t.t(
            locale,
            "prompt.confirm",
            face=t.t(locale, f"face.{draft.media_kind}"),
            seconds=round(draft.voice.probe.duration or 0),
            ratio=draft.ratio,
            provider=t.t(locale, f"provider.{draft.provider}"),
            cost=self._cost(draft, draft.provider),
            note=note,
        ).strip()

    def _label(self, draft: Draft, name: str) -> str:
        return f"{self._t.t(draft.locale, f'provider.{name}')} · {self._cost(draft, name)}"

    def _cost(self, draft: Draft, name: str) -> str:
        cost = self._catalog.quote(draft, name)
        if cost == 0:
            return self._t.t(draft.locale, "cost.free")
        return self._t.t(draft.locale, "cost.credits", credits=f"{cost:g}")

    async def _send(self, draft: Draft, text: str, markup: InlineKeyboardMarkup | None) -> None:
        reply_markup: InlineKeyboardMarkup | ForceReply | None = markup
        reply = None
        if draft.chat_type != ChatType.PRIVATE:
            if markup is None:
                # Under privacy mode the bot only sees replies to its own messages.
                placeholder = self._t.t(draft.locale, f"placeholder.{draft.step}")
                reply_markup = keyboards.force_reply(placeholder)
            if draft.reply_to is not None:
                reply = ReplyParameters(draft.reply_to, allow_sending_without_reply=True)
        await self._bot.send_message(
            draft.chat_id, text, reply_markup=reply_markup, reply_parameters=reply
        )


async def edit(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    try:
        await bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, reply_markup=markup
        )
    except TelegramError as exc:
        log.info("Could not edit message %d in chat %d: %s", message_id, chat_id, exc)
