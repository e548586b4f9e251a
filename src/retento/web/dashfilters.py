"""The period and segment filters every dashboard carries (home, value, retention, loyalty).

``?period=30|90|365|custom|all`` (custom with ``from`` and ``to`` as YYYY-MM-DD, both days
included; the days are the installation's, ``RETENTO_TIMEZONE``, as every page shows them) and ``?segment=<kind>:<value>`` (e.g. ``value_class:vip``, ``stage:loyal``). The
allowed segment kinds and values are passed in by the caller (the scoring domain knows them),
so this module knows no domain. Bad values raise ``InvalidInput`` naming the field (a 422).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request

from retento.core.errors import InvalidInput, Msg, choice_error, param
from retento.core.validation import MAX_DAY, MIN_DAY
from retento.web.i18n import N_

PRESETS = ("30", "90", "365")
PERIOD_OPTIONS = (
    ("30", N_("Last 30 days")),
    ("90", N_("Last 90 days")),
    ("365", N_("Last 365 days")),
    ("all", N_("All time")),
    ("custom", N_("Custom dates")),
)
MAX_CUSTOM_DAYS = 3660


@dataclass(frozen=True)
class DashFilters:
    """A parsed period and segment; ``start``/``end`` are UTC instants (``end`` excluded); a
    custom period's days begin at midnight in ``timezone`` (the installation's)."""

    period: str
    start: datetime | None
    end: datetime | None
    date_from: str = ""
    date_to: str = ""
    segment_kind: str = ""
    segment_value: str = ""
    timezone: str = "UTC"

    @property
    def first_day(self) -> date | None:
        """The first day of the period in the installation's time zone."""
        if self.start is None:
            return None
        return self.start.astimezone(ZoneInfo(self.timezone)).date()

    @property
    def last_day(self) -> date | None:
        """The last day of the period (included) in the installation's time zone."""
        if self.end is None:
            return None
        return (self.end - timedelta(microseconds=1)).astimezone(ZoneInfo(self.timezone)).date()

    @property
    def segment(self) -> str:
        return f"{self.segment_kind}:{self.segment_value}" if self.segment_kind else ""

    @property
    def days(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return max(1, round((self.end - self.start).total_seconds() / 86400))

    def key(self) -> tuple:
        """What a cache of filtered numbers depends on (dates, not instants, so it is reused
        within a day)."""
        return (
            self.period,
            self.first_day,
            self.last_day,
            self.segment,
        )

    def query(self, **extra: str) -> str:
        """The filters as a query string (for links that keep them), plus ``extra``."""
        params: dict[str, str] = {"period": self.period}
        if self.period == "custom":
            params |= {"from": self.date_from, "to": self.date_to}
        if self.segment:
            params["segment"] = self.segment
        params |= {k: v for k, v in extra.items() if v}
        return urlencode(params)


# The filters' labels in ``_dash_filters.html``: an error names a filter as the form shows it.
FIELD_LABELS = {
    "period": N_("Period"),
    "from": N_("From"),
    "to": N_("To"),
    "segment": N_("Segment"),
}


def _day(raw: str, field: str) -> date:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            Msg("%(field)s must be a date as YYYY-MM-DD.", field=param(field, FIELD_LABELS[field])),
            field=field,
        ) from None
    if not MIN_DAY <= day <= MAX_DAY:
        # 9999-12-31 overflowed on the day after it (a 500)
        raise InvalidInput(
            Msg(
                "%(field)s must be between %(low)s and %(top)s.",
                field=param(field, FIELD_LABELS[field]),
                low=MIN_DAY.isoformat(),
                top=MAX_DAY.isoformat(),
            ),
            field=field,
        )
    return day


def parse(
    request: Request,
    segments: dict[str, tuple[str, ...]],
    *,
    default_period: str = "30",
    now: datetime | None = None,
) -> DashFilters:
    """The filters of the request's query string (``default_period`` when none is given)."""
    qp = request.query_params
    period = qp.get("period", "").strip() or default_period
    now = now or datetime.now(UTC)
    zone = _zone(request)
    tz = ZoneInfo(zone)
    start = end = None
    date_from = qp.get("from", "").strip()
    date_to = qp.get("to", "").strip()
    if period in PRESETS:
        end = now
        start = now - timedelta(days=int(period))
    elif period == "custom":
        if not date_from:
            raise InvalidInput("Enter the first day of the period.", field="from")
        if not date_to:
            raise InvalidInput("Enter the last day of the period.", field="to")
        first, last = _day(date_from, "from"), _day(date_to, "to")
        if last < first:
            raise InvalidInput("The last day comes before the first day.", field="to")
        if (last - first).days > MAX_CUSTOM_DAYS:
            raise InvalidInput("The period may span at most ten years.", field="to")
        # The installation's days, as every page shows dates (a complaint received
        # 12-07 01:30 in Shanghai belongs to 12-07, not to the UTC day 12-06).
        start = datetime.combine(first, time(), tzinfo=tz).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    elif period != "all":
        raise choice_error("period", FIELD_LABELS["period"], PERIOD_OPTIONS).refuse()
    kind = value = ""
    raw = qp.get("segment", "").strip()
    if raw:
        kind, _, value = raw.partition(":")
        if kind not in segments or value not in segments[kind]:
            kinds = sorted(segments, key=lambda k: (k != "value_class", k))
            example = next((f"{k}:{segments[k][0]}" for k in kinds if segments[k]), "")
            raise InvalidInput(
                Msg(
                    "%(field)s must be one of the segments listed on the page, as kind:value, "
                    "e.g. %(example)s.",
                    field=param("segment", FIELD_LABELS["segment"]),
                    example=example,
                ),
                field="segment",
            )
    return DashFilters(
        period=period,
        start=start,
        end=end,
        date_from=date_from if period == "custom" else "",
        date_to=date_to if period == "custom" else "",
        segment_kind=kind,
        segment_value=value,
        timezone=zone,
    )


def _zone(request: Request) -> str:
    """The installation's time zone name (``RETENTO_TIMEZONE``)."""
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "timezone", None) or "UTC"


def typed(request: Request, segments: dict[str, tuple[str, ...]]) -> DashFilters:
    """The filters as the reader typed them, selecting nothing (no period, no segment): what a
    page shows back next to the errors of a bad query string."""
    qp = request.query_params
    period = qp.get("period", "").strip()
    kind, _, value = qp.get("segment", "").strip().partition(":")
    ok = kind in segments and value in segments[kind]
    return DashFilters(
        period=period if period in {code for code, _ in PERIOD_OPTIONS} else "all",
        start=None,
        end=None,
        date_from=qp.get("from", "").strip(),
        date_to=qp.get("to", "").strip(),
        segment_kind=kind if ok else "",
        segment_value=value if ok else "",
        timezone=_zone(request),
    )


def parse_or_typed(
    request: Request, segments: dict[str, tuple[str, ...]], *, default_period: str = "30"
) -> tuple[DashFilters, InvalidInput | None]:
    """``parse`` for a page that shows itself again on a bad value: the parsed filters and
    None, or the typed filters (``typed``) and the error naming the field."""
    try:
        return parse(request, segments, default_period=default_period), None
    except InvalidInput as exc:
        return typed(request, segments), exc
