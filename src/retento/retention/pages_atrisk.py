"""The at-risk list: customers of the latest scoring run with churn risk, sorted by value at risk
(CLV × risk), filtered by value class, owner, reason and risk, with CSV and XLSX export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.auth.service import assignable_user_choices
from retento.core.deps import DbSession
from retento.core.errors import choice_error, range_error
from retento.dataio.cells import neutralise
from retento.retention import queries_web as q
from retento.retention.pages_common import (
    PAGE_SIZE,
    choice,
    id_param,
    offset_of,
    raise_problems,
    reason_codes,
    reason_label,
    reason_text,
    tab_counts,
)
from retento.scoring.models import VALUE_CLASSES
from retento.web.i18n import N_, standalone
from retento.web.labels import LABELS, label_msgid
from retento.web.render import PageUser, is_htmx, page_router, render, request_locale, tr

router = page_router()

SORT_OPTIONS = (
    ("value_at_risk", N_("Value at risk, highest first")),
    ("risk", N_("Churn risk, highest first")),
    ("clv", N_("CLV, highest first")),
)
RISK_OPTIONS = (
    ("0.3", N_("30 % or more")),
    ("0.5", N_("50 % or more")),
    ("0.7", N_("70 % or more")),
)
EXPORT_HEADER = (
    "customer_id", "external_id", "name", "value_class", "owner", "clv", "churn_risk",
    "value_at_risk", "last_order_on", "orders", "reason_code_1", "reason_1", "reason_code_2",
    "reason_2", "reason_code_3", "reason_3",
)  # fmt: skip


def _filters(request: Request, user: User) -> tuple[q.AtRiskFilters, dict[str, str]]:
    """Validated filters and the raw values echoed back in the form."""
    qp = request.query_params
    keys = ("value_class", "owner", "reason", "min_risk", "sort", "any_rank")
    raw = {k: qp.get(k, "").strip() for k in keys}
    problems: list = []
    value_class = choice(
        raw["value_class"], VALUE_CLASSES, "value_class", problems,
        label=N_("Value class"), labels=LABELS.get("value_class"),
    )  # fmt: skip
    reason = choice(
        raw["reason"], reason_codes(), "reason", problems,
        label=N_("Reason"), labels=LABELS.get("churn_reason"),
    )  # fmt: skip
    sort = choice(
        raw["sort"], tuple(q.SORTS), "sort", problems, label=N_("Sort"), labels=dict(SORT_OPTIONS)
    ) or "value_at_risk"  # fmt: skip
    owner_id, unowned = None, False
    if raw["owner"] == "me":
        owner_id = user.id
    elif raw["owner"] == "none":
        unowned = True
    else:
        owner_id = id_param(raw["owner"], "owner", problems, label=N_("Owner"))
    min_risk = None
    if raw["min_risk"]:
        try:
            min_risk = float(raw["min_risk"])
        except ValueError:
            min_risk = -1.0
        if not 0.0 <= min_risk <= 1.0:
            problems.append(range_error("min_risk", N_("Churn risk"), 0, 1))
    if raw["any_rank"] not in ("", "0", "1"):
        problems.append(
            choice_error(
                "any_rank", N_("Also as 2nd or 3rd reason"), [("0", N_("No")), ("1", N_("Yes"))]
            )
        )
    raise_problems(problems)
    any_rank = raw["any_rank"] == "1"
    f = q.AtRiskFilters(value_class, owner_id, unowned, reason, min_risk, sort, any_rank)
    return f, raw


def _choices(request: Request, session: Session) -> dict[str, Any]:
    owners = [("me", tr(request, "Me")), ("none", tr(request, "No owner"))]
    owners += assignable_user_choices(session)
    return {
        "value_classes": [(c, tr(request, label_msgid("value_class", c))) for c in VALUE_CLASSES],
        "owners": owners,
        "reasons": [(c, reason_label(request, c)) for c in reason_codes()],
        "risks": [(v, tr(request, m)) for v, m in RISK_OPTIONS],
        "sorts": [(v, tr(request, m)) for v, m in SORT_OPTIONS],
    }


def _what_to_do(request: Request, session: Session, user: User, rows: list[q.AtRiskRow]):
    """Per row: the playbook a churn-risk alert of this customer's class gets, and the
    customer's alert still needing someone (open or acknowledged), if any."""
    from sqlalchemy import select

    from retento.retention import playbooks, reasons
    from retento.retention.models import RetentionAlert
    from retento.retention.rules import CLASS_OF_VALUE, UNSCORED_CLASS

    if not can(user, "retention:read") or not rows:
        return {}, {}
    locale = request_locale(request)
    # The playbooks a churn-risk alert of each class would try, then per customer the first
    # whose segment filter (if any) the customer passes.
    candidates: dict[str, list] = {}
    plan: dict[int, str] = {}
    for r in rows:
        cls = CLASS_OF_VALUE.get(r.value_class, UNSCORED_CLASS)
        if cls not in candidates:
            candidates[cls] = playbooks.candidate_playbooks(session, cls, "churn_risk")
        pb = next(
            (p for p in candidates[cls] if playbooks.in_segment(session, p, r.customer_id)), None
        )
        if pb is None:
            plan[r.customer_id] = ""
            continue
        name = pb.name_zh if locale == "zh_CN" else pb.name_en
        action = reasons.label(reasons.ACTION_NAMES, pb.action, locale)
        # Chinese brackets after Chinese text: "重要客户：全力挽回（负责人任务）"
        plan[r.customer_id] = f"{name}（{action}）" if locale == "zh_CN" else f"{name} ({action})"
    alerts = dict(
        session.execute(
            select(RetentionAlert.customer_id, RetentionAlert.id)
            .where(
                RetentionAlert.customer_id.in_([r.customer_id for r in rows]),
                RetentionAlert.status.in_(("open", "acknowledged")),
            )
            .order_by(RetentionAlert.id)
        ).all()
    )
    return plan, alerts


@router.get("/retention/at-risk")
def at_risk(request: Request, session: DbSession, user: PageUser) -> Response:
    """Who is likely to leave, how much value goes with them, and why (htmx swaps results)."""
    require(user, "score:read")
    f, raw = _filters(request, user)
    offset = offset_of(request)
    run = q.latest_risk_run(session)
    ctx: dict[str, Any] = {"run": run, "f": raw, "newer": q.newer_run_without_risk(session, run)}
    if run is not None:
        rows, total, var = q.at_risk(session, run.id, f, actor=user, limit=PAGE_SIZE, offset=offset)
        ctx |= {
            "rows": rows,
            "total": total,
            "var_total": var,
            "offset": offset,
            "limit": PAGE_SIZE,
            "has_next": offset + len(rows) < total,
            # each reason a list item of its own: "No purchase for 5 months; …" in English
            "reason_text": lambda r: standalone(request_locale(request), reason_text(request, r)),
            "horizon_days": ((run.params or {}).get("churn") or {}).get("horizon_days"),
        }
        ctx["plan"], ctx["open_alerts"] = _what_to_do(request, session, user, rows)
    if run is not None and is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "retention/_at_risk_rows.html", **ctx)
    return render(
        request,
        "retention/at_risk.html",
        **ctx,
        **_choices(request, session),
        counts=tab_counts(session, user),
    )


def _export_rows(request: Request, session: Session, user: User, f: q.AtRiskFilters):
    run = q.latest_risk_run(session)
    if run is None:
        return
    for r in q.iter_at_risk(session, run.id, f, actor=user):
        reasons = [(x.get("code") or "", reason_text(request, x)) for x in r.reasons[:3]]
        reasons += [("", "")] * (3 - len(reasons))
        yield [
            r.customer_id,
            r.external_id or "",
            r.name,
            r.value_class,
            r.owner_name or "",
            r.clv,
            round(r.churn_risk, 4),
            r.value_at_risk,
            r.last_order_on,
            r.order_count,
            *[v for pair in reasons for v in pair],
        ]


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, str):
        return neutralise(v)
    return v


@router.get("/retention/at-risk/export.csv")
def export_csv(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered at-risk list as CSV (UTF-8 with BOM), reasons in the page's language."""
    require(user, "data:export")
    f, _ = _filters(request, user)
    user_id = user.id
    factory = request.app.state.session_factory

    def body() -> Iterator[str]:
        # The stream outlives the request's session, so it reads through its own.
        s = factory()
        try:
            actor = s.get(User, user_id)
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")
            buf.write("\ufeff")
            w.writerow(EXPORT_HEADER)
            for n, row in enumerate(_export_rows(request, s, actor, f), start=1):
                w.writerow([_cell(v) for v in row])
                if n % 500 == 0:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue()
        finally:
            s.close()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="at-risk.csv"'},
    )


@router.get("/retention/at-risk/export.xlsx")
def export_xlsx(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered at-risk list as an Excel workbook (money and risk as numbers, money shown
    with two decimals: ``dataio.downloads.xlsx_row``, the writer of every list export)."""
    from zoneinfo import ZoneInfo

    from openpyxl import Workbook

    from retento.dataio.downloads import xlsx_row

    require(user, "data:export")
    f, _ = _filters(request, user)
    tz = ZoneInfo(request.app.state.settings.timezone)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(tr(request, "At risk")[:31])
    ws.append(list(EXPORT_HEADER))
    for row in _export_rows(request, session, user, f):
        ws.append(xlsx_row(ws, row, tz))
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="at-risk.xlsx"'},
    )
