"""Magic Hour: ``lip-sync`` (video + audio) and ``ai-talking-photo`` (photo + audio).

Inputs are uploaded (``upload-urls`` then ``PUT``), so no public URL is needed; webhooks are
configured in the Magic Hour dashboard (``PUBLIC_URL/hooks/magichour``) and signed with
``MAGICHOUR_WEBHOOK_SECRET``. Contract: providers.md section 2.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx

from bot.config import Settings
from bot.errors import ProviderRejected, ProviderUnavailable, UnsafeURL, WebhookRejected
from bot.media.outputs import PinnedURL, check_url
from bot.models import Capabilities, FaceKind, JobStatus, Order, RemoteJob
from bot.providers.base import (
    Inputs,
    RemoteProvider,
    Vendor,
    WebhookAuth,
    file_face,
    identifier,
    number,
    resolution,
    text,
)
from bot.providers.http import ProviderHTTP
from bot.untrusted import ascii_int, same_secret

#: Credits are charged per frame at a 30 fps estimate ("lite" mode: one credit a frame).
ESTIMATE_FPS = 30
#: Signed webhooks older than this are refused (the official helper's tolerance).
WEBHOOK_TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "magic-hour-event-signature"
TIMESTAMP_HEADER = "magic-hour-event-timestamp"
UPLOAD_CHUNK = 256 * 1024


class MagicHourProvider(RemoteProvider):
    name = "magichour"
    capabilities = Capabilities(faces=frozenset({FaceKind.PHOTO, FaceKind.VIDEO}))
    needs_public_urls = False
    webhook_auth = WebhookAuth.SIGNED
    statuses: ClassVar[Mapping[str, JobStatus]] = {
        "draft": JobStatus.QUEUED,
        "queued": JobStatus.QUEUED,
        "rendering": JobStatus.RUNNING,
        "complete": JobStatus.SUCCEEDED,
        "error": JobStatus.FAILED,
        "canceled": JobStatus.CANCELED,
    }

    def __init__(
        self,
        http: ProviderHTTP,
        api_url: str,
        api_key: str,
        webhook_secret: str | None,
        *,
        allow_private_urls: bool = False,
    ) -> None:
        super().__init__(http, api_url, api_key)
        self._webhook_secret = webhook_secret
        self._allow_private_urls = allow_private_urls

    def estimate_cost(self, order: Order) -> float:
        return float(math.ceil(order.seconds * ESTIMATE_FPS))

    async def submit(
        self, order: Order, inputs: Inputs, *, name: str, webhook_url: str | None
    ) -> RemoteJob:
        face = file_face(self.name, order)
        face_type = "image" if face.kind is FaceKind.PHOTO else "video"
        assert inputs.face is not None  # a file face is always prepared
        face_path, voice_path = await self._upload(
            [(face_type, inputs.face), ("audio", inputs.voice)]
        )
        seconds = round(order.seconds, 3)
        body: dict[str, Any] = {"name": name, "start_seconds": 0, "end_seconds": seconds}
        if face.kind is FaceKind.PHOTO:
            path = "/v1/ai-talking-photo"
            body["resolution"] = resolution(face.probe)
            body["assets"] = {"image_file_path": face_path, "audio_file_path": voice_path}
        else:
            path = "/v1/lip-sync"
            body["assets"] = {
                "video_source": "file",
                "video_file_path": face_path,
                "audio_file_path": voice_path,
            }
            body["style"] = {"generation_mode": "lite"}
        data = await self.call("POST", path, body, idempotent=False)
        project_id = identifier(data.get("id")) if isinstance(data, dict) else None
        if project_id is None:
            # Accepted (2xx) but unreadable: the project may exist and be paid for.
            raise ProviderUnavailable(
                self.name, "create answered without a project id", maybe_done=True
            )
        return RemoteJob(
            provider_job_id=project_id,
            status=JobStatus.QUEUED,
            credits=number(data.get("credits_charged")),
            name=name,
        )

    async def fetch(self, provider_job_id: str) -> RemoteJob:
        path = self.job_path("/v1/video-projects/", provider_job_id)
        return self._project(await self.call("GET", path))

    @property
    def posts_webhooks(self) -> bool:
        return bool(self._webhook_secret)  # unsigned webhooks are refused

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        if not self._webhook_secret:
            raise WebhookRejected("MAGICHOUR_WEBHOOK_SECRET is not set")
        signature = headers.get(SIGNATURE_HEADER, "")
        stamp = headers.get(TIMESTAMP_HEADER, "")
        seconds = ascii_int(stamp)
        if not signature or seconds is None:
            raise WebhookRejected("missing signature or timestamp")
        if abs(now - seconds) > WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookRejected("timestamp outside the tolerance window")
        expected = hmac.new(
            self._webhook_secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if not same_secret(signature, expected):
            raise WebhookRejected("signature does not match")

    def parse_webhook(self, data: dict[str, Any]) -> RemoteJob:
        return self._project(data.get("payload"))

    async def balance(self) -> float | None:
        data = await self.call("GET", "/v1/account")
        return number(data.get("credits")) if isinstance(data, dict) else None

    async def _upload(self, items: list[tuple[str, Path]]) -> list[str]:
        """Get upload URLs for ``items`` and PUT each file; returns their ``file_path``s."""
        request = {
            "items": [
                {"type": kind, "extension": path.suffix.lstrip(".").lower()}
                for kind, path in items
            ]
        }
        data = await self.call("POST", "/v1/files/upload-urls", request)
        slots = data.get("items") if isinstance(data, dict) else None
        if not isinstance(slots, list) or len(slots) != len(items):
            raise ProviderUnavailable(self.name, "upload-urls answered an unexpected shape")
        targets = [_upload_slot(slot) for slot in slots]
        if None in targets:
            raise ProviderUnavailable(self.name, "upload-urls answered an unexpected shape")
        paths = []
        for (_, path), target in zip(items, targets, strict=True):
            assert target is not None
            url, file_path = target
            # The URL comes from an API answer: never let it aim the PUT at our own network,
            # and PUT to the very address that was checked (no second DNS lookup).
            try:
                pinned = await check_url(url, allow_private=self._allow_private_urls)
            except UnsafeURL as exc:
                raise ProviderRejected(self.name, f"refused its upload address: {exc}") from None
            await self.http.send(_put(pinned, path))
            paths.append(file_path)
        return paths

    def _project(self, data: object) -> RemoteJob:
        project_id = identifier(data.get("id")) if isinstance(data, dict) else None
        if not isinstance(data, dict) or project_id is None:
            raise ProviderUnavailable(self.name, "project answer has no id")
        status = self.status_of(data.get("status"))
        downloads = data.get("downloads")
        first = downloads[0] if isinstance(downloads, list) and downloads else None
        url = text(first.get("url")) if isinstance(first, dict) else None
        if status is JobStatus.SUCCEEDED and not url:
            status = JobStatus.RUNNING  # "complete" without a video is not done for us
        reason = None
        if status is JobStatus.FAILED:
            error = data.get("error")
            reason = text(error.get("message")) if isinstance(error, dict) else text(error)
        return RemoteJob(
            provider_job_id=project_id,
            status=status,
            output_url=url if status is JobStatus.SUCCEEDED else None,
            error=reason,
            credits=number(data.get("credits_charged")),
            name=text(data.get("name")),
        )


def _upload_slot(slot: object) -> tuple[str, str] | None:
    """(upload_url, file_path) of one upload-urls item, or None when it lacks either."""
    if not isinstance(slot, dict):
        return None
    url, file_path = text(slot.get("upload_url")), text(slot.get("file_path"))
    return (url, file_path) if url and file_path else None


def _put(target: PinnedURL, path: Path) -> Callable[[], httpx.Request]:
    """A PUT of ``path`` streamed from disk, rebuilt for each try (a stream reads once)."""

    def build() -> httpx.Request:
        return target.request(
            "PUT",
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


def from_settings(settings: Settings, http: ProviderHTTP) -> MagicHourProvider:
    assert settings.magichour_api_key is not None  # Vendor.missing checked it
    secret = settings.magichour_webhook_secret
    return MagicHourProvider(
        http,
        settings.magichour_api_url,
        settings.magichour_api_key.get_secret_value(),
        secret.get_secret_value() if secret else None,
        allow_private_urls=settings.allow_private_urls,
    )


def notes(settings: Settings) -> list[str]:
    if not settings.public_url:
        return [
            "Magic Hour without PUBLIC_URL: results are polled, and a video whose create "
            "answer is lost (a timeout or a restart mid-submit) cannot be found again, since "
            "Magic Hour cannot list jobs. Set PUBLIC_URL and a Magic Hour webhook to recover "
            "those."
        ]
    if settings.magichour_webhook_secret is None:
        return [
            "MAGICHOUR_WEBHOOK_SECRET is empty, so Magic Hour webhooks are refused: results "
            "are only polled, and a video whose create answer is lost cannot be found again."
        ]
    return []


VENDOR = Vendor("magichour", from_settings, required=("magichour_api_key",), notes=notes)
