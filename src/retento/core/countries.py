"""Countries: ISO 3166-1 alpha-2 codes and their names in the user's language (from Babel's CLDR
data, so no list is kept by hand).

A customer's ``country`` is stored as the two-letter code; forms show a picker of names and the
API accepts a code in either case (``"cn"`` → ``"CN"``) and refuses a code that names no country.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated

from babel import Locale
from pydantic import AfterValidator

from retento.core.errors import Msg

# CLDR also lists regions ("001" World, "150" Europe) and private-use or transitional codes;
# only two-letter codes that name a country or territory are offered.
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB", "XK"})


@cache
def codes() -> frozenset[str]:
    """Every accepted code."""
    names = Locale.parse("en").territories
    return frozenset(c for c in names if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES)


@cache
def _names(locale: str) -> dict[str, str]:
    try:
        territories = Locale.parse(locale or "en").territories
    except (ValueError, TypeError):
        territories = Locale.parse("en").territories
    english = Locale.parse("en").territories
    return {c: territories.get(c) or english[c] for c in codes()}


def country_name(code: str | None, locale: str = "en") -> str:
    """``"CN"`` → "China" / "中国"; an unknown code is returned as it is, ``None`` as ""."""
    if not code:
        return ""
    return _names(locale).get(code.upper(), code)


@cache
def country_options(locale: str = "en") -> tuple[tuple[str, str], ...]:
    """``(code, name)`` pairs sorted by name in ``locale`` (Chinese by its code points, which
    CLDR's own collation would refine; the picker filters as the user types either way)."""
    return tuple(sorted(_names(locale).items(), key=lambda kv: kv[1].casefold()))


def check_country(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if not code:
        return None
    if code not in codes():
        raise ValueError(
            Msg(
                "'%(value)s' is not a country code (two letters, ISO 3166-1, e.g. CN, US)",
                value=value,
            )
        )
    return code


Country = Annotated[str, AfterValidator(check_country)]
"""A country as its ISO 3166-1 alpha-2 code, upper-cased."""
