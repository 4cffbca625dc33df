"""Getting a finished job's video into its chat: download it when a provider made it, upload
it once, and record the outcome (``succeeded`` -> ``delivered`` or ``failed``).

An upload is claimed (``delivery = uploading``, compare-and-set) right before it starts. When
its outcome is unknown (no answer from Telegram, or a restart finds the claim) it is never
repeated on its own: the user gets a [Get my video] button, whose press is a new claim."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import httpx
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.delivery.sender import Delivery, ReadyVideo, UnusableOutput
from bot.delivery.status import StatusMessages
from bot.errors import ChatUnreachable, DeliveryError, ProviderError, UnsafeURL
from bot.jobs.states import JobStates
from bot.media.outputs import OutputFetchError, download_output
from bot.models import DeliveryClaim, Job, JobStatus, Reason
from bot.providers import Provider, RemoteProvider
from bot.tasks import BackgroundTasks, Busy
from bot.telegram.files import UploadUnconfirmed
from storage import JobRepository, UserRepository

log = logging.getLogger(__name__)

#: Waits (seconds) before trying again to send the [Get my video] message; after the last try
#: it waits for the next start.
OFFER_RETRY_DELAYS = (2.0, 10.0, 30.0)
#: The longest wait a flood limit (429) may impose between those tries.
OFFER_MAX_WAIT = 60.0
#: Answers to the offer that prove it was not posted (PTB raises a 5xx as a NetworkError).
_REFUSED = (BadRequest, ChatMigrated, RetryAfter)


class ResultDelivery:
    def __init__(
        self,
        *,
        repo: JobRepository,
        users: UserRepository,
        sender: Delivery,
        status: StatusMessages,
        states: JobStates,
        providers: Mapping[str, Provider],
        tasks: BackgroundTasks,
        busy: Busy,
        http: httpx.AsyncClient,
        outputs: Path,
        allow_private_urls: bool,
    ) -> None:
        self._repo = repo
        self._users = users
        self._sender = sender
        self._status = status
        self._states = states
        self._providers = providers
        self._tasks = tasks
        self._busy = busy
        self._http = http
        self._outputs = outputs
        self._allow_private_urls = allow_private_urls
        # Each press's task has its own key: the task of the previous press may still be
        # finishing (sending its offer) when the claim already allows a new one.
        self._presses = itertools.count(1)

    def spawn(self, job_id: int) -> None:
        """Deliver a succeeded job in the background (no-op if that is already under way)."""
        self._tasks.spawn(f"deliver:{job_id}", self._deliver(job_id))

    def output_path(self, job: Job) -> Path:
        """Where a job's finished video is kept."""
        return self._outputs / f"job_{job.id}.mp4"

    async def resend(self, job: Job, chat_id: int) -> None:
        """Send a delivered job's video again, by its Telegram file_id."""
        await self._sender.resend(job, chat_id)

    async def request(self, job: Job) -> bool:
        """[Get my video]: claim the offered upload and send it in the background.

        Returns:
            False when the video is already sent or on its way (a second press).
        """
        if not await self._repo.claim_delivery(
            job.id, DeliveryClaim.OFFERED, DeliveryClaim.UPLOADING
        ):
            return False
        key = f"deliver-requested:{job.id}:{next(self._presses)}"
        self._tasks.spawn(key, self._deliver(job.id, claimed=True))
        return True

    async def _deliver(self, job_id: int, *, claimed: bool = False) -> None:
        self._busy.add(+1)
        try:
            if claimed:
                await self._deliver_claimed(job_id)
            else:
                await self._deliver_now(job_id)
        finally:
            self._busy.add(-1)

    async def _deliver_now(self, job_id: int) -> None:
        job = await self._repo.get(job_id)
        if job is None or job.status is not JobStatus.SUCCEEDED:
            return
        if job.delivery is DeliveryClaim.UPLOADING:
            # Claimed by a process that stopped before Telegram answered: the video may be in
            # the chat already, so ask the user rather than send it twice.
            log.warning("Job %d: an upload was interrupted; offering the video", job.id)
            await self._offer(job)
            return
        if job.delivery is not None:  # offered: waits for the user's press
            return
        if job.chat_id == job.user_id and await self._users.is_blocked(job.user_id):
            log.info("Job %d: the user has blocked the bot; not uploading", job.id)
            await self._chat_gone(job)
            return
        await self._status.show(job, "progress.sending", final=True)
        ready = await self._ready(job)
        if ready is None:
            return
        job, video = ready
        # The claim comes last, right before the upload: everything above may be redone.
        if await self._repo.claim_delivery(job.id, None, DeliveryClaim.UPLOADING):
            await self._upload(job, video)

    async def _deliver_claimed(self, job_id: int) -> None:
        """Upload on the user's request; the claim is already held."""
        job = await self._repo.get(job_id)
        if job is None or job.status is not JobStatus.SUCCEEDED:
            return
        await self._status.show(job, "progress.sending", final=True)
        ready = await self._ready(job)
        if ready is not None:
            await self._upload(*ready)

    async def _ready(self, job: Job) -> tuple[Job, ReadyVideo] | None:
        """The video on disk (downloaded if need be), checked and fitted for upload; None
        when that failed (and so did the job)."""
        try:
            return await self._prepare(job)
        except Exception as exc:  # a bug or an answer nobody foresaw: nothing was sent yet
            log.error("Job %d: cannot prepare the video (%s)", job.id, type(exc).__name__)
            await self._fail(job, "error.delivery_failed")
            return None

    async def _prepare(self, job: Job) -> tuple[Job, ReadyVideo] | None:
        if job.output_path is None or not Path(job.output_path).exists():
            fetched = await self._fetch_output(job)
            if fetched is None:
                return None
            job = fetched
        try:
            return job, await self._sender.prepare(job)
        except UnusableOutput as exc:
            log.warning("Job %d: %s", job.id, exc)
            await self._fail(job, "error.output_unusable")
        except (DeliveryError, OSError) as exc:
            log.warning("Job %d: cannot send: %s", job.id, exc)
            await self._fail(job, "error.delivery_failed")
        return None

    async def _upload(self, job: Job, video: ReadyVideo) -> None:
        """Upload under a held claim and record the outcome."""
        try:
            file_id = await self._sender.upload(job, video)
        except ChatUnreachable as exc:
            log.info("Job %d: chat %d unreachable (%s)", job.id, job.chat_id, exc)
            await self._chat_gone(job)
            return
        except UploadUnconfirmed as exc:
            log.warning("Job %d: Telegram did not answer the upload (%s)", job.id, exc)
            await self._offer(job)
            return
        except DeliveryError as exc:
            log.warning("Job %d: delivery failed: %s", job.id, exc)
            await self._fail(job, "error.delivery_failed")
            return
        except Exception as exc:  # a bug or an odd answer: the video may be in the chat
            log.error("Job %d: upload ended unexpectedly (%s)", job.id, type(exc).__name__)
            await self._offer(job)
            return
        # The user is charged what was delivered (never more than the reserve).
        await self._states.move(
            job.id,
            [JobStatus.SUCCEEDED],
            JobStatus.DELIVERED,
            video_seconds=video.duration,
            result_file_id=file_id,
        )
        log.info("Job %d delivered", job.id)
        await self._status.show(job, "progress.delivered", final=True)

    async def _offer(self, job: Job) -> None:
        """The upload's outcome is unknown: offer [Get my video] (once per claim), trying
        again a few times while Telegram refuses it (if it still does, the next start offers
        it); an offer whose own outcome is unknown is not sent again."""
        for delay in (*OFFER_RETRY_DELAYS, None):
            # Claimed per try: between tries (and after a crash) the claim reads "uploading",
            # which the next start turns into an offer.
            if not await self._repo.claim_delivery(
                job.id, DeliveryClaim.UPLOADING, DeliveryClaim.OFFERED
            ):
                return
            try:
                await self._sender.offer(job)
            except Forbidden:
                await self._chat_gone(job)
                return
            except _REFUSED as exc:  # Telegram's own "no": surely not posted, so try again
                await self._repo.claim_delivery(
                    job.id, DeliveryClaim.OFFERED, DeliveryClaim.UPLOADING
                )
                if delay is None:
                    log.warning(
                        "Job %d: could not offer the video (%s); again at the next start",
                        job.id,
                        type(exc).__name__,
                    )
                    await self._status.show(job, "progress.unconfirmed_later", final=True)
                    return
                wait = exc.retry_after if isinstance(exc, RetryAfter) else delay
                await asyncio.sleep(min(OFFER_MAX_WAIT, _seconds(wait)))
                continue
            except TelegramError as exc:
                # A timeout, a lost answer, a 5xx: the offer may be in the chat, and a press
                # on it may already hold the claim. The claim stays "offered": taking it back
                # could let a second offer (and a second upload) follow, or leave every
                # press answered "already on its way".
                log.warning(
                    "Job %d: the offer got no answer (%s); it may be in the chat",
                    job.id,
                    type(exc).__name__,
                )
            current = await self._repo.get(job.id)
            if current is not None and current.status is JobStatus.SUCCEEDED:  # not sent since
                # The button on the status line too: the offer itself may never have arrived.
                await self._status.show(
                    job,
                    "progress.unconfirmed",
                    final=True,
                    markup=self._sender.get_video_keyboard(job),
                )
            return

    async def _chat_gone(self, job: Job) -> None:
        """The bot cannot write to the job's chat: fail the job. In a private chat that means
        the user blocked the bot: no uploads to them until they write again. In a group it
        means the bot was removed, which says nothing about the user."""
        if job.chat_id == job.user_id:
            await self._users.set_blocked(job.user_id)
        await self._states.move(
            job.id,
            [JobStatus.SUCCEEDED],
            JobStatus.FAILED,
            reason=Reason(code="error.chat_unreachable"),
        )

    async def _fetch_output(self, job: Job) -> Job | None:
        """Download a remote job's result; on an expired link ask the provider for a new one."""
        out = self.output_path(job)
        for attempt in (1, 2):
            url = job.output_url
            try:
                if url is None:
                    raise OutputFetchError("no result URL")
                await download_output(self._http, url, out, allow_private=self._allow_private_urls)
            except (OutputFetchError, UnsafeURL) as exc:
                log.warning("Job %d: result download failed: %s", job.id, exc)
                provider = self._providers.get(job.provider)
                if (
                    attempt == 2
                    or not isinstance(provider, RemoteProvider)
                    or not job.provider_job_id
                ):
                    await self._fail(job, "error.output_failed")
                    return None
                try:  # result links expire (Magic Hour: 24 h); a fresh read gives a new one
                    remote = await provider.fetch(job.provider_job_id)
                except ProviderError:
                    await self._fail(job, "error.output_failed")
                    return None
                await self._repo.update(job.id, output_url=remote.output_url)
                job = job.model_copy(update={"output_url": remote.output_url})
                continue
            await self._repo.update(job.id, output_path=str(out))
            return job.model_copy(update={"output_path": str(out)})
        return None

    async def _fail(self, job: Job, key: str) -> None:
        """Fail a succeeded job whose video cannot be delivered; ``key`` is the reason's code."""
        reason = Reason(code=key)
        if await self._states.move(job.id, [JobStatus.SUCCEEDED], JobStatus.FAILED, reason=reason):
            await self._status.failed(
                job.model_copy(update={"status": JobStatus.FAILED, "reason": reason})
            )


def _seconds(wait: float | timedelta) -> float:
    """A ``retry_after`` as seconds (PTB gives an int, or a timedelta when so configured)."""
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
