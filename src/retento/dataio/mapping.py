"""Column mapping (source column → Retento field) and the value conversions it configures.

A mapping comes from repeatable ``--map source=field`` flags and/or a small YAML or JSON file::

    columns:            # source column: Retento field ("-" or null drops a column)
      Kundennummer: external_id
      Name: name
    date_format: "%d.%m.%Y"          # for date columns (default ISO 8601)
    datetime_format: "%d.%m.%Y %H:%M" # for timestamps (default ISO 8601)
    timezone: Europe/Berlin          # for naive timestamps (default: the installation's,
                                     # RETENTO_TIMEZONE)
    encoding: gb18030                # default: UTF-8, with or without BOM
    delimiter: ";"                   # default: guessed from the header line
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from retento.core.errors import FieldError, InvalidInput, Msg
from retento.core.money import MAX_MONEY, number_text

MAX_CENTS = int(MAX_MONEY * 100)


def installation_timezone() -> str:
    """The installation's time zone (``RETENTO_TIMEZONE``): times without a zone are read in it
    unless a mapping names another, the same in the CLI, the API and the web wizard."""
    from retento.core.config import get_settings

    return get_settings().timezone or "UTC"


TRUE = {"true", "t", "yes", "y", "1", "on", "是"}
FALSE = {"false", "f", "no", "n", "0", "off", "否", ""}


@dataclass
class Mapping:
    """How a file's columns and values are read."""

    columns: dict[str, str | None] = field(default_factory=dict)
    date_format: str | None = None
    datetime_format: str | None = None
    timezone: str = field(default_factory=installation_timezone)
    encoding: str | None = None
    delimiter: str | None = None

    def target(self, source: str) -> str | None:
        """The field a source column feeds (the column's own name when it is not mapped)."""
        if source in self.columns:
            return self.columns[source]
        # Unmapped headers match field names loosely: "Unit Price" feeds unit_price.
        return source.strip().lower().replace(" ", "_").replace("-", "_")

    def tz(self) -> tzinfo:
        if self.timezone.upper() == "UTC":
            return UTC
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(
                Msg(
                    "Unknown time zone '%(name)s' (use an IANA name like Asia/Shanghai).",
                    name=self.timezone,
                ),
                field="timezone",
            ) from exc


KEYS = {"columns", "date_format", "datetime_format", "timezone", "encoding", "delimiter"}


def mapping_from_dict(data: Any, timezone: str | None = None) -> Mapping:
    """Validate a parsed mapping document; without a ``timezone`` key, times without a zone are
    read in ``timezone`` (default: the installation's)."""
    if not isinstance(data, dict):
        raise InvalidInput("The mapping must be an object with a 'columns' section.", "mapping")
    unknown = set(data) - KEYS
    if unknown:
        raise InvalidInput(
            Msg(
                "Unknown mapping key(s): %(keys)s. Allowed: %(allowed)s.",
                keys=", ".join(sorted(unknown)),
                allowed=", ".join(sorted(KEYS)),
            ),
            "mapping",
        )
    cols = data.get("columns") or {}
    if not isinstance(cols, dict) or not all(isinstance(k, str) for k in cols):
        raise InvalidInput("'columns' must map source column names to field names.", "mapping")
    columns: dict[str, str | None] = {}
    for src, dst in cols.items():
        if dst in (None, "", "-"):
            columns[src] = None
        elif isinstance(dst, str):
            columns[src] = dst.strip()
        else:
            raise InvalidInput(
                Msg("Column '%(column)s' must map to a field name.", column=src), "mapping"
            )
    m = Mapping(columns=columns, timezone=timezone or installation_timezone())
    for key in ("date_format", "datetime_format", "timezone", "encoding", "delimiter"):
        if data.get(key) is not None:
            if not isinstance(data[key], str):
                raise InvalidInput(Msg("'%(key)s' must be a string.", key=key), "mapping")
            setattr(m, key, data[key])
    if m.delimiter is not None and len(m.delimiter) != 1:
        raise InvalidInput("'delimiter' must be one character.", "mapping")
    m.tz()
    return m


def load_mapping_text(text: str, name: str = "mapping") -> Mapping:
    """Parse a JSON or YAML mapping document."""
    import yaml

    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(
            Msg("The mapping %(name)s is not valid JSON or YAML: %(error)s", name=name, error=exc),
            "mapping",
        ) from exc
    return mapping_from_dict(data or {})


def load_mapping_file(path: str | Path) -> Mapping:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(Msg("Mapping file %(path)s does not exist.", path=p), "mapping")
    return load_mapping_text(p.read_text(encoding="utf-8-sig"), str(p))


def apply_map_flags(mapping: Mapping, flags: list[str] | None) -> Mapping:
    """Add ``source=field`` pairs (they win over the mapping file)."""
    for flag in flags or []:
        src, sep, dst = flag.partition("=")
        if not sep or not src.strip():
            raise InvalidInput(Msg("--map expects source=field, got '%(flag)s'.", flag=flag), "map")
        dst = dst.strip()
        mapping.columns[src.strip()] = None if dst in ("", "-") else dst
    return mapping


class Converter:
    """Cell parsers honouring the mapping; repeated values are parsed once (files repeat a lot)."""

    def __init__(self, mapping: Mapping):
        self.mapping = mapping
        self.tz = mapping.tz()
        self._ts: dict[str, datetime] = {}
        self._cents: dict[str, int] = {}

    def timestamp(self, text: str) -> datetime:
        got = self._ts.get(text)
        if got is not None:
            return got
        value = text.strip()
        if not value:
            raise ValueError("is empty")
        try:
            if self.mapping.datetime_format:
                try:
                    dt = datetime.strptime(value, self.mapping.datetime_format)
                except ValueError:
                    if not self.mapping.date_format:
                        raise
                    dt = datetime.strptime(value, self.mapping.date_format)
            elif self.mapping.date_format and " " not in value and "T" not in value:
                dt = datetime.strptime(value, self.mapping.date_format)
            else:
                dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            fmt = self.mapping.datetime_format or "ISO 8601 (2025-03-01T14:30:00+08:00)"
            raise ValueError(
                Msg(
                    "'%(v)s' is not a valid timestamp (expected %(f)s)",
                    v=value[:40],
                    f=fmt,
                )
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz)
        dt = dt.astimezone(UTC)
        if len(self._ts) < 200_000:
            self._ts[text] = dt
        return dt

    def date(self, text: str) -> date:
        value = text.strip()
        try:
            if self.mapping.date_format:
                return datetime.strptime(value, self.mapping.date_format).date()
            try:
                return date.fromisoformat(value)
            except ValueError:
                return datetime.fromisoformat(value).date()
        except ValueError:
            fmt = self.mapping.date_format or "YYYY-MM-DD"
            raise ValueError(
                Msg("'%(v)s' is not a valid date (expected %(f)s)", v=value[:40], f=fmt)
            ) from None

    def cents(self, text: str) -> int:
        """Money as integer cents: at most two decimals, numeric, within Numeric(14, 2); commas
        only as thousands separators (``core.money.number_text``: "12,50" is refused)."""
        got = self._cents.get(text)
        if got is not None:
            return got
        value = number_text(text)
        if not value:
            raise ValueError("is empty")
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise ValueError(Msg("'%(v)s' is not a number", v=value[:40])) from None
        if not d.is_finite():
            raise ValueError(Msg("'%(v)s' is not a number", v=value[:40]))
        scaled = d * 100
        if scaled != scaled.to_integral_value():
            raise ValueError(Msg("'%(v)s' has more than two decimals", v=value[:40]))
        c = int(scaled)
        if abs(c) > MAX_CENTS:
            raise ValueError(Msg("'%(v)s' is too large", v=value[:40]))
        if len(self._cents) < 200_000:
            self._cents[text] = c
        return c

    @staticmethod
    def boolean(text: str) -> bool:
        v = text.strip().lower()
        if v in TRUE:
            return True
        if v in FALSE:
            return False
        raise ValueError(Msg("'%(v)s' is not a yes/no value (use true or false)", v=text[:40]))


_DEC: dict[int, Decimal] = {}


def money(cents: int) -> Decimal:
    """Integer cents → exact 2-place Decimal (cached: prices repeat)."""
    d = _DEC.get(cents)
    if d is None:
        d = Decimal(cents).scaleb(-2)
        if len(_DEC) < 100_000:
            _DEC[cents] = d
    return d


def field_error(line: int, column: str | None, message: str, value: Any = None) -> FieldError:
    return FieldError(field=column, message=message, row=line, value=value)
