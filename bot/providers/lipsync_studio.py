"""lipsync.studio: ``lipsync-video`` and ``lipsync-image``; inputs by public URL only.

Its webhooks are not signed, so each job's webhook URL carries a secret token, and every
webhook is confirmed by reading the job back (``GET /api/v1/jobs/{id}``).
Contract: providers.md section 3. Little of the answer side is documented; statuses outside
``processing | completed | failed`` are read as "still running".
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx

from bot.errors import ProviderUnavailable, WebhookRejected
from bot.models import Capabilities, JobStatus, MediaKind, Order, Probe, RemoteJob, VoiceKind
from bot.providers.base import Inputs, RemoteProvider, WebhookAuth

#: Billing: at least 5 s per video; credits per second by resolution (providers.md 3.7).
MIN_BILLED_SECONDS = 5
CREDITS_PER_SECOND = {"480p": 2, "720p": 4}

_STATUSES = {
    "queued": JobStatus.QUEUED,
    "pending": JobStatus.QUEUED,
    "processing": JobStatus.RUNNING,
    "completed": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
}


class LipsyncStudioProvider(RemoteProvider):
    name = "lipsync_studio"
    capabilities = Capabilities(
        media=frozenset({MediaKind.PHOTO, MediaKind.VIDEO}), voice=frozenset({VoiceKind.AUDIO})
    )
    needs_public_urls = True
    webhook_auth = WebhookAuth.URL_TOKEN

    def estimate_cost(self, media_kind: MediaKind, media: Probe, seconds: float) -> float:
        billed = max(MIN_BILLED_SECONDS, math.ceil(seconds))
        return float(billed * CREDITS_PER_SECOND[resolution(media)])

    async def submit(
        self, order: Order, inputs: Inputs, *, name: str, webhook_url: str | None
    ) -> RemoteJob:
        if not inputs.face_url or not inputs.voice_url:
            raise ValueError("lipsync.studio needs hosted inputs (PUBLIC_URL)")
        if order.media_kind is MediaKind.PHOTO:
            path, face_field = "/api/v1/lipsync-image", "image"
        else:
            path, face_field = "/api/v1/lipsync-video", "video"
        body: dict[str, Any] = {
            "formState": {
                face_field: inputs.face_url,
                "audio": inputs.voice_url,
                "resolution": resolution(order.media_probe),
            }
        }
        if webhook_url:
            body["webhook"] = webhook_url
        data = await self.http.json(self._request("POST", path, body), idempotent=False)
        return self._job(data, default_status=JobStatus.QUEUED)

    async def fetch(self, provider_job_id: str) -> RemoteJob:
        data = await self.http.json(self._request("GET", f"/api/v1/jobs/{provider_job_id}"))
        job = self._job(data)
        if job.provider_job_id != provider_job_id:
            job = job.model_copy(update={"provider_job_id": provider_job_id})
        return job

    def webhook_job(self, body: bytes) -> RemoteJob:
        try:
            data = json.loads(body)
            return self._job(data)
        except (ValueError, ProviderUnavailable) as exc:
            raise WebhookRejected(f"not a lipsync.studio job: {exc}") from None

    def _request(self, method: str, path: str, body: object | None = None) -> httpx.Request:
        return httpx.Request(
            method,
            f"{self.api_url}{path}",
            headers={"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"},
            json=body,
        )

    def _job(self, data: object, *, default_status: JobStatus = JobStatus.RUNNING) -> RemoteJob:
        if not isinstance(data, dict):
            raise ProviderUnavailable(self.name, "answer is not a JSON object")
        job_id = data.get("requestId") or data.get("id")
        if not job_id:
            raise ProviderUnavailable(self.name, "answer has no job id")
        raw = str(data.get("status") or "").lower()
        status = _STATUSES.get(raw, default_status if not raw else JobStatus.RUNNING)
        output = data.get("output")
        if isinstance(output, list):  # tolerate a list of URLs
            output = output[0] if output else None
        if status is JobStatus.SUCCEEDED and not output:
            status = JobStatus.RUNNING  # "completed" without a video is not done for us
        error = data.get("error")
        return RemoteJob(
            provider_job_id=str(job_id),
            status=status,
            output_url=str(output) if output else None,
            error=str(error) if error and status is JobStatus.FAILED else None,
        )


def resolution(media: Probe) -> str:
    """720p when the user's face media is at least that sharp, else 480p (cheaper, and
    upscaling a small source gains nothing)."""
    short_side = min(media.width or 0, media.height or 0)
    return "720p" if short_side >= 720 else "480p"
