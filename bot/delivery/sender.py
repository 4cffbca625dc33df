"""Sending finished videos back to Telegram."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot import callback_data
from bot.errors import DeliveryError, RenderError
from bot.i18n import Translator
from bot.media import mp4info, probe, render
from bot.models import Job
from bot.telegram import files as telegram_files

log = logging.getLogger(__name__)


class Delivery:
    """Uploads a job's output as a streamable Telegram video, shrinking it when too big."""

    def __init__(
        self, bot: Bot, http: httpx.AsyncClient, translator: Translator, *, upload_limit: int
    ) -> None:
        self._bot = bot
        self._http = http
        self._t = translator
        self._upload_limit = upload_limit

    async def deliver(self, job: Job) -> str:
        """Send the job's video to its chat.

        Returns:
            The Telegram file_id of the sent video, for re-sending from /jobs.

        Raises:
            ChatUnreachable: the user blocked the bot.
            DeliveryError: the video could not be sent (too big even after re-encoding, or
                Telegram refused it).
        """
        assert job.output_path is not None
        path = await self._fit(Path(job.output_path), job.duration)
        info = await asyncio.to_thread(mp4info.read, path) or await probe.probe(path)
        message = await telegram_files.send_video(
            self._bot,
            self._http,
            chat_id=job.chat_id,
            path=path,
            duration=round(info.duration or job.duration),
            width=info.width or job.ratio.size[0],
            height=info.height or job.ratio.size[1],
            caption=self.caption(job),
            reply_markup=self.result_keyboard(job),
            reply_to=job.status_message_id,
        )
        if message.video is None:
            raise DeliveryError("Telegram did not return a video")
        return message.video.file_id

    async def resend(self, job: Job, chat_id: int) -> None:
        """Send an already delivered video again by its file_id (no upload)."""
        assert job.result_file_id is not None
        await self._bot.send_video(
            chat_id,
            video=job.result_file_id,
            caption=self.caption(job),
            supports_streaming=True,
            reply_markup=self.result_keyboard(job),
        )

    def caption(self, job: Job) -> str:
        key = "result.caption_preview" if job.provider == "preview" else "result.caption"
        provider = self._t.t(job.locale, f"provider.{job.provider}")
        return self._t.t(job.locale, key, job_id=job.id, provider=provider)

    def result_keyboard(self, job: Job) -> InlineKeyboardMarkup:
        """[Again] (same face, new voice) and [New]."""
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        self._t.t(job.locale, "button.again"),
                        callback_data=callback_data.job_action(callback_data.AGAIN, job.id),
                    ),
                    InlineKeyboardButton(
                        self._t.t(job.locale, "button.new"), callback_data=callback_data.NEW
                    ),
                ]
            ]
        )

    async def _fit(self, path: Path, duration: float) -> Path:
        """The file to upload: ``path`` itself, or a re-encoded copy under the upload limit."""
        size = path.stat().st_size
        if size <= self._upload_limit:
            return path
        smaller = path.with_name(f"{path.stem}.fit.mp4")
        if smaller.exists() and smaller.stat().st_size <= self._upload_limit:
            return smaller
        log.info(
            "Output %s is %d bytes, re-encoding under %d", path.name, size, self._upload_limit
        )
        try:
            # A margin for the multipart envelope and Telegram's own accounting.
            budget = self._upload_limit - 512 * 1024
            await render.fit_to_size(path, smaller, max_bytes=budget, duration=duration)
        except RenderError as exc:
            raise DeliveryError(f"cannot fit under the upload limit: {exc}") from exc
        return smaller
