"""Translations (gettext catalogues compiled at startup) and locale-aware formatting with Babel."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.dates import format_skeleton as _format_skeleton
from babel.dates import format_timedelta as _format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
)
from babel.support import Translations
from babel.units import format_unit as _format_unit

from retento.core.errors import Msg, Named, Term, Terms

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LOCALES = ("en", "zh_CN")
LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}
DEFAULT_LOCALE = "en"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (translated when rendered)."""
    return message


def compile_catalog(po_path: Path) -> bytes:
    """The .mo bytes for one .po file (no build step: done in memory at startup)."""
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=po_path.parent.parent.name)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogue of ``locale`` (English falls back to the msgids)."""
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    po = folder / "messages.po"
    if locale not in LOCALES or not po.exists():
        return Translations()
    merged = Translations(fp=io.BytesIO(compile_catalog(po)), domain="messages")
    # Each capability may ship its own catalogue next to messages.po (complaints.po, ...).
    for extra in sorted(folder.glob("*.po")):
        if extra.name != "messages.po":
            merged.merge(Translations(fp=io.BytesIO(compile_catalog(extra)), domain="messages"))
    return merged


def normalise_locale(value: str | None) -> str:
    """Map ``zh``, ``zh-CN``, ``zh_Hans`` … to a supported locale; unknown values to English."""
    if not value:
        return DEFAULT_LOCALE
    v = value.replace("-", "_").strip()
    if v in LOCALES:
        return v
    if v.lower().startswith("zh"):
        return "zh_CN"
    return DEFAULT_LOCALE


def accept_language(header: str | None) -> str | None:
    """The language an ``Accept-Language`` header asks for among ours: ``zh_CN`` for a Chinese
    tag (``zh``, ``zh-CN``, ``zh-Hans``, ``zh_TW`` …) and ``en`` for an English one, whichever
    its ``q`` weight prefers (the earlier of two equal ones; ``q=0`` is "not this one"). None
    when it names neither: no header, ``*``, other languages, malformed text."""
    best, best_q = None, 0.0
    for part in (header or "")[:2000].split(",")[:50]:
        tag, _, params = part.partition(";")
        tag = tag.strip().lower().replace("_", "-")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not (math.isfinite(q) and 0.0 <= q <= 1.0):
                    q = 0.0
        if tag == "zh" or tag.startswith("zh-"):
            locale = "zh_CN"
        elif tag == "en" or tag.startswith("en-"):
            locale = DEFAULT_LOCALE
        else:
            continue
        if q > best_q:
            best, best_q = locale, q
    return best


def gettext(locale: str, message: str) -> str:
    """Translate one message outside templates (flash messages, error pages)."""
    return translations(normalise_locale(locale)).gettext(message)


def translate(locale: str, message: str, /, **params: object) -> str:
    """``message`` translated into ``locale`` with its ``%(name)s`` parameters filled in.

    Positional-only, so a parameter may be called ``message`` or ``locale``: a validation
    error's ``Msg("%(field)s: %(message)s", ...)`` is translated through here."""
    text = gettext(locale, message)
    return text % params if params else text


def message_text(locale: str, message: str) -> str:
    """A service's (English) error message in ``locale``: a ``core.errors.Msg`` by its template
    with its values put back (``Msg``, ``Term``, ``Terms`` and ``Named`` values in ``locale``
    too), a ``Term`` by its label, a fixed message by the catalogues (``service_errors.po``); English when no catalogue
    has it. The web (``render.error_text``) and the command line (``core.cli_support``) both
    show errors through here."""
    if isinstance(message, Term):
        return translate(locale, message.label)
    if isinstance(message, Terms):
        return join_list(locale, [translate(locale, t.label) for t in message.terms])
    if isinstance(message, Named):
        return message.names.get(normalise_locale(locale)) or str(message)
    if isinstance(message, Msg):
        params = {
            k: message_text(locale, v) if isinstance(v, (Msg, Term, Terms, Named)) else v
            for k, v in message.params.items()
        }
        return translate(locale, message.template, **params)
    return translate(locale, message)


@cache
def _list_middle(locale: str) -> str:
    return str(Locale.parse(locale).list_patterns["standard"]["middle"])


def join_list(locale: str, items: list[str]) -> str:
    """``items`` as one list in ``locale``'s way, without a conjunction: "a, b, c" / "a、b、c"
    (the CLDR list pattern's middle part)."""
    if not items:
        return ""
    middle = _list_middle(normalise_locale(locale))
    text = items[0]
    for item in items[1:]:
        text = middle.format(text, item)
    return text


def standalone(locale: str, text: str) -> str:
    """``text``, a phrase written to follow other words ("no purchase for 5 months; usually buys
    every 6 weeks", as a churn reason reads after "Churn risk 84 %: "), shown on its own (a list
    item): its first letter a capital in English; Chinese has no capitals and stays as it is."""
    if not text or normalise_locale(locale) != "en":
        return text
    return text[0].upper() + text[1:]


Shapes = tuple[tuple[re.Pattern[str], str], ...]


def message_shapes(pairs: Iterable[tuple[str, str]]) -> Shapes:
    """(regular expression with named groups, message id) pairs for :func:`translate_shaped`;
    the message id's ``%(name)s`` placeholders are the expression's group names."""
    return tuple((re.compile(p, re.S), m) for p, m in pairs)


def translate_shaped(
    shapes: Shapes,
    text: str,
    gettext: Callable[[str], str],
    *,
    nested: Iterable[str] = (),
    unmatched: Callable[[str], str] | None = None,
) -> str:
    """An English sentence the system wrote with values inside (an import's row error, a ledger
    reason), in the language of ``gettext`` when it has one of ``shapes`` (rebuilt from the
    translated message id with the same values); anything else unchanged, or
    ``unmatched(text)``. The groups named in ``nested`` hold sentences themselves (a usage
    error's reason): they are translated the same way before they are put in."""
    inner = tuple(nested)
    for pattern, msgid in shapes:
        m = pattern.match(text)
        if m:
            values = {
                k: translate_shaped(shapes, v, gettext, nested=inner, unmatched=unmatched)
                if k in inner
                else v
                for k, v in m.groupdict().items()
            }
            return gettext(msgid) % values
    return text if unmatched is None else unmatched(text)


def installation_locale() -> str:
    """The installation's language (``RETENTO_DEFAULT_LOCALE``)."""
    from retento.core.config import get_settings

    return normalise_locale(get_settings().default_locale)


def system_text(message: str, /, **params: object) -> str:
    """Text the system writes into a record no one typed (a touchpoint's note, a workflow note,
    a ledger reason): stored once, so written in the installation's language."""
    return translate(installation_locale(), message, **params)


# Money and numbers, the fast way: Babel spends ~30 µs on each amount (the 360 page shows ~60).
# Where a locale writes numbers like Python's ``format`` does (group ",", decimal ".", minus
# "-") and its currency pattern is "¤#,##0.00", an exact Decimal or int is formatted with
# ``format(abs(value), ",.2f")`` behind the locale's currency symbol: the same rounding (the
# decimal context's, half-even) and the same sign rule as Babel (the sign of the value, so
# -0.001 is "-$0.00"). Anything else (floats, other patterns, huge values) goes to Babel, and a
# locale/currency pair is only taken the fast way after it gave Babel's text for PROBES.
PROBES = tuple(
    Decimal(v)
    for v in (
        "0", "-0", "0.00", "-0.00", "1", "-1", "0.005", "0.015", "0.025", "-0.001", "12.5",
        "999.995", "1234.5", "-1234.567", "1000000", "-987654321.99", "123456789012.345",
        "0.1234567890123456789012345678",
    )
)  # fmt: skip
MAX_DIGITS = 28  # Babel normalises in the default decimal context (28 digits) before rounding


def _exact(value: object) -> Decimal | None:
    """``value`` as a Decimal the fast path formats exactly like Babel, else None."""
    if type(value) is int:
        value = Decimal(value)
    elif type(value) is not Decimal:
        return None
    if not value.is_finite() or value.adjusted() >= 15:
        return None
    if len(value.as_tuple().digits) > MAX_DIGITS:
        return None
    return value


@cache
def _plain_numbers(locale: str) -> bool:
    """True when ``locale`` groups with ",", has "." for decimals and "-" for minus."""
    loc = Locale.parse(locale)
    return (get_group_symbol(loc), get_decimal_symbol(loc), get_minus_sign_symbol(loc)) == (
        ",",
        ".",
        "-",
    )


@cache
def _money_affixes(locale: str, currency: str) -> tuple[str, str] | None:
    """(positive, negative) prefix of amounts in ``currency`` for the fast path, or None."""
    loc = Locale.parse(locale)
    if not _plain_numbers(locale) or get_currency_precision(currency) != 2:
        return None
    if loc.currency_formats["standard"].pattern != "¤#,##0.00":
        return None
    symbol = get_currency_symbol(currency, loc)
    affixes = (symbol, "-" + symbol)
    for v in PROBES:
        if affixes[v.is_signed()] + format(abs(v), ",.2f") != format_currency(
            v, currency, locale=loc
        ):
            return None
    return affixes


@cache
def _fast_numbers(locale: str) -> bool:
    """True when grouped numbers of ``locale`` may be formatted the fast way."""
    if not _plain_numbers(locale):
        return False
    loc = Locale.parse(locale)
    for digits in range(7):
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        for v in PROBES:
            mine = ("-" if v.is_signed() else "") + format(abs(v), f",.{digits}f")
            if mine != format_decimal(v, format=fmt, locale=loc):
                return False
    return True


@cache
def _datetime_pattern(locale: str, time_length: str) -> str:
    """The CLDR pattern of a timestamp in ``locale``: the medium date (as dates are written on
    their own) and the time in ``time_length``, joined as the locale joins them."""
    loc = Locale.parse(locale)
    glue = str(loc.datetime_formats["medium"])
    date_pattern = loc.date_formats["medium"].pattern
    time_pattern = loc.time_formats[time_length].pattern
    return glue.replace("{1}", date_pattern).replace("{0}", time_pattern)


class Formatter:
    """Dates, numbers and money for one locale, time zone and currency."""

    def __init__(self, locale: str, timezone: str = "UTC", currency: str = "USD"):
        self.locale = normalise_locale(locale)
        self.babel_locale = Locale.parse(self.locale)
        self.tz = ZoneInfo(timezone)
        self.currency = currency
        self._money = _money_affixes(self.locale, currency)
        self._numbers = _fast_numbers(self.locale)

    def money(self, value: Decimal | float | int | None, currency: str | None = None) -> str:
        """Amount in the installation's currency (or ``currency``, an ISO code), e.g.
        ``$1,234.50`` / ``US$1,234.50``."""
        if value is None:
            return "—"
        currency = currency or self.currency
        affixes = (
            self._money if currency == self.currency else _money_affixes(self.locale, currency)
        )
        if affixes is not None:
            exact = _exact(value)
            if exact is not None:
                return affixes[exact.is_signed()] + format(abs(exact), ",.2f")
        return format_currency(value, currency, locale=self.babel_locale)

    def number(self, value: Decimal | float | int | None, digits: int = 0) -> str:
        """A grouped number with ``digits`` decimals."""
        if value is None:
            return "—"
        if self._numbers and 0 <= digits <= 6:
            exact = _exact(value)
            if exact is not None:
                return ("-" if exact.is_signed() else "") + format(abs(exact), f",.{digits}f")
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=fmt, locale=self.babel_locale)

    def decimal(self, value: Decimal | float | int | None, max_digits: int = 6) -> str:
        """A grouped number with the decimals that carry information and no trailing zeros, at
        most ``max_digits`` of them: a rate stored as ``1.0000`` is "1", a point value
        ``0.010000`` "0.01", a threshold ``100.0`` "100", ``1.25`` stays "1.25". Floats are
        read by their shortest text (``0.1`` is "0.1", not 0.1000000000000000055…)."""
        if value is None:
            return "—"
        exact = value if isinstance(value, Decimal) else Decimal(str(value))
        if not exact.is_finite():
            return self.number(value)
        shown = exact.quantize(Decimal(1).scaleb(-max_digits)) if exact.adjusted() < 15 else exact
        shown = shown.copy_abs() if shown.is_zero() else shown  # -0.0000001 is "0", not "-0"
        exponent = shown.normalize().as_tuple().exponent
        digits = min(max(0, -exponent), max_digits) if isinstance(exponent, int) else 0
        return self.number(shown, digits)

    def datetime(self, value: datetime | None, fmt: str = "short") -> str:
        """A timestamp in the installation's time zone, its day written as :meth:`date` writes
        one ("Jun 30, 2025, 2:05 PM" / "2025年6月30日 14:05"), so a page never shows a day in two
        ways; ``fmt`` is the time's length ("short": to the minute, "medium": to the second),
        "long" and "full" are Babel's own."""
        if value is None:
            return "—"
        pattern = _datetime_pattern(self.locale, fmt) if fmt in ("short", "medium") else fmt
        return _format_datetime(value, pattern, tzinfo=self.tz, locale=self.babel_locale)

    def duration(self, value: timedelta | None = None, *, minutes: int | None = None) -> str:
        """A length of time (or of ``minutes``) in its largest unit, rounded ("6 days", "3 hours"
        / "6天", "3小时")."""
        if minutes is not None:
            value = timedelta(minutes=minutes)
        if value is None:
            return "—"
        return _format_timedelta(value, threshold=1.0, locale=self.babel_locale)

    def business_duration(self, minutes: int) -> str:
        """A length of *business* time: minutes under an hour, else hours to one decimal ("43
        hours", "4.5 hours" / "43小时"), never days, whose length depends on the calendar (a
        24-hour day would turn 43 office hours into "2 days")."""
        if minutes < 60:
            return _format_unit(minutes, "duration-minute", length="long", locale=self.babel_locale)
        hours = Decimal(minutes) / 60
        return _format_unit(
            hours.quantize(Decimal("0.1")).normalize(),
            "duration-hour",
            length="long",
            format="#,##0.#",
            locale=self.babel_locale,
        )

    def period(self, value: date | str | None, freq: str) -> str:
        """A forecast period by its first day: a month as the month ("Jan 2024", "2024年1月"),
        a week or a day as its date (``freq``: ``M``, ``W`` or ``D``)."""
        if freq == "M" and value not in (None, ""):
            day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
            return _format_skeleton("yMMM", day, locale=self.babel_locale)
        return self.date(value)

    def date(self, value: date | datetime | str | None, fmt: str = "medium") -> str:
        """A calendar date (timestamps are first moved into the installation's time zone); a
        day stored as ISO text in a saved result ("2026-12-07") is read as that day."""
        if value is None or value == "":
            return "—"
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return _format_date(value, fmt, locale=self.babel_locale)
