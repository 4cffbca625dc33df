"""What the conversation says: the prompt for each step, refusals, and where it is sent.

In groups every prompt replies to the user and forces a reply, so their answer reaches the
bot under privacy mode.
"""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
)
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.catalog import Catalog
from bot.context import BotContext
from bot.conversation import DraftService
from bot.i18n import Translator
from bot.models import Draft, FaceKind, Step
from bot.quota_desk import QuotaDesk
from bot.quotas import Allowance
from bot.voices import Voices
from handlers import dialogue_screens, keyboards, quota_text
from handlers.summary import price_of, summary

log = logging.getLogger(__name__)


#: Above this share of the longest voice, what is left of a quota goes without a word of
#: explanation on the voice prompt (it would be repeated under every re-prompt).
QUIET_SHARE = 0.8


class Screens:
    """Renders drafts for one bot; also how background checks reach the user."""

    def __init__(
        self,
        bot: Bot,
        translator: Translator,
        catalog: Catalog,
        max_voice_seconds: float,
        quotas: QuotaDesk,
        admins: frozenset[int],
        drafts: DraftService,
        voices: Voices,
    ) -> None:
        self._bot = bot
        self._t = translator
        self._catalog = catalog
        self._max_voice_seconds = max_voice_seconds
        self._quotas = quotas
        self._admins = admins
        self._drafts = drafts
        self._voices = voices

    @classmethod
    def of(cls, context: BotContext) -> Screens:
        return cls(
            context.bot,
            context.t,
            context.catalog,
            context.drafts.max_voice_seconds,
            context.quotas,
            context.admins,
            context.drafts,
            context.voices,
        )

    async def render(self, draft: Draft) -> tuple[str, InlineKeyboardMarkup | None]:
        """The prompt text and buttons for the step the draft is at (the PROVIDER and
        CONFIRM steps read what the user has left, for the price)."""
        t, locale = self._t, draft.locale
        if draft.step is Step.MEDIA and draft.dialogue:
            return dialogue_screens.media(t, self._catalog, draft, picker=self._picker)
        if draft.step is Step.MEDIA:
            files = any(self._catalog.takes_face(f) for f in (FaceKind.PHOTO, FaceKind.VIDEO))
            text = t.t(locale, "prompt.media" if files else "prompt.media_avatars_only")
            if self._picker and draft.chat_type != ChatType.PRIVATE:
                text += "\n" + t.t(locale, "prompt.avatars_command")  # no buttons in groups
            return text, self._media_buttons(draft)
        if draft.step in (Step.VOICE, Step.VOICE2):
            text = await self._voice_prompt(draft)
            if draft.dialogue:
                text = f"{dialogue_screens.voice_lead(t, draft)}\n{text}"
            return text, await self._voice_button(draft)
        if draft.step is Step.TURNS:
            return dialogue_screens.turns(t, self._catalog, draft)
        if draft.step is Step.RATIO:
            return t.t(locale, "prompt.ratio"), keyboards.ratios(draft)
        if draft.step is Step.PROVIDER:
            # Every provider costs the same seconds of quota: the voice's length.
            cost = t.t(locale, "price.button", seconds=price_of(draft))
            choices = [
                (name, f"{t.t(locale, f'provider.{name}')} · {cost}")
                for name in self._catalog.able(draft)
            ]
            if not choices:
                # The avatar's provider was turned off, or the voice is longer than any
                # provider that is on takes: say so, and offer a fresh start.
                return t.t(locale, "prompt.no_provider"), keyboards.new_video(t, locale)
            return t.t(locale, "prompt.provider"), keyboards.providers(draft, choices)
        if draft.step is Step.CONFIRM:
            allowances = await self._quotas.allowances(
                draft.user_id, draft.chat_id, draft.chat_type
            )
            short = quota_text.short_of(price_of(draft), allowances)
            shorter = short is not None and quota_text.offers_shorter(short, price_of(draft))
            voices = await self._typed_voices(draft)
            text = summary(t, self._catalog, self._admins, draft, allowances, voices)
            return text, keyboards.confirm(t, draft, shorter=shorter)
        return t.t(locale, "error.still_checking"), None

    async def _voice_prompt(self, draft: Draft) -> str:
        """Ask for the voice, with the longest that fits: the bot's limit, or what is left
        of the user's quota when that is less (and then which quota, so /quota makes
        sense of it); a dialogue's second voice, what the first leaves of it too (see
        :func:`dialogue_screens.second_room`)."""
        longest = int(self._max_voice_seconds)
        allowances = await self._quotas.allowances(draft.user_id, draft.chat_id, draft.chat_type)
        tightest = allowances[0] if allowances else None
        room = None
        if draft.step is Step.VOICE2:
            rooms = self._drafts.second_room(draft)
            room = dialogue_screens.second_room(self._t, draft, rooms, tightest, longest)
        if room is None:
            return self._ask(draft, longest, tightest)
        if room.limit is None:  # nothing fits: the notes say what to do instead
            return "\n".join(room.notes)
        text = self._ask(draft, room.limit, tightest if room.quota_note else None)
        return "\n".join([text, *room.notes])

    def _ask(self, draft: Draft, longest: int, tightest: Allowance | None) -> str:
        """The voice prompt saying ``longest`` seconds, or what is left of ``tightest``
        (None: no word of the quota) when that is less."""
        t, locale = self._t, draft.locale
        if not self._catalog.takes_recordings(draft):
            return t.t(locale, "prompt.voice_text_only")
        if tightest is None or tightest.left >= longest:
            return t.t(locale, "prompt.voice", limit=longest)
        text = t.t(locale, "prompt.voice", limit=tightest.left)
        if tightest.left > longest * QUIET_SHARE:
            return text  # a little under the usual limit: the number says it, no more words
        note = "voice_none_left" if tightest.left == 0 else "voice_quota"
        limit = quota_text.label(t, locale, tightest)
        return f"{text}\n{t.t(locale, f'price.{note}', left=tightest.left, limit=limit)}"

    async def _typed_voices(self, draft: Draft) -> tuple[str | None, str | None]:
        """The names of the voices reading a photo dialogue's typed texts (the first
        speaker's, the second's; None: a recording), so the summary shows they differ. An
        avatar's provider reads its texts with voices of its own (the summary says so)."""
        if not draft.dialogue or draft.avatar is not None:
            return None, None
        language = draft.language or draft.locale

        async def name(text: str | None, voice_id: str | None) -> str | None:
            if text is None:
                return None
            voice = await self._voices.voice(language, voice_id)
            return dialogue_screens.voice_name(self._t, draft.locale, voice)

        return await name(draft.voice_text, draft.voice_id), await name(
            draft.voice2_text, draft.voice2_id
        )

    def _media_buttons(self, draft: Draft) -> InlineKeyboardMarkup | None:
        """[Avatars] under the MEDIA prompt when a provider has ready-made avatars, and
        [Dialogue] when one makes two-speaker videos. Private chats only, as [Voice: NAME]:
        a group's prompt must force a reply instead (groups have /avatars and /dialogue)."""
        if draft.chat_type != ChatType.PRIVATE:
            return None
        dialogue = dialogue_screens.offered(self._catalog, picker=self._picker)
        return keyboards.media_choices(self._t, draft, avatars=self._picker, dialogue=dialogue)

    @property
    def _picker(self) -> bool:
        """Whether a provider with avatars is on (the picker has some to show)."""
        return self._drafts.picker.available

    async def _voice_button(self, draft: Draft) -> InlineKeyboardMarkup | None:
        """[Voice: NAME] under the VOICE prompt, for whoever types their text: it opens
        /voice. NAME is the voice that will read it: an avatar's provider's, or a dialogue's
        second speaker's own. Private chats only: a group's prompt must force a reply
        instead."""
        if draft.chat_type != ChatType.PRIVATE:
            return None
        voice = await self._voices.speaker_voice(draft)
        if voice is None:
            label = self._t.t(draft.locale, "voice.button_avatar")
        else:
            name = dialogue_screens.voice_name(self._t, draft.locale, voice)
            label = self._t.t(draft.locale, "voice.button", name=name)
        data = cd.voice_menu(draft.user_id)
        return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])

    async def prompt(self, draft: Draft) -> None:
        """Send the prompt for the draft's step as a new message."""
        await self._send(draft, *await self.render(draft))

    async def refuse(self, draft: Draft, key: str, **params: object) -> None:
        """Explain what was wrong, then ask for the same step again (nothing already sent is
        lost)."""
        await self._lead(draft, self._t.t(draft.locale, key, **params))

    async def explain(self, draft: Draft, text: str) -> None:
        """``text`` (already in the user's words), then the prompt for the draft's step."""
        await self._lead(draft, text)

    async def offer_face(self, draft: Draft) -> None:
        """A face came after the MEDIA step: offer to use it, under the step's prompt again."""
        text, markup = await self.render(draft)
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
        text, markup = await self.render(draft)
        await edit(self._bot, draft.chat_id, query.message.message_id, text, markup)

    async def _lead(self, draft: Draft, lead: str) -> None:
        text, markup = await self.render(draft)
        await self._send(draft, f"{lead}\n\n{text}", markup)

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
        sent = await self._bot.send_message(
            draft.chat_id, text, reply_markup=reply_markup, reply_parameters=reply
        )
        if draft.chat_type != ChatType.PRIVATE:
            await self._drafts.remember_prompt(draft, sent.message_id)


async def edit(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    try:
        await bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, reply_markup=markup
        )
    except TelegramError as exc:
        log.info("Could not edit message %d in chat %d: %s", message_id, chat_id, exc)
