"""lipsync.studio: ``lipsync-video``, ``lipsync-image`` and, for two people talking,
``lipsync-image-multi`` (one photo of both, a voice each); inputs by public URL only.

Its webhooks are not signed, so each job's webhook URL carries a secret token, and every
webhook is confirmed by reading the job back (``GET /api/v1/jobs/{id}``).
Contract: providers.md section 3. Little of the answer side is documented: the statuses are
``processing | completed | failed`` (plus ``queued``/``pending``, seen in similar APIs); any
other word raises UnknownStatus, and a create answer without a status means queued.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from bot.config import Settings
from bot.errors import ProviderRejected, ProviderUnavailable
from bot.models import Capabilities, FaceKind, JobStatus, Order, RemoteJob, Turns
from bot.providers.base import (
    Inputs,
    RemoteProvider,
    Vendor,
    WebhookAuth,
    file_face,
    identifier,
    resolution,
    text,
)
from bot.providers.http import ProviderHTTP
from bot.untrusted import clean_text

#: Billing: at least 5 s per video; credits per second by resolution (providers.md 3.7).
MIN_BILLED_SECONDS = 5
CREDITS_PER_SECOND = {"480p": 2, "720p": 4}
#: image-multi's ``order``: ``meanwhile`` [C]; ``left_right`` (left first) [I: WaveSpeed's
#: InfiniteTalk multi, whose fields match] (providers.md 3.3).
ORDERS = {Turns.ONE_AFTER_THE_OTHER: "left_right", Turns.AT_THE_SAME_TIME: "meanwhile"}


class LipsyncStudioProvider(RemoteProvider):
    name = "lipsync_studio"
    capabilities = Capabilities(
        faces=frozenset({FaceKind.PHOTO, FaceKind.VIDEO}),
        dialogue_faces=frozenset({FaceKind.PHOTO}),
        dialogue_turns=frozenset(ORDERS),
    )
    needs_public_urls = True
    webhook_auth = WebhookAuth.URL_TOKEN
    statuses: ClassVar[Mapping[str, JobStatus]] = {
        "queued": JobStatus.QUEUED,
        "pending": JobStatus.QUEUED,
        "processing": JobStatus.RUNNING,
        "completed": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
    }

    def estimate_cost(self, order: Order) -> float:
        # A dialogue's seconds are already image-multi's: the longer voice when at the same
        # time, their sum otherwise (providers.md 3.7).
        face = file_face(self.name, order)
        billed = max(MIN_BILLED_SECONDS, math.ceil(order.seconds))
        return float(billed * CREDITS_PER_SECOND[resolution(face.probe)])

    async def submit(
        self, order: Order, inputs: Inputs, *, name: str, webhook_url: str | None
    ) -> RemoteJob:
        if not inputs.face_url or not inputs.voice_url:
            raise ValueError("lipsync.studio needs hosted inputs (PUBLIC_URL)")
        face = file_face(self.name, order)
        form: dict[str, Any]
        if order.dialogue is not None:
            if face.kind is not FaceKind.PHOTO or not inputs.voice2_url:
                # Possible only when settings changed after the order was made.
                raise ProviderRejected(self.name, "a dialogue needs one photo and two voices")
            path = "/api/v1/lipsync-image-multi"
            form = {
                "image": inputs.face_url,
                "left_audio": inputs.voice_url,
                "right_audio": inputs.voice2_url,
                "order": ORDERS[order.dialogue.turns],
            }
        elif face.kind is FaceKind.PHOTO:
            path = "/api/v1/lipsync-image"
            form = {"image": inputs.face_url, "audio": inputs.voice_url}
        else:
            path = "/api/v1/lipsync-video"
            form = {"video": inputs.face_url, "audio": inputs.voice_url}
        body: dict[str, Any] = {"formState": {**form, "resolution": resolution(face.probe)}}
        if webhook_url:
            body["webhook"] = webhook_url
        data = await self.call("POST", path, body, idempotent=False)
        word = str(data.get("status")).strip().lower() if isinstance(data, dict) else ""
        if isinstance(data, dict) and word not in self.statuses:
            # The create answer is undocumented, and the job exists (and is paid for) whatever
            # its status says: call it queued and let polling read the real state.
            data = {**data, "status": "queued"}
        try:
            return self._job(data)
        except ProviderUnavailable as exc:
            # Accepted (2xx) but without a usable id: the job may exist and be paid for.
            exc.maybe_done = True
            raise

    async def fetch(self, provider_job_id: str) -> RemoteJob:
        job = self._job(await self.call("GET", self.job_path("/api/v1/jobs/", provider_job_id)))
        if job.provider_job_id != provider_job_id:
            job = job.model_copy(update={"provider_job_id": provider_job_id})
        return job

    def parse_webhook(self, data: dict[str, Any]) -> RemoteJob:
        return self._job(data)

    def _job(self, data: object) -> RemoteJob:
        if not isinstance(data, dict):
            raise ProviderUnavailable(self.name, "answer is not a JSON object")
        job_id = identifier(data.get("requestId")) or identifier(data.get("id"))
        if job_id is None:
            raise ProviderUnavailable(self.name, "answer has no job id")
        status = self.status_of(data.get("status"))
        output = data.get("output")
        if isinstance(output, list):  # tolerate a list of URLs
            output = output[0] if output else None
        url = text(output)
        if status is JobStatus.SUCCEEDED and not url:
            status = JobStatus.RUNNING  # "completed" without a video is not done for us
        error = data.get("error")
        return RemoteJob(
            provider_job_id=job_id,
            status=status,
            output_url=url,
            error=clean_text(str(error), 300) if error and status is JobStatus.FAILED else None,
        )


def from_settings(settings: Settings, http: ProviderHTTP) -> LipsyncStudioProvider:
    assert settings.lipsync_studio_api_key is not None  # Vendor.missing checked it
    key = settings.lipsync_studio_api_key.get_secret_value()
    return LipsyncStudioProvider(http, settings.lipsync_studio_api_url, key)


VENDOR = Vendor(
    "lipsync_studio",
    from_settings,
    required=("lipsync_studio_api_key",),
    needs_public_url="it downloads the inputs from the bot",
)
