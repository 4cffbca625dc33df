"""What a job's status message says at each point of its life, in the user's language, and
the buttons on it: [Cancel] while the job can still be stopped; after a failure, a separate
message with a way forward."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import TelegramError

from bot import callback_data as cd
from bot.delivery.progress import ProgressBoard
from bot.i18n import Translator
from bot.jobs.reasons import reason_text
from bot.models import Job, JobStatus
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
    ) -> None:
        self._board = board
        self._t = translator
        self._bot = bot
        self._clock = clock

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
        [New]."""
        reason = reason_text(self._t, job)
        await self.show(job, "progress.failed", final=True, reason=reason)
        text = self._t.t(job.locale, "failure.text", job_id=job.id, reason=reason)
        reply = (
            ReplyParameters(job.status_message_id, allow_sending_without_reply=True)
            if job.status_message_id is not None
            else None
        )
        try:
            await self._bot.send_message(
                job.chat_id, text, reply_markup=self._way_forward(job), reply_parameters=reply
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

    def _way_forward(self, job: Job) -> InlineKeyboardMarkup:
        # An avatar is made only by its own provider: no [Other provider] for it.
        face = job.order.face_file
        other = [] if face is None else [("button.other_provider", cd.OTHER_PROVIDER)]
        # A dialogue's photo may show fewer than two faces to the provider: another photo,
        # keeping both voices.
        if face is not None and job.order.dialogue is not None:
            other.append(("button.other_photo", cd.OTHER_PHOTO))
        buttons = [("button.retry", cd.RETRY), *other, ("button.new", cd.RESTART)]
        row = [
            InlineKeyboardButton(
                self._t.t(job.locale, key), callback_data=cd.job_action(action, job.id)
            )
            for key, action in buttons
        ]
        # Four labels in one row would be cut short on a phone: two rows of two.
        return InlineKeyboardMarkup([row[:2], row[2:]] if len(row) > 3 else [row])


def _clock_time(seconds: float) -> str:
    """``0:42``, ``12:05``, ``1:02:03``."""
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
