"""Every user-visible string lives in ``bot/locales/<locale>.toml``; this renders them."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

LOCALES_DIR = Path(__file__).with_name("locales")
DEFAULT_LOCALE = "en"


class Translator:
    """Looks up dotted keys (``prompt.media``) in the user's locale, falling back to English."""

    def __init__(self, catalogs: Mapping[str, Mapping[str, str]]) -> None:
        if DEFAULT_LOCALE not in catalogs:
            raise ValueError(f"the {DEFAULT_LOCALE} catalog is required")
        self._catalogs = catalogs

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR) -> Translator:
        """Read every ``*.toml`` catalog in ``directory`` once."""
        catalogs = {}
        for path in sorted(directory.glob("*.toml")):
            with path.open("rb") as handle:
                catalogs[path.stem] = flatten(tomllib.load(handle))
        return cls(catalogs)

    @property
    def locales(self) -> list[str]:
        return sorted(self._catalogs)

    def negotiate(self, language_code: str | None) -> str:
        """Pick the supported locale for a Telegram ``language_code`` (``pt-br`` -> ``pt_BR``)."""
        if not language_code:
            return DEFAULT_LOCALE
        wanted = language_code.replace("-", "_").lower()
        by_lower = {name.lower(): name for name in self._catalogs}
        if wanted in by_lower:
            return by_lower[wanted]
        language = wanted.split("_")[0]
        for name in self.locales:
            if name.lower().split("_")[0] == language:
                return name
        return DEFAULT_LOCALE

    def t(self, locale: str, key: str, **params: object) -> str:
        """The text for ``key`` in ``locale`` with ``{placeholders}`` filled in."""
        catalog = self._catalogs.get(locale, self._catalogs[DEFAULT_LOCALE])
        template = catalog.get(key) or self._catalogs[DEFAULT_LOCALE][key]
        return template.format(**params) if params else template

    def number(self, locale: str, value: float, places: int = 2, *, trim: bool = False) -> str:
        """``value`` to ``places`` decimals as ``locale`` writes numbers (its
        ``number.decimal_point`` and ``number.thousands_sep``): ``1,234.50`` in English,
        ``1.234,50`` in Brazilian Portuguese; ``trim`` drops trailing zeros (``12.5``,
        ``91``). Never raises: what is no number (a provider's answer) reads ``∞`` or ``?``."""
        if math.isnan(value):
            return "?"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        written = f"{value:,.{places}f}"
        if trim and "." in written:
            written = written.rstrip("0").rstrip(".")
        if not written.lstrip("-").strip("0.,"):
            written = written.lstrip("-")  # rounded to nothing: no "-0"
        point = self.t(locale, "number.decimal_point")
        group = self.t(locale, "number.thousands_sep")
        return written.translate({ord("."): point, ord(","): group})

    def provider(self, locale: str, name: str) -> str:
        """A provider's label (``provider.<name>``); its id where there is none (a provider
        removed since, as an old job's, or one an operator added)."""
        try:
            return self.t(locale, f"provider.{name}")
        except KeyError:
            return name

    def date(self, locale: str, moment: datetime) -> str:
        """The day of ``moment`` as ``locale`` writes it (``number.date``): ``2026-12-02`` in
        English, ``02/12/2026`` in Brazilian Portuguese."""
        day, month, year = moment.strftime("%d %m %Y").split()
        return self.t(locale, "number.date", day=day, month=month, year=year)

    def amount(self, locale: str, value: float, unit: str) -> str:
        """An amount of a provider's credits in their unit (``Provider.credit_unit``): US
        dollars to the cent (``US$0.15``; ``US$ 0,15`` in Portuguese), or the provider's own
        credits to the hundredth, without trailing zeros (``12.5 provider credits``)."""
        if unit == "usd":
            return self.t(locale, "price.usd", amount=self.number(locale, value, 2))
        return self.t(locale, "price.credits", amount=self.number(locale, value, 2, trim=True))


def flatten(tree: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": "x"}}`` -> ``{"a.b": "x"}``."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat
