"""Relationship metrics on the web (SPEC §1): the value dashboard's section (retention and
repeat-purchase rate by month or quarter with their trend, share-of-wallet distribution,
delivered value per value class with the weakest dimension) and the customer 360 panel (share
of wallet overall and per category, delivered value per dimension)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.scoring import queries, relationship, value_settings
from retento.scoring.models import ScoreRun
from retento.scoring.pages_charts import RANGE_LABELS
from retento.surveys.models import COST_DIMENSIONS, DELIVERED_VALUE_DIMENSIONS
from retento.web import dashfilters
from retento.web.charts import chart_json, grid
from retento.web.i18n import N_
from retento.web.labels import label_msgid, register_labels
from retento.web.render import request_locale, tr

# The relationship section reads orders, surveys and customers, which change all the time; it
# is rebuilt at most once a minute per filter and language (the run part has its own cache).
CACHE_SECONDS = 60

register_labels(
    "cdv_dimension",
    {
        "product": N_("Product value"),
        "service": N_("Service value"),
        "personnel": N_("Personnel value"),
        "image": N_("Image value"),
        "money": N_("Monetary cost"),
        "time": N_("Time cost"),
        "energy": N_("Energy cost"),
        "physical": N_("Physical cost"),
    },
)
register_labels("cdv_segment", {"unscored": N_("Not scored")})


def _grain(request: Request) -> str:
    raw = request.query_params.get("grain", "month")
    return raw if raw in relationship.GRAINS else "month"


def _pct(v: float | None) -> float | None:
    return None if v is None else round(v * 100, 1)


def _rates_chart(request: Request, series: dict[str, Any]) -> str:
    """Retention and repeat-purchase rate per period, in percent (a partial period is starred)."""
    pts = series["points"]
    cats = [p["period"] + (" *" if p["partial"] else "") for p in pts]
    return chart_json(
        {
            "grid": grid(top=32),
            "legend": {"top": 0},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": cats},
            "yAxis": {"type": "value", "min": 0, "max": 100, "name": "%"},
            "color": ["#1f6feb", "#22a06b"],
            "series": [
                {
                    "name": tr(request, "Retention rate"),
                    "type": "line",
                    "connectNulls": False,
                    "data": [_pct(p["retention_rate"]) for p in pts],
                },
                {
                    "name": tr(request, "Repeat-purchase rate"),
                    "type": "line",
                    "connectNulls": False,
                    "data": [_pct(p["repeat_rate"]) for p in pts],
                },
            ],
        }
    )


def _sow_chart(request: Request, dist: dict[str, Any]) -> str:
    edges = dist["edges"]
    cats = [f"{round(edges[i] * 100)}–{round(edges[i + 1] * 100)} %" for i in range(len(edges) - 1)]
    cats.append(tr(request, "over 100 %"))
    return chart_json(
        {
            "grid": grid(),
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": cats, "axisLabel": RANGE_LABELS},
            "yAxis": {"type": "value", "name": tr(request, "Customers"), "minInterval": 1},
            "color": ["#7c3aed"],
            "series": [
                {
                    "name": tr(request, "Share of wallet"),
                    "type": "bar",
                    "data": [*dist["counts"], dist["over_100"]],
                }
            ],
        }
    )


def _trend_word(slope: float | None) -> str:
    """rising / falling / steady by at least 0.5 percentage points a period."""
    if slope is None:
        return ""
    if slope > 0.005:
        return N_("rising")
    if slope < -0.005:
        return N_("falling")
    return N_("steady")


def _dimension_rows(request: Request, dims: dict[str, float]) -> list[dict[str, Any]]:
    return [
        {
            "code": d,
            "name": tr(request, label_msgid("cdv_dimension", d)),
            "score": dims[d],
            "cost": d in COST_DIMENSIONS,
        }
        for d in DELIVERED_VALUE_DIMENSIONS
        if d in dims
    ]


def _build(request: Request, session: Session, f: dashfilters.DashFilters, grain: str):
    segment = (f.segment_kind, f.segment_value) if f.segment else None
    series = relationship.rate_series(
        session, grain=grain, start=f.start, end=f.end, segment=segment
    )
    window = value_settings.get_settings(session).wallet_window_days
    sow = relationship.wallet_distribution(session, window_days=window, segment=segment)
    cdv = relationship.delivered_value_by_class(
        session, since=f.start, until=f.end, segment=segment
    )
    for row in cdv["by_segment"]:
        row["segment_name"] = tr(
            request,
            label_msgid(
                "value_class" if row["segment"] != "unscored" else "cdv_segment", row["segment"]
            ),
        )
        row["weakest_name"] = (
            tr(request, label_msgid("cdv_dimension", row["weakest"])) if row["weakest"] else ""
        )
    overall = cdv["overall"]
    trend = series["trend"]
    return {
        "grain": grain,
        "series": series,
        "trend": trend,
        "retention_word": tr(request, w) if (w := _trend_word(trend["retention_slope"])) else "",
        "repeat_word": tr(request, w) if (w := _trend_word(trend["repeat_slope"])) else "",
        "has_rates": any(p["buyers"] for p in series["points"]),
        "partial": any(p["partial"] for p in series["points"]),
        "sow": sow,
        "cdv": cdv,
        "cdv_overall_weakest": tr(request, label_msgid("cdv_dimension", overall["weakest"]))
        if overall and overall.get("weakest")
        else "",
        "charts": {
            "rates": _rates_chart(request, series),
            "sow": _sow_chart(request, sow) if sow["customers"] else "",
        },
    }


_lock = threading.Lock()
_store: OrderedDict[tuple, Any] = OrderedDict()
MAX_ENTRIES = 32


def _cached(key: tuple, compute: Callable[[], Any]) -> Any:
    """The section stored under ``key`` (its own store, apart from the run dashboards' cache:
    its key carries the minute, so it expires by itself)."""
    with _lock:
        if key in _store:
            _store.move_to_end(key)
            return _store[key]
    value = compute()
    with _lock:
        _store[key] = value
        while len(_store) > MAX_ENTRIES:
            _store.popitem(last=False)
    return value


def dashboard_context(
    request: Request, session: Session, f: dashfilters.DashFilters
) -> dict[str, Any]:
    """The relationship section of the value dashboard for the filters (cached a minute)."""
    grain = _grain(request)
    key = (
        "relationship",
        int(time.time() // CACHE_SECONDS),
        queries.latest_run_id(session),
        queries.orders_mark(session),
        value_settings.get_settings(session).version,
        request_locale(request),
        f.key(),
        grain,
    )
    return {
        "rel": _cached(key, lambda: _build(request, session, f, grain)),
        "rel_links": {g: f.query(grain=g) for g in relationship.GRAINS},
    }


def configured_targets(session: Session, run: ScoreRun | None) -> dict[str, Any]:
    """The pyramid targets configured now, and whether they differ from the run's rule."""
    from retento.scoring.pages_settings import _targets

    row = value_settings.get_settings(session)
    used = ((run.report or {}).get("settings") or {}) if run is not None else {}
    return {
        "targets": _targets(row),
        "top_pct": [row.vip_top_pct, row.major_top_pct, row.ordinary_top_pct],
        "run_top_pct": used.get("top_pct") or [5.0, 20.0, 100.0],
        "changed": run is not None and used.get("version", 1) != row.version,
    }


# --- customer 360 panel -------------------------------------------------------------------


def panel_data(
    request: Request, session: Session, customer: Customer, user: User
) -> dict[str, Any] | None:
    """Share of wallet and delivered value of the customer (the value settings read with the
    delivered value, in one statement)."""
    data = relationship.customer_panel(session, customer, actor=user)
    cdv = data["delivered_value"]
    return {
        "sow": data["share_of_wallet"],
        "cdv": cdv,
        "dims": _dimension_rows(request, cdv["dimensions"]) if cdv else [],
        "weakest": tr(request, label_msgid("cdv_dimension", cdv["weakest"]))
        if cdv and cdv.get("weakest")
        else "",
    }


register_panel(
    Panel(
        key="relationship_value",
        title=N_("Share of wallet and delivered value"),
        template="scoring/_relationship_panel.html",
        load=panel_data,
        permission="score:read",
        order=21,
        slot="side",
    )
)
