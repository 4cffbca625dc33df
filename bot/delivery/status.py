"""What a job's status message says at each point of its life, in the user's language, and
the buttons on it: [Cancel] while the job can still be stopped; after a failure, a separate
message with a way forward."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.delivery.progress import ProgressBoard
from bot.i18n import Translator
from bot.jobs.reasons import reason_text
from bot.models import Capabilities, Job, JobStatus
from bot.untrusted import sentence
from storage.db import now

log = logging.getLogger(__name__)


class StatusMessages:
    """Puts a job's state into its status message (through the coalescing board)."""

    def __init__(
        self,
        board: ProgressBoard,
        translator: Translator,
        bot: Bot,
        *,
        clock: Callable[[], datetime] = now,
        makers: Mapping[str, Capabilities] | None = None,
    ) -> None:
        """``makers``: what each enabled provider makes, so that [Other provider] is offered
        only when another can make the order (None: always, the press saying when none can)."""
        self._board = board
        self._t = translator
        self._bot = bot
        self._clock = clock
        self._makers = makers

    async def announce(
        self, job: Job, *, reply_to: int | None, place: int | None = None
    ) -> int | None:
        """Send a new job's status message, with [Cancel]; returns its id (None if Telegram
        refused it: the job runs anyway and its video still arrives).

        Args:
            job: the job, just created.
            reply_to: the message it answers (the order's summary), if any.
            place: its place in line, when it waits for its provider.
        """
        if place is None:
            text = self._t.t(job.locale, "progress.queued", job_id=job.id)
        else:
            text = self._t.t(job.locale, "progress.waiting", job_id=job.id, place=place)
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        markup = self._cancel(job)
        try:
            message = await self._bot.send_message(
                job.chat_id, text, reply_markup=markup, reply_parameters=reply
            )
        except TelegramError as exc:
            log.warning("Job %d: could not send its status message: %s", job.id, exc)
            return None
        self._board.sent(job.chat_id, message.message_id, text, reply_markup=markup)
        return message.message_id

    async def waiting(self, job: Job, place: int) -> None:
        """A job waiting for its provider: its place in line (1: next)."""
        await self.show(job, "progress.waiting", markup=self._cancel(job), place=place)

    async def progress(self, job: Job) -> None:
        """Queued, or rendering: with the percentage when the provider tells, else the time
        it has taken so far (callers refresh it as news comes; the board drops repeats)."""
        if job.status is JobStatus.QUEUED or job.status is JobStatus.SUBMITTING:
            await self.show(job, "progress.queued", markup=self._cancel(job))
        elif job.progress:
            await self.show(
                job, "progress.rendering", markup=self._cancel(job), percent=job.progress
            )
        else:
            # Counted from when it left the line: the wait was shown as such.
            since = job.started_at or job.created_at
            elapsed = _clock_time((self._clock() - since).total_seconds())
            await self.show(
                job, "progress.rendering_elapsed", markup=self._cancel(job), elapsed=elapsed
            )

    async def failed(self, job: Job) -> None:
        """The status line says so, and a new message (a reply to it, so it notifies) gives
        the reason (``job.reason``, put into words here) with [Try again] [Other provider]
        [New] (see :func:`ways_forward`), and says what they do."""
        reason = sentence(reason_text(self._t, job))
        await self.show(job, "progress.failed", final=True, reason=reason)
        actions = ways_forward(job, self._makers)
        text = failure_text(self._t, job, actions, reason)
        reply = (
            ReplyParameters(job.status_message_id, allow_sending_without_reply=True)
            if job.status_message_id is not None
            else None
        )
        try:
            await self._bot.send_message(
                job.chat_id,
                text,
                reply_markup=way_forward(self._t, job, actions),
                reply_parameters=reply,
            )
        except TelegramError as exc:
            log.warning("Job %d: could not send the failure message: %s", job.id, exc)

    async def canceled(self, job: Job) -> None:
        await self.show(job, "progress.canceled", final=True)

    async def show(
        self,
        job: Job,
        key: str,
        *,
        final: bool = False,
        markup: InlineKeyboardMarkup | None = None,
        **params: object,
    ) -> None:
        """Put the text ``key`` in the job's status message; without ``markup`` its buttons
        go (Telegram drops an inline keyboard an edit leaves out)."""
        if job.status_message_id is None:
            return
        text = self._t.t(job.locale, key, job_id=job.id, **params)
        await self._board.show(
            job.chat_id, job.status_message_id, text, final=final, reply_markup=markup
        )

    def _cancel(self, job: Job) -> InlineKeyboardMarkup:
        label = self._t.t(job.locale, "button.cancel")
        data = cd.job_action(cd.STOP, job.id)
        return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])


#: The label of each button after a failure.
_LABELS = {
    cd.RETRY: "button.retry",
    cd.OTHER_PROVIDER: "button.other_provider",
    cd.OTHER_PHOTO: "button.other_photo",
    cd.RESTART: "button.new",
}
#: The sentence under a failure's reason, by what is offered besides [Try again] and [New]:
#: ([Other provider], [Other photo]).
_NEXT = {
    (True, False): "failure.next",
    (False, False): "failure.next_same",
    (False, True): "failure.next_photo",
    (True, True): "failure.next_photo_other",
}


def ways_forward(job: Job, makers: Mapping[str, Capabilities] | None = None) -> list[str]:
    """The job actions offered after ``job`` failed, in order: [Try again]; [Other provider]
    for a face that is a file (an avatar is made only by its own provider) when another of
    ``makers`` (the enabled providers; None: not known, offered) makes the order as it is;
    [Other photo] for a dialogue of a photo (the provider may have seen fewer than two
    faces: another photo, keeping both voices); [New]."""
    order = job.order
    face = order.face_file
    actions = [cd.RETRY]
    if face is not None and _others_make(job, makers):
        actions.append(cd.OTHER_PROVIDER)
    if face is not None and order.dialogue is not None:
        actions.append(cd.OTHER_PHOTO)
    return [*actions, cd.RESTART]


def ways_left(job: Job, *, provider_on: bool) -> list[str]:
    """The job actions still offered once [Other provider] found no other enabled provider
    able (the one that was, turned off since): the same without it; only [New] when
    ``job``'s own provider is off too (nothing on can make its order, nor its photo)."""
    return ways_forward(job, {}) if provider_on else [cd.RESTART]


def way_forward(translator: Translator, job: Job, actions: list[str]) -> InlineKeyboardMarkup:
    """The buttons of ``actions`` (:func:`ways_forward`) under ``job``'s failure message."""
    row = [
        InlineKeyboardButton(
            translator.t(job.locale, _LABELS[action]), callback_data=cd.job_action(action, job.id)
        )
        for action in actions
    ]
    # Four labels in one row would be cut short on a phone: two rows of two.
    return InlineKeyboardMarkup([row[:2], row[2:]] if len(row) > 3 else [row])


def failure_text(
    translator: Translator, job: Job, actions: list[str], reason: str | None = None
) -> str:
    """The failure message: the reason (``job``'s, put into words unless given) and what
    ``actions`` (:func:`ways_forward`) let the user do, in the job's language. The reason
    ends its sentence once, whether it brought its own stop or not."""
    locale = job.locale
    reason = sentence(reason_text(translator, job) if reason is None else reason)
    if cd.RETRY not in actions:
        key = "failure.next_new"
    else:
        key = _NEXT[(cd.OTHER_PROVIDER in actions, cd.OTHER_PHOTO in actions)]
    button = translator.t(locale, _LABELS[cd.OTHER_PHOTO])
    then = translator.t(locale, key, button=button)
    return translator.t(locale, "failure.text", job_id=job.id, reason=reason, next=then)


def _others_make(job: Job, makers: Mapping[str, Capabilities] | None) -> bool:
    """Whether a provider other than ``job``'s can make its order (unknown: True)."""
    if makers is None:
        return True
    return any(name != job.provider and caps.makes(job.order) for name, caps in makers.items())


def _clock_time(seconds: float) -> str:
    """``0:42``, ``12:05``, ``1:02:03``."""
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
