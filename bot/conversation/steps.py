"""Where a draft goes next once something changed under it: past PROVIDER when only one
provider is able, on to the summary when the choices made before still hold, back to
PROVIDER when they no longer do. Pure rules on a draft and the enabled providers."""

from __future__ import annotations

from bot.catalog import Catalog
from bot.models import Draft, Step


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

    def keep_chosen(self, draft: Draft) -> Draft:
        """A voice checked after [Shorter voice] arrives at RATIO with the shape still chosen:
        on to the summary with the same provider (or PROVIDER, if it cannot take this)."""
        if draft.step is not Step.RATIO or draft.ratio is None:
            return draft
        if draft.provider is not None and draft.provider in self._catalog.able(draft):
            return draft.model_copy(update={"step": Step.CONFIRM})
        return draft.model_copy(update={"step": Step.PROVIDER, "provider": None})

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
