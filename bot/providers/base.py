"""What every provider is: a name, capabilities as data, and a way to make a video.

Issue 2 ships the offline ``preview`` provider only, which renders in-process
(:class:`LocalProvider`). Remote providers (submit, then a webhook or a poll) get their
own base beside it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from bot.models import Capabilities, Order

#: Called with a fraction 0..1 as rendering advances.
ProgressCallback = Callable[[float], Awaitable[None]]


class Provider(ABC):
    """A lip-sync backend."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def estimate_cost(self, seconds: float) -> float:
        """What a video of ``seconds`` costs in this provider's own credits."""
        return 0.0


class LocalProvider(Provider):
    """A provider that renders on this machine; nothing to poll, nothing to pay."""

    @abstractmethod
    async def render(self, order: Order, out: Path, on_progress: ProgressCallback) -> None:
        """Write the finished MP4 for ``order`` to ``out``.

        Raises:
            RenderError: the render failed; the detail is for logs.
        """
