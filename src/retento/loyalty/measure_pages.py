"""Web pages of loyalty measurement: the "Loyalty types" page (distribution of the six types,
loyalty index histogram, satisfaction-trap list with reasons, CSV export) and the 360 panel."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.analytics.loyalty import DIMENSIONS, LOYALTY_TYPES
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, NotFound
from retento.customers.models import Customer
from retento.loyalty import measure
from retento.web.i18n import N_
from retento.web.labels import label_msgid, register_labels
from retento.web.nav import NavItem, register_nav
from retento.web.panels import Panel, register_panel
from retento.web.render import PageUser, is_htmx, page_router, render, request_locale, tr

router = page_router()

register_nav(NavItem("loyalty_types", N_("Loyalty types"), "/loyalty/types", "score:read", 36))
register_labels(
    "loyalty_type",
    {
        "trust": N_("Trust loyalty"),
        "monopoly": N_("Monopoly loyalty"),
        "kinship": N_("Kinship loyalty"),
        "interest": N_("Interest loyalty"),
        "inertia": N_("Inertia loyalty"),
        "potential": N_("Potential loyalty"),
        "none": N_("No loyalty"),
    },
)
register_labels(
    "loyalty_dimension",
    {
        "behavioural": N_("Behavioural loyalty"),
        "intentional": N_("Intentional loyalty"),
        "emotional": N_("Emotional loyalty"),
    },
)

PAGE_SIZE = 50
TYPE_COLOURS = {
    "trust": "#22a06b",
    "monopoly": "#8250df",
    "kinship": "#bf3989",
    "interest": "#d4a72c",
    "inertia": "#1f6feb",
    "potential": "#57ab5a",
    "none": "#8c959f",
}
# What each type means, shown next to the distribution (SPEC §4, docs/analytics-loyalty.md).
EXPLAIN = {
    "trust": N_("Buys regularly and says so: satisfied, intends to come back and recommends us."),
    "monopoly": N_("Buys regularly only because there is no alternative supplier."),
    "kinship": N_("Buys regularly because of a tie: an employee, relative or related company."),
    "interest": N_("Buys regularly for the deals: discounts and loyalty points."),
    "inertia": N_(
        "Buys regularly out of habit or because leaving would cost them, without a warm attitude."
    ),
    "potential": N_("Likes us but does not buy (yet): the attitude is there, the purchases not."),
    "none": N_("Neither buys regularly nor shows a positive attitude."),
}
SHOW_TRAP = "trap"
SHOW_ALL = "all"


def _json(option: dict[str, Any]) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, float):
            return v if math.isfinite(v) else None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(option), ensure_ascii=False)


def _types_chart(items: list[tuple[str, str, int]]) -> str:
    """Customers per loyalty type as horizontal bars in the types' colours."""
    return _json(
        {
            "grid": {"left": 8, "right": 32, "top": 4, "bottom": 4, "containLabel": True},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "value", "minInterval": 1},
            "yAxis": {"type": "category", "data": [name for _, name, _ in items], "inverse": True},
            "series": [
                {
                    "type": "bar",
                    "label": {"show": True, "position": "right"},
                    "data": [
                        {"value": n, "itemStyle": {"color": TYPE_COLOURS[code]}}
                        for code, _, n in items
                    ],
                }
            ],
        }
    )


def _index_chart(request: Request, hist: dict[str, list[float]]) -> str:
    """The loyalty index histogram (0–100 in bins of 10)."""
    edges, counts = hist["edges"], hist["counts"]
    cats = [f"{edges[i]:.0f}–{edges[i + 1]:.0f}" for i in range(len(counts))]
    return _json(
        {
            "grid": {"left": 8, "right": 8, "top": 16, "bottom": 4, "containLabel": True},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": cats},
            "yAxis": {"type": "value", "name": tr(request, "Customers"), "minInterval": 1},
            "color": ["#1f6feb"],
            "series": [
                {
                    "name": tr(request, "Loyalty index"),
                    "type": "bar",
                    "barCategoryGap": "8%",
                    "data": counts,
                }
            ],
        }
    )


def _filters(request: Request) -> tuple[str, str, dict[str, float] | None]:
    """``show`` (trap, all or a type) and the raw and parsed index weights of the query."""
    show = request.query_params.get("show", SHOW_TRAP).strip() or SHOW_TRAP
    if show not in (SHOW_TRAP, SHOW_ALL, *LOYALTY_TYPES):
        raise InvalidInput(
            f"show must be trap, all or one of {', '.join(LOYALTY_TYPES)}", field="show"
        )
    raw = request.query_params.get("weights", "").strip()
    if len(raw) > 200:
        raise InvalidInput("weights is too long", field="weights")
    return show, raw, measure.parse_weights(raw)


def _select(show: str) -> dict[str, Any]:
    if show == SHOW_TRAP:
        return {"trap": True}
    if show == SHOW_ALL:
        return {}
    return {"loyalty_type": show}


def _offset(request: Request) -> int:
    value = request.query_params.get("offset", "0")
    return min(int(value), 10_000_000) if value.isdigit() else 0


@router.get("/loyalty/types")
def loyalty_types(request: Request, session: DbSession, user: PageUser) -> Response:
    """Distribution of loyalty types, the index histogram and the satisfaction-trap list."""
    require(user, "score:read")
    show, raw_weights, weights = _filters(request)
    offset = _offset(request)
    frame, total, stats = measure.measure_customers(
        session, actor=user, weights=weights, offset=offset, limit=PAGE_SIZE, **_select(show)
    )
    page = measure.records(frame)
    zh = request_locale(request) == "zh_CN"
    for row in page:
        row["reason"] = row["reason_zh"] if zh else row["reason_en"]
    type_items = [
        (t["type"], tr(request, label_msgid("loyalty_type", t["type"])), t["customers"])
        for t in stats["types"]
    ]
    ctx = {
        "show": show,
        "weights": raw_weights,
        "stats": stats,
        "types": [
            {**t, "name": name, "explain": tr(request, EXPLAIN[t["type"]])}
            for t, (_, name, _) in zip(stats["types"], type_items, strict=True)
        ],
        "dimensions": [
            (d, tr(request, label_msgid("loyalty_dimension", d)), stats["dimension_means"][d])
            for d in DIMENSIONS
        ],
        "show_options": [
            (SHOW_TRAP, tr(request, "Satisfaction trap")),
            (SHOW_ALL, tr(request, "All customers")),
            *[(code, name) for code, name, _ in type_items],
        ],
        "rows": page,
        "total": total,
        "offset": offset,
        "limit": PAGE_SIZE,
        "has_next": offset + len(page) < total,
        "export_url": "/loyalty/types/export.csv?"
        + urlencode({"show": show, **({"weights": raw_weights} if raw_weights else {})}),
        "charts": {
            "types": _types_chart(type_items) if stats["customers"] else "",
            "index": _index_chart(request, stats["index_histogram"]) if stats["customers"] else "",
        },
    }
    if is_htmx(request) and request.headers.get("hx-target") == "loyalty-results":
        return render(request, "loyalty/_measure_rows.html", **ctx)
    return render(request, "loyalty/measure_types.html", **ctx)


@router.get("/loyalty/types/export.csv")
def loyalty_types_export(request: Request, session: DbSession, user: PageUser) -> Response:
    """The customers of the page's list (trap, a type or all) with every measure, as CSV."""
    require(user, "data:export")
    show, _, weights = _filters(request)
    frame, _, _ = measure.measure_customers(session, actor=user, weights=weights, **_select(show))
    name = f"loyalty-{show}.csv"
    return Response(
        measure.csv_text(frame),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- customer 360 panel -------------------------------------------------------------------------


def loyalty_for_panel(
    request: Request, session: Session, customer: Customer, user: User
) -> dict[str, Any] | None:
    """The customer's loyalty type with the rule and reason, index, dimensions and trap flag."""
    try:
        frame, _, _ = measure.measure_customers(session, actor=user, customer_id=customer.id)
    except NotFound:  # archived customers are not measured
        return None
    if frame.empty:
        return None
    row = measure.records(frame)[0]
    zh = request_locale(request) == "zh_CN"
    return {
        "m": row,
        "reason": row["reason_zh"] if zh else row["reason_en"],
        "explain": tr(request, EXPLAIN[row["loyalty_type"]]),
        "dimensions": [
            (d, tr(request, label_msgid("loyalty_dimension", d)), row[d]) for d in DIMENSIONS
        ],
    }


register_panel(
    Panel(
        key="loyalty_type",
        title=N_("Loyalty type"),
        template="loyalty/_measure_panel.html",
        load=loyalty_for_panel,
        permission="score:read",
        order=22,
        slot="side",
    )
)


# --- loyalty dashboard panel ----------------------------------------------------------------------


@router.get("/loyalty/types/summary")
def loyalty_types_summary(request: Request, session: DbSession, user: PageUser) -> Response:
    """The type distribution and trap count as a fragment (loaded by the loyalty dashboard after
    the page, so the dashboard stays fast however many customers there are)."""
    require(user, "score:read")
    _, _, stats = measure.measure_customers(session, actor=user, trap=True, limit=0)
    types = [
        {**t, "name": tr(request, label_msgid("loyalty_type", t["type"]))} for t in stats["types"]
    ]
    return render(request, "loyalty/_measure_summary.html", stats=stats, types=types)


def _dashboard_panel(request: Request, session: Session, user: User) -> dict[str, Any] | None:
    return {}  # the panel's content is fetched by htmx from /loyalty/types/summary


def register_dashboard(register: Any) -> None:
    """Called by ``pages.py``: a "Loyalty types" box on the loyalty dashboard."""
    from retento.loyalty.pages import DashboardPanel

    register(
        DashboardPanel(
            key="loyalty_types",
            title=N_("Loyalty types"),
            template="loyalty/_measure_dashboard.html",
            load=_dashboard_panel,
            permission="score:read",
            order=50,
        )
    )
