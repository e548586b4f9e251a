"""Query-string filters shared by the list pages: dates, money bounds, export links.

Bad values raise ``InvalidInput`` naming the field (422), never a 500.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request

from retento.core.errors import FieldError, InvalidInput
from retento.core.money import to_money
from retento.core.validation import MAX_DAY, MIN_DAY
from retento.web.render import tr


def raw_params(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The named query parameters, stripped ("" when absent)."""
    qp = request.query_params
    return {k: qp.get(k, "").strip()[:200] for k in names}


def day_bounds(
    request: Request, since: str, until: str, problems: list[FieldError]
) -> dict[str, datetime]:
    """``since``/``until`` (``YYYY-MM-DD``, both days included) as instants in the installation's
    time zone: ``{"since": start of since, "until": start of the day after until}``."""
    tz = ZoneInfo(request.app.state.settings.timezone)
    out: dict[str, datetime] = {}
    days: dict[str, date] = {}
    for field, text in (("since", since), ("until", until)):
        if not text:
            continue
        try:
            day = date.fromisoformat(text)
        except ValueError:
            problems.append(FieldError(field, tr(request, "Enter a date as YYYY-MM-DD.")))
            continue
        if not MIN_DAY <= day <= MAX_DAY:
            # "until 9999-12-31" overflowed on the day after it (a 500).
            message = tr(request, "Enter a date between %(first)s and %(last)s.",
                         first=MIN_DAY.isoformat(), last=MAX_DAY.isoformat())  # fmt: skip
            problems.append(FieldError(field, message))
            continue
        days[field] = day
    if "since" in days:
        out["since"] = datetime.combine(days["since"], time.min, tzinfo=tz)
    if "until" in days:
        out["until"] = datetime.combine(days["until"] + timedelta(days=1), time.min, tzinfo=tz)
    if "since" in days and "until" in days and days["until"] < days["since"]:
        problems.append(FieldError("until", tr(request, "The end date is before the start date.")))
    return out


def amount(request: Request, text: str, field: str, problems: list[FieldError]) -> Decimal | None:
    """A money bound (at most two decimals), or ``None`` when blank."""
    if not text:
        return None
    try:
        return to_money(text)
    except ValueError:
        problems.append(
            FieldError(field, tr(request, "Enter an amount with at most two decimal places."))
        )
        return None


def refuse(problems: list[FieldError]) -> None:
    """Raise the first problem (422 naming its field) with all of them attached."""
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)


def with_query(request: Request, path: str) -> str:
    """``path`` carrying the current query string (minus the page offset)."""
    query = "&".join(f"{k}={v}" for k, v in _pairs(request) if k != "offset")
    return path + ("?" + query if query else "")


def _pairs(request: Request) -> list[tuple[str, Any]]:
    from urllib.parse import quote

    return [(quote(k, safe=""), quote(v, safe="")) for k, v in request.query_params.multi_items()]
