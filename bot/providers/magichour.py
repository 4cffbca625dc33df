"""Magic Hour: ``lip-sync`` (video + audio) and ``ai-talking-photo`` (photo + audio).

Inputs are uploaded (``upload-urls`` then ``PUT``), so no public URL is needed; webhooks are
configured in the Magic Hour dashboard (``PUBLIC_URL/hooks/magichour``) and signed with
``MAGICHOUR_WEBHOOK_SECRET``. Contract: providers.md section 2.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from bot.errors import ProviderUnavailable, WebhookRejected
from bot.models import Capabilities, JobStatus, MediaKind, Order, Probe, RemoteJob, VoiceKind
from bot.providers.base import Inputs, RemoteProvider, WebhookAuth
from bot.providers.http import ProviderHTTP

#: Credits are charged per frame at a 30 fps estimate ("lite" mode: one credit a frame).
ESTIMATE_FPS = 30
#: Signed webhooks older than this are refused (the official helper's tolerance).
WEBHOOK_TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "magic-hour-event-signature"
TIMESTAMP_HEADER = "magic-hour-event-timestamp"
UPLOAD_CHUNK = 256 * 1024

_STATUSES = {
    "draft": JobStatus.QUEUED,
    "queued": JobStatus.QUEUED,
    "rendering": JobStatus.RUNNING,
    "complete": JobStatus.SUCCEEDED,
    "error": JobStatus.FAILED,
    "canceled": JobStatus.CANCELED,
}


class MagicHourProvider(RemoteProvider):
    name = "magichour"
    capabilities = Capabilities(
        media=frozenset({MediaKind.PHOTO, MediaKind.VIDEO}), voice=frozenset({VoiceKind.AUDIO})
    )
    needs_public_urls = False
    webhook_auth = WebhookAuth.SIGNED

    def __init__(
        self, http: ProviderHTTP, api_url: str, api_key: str, webhook_secret: str | None
    ) -> None:
        super().__init__(http, api_url, api_key)
        self._webhook_secret = webhook_secret

    def estimate_cost(self, media_kind: MediaKind, media: Probe, seconds: float) -> float:
        return float(math.ceil(seconds * ESTIMATE_FPS))

    async def submit(
        self, order: Order, inputs: Inputs, *, name: str, webhook_url: str | None
    ) -> RemoteJob:
        face_type = "image" if order.media_kind is MediaKind.PHOTO else "video"
        face_path, voice_path = await self._upload(
            [(face_type, inputs.face), ("audio", inputs.voice)]
        )
        seconds = round(order.voice_probe.duration or 0.0, 3)
        body: dict[str, Any] = {"name": name, "start_seconds": 0, "end_seconds": seconds}
        if order.media_kind is MediaKind.PHOTO:
            path = "/v1/ai-talking-photo"
            body["resolution"] = (
                "720p"
                if min(order.media_probe.width or 0, order.media_probe.height or 0) >= 720
                else "480p"
            )
            body["assets"] = {"image_file_path": face_path, "audio_file_path": voice_path}
        else:
            path = "/v1/lip-sync"
            body["assets"] = {
                "video_source": "file",
                "video_file_path": face_path,
                "audio_file_path": voice_path,
            }
            body["style"] = {"generation_mode": "lite"}
        data = await self.http.json(self._request("POST", path, body), idempotent=False)
        if not isinstance(data, dict) or not data.get("id"):
            raise ProviderUnavailable(self.name, "create answered without a project id")
        return RemoteJob(
            provider_job_id=str(data["id"]),
            status=JobStatus.QUEUED,
            credits=_number(data.get("credits_charged")),
            name=name,
        )

    async def fetch(self, provider_job_id: str) -> RemoteJob:
        data = await self.http.json(self._request("GET", f"/v1/video-projects/{provider_job_id}"))
        return self._project(data)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        if not self._webhook_secret:
            raise WebhookRejected("MAGICHOUR_WEBHOOK_SECRET is not set")
        signature = headers.get(SIGNATURE_HEADER, "")
        stamp = headers.get(TIMESTAMP_HEADER, "")
        if not signature or not stamp.isdigit():
            raise WebhookRejected("missing signature or timestamp")
        if abs(now - int(stamp)) > WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookRejected("timestamp outside the tolerance window")
        expected = hmac.new(
            self._webhook_secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise WebhookRejected("signature does not match")

    def webhook_job(self, body: bytes) -> RemoteJob:
        try:
            event = json.loads(body)
            return self._project(event["payload"])
        except (ValueError, KeyError, TypeError, ProviderUnavailable) as exc:
            raise WebhookRejected(f"not a Magic Hour event: {exc}") from None

    async def balance(self) -> float | None:
        data = await self.http.json(self._request("GET", "/v1/account"))
        return _number(data.get("credits")) if isinstance(data, dict) else None

    async def _upload(self, items: list[tuple[str, Path]]) -> list[str]:
        """Get upload URLs for ``items`` and PUT each file; returns their ``file_path``s."""
        request = {
            "items": [
                {"type": kind, "extension": path.suffix.lstrip(".").lower()}
                for kind, path in items
            ]
        }
        data = await self.http.json(self._request("POST", "/v1/files/upload-urls", request))
        slots = data.get("items") if isinstance(data, dict) else None
        if not isinstance(slots, list) or len(slots) != len(items):
            raise ProviderUnavailable(self.name, "upload-urls answered an unexpected shape")
        paths = []
        for (_, path), slot in zip(items, slots, strict=True):
            await self.http.send(_put(str(slot["upload_url"]), path))
            paths.append(str(slot["file_path"]))
        return paths

    def _request(self, method: str, path: str, body: object | None = None) -> httpx.Request:
        return httpx.Request(
            method,
            f"{self.api_url}{path}",
            headers={"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"},
            json=body,
        )

    def _project(self, data: object) -> RemoteJob:
        if not isinstance(data, dict) or not data.get("id"):
            raise ProviderUnavailable(self.name, "project answer has no id")
        status = _STATUSES.get(str(data.get("status", "")).lower(), JobStatus.RUNNING)
        downloads = data.get("downloads") or []
        url = downloads[0].get("url") if downloads and isinstance(downloads[0], dict) else None
        if status is JobStatus.SUCCEEDED and not url:
            status = JobStatus.RUNNING
        error = data.get("error")
        reason = None
        if status is JobStatus.FAILED:
            reason = error.get("message") if isinstance(error, dict) else str(error or "")
        return RemoteJob(
            provider_job_id=str(data["id"]),
            status=status,
            output_url=url if status is JobStatus.SUCCEEDED else None,
            error=reason or None,
            credits=_number(data.get("credits_charged")),
            name=data.get("name") if isinstance(data.get("name"), str) else None,
        )


def _put(url: str, path: Path) -> Callable[[], httpx.Request]:
    """A PUT of ``path`` streamed from disk, rebuilt for each try (a stream reads once)."""

    def build() -> httpx.Request:
        return httpx.Request(
            "PUT",
            url,
            # Content-Length keeps httpx from chunking (presigned PUTs refuse chunked bodies).
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(path.stat().st_size),
            },
            content=_chunks(path),
        )

    return build


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(UPLOAD_CHUNK):
            yield chunk


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
