"""Countries: ISO 3166-1 alpha-2 codes and their names in the user's language (from Babel's CLDR
data, so no list is kept by hand).

A customer's ``country`` is stored as the two-letter code; forms show a picker of names and the
API accepts a code in either case (``"cn"`` → ``"CN"``) and refuses a code that names no country.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Annotated

from babel import Locale
from pydantic import AfterValidator

from retento.core.country_pinyin import ZH_PINYIN
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


def _latin_key(name: str) -> str:
    """A name's letters without accents or case: "Åland Islands" sorts under A, not after Z."""
    letters = unicodedata.normalize("NFKD", name)
    return "".join(c for c in letters if not unicodedata.combining(c)).casefold()


def _pinyin_key(name: str) -> tuple:
    """A Chinese name's place in pinyin order (``country_pinyin``): syllable by syllable, then by
    tone; a name missing from the table goes after the others, by code point."""
    reading = ZH_PINYIN.get(name)
    if reading is None:
        return (1, (), name)
    return (0, tuple((s[:-1], int(s[-1])) for s in reading.split()), name)


@cache
def country_options(locale: str = "en") -> tuple[tuple[str, str], ...]:
    """``(code, name)`` pairs in the order a reader of ``locale`` looks for a name: Chinese
    names by pinyin, others alphabetically with accents ignored."""
    names = _names(locale)
    if (locale or "").lower().startswith("zh"):
        return tuple(sorted(names.items(), key=lambda kv: _pinyin_key(kv[1])))
    return tuple(sorted(names.items(), key=lambda kv: (_latin_key(kv[1]), kv[1])))


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
