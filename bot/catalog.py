"""The enabled providers as handlers see them: which can do an order, what it costs, and (for
admins) how each is doing. Handlers render these answers; they never hold a Provider."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.errors import ProviderAuthError, ProviderError, ProviderOutOfCredits
from bot.health import ProviderHealth
from bot.jobs.service import JobService
from bot.models import Draft, FaceKind, Turns, VoiceKind
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
    #: What the balance counts: ``credits`` or ``usd`` (Provider.credit_unit).
    unit: str = "credits"


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
        """Enabled providers able to make the draft's face with its voice (a dialogue's with
        both voices and, once chosen, its turns) and, once chosen, its ratio, in menu order;
        an avatar is made only by its own provider."""
        face, voices = draft.face_kind, draft.voice_kinds
        if face is None or voices is None:
            return []
        seconds = draft.seconds
        return [
            name
            for name, provider in self._providers.items()
            if (
                provider.capabilities.accepts_dialogue(face, voices, draft.turns, seconds)
                if draft.dialogue
                else provider.capabilities.accepts(face, voices[0], seconds)
            )
            and (draft.ratio is None or draft.ratio in provider.capabilities.ratios)
            and _owns_avatars(name, draft)
            and name not in draft.avoid
        ]

    def turns_offered(self, draft: Draft) -> list[Turns]:
        """The ways a dialogue's speakers may take turns that some provider able to make the
        draft offers (TURNS is asked only when there are two)."""
        return [
            turns
            for turns in Turns
            if self.able(draft.model_copy(update={"turns": turns, "ratio": None}))
        ]

    def dialogue_faces(self) -> frozenset[FaceKind]:
        """The faces some enabled provider makes dialogues of ([Dialogue] when any)."""
        faces: frozenset[FaceKind] = frozenset()
        for provider in self._providers.values():
            faces |= provider.capabilities.dialogue_faces
        return faces

    def makes_dialogue(self, face: FaceKind, name: str | None = None) -> bool:
        """Whether provider ``name`` (None: any enabled one) makes dialogues of this face."""
        return any(
            face in provider.capabilities.dialogue_faces
            for each, provider in self._providers.items()
            if name is None or each == name
        )

    def takes_face(self, face: FaceKind) -> bool:
        """Whether some enabled provider makes a video from this kind of face (with any
        voice: typed text is a recording once spoken)."""
        return any(
            provider.capabilities.accepts(face, voice)
            for provider in self._providers.values()
            for voice in VoiceKind
        )

    def takes_recordings(self, draft: Draft) -> bool:
        """Whether some enabled provider makes the draft's face (a dialogue's) from a
        recording (for an avatar, only its own provider counts)."""
        face = draft.face_kind
        if face is None:
            return True
        audio = [VoiceKind.AUDIO]
        return any(
            (
                provider.capabilities.accepts_dialogue(face, audio)
                if draft.dialogue
                else provider.capabilities.accepts(face, VoiceKind.AUDIO)
            )
            and _owns_avatars(name, draft)
            for name, provider in self._providers.items()
        )

    def reads_text(self, draft: Draft) -> bool:
        """Whether the draft's provider speaks its typed text with its own voice: an avatar's
        provider that takes text (any other face gets the built-in voice's recording)."""
        typed = draft.voice_text is not None or (draft.dialogue and draft.voice2_text is not None)
        if not typed or draft.avatar is None or draft.provider is None:
            return False
        return self._providers[draft.provider].capabilities.native_text

    def quote(self, draft: Draft, name: str) -> float:
        """What the draft's video costs at ``name``, in that provider's credits (0: free)."""
        return self._providers[name].estimate_cost(draft.order())

    def credit_unit(self, name: str) -> str:
        """What ``name``'s credits are: ``credits`` (its own) or ``usd`` (US dollars)."""
        return self._providers[name].credit_unit

    async def reports(self) -> list[ProviderReport]:
        """Each provider's health, balance (asked now, where the API tells) and open jobs;
        what the balance call learns about the key or the credits updates the health."""
        health = await self._health.snapshot()
        in_flight = await self._jobs.in_flight_by_provider()
        reports = []
        for name, provider in self._providers.items():
            record = health.get(name)
            report = ProviderReport(
                name,
                record.state if record is not None else "ok",
                None,
                in_flight.get(name, 0),
                unit=provider.credit_unit,
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
                return replace(report, state=state)
            return replace(report, state="error", reason=exc.reason)
        await self._health.succeeded(report.name)
        if credits is None:
            return report
        return replace(report, state="ok", balance=credits)


def _owns_avatars(name: str, draft: Draft) -> bool:
    """Whether the draft's avatars, if any, are provider ``name``'s (an avatar is made only
    by its own provider)."""
    return all(
        avatar is None or avatar.provider == name for avatar in (draft.avatar, draft.avatar2)
    )
