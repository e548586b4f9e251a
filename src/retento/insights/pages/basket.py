"""Market baskets page: association rules on the order lines (products or categories), the top
rules by lift with support, confidence, lift, conviction and leverage, and a chart; plus the
cross-sell panel on the customer 360 page, fed by the latest product-level run."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.insights import basket_service as svc
from retento.insights.registry import Insight, register_insight, render_insight
from retento.insights.web import (
    LEVEL_OPTIONS,
    chosen_run,
    form_params,
    progress_context,
    start_run_page,
)
from retento.web.charts import chart_json, grid
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.render import PageUser, page_router, tr

router = page_router()

register_insight(
    Insight(
        key="baskets",
        title=N_("Market baskets"),
        summary=N_(
            "What is bought together: association rules on order lines ranked by lift, and the "
            "cross-sell suggestions they give on the customer and product pages."
        ),
        href="/insights/baskets",
        order=20,
    )
)

RUN_FIELDS = (
    "level",
    "min_support",
    "min_confidence",
    "max_len",
    "max_itemsets",
    "time_budget",
    "since",
)
SHOWN_RULES = 50
DEFAULT_FORM = {
    "level": "product",
    "min_support": "0.01",
    "min_confidence": "0.1",
    "max_len": "3",
    "max_itemsets": "200000",
    "time_budget": "60",
    "since": "",
}


def _label(names: dict[str, str], items: list) -> str:
    return " + ".join(names.get(str(i), str(i)) for i in items)


def _chart(request: Request, rules: list[dict[str, Any]], names: dict[str, str]) -> str:
    points = [
        [
            round(r["support"], 5),
            round(r["confidence"], 4),
            round(r["lift"], 3),
            f"{_label(names, r['antecedents'])} → {_label(names, r['consequents'])}",
        ]
        for r in rules[:300]
    ]
    top = max((p[2] for p in points), default=1.0)
    return chart_json(
        {
            "tooltip": {"trigger": "item"},
            # The lift scale sits above the plot, right, clear of the support axis' labels.
            "grid": grid(right=30, top=50),
            "xAxis": {"type": "value", "name": tr(request, N_("Support")), "scale": True},
            "yAxis": {"type": "value", "name": tr(request, N_("Confidence")), "max": 1},
            "visualMap": {
                "min": 0,
                "max": top,
                "dimension": 2,
                "text": [tr(request, N_("Lift")), ""],
                "calculable": True,
                "orient": "horizontal",
                "right": 30,
                "top": 0,
                "itemHeight": 80,
            },
            "series": [{"type": "scatter", "symbolSize": 10, "data": points}],
        }
    )


def _page(
    request: Request,
    session: Session,
    user: User,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    require(user, "score:read")
    run, state = chosen_run(request, session, svc.KIND)
    ctx: dict[str, Any] = {}
    if run is not None and state == "running":
        ctx["progress"] = progress_context(request, run, "/insights/baskets")
    elif run is not None and state == "succeeded":
        names = svc.names_for(session, run)
        rules = run.result.get("rules", [])
        ctx |= {
            "result": run.result,
            "rules": [
                r
                | {
                    "ante": _label(names, r["antecedents"]),
                    "cons": _label(names, r["consequents"]),
                }
                for r in rules[:SHOWN_RULES]
            ],
            "chart": _chart(request, rules, names) if rules else None,
        }
    return render_insight(
        request,
        user,
        "insights/basket.html",
        status_code=status_code,
        run=run,
        state=state,
        f=form or DEFAULT_FORM,
        errors=errors or {},
        levels=[(c, tr(request, t)) for c, t in LEVEL_OPTIONS],
        **ctx,
    )


@router.get("/insights/baskets")
def basket_page(request: Request, session: DbSession, user: PageUser) -> Response:
    """The latest basket run (or ``?run=``) and the run form."""
    return _page(request, session, user)


@router.post("/insights/baskets/run")
def basket_run(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    require(user, "insight:manage")
    params = form_params(form, RUN_FIELDS)
    return start_run_page(
        request,
        session,
        user,
        params,
        svc.start_run,
        href="/insights/baskets",
        rerender=lambda errors, status: _page(
            request, session, user, form=DEFAULT_FORM | params, errors=errors, status_code=status
        ),
    )


def _panel(request: Request, session: Session, customer: Customer, user: User) -> dict | None:
    run, items = svc.cross_sell_for_customer(session, customer.id)
    if run is None or not items:
        return None
    return {"cross_sell": items, "cross_sell_run": run}


register_panel(
    Panel(
        key="cross_sell",
        title=N_("Cross-sell suggestions"),
        template="insights/_cross_sell_panel.html",
        load=_panel,
        permission="score:read",
        order=60,
        slot="side",
    )
)


@router.get("/insights/baskets/export.csv")
def basket_export(request: Request, session: DbSession, user: PageUser) -> Response:
    """Every rule stored with the page's run (``?run=``, else the latest; best lift first, the
    page shows the first 50) as CSV; a conviction of infinity (confidence 1) is written ``inf``."""
    from retento.dataio.downloads import as_ratio, table_download
    from retento.insights.web import export_run

    require(user, "score:read")
    require(user, "data:export")
    run = export_run(request, session, svc.KIND)
    names = svc.names_for(session, run)
    header = [
        tr(request, N_("If the order holds")),
        tr(request, N_("it also holds")),
        tr(request, N_("Support")),
        tr(request, N_("Confidence")),
        tr(request, N_("Lift")),
        tr(request, N_("Conviction")),
        tr(request, N_("Leverage")),
    ]
    rows = [
        [
            _label(names, r["antecedents"]),
            _label(names, r["consequents"]),
            as_ratio(r["support"], 6),
            as_ratio(r["confidence"], 6),
            as_ratio(r["lift"], 6),
            "inf" if r.get("conviction") is None else as_ratio(r["conviction"], 6),
            as_ratio(r["leverage"], 6),
        ]
        for r in (run.result or {}).get("rules", [])
    ]
    return table_download(request, user, header, rows, filename=f"basket-rules-run-{run.id}")
