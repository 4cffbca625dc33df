"""Where a draft goes next once something changed under it: on to the first thing still
missing (the second avatar, a voice, a dialogue's turns, the ratio), past TURNS and PROVIDER
when there is nothing to choose, on to the summary when the choices made before still hold,
back to PROVIDER when they no longer do; a dialogue's voices that are too long together asked
for again. Pure rules on a draft and the enabled providers."""

from __future__ import annotations

from bot.catalog import Catalog
from bot.models import Draft, InputFile, Probe, Step, Turns, VoiceKind
from bot.models.draft import VOICE_FIELDS, second_speaker

#: The shortest second voice worth asking for: a first voice leaving less is asked again too.
ROOM_SECONDS = 2.0


class StepRules:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def single_choice(self, draft: Draft) -> Draft:
        """The draft past PROVIDER when exactly one provider can do this."""
        if draft.step is Step.PROVIDER:
            able = self._catalog.able(draft)
            if len(able) == 1:
                return draft.model_copy(update={"provider": able[0], "step": Step.CONFIRM})
        return draft

    def advance(self, draft: Draft) -> Draft:
        """The draft at the first step still to answer, once an input is in: a dialogue's
        second avatar, the voice, a dialogue's second voice, its turns (asked only when the
        able providers offer both ways), the ratio; with all of those held (a voice checked
        after [Shorter voice], a new photo for a dialogue's voices) on to the summary with
        the same provider, or PROVIDER if it cannot make this."""
        if draft.dialogue and draft.avatar is not None and draft.avatar2 is None:
            return draft.model_copy(update={"step": Step.MEDIA})
        if not _checked(draft.voice):
            return draft.model_copy(update={"step": Step.VOICE})
        if draft.dialogue and not _checked(draft.voice2):
            return draft.model_copy(update={"step": Step.VOICE2})
        if draft.dialogue and draft.turns is None:
            offered = self._catalog.turns_offered(draft)
            if len(offered) > 1:
                return draft.model_copy(update={"step": Step.TURNS})
            # One way or none (no provider able: PROVIDER says so, after the ratio).
            turns = offered[0] if offered else Turns.ONE_AFTER_THE_OTHER
            draft = draft.model_copy(update={"turns": turns})
        if draft.ratio is None:
            return draft.model_copy(update={"step": Step.RATIO})
        if draft.provider is not None and draft.provider in self._catalog.able(draft):
            return draft.model_copy(update={"step": Step.CONFIRM})
        moved = draft.model_copy(update={"step": Step.PROVIDER, "provider": None})
        return self.single_choice(moved)

    def too_long(self, draft: Draft) -> Draft | None:
        """A dialogue whose voices, both checked, last longer together than any enabled
        provider making it takes, whichever way they take turns: the draft asking again
        for the second voice when the first leaves it room, else for both (as [Shorter
        voice]); None when it fits, or when no length would (PROVIDER says so). Without
        this the length would be found out only at PROVIDER, after both voices, with
        nothing left to pick but a fresh start."""
        if not draft.dialogue or not (_checked(draft.voice) and _checked(draft.voice2)):
            return None
        if self._fits(draft) or not self._fits(_silent(_silent(draft, "voice2"), "voice")):
            return None
        both = not self._fits(_silent(draft, "voice2", ROOM_SECONDS))
        cleared = second_speaker(dict.fromkeys(VOICE_FIELDS))
        if both:
            cleared |= dict.fromkeys(VOICE_FIELDS)
        return draft.model_copy(update={**cleared, "step": Step.VOICE if both else Step.VOICE2})

    def second_room(self, draft: Draft, longest: float) -> dict[Turns, int]:
        """A dialogue's draft at VOICE2: for each way of taking turns still open (the one
        chosen, else those some able provider offers), the longest second voice (whole
        seconds, at most ``longest``, the bot's limit for one voice) some enabled provider
        makes the dialogue with, one after the other counting the first voice too. Empty
        when none would make it at any length (PROVIDER says so later)."""
        rooms: dict[Turns, int] = {}
        for turns in [draft.turns] if draft.turns is not None else list(Turns):

            def fits(seconds: int, turns: Turns = turns) -> bool:
                return bool(self._catalog.able(_with_second(draft, turns, seconds)))

            if not fits(0):
                continue
            # Limits are lengths: a voice that fits fits shorter too (a bisection).
            low, high = 0, int(longest)
            while low < high:
                middle = (low + high + 1) // 2
                low, high = (middle, high) if fits(middle) else (low, middle - 1)
            rooms[turns] = low
        return rooms

    def _fits(self, draft: Draft) -> bool:
        """Whether some provider makes the dialogue this long: in its chosen turns, or any."""
        offered = self._catalog.turns_offered(draft)
        return draft.turns in offered if draft.turns is not None else bool(offered)

    def keep_choices(self, draft: Draft) -> Draft:
        """The draft with its choices still valid for a new face: a provider that cannot take
        it is dropped, and at CONFIRM that means picking again (or the only one able)."""
        able = self._catalog.able(draft)
        if draft.provider is None or draft.provider in able:
            return draft
        if draft.step is not Step.CONFIRM:
            return draft.model_copy(update={"provider": None})
        if len(able) == 1:
            return draft.model_copy(update={"provider": able[0]})
        return draft.model_copy(update={"provider": None, "step": Step.PROVIDER})


def _checked(file: InputFile | None) -> bool:
    """Whether ``file`` was downloaded (or spoken) and probed."""
    return file is not None and file.path is not None and file.probe is not None


def _with_second(draft: Draft, turns: Turns, seconds: float) -> Draft:
    """``draft`` with a typed second voice ``seconds`` long (text: what every provider making
    dialogues takes), taking ``turns``, no ratio chosen yet."""
    voice2 = InputFile(file_id="", source="text", path="", probe=Probe(duration=seconds))
    update = {"voice2": voice2, "voice2_kind": VoiceKind.TEXT, "turns": turns, "ratio": None}
    return draft.model_copy(update=update)


def _silent(draft: Draft, field: str, seconds: float = 0.0) -> Draft:
    """``draft`` with its checked voice ``field`` (``voice``, ``voice2``) lasting
    ``seconds``."""
    voice = getattr(draft, field)
    probe = voice.probe.model_copy(update={"duration": seconds})
    return draft.model_copy(update={field: voice.model_copy(update={"probe": probe})})
