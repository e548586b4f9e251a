"""Purchase sequences page: frequent sequences (what customers buy on later dates), the
next-product rules, and their hit-rate@5 on the held-out last weeks against the popularity and
repeat-purchase baselines, saying which wins."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.insights import sequences_service as svc
from retento.insights.registry import Insight, register_insight, render_insight
from retento.insights.web import (
    LEVEL_OPTIONS,
    WINNERS,
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
        key="sequences",
        title=N_("Sequences"),
        summary=N_(
            "What customers buy next: frequent purchase sequences, and a next-product "
            "recommender measured by hit-rate@5 against popularity and repeat purchases."
        ),
        href="/insights/sequences",
        order=30,
    )
)

RUN_FIELDS = (
    "level",
    "min_support",
    "max_len",
    "max_gap_days",
    "holdout_days",
    "max_patterns",
    "time_budget",
)
DEFAULT_FORM = {
    "level": "product",
    "min_support": "0.01",
    "max_len": "3",
    "max_gap_days": "",
    "holdout_days": "90",
    "max_patterns": "200000",
    "time_budget": "60",
}
SHOWN = 50


def _name(names: dict[str, str], item: Any) -> str:
    return names.get(str(item), str(item))


def _pattern(names: dict[str, str], pattern: list[list[Any]]) -> str:
    return " → ".join(" + ".join(_name(names, i) for i in el) for el in pattern)


def _chart(request: Request, ev: dict[str, Any]) -> str:
    order = ("patterns", "popularity", "repeat")
    return chart_json(
        {
            "tooltip": {"trigger": "axis"},
            "grid": grid(right=30, top=10),
            "xAxis": {"type": "value", "max": 1, "name": tr(request, N_("Hit-rate@5"))},
            "yAxis": {"type": "category", "data": [tr(request, WINNERS[n]) for n in order]},
            "series": [
                {
                    "type": "bar",
                    "data": [
                        {
                            "value": ev["hit_rate"].get(n),
                            "itemStyle": {
                                "color": "#d9480f" if n == ev.get("winner") else "#4c6ef5"
                            },
                        }
                        for n in order
                    ],
                }
            ],
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
        ctx["progress"] = progress_context(request, run, "/insights/sequences")
    elif run is not None and state == "succeeded":
        names = svc.names_for(session, run)
        result = run.result
        ev = result.get("evaluation")
        ctx |= {
            "result": result,
            "patterns": [
                p | {"text": _pattern(names, p["pattern"])} for p in result["patterns"][:SHOWN]
            ],
            "next_rules": [
                r | {"a": _name(names, r["antecedent"]), "b": _name(names, r["consequent"])}
                for r in result["next"][:SHOWN]
            ],
            "ev": ev,
            "ev_chart": _chart(request, ev) if ev and ev.get("winner") else None,
            "winner_label": tr(request, WINNERS[ev["winner"]]) if ev and ev.get("winner") else "",
        }
    return render_insight(
        request,
        user,
        "insights/sequences.html",
        status_code=status_code,
        run=run,
        state=state,
        f=form or DEFAULT_FORM,
        errors=errors or {},
        levels=[(c, tr(request, t)) for c, t in LEVEL_OPTIONS],
        winners={k: tr(request, v) for k, v in WINNERS.items()},
        **ctx,
    )


@router.get("/insights/sequences")
def sequences_page(request: Request, session: DbSession, user: PageUser) -> Response:
    """The latest sequence run (or ``?run=``) and the run form."""
    return _page(request, session, user)


@router.post("/insights/sequences/run")
def sequences_run(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    require(user, "insight:manage")
    params = form_params(form, RUN_FIELDS)
    return start_run_page(
        request,
        session,
        user,
        params,
        svc.start_run,
        href="/insights/sequences",
        rerender=lambda errors, status: _page(
            request, session, user, form=DEFAULT_FORM | params, errors=errors, status_code=status
        ),
    )


@router.get("/insights/sequences/export.csv")
def sequences_export(request: Request, session: DbSession, user: PageUser) -> Response:
    """One table of the page's run (``?run=``, else the latest) as CSV: ``table=next`` (the
    next-product rules), ``patterns`` (the frequent sequences) or ``evaluation`` (hit-rate@5
    of the rules and the two baselines)."""
    from retento.dataio.downloads import as_ratio, table_download
    from retento.insights.web import export_run, export_table

    require(user, "score:read")
    require(user, "data:export")
    table = export_table(request, ("next", "patterns", "evaluation"))
    run = export_run(request, session, svc.KIND)
    result = run.result or {}
    names = svc.names_for(session, run)
    if table == "next":
        header = [
            tr(request, N_("Bought first")),
            tr(request, N_("Bought next")),
            tr(request, N_("Confidence")),
            tr(request, N_("Support")),
        ]
        rows = [
            [
                _name(names, r["antecedent"]),
                _name(names, r["consequent"]),
                as_ratio(r["confidence"], 6),
                as_ratio(r["support"], 6),
            ]
            for r in result.get("next", [])
        ]
    elif table == "patterns":
        header = [
            tr(request, N_("Sequence")),
            tr(request, N_("Customers")),
            tr(request, N_("Support")),
        ]
        rows = [
            [_pattern(names, p["pattern"]), p["customers"], as_ratio(p["support"], 6)]
            for p in result.get("patterns", [])
        ]
    else:
        ev = result.get("evaluation") or {}
        header = [tr(request, N_("Model")), tr(request, N_("Hit-rate@5")), tr(request, N_("best"))]
        rows = (
            [
                [
                    tr(request, WINNERS[n]),
                    as_ratio((ev.get("hit_rate") or {}).get(n), 6),
                    n == ev.get("winner"),
                ]
                for n in ("patterns", "popularity", "repeat")
            ]
            if ev
            else []
        )
    return table_download(request, user, header, rows, filename=f"sequences-run-{run.id}-{table}")
