"""Translations (gettext catalogues compiled at startup) and locale-aware formatting with Babel."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

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


def gettext(locale: str, message: str) -> str:
    """Translate one message outside templates (flash messages, error pages)."""
    return translations(normalise_locale(locale)).gettext(message)


class Formatter:
    """Dates, numbers and money for one locale, time zone and currency."""

    def __init__(self, locale: str, timezone: str = "UTC", currency: str = "USD"):
        self.locale = normalise_locale(locale)
        self.babel_locale = Locale.parse(self.locale)
        self.tz = ZoneInfo(timezone)
        self.currency = currency

    def money(self, value: Decimal | float | int | None) -> str:
        """Amount in the installation's currency, e.g. ``$1,234.50`` / ``US$1,234.50``."""
        if value is None:
            return "—"
        return format_currency(value, self.currency, locale=self.babel_locale)

    def number(self, value: Decimal | float | int | None, digits: int = 0) -> str:
        """A grouped number with ``digits`` decimals."""
        if value is None:
            return "—"
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=fmt, locale=self.babel_locale)

    def datetime(self, value: datetime | None, fmt: str = "medium") -> str:
        """A timestamp in the installation's time zone."""
        if value is None:
            return "—"
        return _format_datetime(value, fmt, tzinfo=self.tz, locale=self.babel_locale)

    def date(self, value: date | datetime | None, fmt: str = "medium") -> str:
        """A calendar date (timestamps are first moved into the installation's time zone)."""
        if value is None:
            return "—"
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return _format_date(value, fmt, locale=self.babel_locale)
