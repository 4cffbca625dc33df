"""The enabled providers as handlers see them: which can do an order, what it costs, and (for
admins) how each is doing. Handlers render these answers; they never hold a Provider."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import ProviderAuthError, ProviderError, ProviderOutOfCredits
from bot.health import ProviderHealth
from bot.jobs.service import JobService
from bot.models import Draft, FaceKind, VoiceKind
from bot.providers import Provider, RemoteProvider


@dataclass(frozen=True)
class ProviderReport:
    """One line of /providers."""

    name: str
    #: "ok", "auth", "credits" (see ProviderHealth), or "error" with ``reason``.
    state: str
    balance: float | None
    in_flight: int
    reason: str = ""


class Catalog:
    def __init__(
        self, providers: dict[str, Provider], health: ProviderHealth, jobs: JobService
    ) -> None:
        self._providers = providers
        self._health = health
        self._jobs = jobs

    @property
    def names(self) -> list[str]:
        """Every enabled provider, in menu order."""
        return list(self._providers)

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def preview_only(self) -> bool:
        """Whether only the free, offline preview is on (no lip movement)."""
        return all(p.capabilities.is_preview for p in self._providers.values())

    def is_preview(self, name: str) -> bool:
        return self._providers[name].capabilities.is_preview

    def able(self, draft: Draft) -> list[str]:
        """Enabled providers able to make the draft's face with its voice (and, once chosen,
        its ratio), in menu order; an avatar is made only by its own provider."""
        face, voice = draft.face_kind, draft.voice_kind
        if face is None or voice is None:
            return []
        seconds = (draft.voice.probe.duration or 0.0) if draft.voice and draft.voice.probe else 0
        return [
            name
            for name, provider in self._providers.items()
            if provider.capabilities.accepts(face, voice, seconds)
            and (draft.ratio is None or draft.ratio in provider.capabilities.ratios)
            and (draft.avatar is None or draft.avatar.provider == name)
            and name not in draft.avoid
        ]

    def takes_face(self, face: FaceKind) -> bool:
        """Whether some enabled provider makes a video from this kind of face (with any
        voice: typed text is a recording once spoken)."""
        return any(
            provider.capabilities.accepts(face, voice)
            for provider in self._providers.values()
            for voice in VoiceKind
        )

    def takes_recordings(self, draft: Draft) -> bool:
        """Whether some enabled provider makes the draft's face from a recording (for an
        avatar, only its own provider counts)."""
        face = draft.face_kind
        if face is None:
            return True
        return any(
            provider.capabilities.accepts(face, VoiceKind.AUDIO)
            and (draft.avatar is None or draft.avatar.provider == name)
            for name, provider in self._providers.items()
        )

    def reads_text(self, draft: Draft) -> bool:
        """Whether the draft's provider speaks its typed text with its own voice: an avatar's
        provider that takes text (any other face gets the built-in voice's recording)."""
        if draft.voice_text is None or draft.avatar is None or draft.provider is None:
            return False
        return self._providers[draft.provider].capabilities.native_text

    def quote(self, draft: Draft, name: str) -> float:
        """What the draft's video costs at ``name``, in that provider's credits (0: free)."""
        return self._providers[name].estimate_cost(draft.order())

    async def reports(self) -> list[ProviderReport]:
        """Each provider's health, balance (asked now, where the API tells) and open jobs;
        what the balance call learns about the key or the credits updates the health."""
        health = await self._health.snapshot()
        in_flight = await self._jobs.in_flight_by_provider()
        reports = []
        for name, provider in self._providers.items():
            record = health.get(name)
            report = ProviderReport(
                name, record.state if record is not None else "ok", None, in_flight.get(name, 0)
            )
            if isinstance(provider, RemoteProvider):
                report = await self._ask_balance(provider, report)
            reports.append(report)
        return reports

    async def _ask_balance(
        self, provider: RemoteProvider, report: ProviderReport
    ) -> ProviderReport:
        try:
            credits = await provider.balance()
        except ProviderError as exc:
            if isinstance(exc, ProviderAuthError | ProviderOutOfCredits):
                await self._health.failed(exc)
                state = "auth" if isinstance(exc, ProviderAuthError) else "credits"
                return ProviderReport(report.name, state, None, report.in_flight)
            return ProviderReport(report.name, "error", None, report.in_flight, exc.reason)
        await self._health.succeeded(report.name)
        if credits is None:
            return report
        return ProviderReport(report.name, "ok", credits, report.in_flight)
