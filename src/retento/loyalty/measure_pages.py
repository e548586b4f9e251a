"""Web pages of loyalty measurement: the "Loyalty types" page (distribution of the six types,
loyalty index histogram, satisfaction-trap list with reasons, CSV export, "Recompute" for
managers with a progress bar), the 360 panel and the loyalty dashboard box. Every view reads
the stored measurement of the latest run (``measure_store``); nothing is computed per request."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Select, bindparam, literal, or_, select
from sqlalchemy.orm import Session, object_session
from starlette.background import BackgroundTask

from retento.analytics.loyalty import DIMENSIONS, LOYALTY_TYPES
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, choice_error
from retento.core.validation import DbId
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.loyalty import measure, measure_jobs
from retento.loyalty import measure_store as store
from retento.loyalty.measure_models import LoyaltyMeasurement as M
from retento.loyalty.measure_models import LoyaltyMeasurementRun as Run
from retento.loyalty.panels import DashboardPanel
from retento.web.charts import chart_json, grid
from retento.web.i18n import N_
from retento.web.labels import label_msgid, register_labels
from retento.web.render import (
    PageUser,
    flash,
    is_htmx,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)
from retento.work.queue import run_in_web

router = page_router()

# No menu item of its own: the page lives under "Loyalty" (one highlighted item, one header row
# at 1280 px); the loyalty dashboard links to it.
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


def _types_chart(items: list[tuple[str, str, int]]) -> str:
    """Customers per loyalty type as horizontal bars in the types' colours."""
    return chart_json(
        {
            "grid": grid(right=32, top=4, bottom=4),
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
    return chart_json(
        {
            "grid": grid(right=8, top=16, bottom=4),
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
        shows = [(SHOW_TRAP, N_("Satisfaction trap")), (SHOW_ALL, N_("All customers"))]
        shows += [(t, label_msgid("loyalty_type", t)) for t in LOYALTY_TYPES]
        raise choice_error("show", N_("Show"), shows).refuse()
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


STAGE_LABELS = measure_jobs.STAGE_LABELS


def _progress_view(run: Any) -> dict[str, Any]:
    """Stage and fraction of a running run (this process's, else its work item's); unknown
    shows no bar."""
    stage, fraction = measure_jobs.run_progress(object_session(run), run.id)
    return {
        "stage_label": STAGE_LABELS.get(stage or "", N_("Running in another process")),
        "fraction": fraction,
    }


@router.get("/loyalty/types")
def loyalty_types(request: Request, session: DbSession, user: PageUser) -> Response:
    """Distribution of loyalty types, the index histogram and the satisfaction-trap list, from
    the stored measurement of the latest run."""
    require(user, "score:read")
    show, raw_weights, weights = _filters(request)
    offset = _offset(request)
    frame, total, stats, run = store.stored_customers(
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
    running = store.running_run(session)
    ctx = {
        "run": run,
        "running": running,
        "progress": _progress_view(running) if running is not None else {},
        "show": show,
        "weights": raw_weights,
        "reweighted": run is not None and store.reweighted(run, weights),
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
    frame, _, _, _ = store.stored_customers(
        session, actor=user, weights=weights, with_summary=False, **_select(show)
    )
    name = f"loyalty-{show}.csv"
    return Response(
        measure.csv_text(frame),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/loyalty/types/runs")
def loyalty_types_run(request: Request, session: DbSession, user: PageUser) -> Response:
    """Recompute every customer's measurement (managers and admins) after the response; 409
    while another run is in progress."""
    run = store.start_run(session, actor=user)
    # The request commits the run row and its work item before responding; a worker runs it
    # (or this process after the response, with RETENTO_RUN_WORK_IN_WEB) and the page polls the
    # progress stored on the item.
    item_id = measure_jobs.enqueue_started_run(session, run, user.id)
    flash(request, tr(request, "Loyalty measurement run #%(id)s started.", id=run.id))
    response = redirect(request, "/loyalty/types")
    if request.app.state.settings.run_work_in_web:
        response.background = BackgroundTask(run_in_web, request.app.state.session_factory, item_id)
    return response


@router.get("/loyalty/types/runs/{run_id}/progress")
def loyalty_types_run_progress(
    request: Request, session: DbSession, user: PageUser, run_id: DbId
) -> Response:
    """The progress bar of a running run (polled by htmx); a finished run reloads the page."""
    run = store.get_run(session, run_id, actor=user)
    if run.status != "running":
        if run.status == "succeeded":
            flash(
                request,
                tr(
                    request,
                    "Loyalty measurement run #%(id)s finished: %(n)s customers measured.",
                    id=run.id,
                    n=run.customers,
                ),
            )
        else:
            flash(
                request,
                tr(request, "Loyalty measurement run #%(id)s failed.", id=run.id)
                + (f" {run.error}" if run.error else ""),
                "error",
            )
        return Response(status_code=200, headers={"HX-Redirect": "/loyalty/types"})
    return render(request, "loyalty/_measure_progress.html", run=run, **_progress_view(run))


# --- customer 360 panel -------------------------------------------------------------------------


@cache
def _panel_statement() -> Select:
    """One statement for the panel (built once; the customer is the parameter
    ``customer_id``): the customer's stored row and its run (both None when the
    customer is not measured), and whether ``store.latest_run`` would find a run (a stored row
    exists, or a successful run that measured nobody) — instead of a read for the row, one for
    its run, and two more for the latest run."""
    # Not correlated with the outer joins' tables: over every stored row and run.
    measured = or_(
        select(M.customer_id).correlate(None).exists(),
        select(Run.id)
        .where(Run.status == "succeeded", Run.customers == 0)
        .correlate(None)
        .exists(),
    )
    one = select(literal(1).label("one")).subquery()
    return (
        select(M, Run, measured.label("measured"))
        .select_from(one)
        .outerjoin(M, M.customer_id == bindparam("customer_id", type_=M.customer_id.type))
        .outerjoin(Run, Run.id == M.run_id)
    )


def loyalty_for_panel(
    request: Request, session: Session, customer: Customer, user: User
) -> dict[str, Any] | None:
    """The customer's stored loyalty type with the rule and reason, index, dimensions and trap
    flag (one statement, no aggregation), or a note when the customer has not been measured
    yet."""
    if customer.archived_at is not None:  # archived customers are not measured
        return None
    row, run, measured = session.execute(_panel_statement(), {"customer_id": customer.id}).one()
    if row is None:
        return {"m": None, "never": not measured}
    # The row and its run are in the identity map now: no further statement reads them.
    found = store.stored_for_customer(session, customer.id)
    if found is None:
        return {"m": None, "never": not measured}
    row, words = found
    zh = request_locale(request) == "zh_CN"
    return {
        "m": row,
        "reason": words["reason_zh"] if zh else words["reason_en"],
        "explain": tr(request, EXPLAIN[row.loyalty_type]),
        "dimensions": [
            (d, tr(request, label_msgid("loyalty_dimension", d)), getattr(row, d))
            for d in DIMENSIONS
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
    """The stored type distribution and trap count as a fragment (loaded by the loyalty dashboard
    after the page)."""
    require(user, "score:read")
    run = store.latest_run(session)
    stats = store.stored_summary(session, run)
    types = [
        {**t, "name": tr(request, label_msgid("loyalty_type", t["type"]))} for t in stats["types"]
    ]
    return render(request, "loyalty/_measure_summary.html", stats=stats, types=types, run=run)


def _dashboard_panel(request: Request, session: Session, user: User) -> dict[str, Any] | None:
    return {}  # the panel's content is fetched by htmx from /loyalty/types/summary


def register_dashboard(register: Any) -> None:
    """Called by ``pages.py``: a "Loyalty types" box on the loyalty dashboard."""
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
