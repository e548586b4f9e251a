"""The win-back uplift report on the web: the CSV download of the per-playbook table
(``/retention/uplift.csv``) and the Qini curve of one playbook on the retention dashboard.

Both read ``report.uplift_report``, the function behind ``GET /api/v1/retention/report`` and
``retento retention report``, so page, download and API show the same numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, Msg
from retento.dataio.downloads import as_money, as_ratio, table_download
from retento.web.charts import chart_json, grid
from retento.web.i18n import N_
from retento.web.render import PageUser, page_router, request_locale, tr

router = page_router()

DEFAULT_TOP_K = 0.3
# The shares of customers (by churn risk) the page offers for "uplift in the top k".
TOP_K_OPTIONS = (0.1, 0.2, 0.3, 0.5)


def parse_top_k(request: Request) -> float:
    """``?top_k=`` as a share between 0 and 1 (0.3 = the 30 % at highest risk), the API's
    parameter; a bad one is a 422 naming ``top_k``."""
    raw = request.query_params.get("top_k", "").strip()
    if not raw:
        return DEFAULT_TOP_K
    try:
        k = float(raw)
    except ValueError:
        k = -1.0
    if not 0.0 < k < 1.0:
        from retento.retention.report import top_k_error

        raise top_k_error()
    return k


def parse_playbook(request: Request, rows: list[dict[str, Any]]) -> int | None:
    """``?playbook=`` (the Qini curve's playbook): one of the report's playbooks; empty is the
    first playbook with a curve. Another value is a 422 naming ``playbook``."""
    raw = request.query_params.get("playbook", "").strip()
    if not raw:
        return next((r["playbook_id"] for r in rows if r.get("qini")), None)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) not in {
        r["playbook_id"] for r in rows
    }:
        raise InvalidInput(Msg("Playbook %(id)s does not exist.", id=raw), field="playbook")
    return int(raw)


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def winback_rows(request: Request, session, user, top_k: float) -> list[dict[str, Any]]:
    """The uplift report per playbook, with the names and texts the table shows."""
    from retento.retention import reasons, report

    locale = request_locale(request)
    out = []
    for r in report.uplift_report(session, actor=user, top_k=top_k):
        est = r.get("estimate") or {}
        rev = r.get("revenue") or {}
        out.append(
            {
                **r,
                "name": report.playbook_name(r, locale),
                "class_name": reasons.label(reasons.CLASS_NAMES, r["value_class"], locale),
                "action_name": reasons.label(reasons.ACTION_NAMES, r["action"], locale),
                "est": est,
                "net": _dec(rev.get("net")),
                "incremental_revenue": _dec(rev.get("incremental_revenue")),
                "cost_total": _dec(r.get("cost")),
            }
        )
    return out


def qini_chart(request: Request, row: dict[str, Any]) -> str:
    """One playbook's Qini curve: incremental customers won back against the share of its
    settled cases targeted by churn risk (highest first), with random targeting's diagonal and
    the top k marked."""
    points = row["qini"]
    x_name = tr(request, N_("Share of cases targeted, highest churn risk first (%)"))
    y_name = tr(request, N_("Incremental customers won back"))
    k = (row.get("top_k") or {}).get("k")
    curve: dict[str, Any] = {
        "name": tr(request, N_("Qini curve")),
        "type": "line",
        "symbolSize": 4,
        "data": [[round(p["fraction"] * 100, 1), round(p["value"], 2)] for p in points],
        "itemStyle": {"color": "#1f6feb"},
    }
    if k is not None:
        curve["markLine"] = {
            "silent": True,
            "symbol": "none",
            "lineStyle": {"type": "dotted", "color": "#d9480f"},
            "label": {"formatter": tr(request, N_("top %(k)s %%"), k=round(k * 100))},
            "data": [{"xAxis": round(k * 100, 1)}],
        }
    return chart_json(
        {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": grid(left=12, right=24, top=36, bottom=8),
            "xAxis": {
                "type": "value",
                "min": 0,
                "max": 100,
                "name": x_name,
                "nameLocation": "middle",
                "nameGap": 26,
            },
            "yAxis": {
                "type": "value",
                "name": y_name,
                "nameLocation": "middle",
                "nameGap": 40,
            },
            "series": [
                curve,
                {
                    "name": tr(request, N_("Random targeting")),
                    "type": "line",
                    "symbol": "none",
                    "lineStyle": {"type": "dashed", "color": "#8c959f"},
                    "itemStyle": {"color": "#8c959f"},
                    "data": [
                        [round(p["fraction"] * 100, 1), round(p["random"], 2)] for p in points
                    ],
                },
            ],
        }
    )


def qini_context(request: Request, rows: list[dict[str, Any]], top_k: float) -> dict[str, Any]:
    """What the dashboard's Qini card needs: the playbooks with a curve (the select), the
    chosen one, its chart and its top-k numbers."""
    chosen_id = parse_playbook(request, rows)
    chosen = next((r for r in rows if r["playbook_id"] == chosen_id), None)
    return {
        "qini_options": [(r["playbook_id"], r["name"]) for r in rows if r.get("qini")],
        "qini_row": chosen,
        "qini_chart": qini_chart(request, chosen) if chosen and chosen.get("qini") else "",
        "top_k": top_k,
        "top_k_options": [(k, f"{round(k * 100)} %") for k in TOP_K_OPTIONS],
    }


HEADER = (
    N_("Playbook"),
    N_("Customer class"),
    N_("Action"),
    N_("Settled cases"),
    N_("Treated"),
    N_("Control"),
    N_("Came back (treated)"),
    N_("Came back (control)"),
    N_("Uplift"),
    N_("95 % interval, low"),
    N_("95 % interval, high"),
    N_("Incremental revenue"),
    N_("Cost"),
    N_("Net revenue"),
    N_("Net revenue, 95 % interval low"),
    N_("Net revenue, 95 % interval high"),
    N_("Qini coefficient"),
    N_("Top k (share of cases by churn risk)"),
    N_("Uplift in the top k"),
    N_("Uplift in the top k, 95 % interval low"),
    N_("Uplift in the top k, 95 % interval high"),
)


def csv_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """One line per playbook: rates and uplifts as fractions (0.25 = 25 percentage points),
    amounts as exact decimals; empty where a group has no settled case yet."""
    out = []
    for r in rows:
        est = r["est"]
        rev = r.get("revenue") or {}
        top = r.get("top_k") or {}
        out.append(
            [
                r["name"],
                r["class_name"],
                r["action_name"],
                r["settled"],
                r["n_treated"],
                r["n_control"],
                as_ratio(est.get("rate_treated")),
                as_ratio(est.get("rate_control")),
                as_ratio(est.get("uplift")),
                as_ratio(est.get("ci_low")),
                as_ratio(est.get("ci_high")),
                as_money(rev.get("incremental_revenue")),
                as_money(r.get("cost")),
                as_money(rev.get("net")),
                as_money(rev.get("net_ci_low")),
                as_money(rev.get("net_ci_high")),
                as_ratio(r.get("qini_coefficient")),
                as_ratio(top.get("k")) if top else None,
                as_ratio(top.get("uplift")),
                as_ratio(top.get("ci_low")),
                as_ratio(top.get("ci_high")),
            ]
        )
    return out


@router.get("/retention/uplift.csv")
def uplift_csv(request: Request, session: DbSession, user: PageUser) -> Response:
    """The win-back uplift report per playbook as CSV (``data:export``): treated vs control,
    the uplift's interval, incremental revenue minus cost, the Qini coefficient and the uplift
    in the top k (``?top_k=``, a share, as on the dashboard)."""
    require(user, "retention:read")
    require(user, "data:export")
    top_k = parse_top_k(request)
    rows = winback_rows(request, session, user, top_k)
    header = [tr(request, h) for h in HEADER]
    return table_download(request, user, header, csv_rows(rows), filename="winback-uplift")
