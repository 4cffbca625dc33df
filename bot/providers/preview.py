"""``preview``: free, offline, no key. Puts the voice under the photo or video with ffmpeg.

It does not move lips; users are told so. It lets an operator try the whole flow for free.
"""

from __future__ import annotations

from pathlib import Path

from bot.media import render
from bot.models import Capabilities, FaceKind, Order
from bot.providers.base import LocalProvider, ProgressCallback, Vendor


class PreviewProvider(LocalProvider):
    name = "preview"
    capabilities = Capabilities(faces=frozenset({FaceKind.PHOTO, FaceKind.VIDEO}), is_preview=True)

    async def render(self, order: Order, out: Path, on_progress: ProgressCallback) -> None:
        await render.render_preview(order, out, on_progress=on_progress)


VENDOR = Vendor("preview", lambda settings, http: PreviewProvider())
