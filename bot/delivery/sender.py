"""Sending finished videos back to Telegram: checked, shrunk to fit, then uploaded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot import callback_data
from bot.errors import DeliveryError, MediaError, RenderError
from bot.i18n import Translator
from bot.media import mp4info, probe, render
from bot.models import Job, Probe
from bot.telegram import files as telegram_files

log = logging.getLogger(__name__)

#: Telegram shows a chat action for about five seconds; it is repeated this often.
CHAT_ACTION_SECONDS = 4.0


class UnusableOutput(DeliveryError):
    """The job's result is not a video we can send (e.g. an HTML error page)."""


@dataclass(frozen=True)
class ReadyVideo:
    """A file checked and sized for upload, with what Telegram is told about it."""

    path: Path
    duration: int
    width: int
    height: int


class Delivery:
    """Uploads a job's output as a streamable Telegram video, shrinking it when too big."""

    def __init__(
        self,
        bot: Bot,
        http: httpx.AsyncClient,
        translator: Translator,
        *,
        upload_limit: int,
        previews: Collection[str] = (),
    ) -> None:
        self._bot = bot
        self._http = http
        self._t = translator
        self._upload_limit = upload_limit
        #: Providers whose videos do not move lips: their captions say so.
        self._previews = frozenset(previews)

    async def prepare(self, job: Job) -> ReadyVideo:
        """Check the job's output is a video and fit it under the upload limit (nothing is
        sent yet, so this is safe to repeat).

        Raises:
            UnusableOutput: the output is not a readable video.
            DeliveryError: it is too big even after re-encoding.
        """
        assert job.output_path is not None
        source = Path(job.output_path)
        await self._read(source)
        path = await self._fit(source, job.duration)
        info = await self._read(path)
        return ReadyVideo(
            path=path,
            duration=round(info.duration or job.duration),
            width=info.width or job.ratio.size[0],
            height=info.height or job.ratio.size[1],
        )

    async def upload(self, job: Job, video: ReadyVideo) -> str | None:
        """Send the prepared video to the job's chat, showing "sending a video…" meanwhile.

        Returns:
            The Telegram file_id of the sent video, for re-sending from /jobs (None in the
            odd case that Telegram posted it but did not describe it as a video).

        Raises:
            ChatUnreachable: the user blocked the bot.
            UploadUnconfirmed: the video may be in the chat; Telegram's answer never came.
            DeliveryError: Telegram refused the video.
        """
        async with self._showing_upload(job.chat_id):
            message = await telegram_files.send_video(
                self._bot,
                self._http,
                chat_id=job.chat_id,
                path=video.path,
                duration=video.duration,
                width=video.width,
                height=video.height,
                caption=self.caption(job),
                reply_markup=self.result_keyboard(job),
                reply_to=job.status_message_id,
            )
        if message.video is None:
            log.warning("Job %d: Telegram's answer has no video", job.id)
            return None
        return message.video.file_id

    async def offer(self, job: Job) -> None:
        """Tell the user the video may not have arrived, with a [Get my video] button.

        Raises:
            TelegramError: the message could not be sent.
        """
        reply_to = job.status_message_id
        await self._bot.send_message(
            job.chat_id,
            self._t.t(job.locale, "delivery.unconfirmed", job_id=job.id),
            reply_markup=self.get_video_keyboard(job),
            reply_parameters=(
                ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
            ),
        )

    def get_video_keyboard(self, job: Job) -> InlineKeyboardMarkup:
        """[Get my video]: uploads the video once more, when its owner asks."""
        get = InlineKeyboardButton(
            self._t.t(job.locale, "button.get_video"),
            callback_data=callback_data.job_action(callback_data.GET_VIDEO, job.id),
        )
        return InlineKeyboardMarkup([[get]])

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
        key = "result.caption_preview" if job.provider in self._previews else "result.caption"
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

    @staticmethod
    async def _read(path: Path) -> Probe:
        """What the video is; an output we cannot read as a video is unusable."""
        info = await asyncio.to_thread(mp4info.read, path)
        if info is not None:
            return info
        try:
            info = await probe.probe(path)
        except MediaError as exc:
            raise UnusableOutput(f"{path.name} is not a readable video: {exc}") from None
        if not info.has_video:
            raise UnusableOutput(f"{path.name} has no video stream")
        return info

    async def _fit(self, path: Path, duration: float) -> Path:
        """The file to upload: ``path`` itself, or a re-encoded copy under the upload limit."""
        size = path.stat().st_size
        if size <= self._upload_limit:
            return path
        smaller = path.with_name(f"{path.stem}.fit.mp4")
        # Only a finished encode is ever renamed to ``smaller``, so one that exists is whole.
        if smaller.exists() and smaller.stat().st_size <= self._upload_limit:
            return smaller
        log.info(
            "Output %s is %d bytes, re-encoding under %d", path.name, size, self._upload_limit
        )
        partial = path.with_name(f"{smaller.name}.part")
        try:
            # A margin for the multipart envelope and Telegram's own accounting.
            budget = self._upload_limit - 512 * 1024
            await render.fit_to_size(path, partial, max_bytes=budget, duration=duration)
        except RenderError as exc:
            raise DeliveryError(f"cannot fit under the upload limit: {exc}") from exc
        partial.replace(smaller)
        return smaller

    @contextlib.asynccontextmanager
    async def _showing_upload(self, chat_id: int) -> AsyncIterator[None]:
        """Show "sending a video…" in the chat until the block ends (best effort)."""
        task = asyncio.create_task(self._keep_showing_upload(chat_id))
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _keep_showing_upload(self, chat_id: int) -> None:
        while True:
            try:
                await self._bot.send_chat_action(chat_id, ChatAction.UPLOAD_VIDEO)
            except TelegramError as exc:  # only a hint: the upload goes on without it
                log.debug("upload_video action in chat %d: %s", chat_id, exc)
            await asyncio.sleep(CHAT_ACTION_SECONDS)
