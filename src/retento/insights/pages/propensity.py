"""Propensity page: who will buy a product or category next (holdout AUC vs the "bought it
before" baseline, lift per decile) and the invite list, as CSV or as a survey distribution."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.background import BackgroundTask

from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.core.errors import Conflict, InvalidInput, RetentoError, number_error
from retento.core.validation import id_from_text
from retento.insights import drivers_queries as q
from retento.insights.registry import Insight, register_insight, render_insight
from retento.surveys import distribution_jobs
from retento.surveys import distributions as survey_distributions
from retento.surveys.schemas import DistributionCreate, SegmentIn
from retento.surveys.service import survey_names
from retento.web.charts import chart_json, grid
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    page_router,
    redirect,
    request_locale,
    tr,
)
from retento.work.queue import run_in_web

router = page_router()

register_insight(
    Insight(
        key="propensity",
        title=N_("Propensity"),
        summary=N_(
            "Who will buy a product or category next: a model trained on earlier periods, "
            "scored on the latest one against the 'bought it before' rule, and an invite list."
        ),
        href="/insights/propensity",
        order=55,
    )
)

SHOWN = 50


def _params(
    request: Request, choices: dict[str, list[str]]
) -> tuple[dict[str, str], dict[str, Any]]:
    qp = request.query_params
    kind = qp.get("kind", "category")
    form = {
        "kind": kind,
        "target": qp.get("target", ""),
        "horizon_days": qp.get("horizon_days", "90"),
        "top_k": qp.get("top_k", "100"),
        "method": qp.get("method", "gb"),
    }
    q.check_choice("kind", kind)
    other = [t for k, ts in choices.items() if k != kind for t in ts]
    switched = form["target"] in other and form["target"] not in choices.get(kind, [])
    if (not form["target"] or switched) and choices.get(kind):
        # an empty target, or the kind was switched in the form: the kind's first target
        form["target"] = choices[kind][0]
    q.check_choice("method", form["method"])
    out: dict[str, Any] = {"kind": kind, "target": form["target"], "method": form["method"]}
    for key, label in (
        ("horizon_days", N_("Horizon (days)")),
        ("top_k", N_("Customers to invite")),
    ):
        try:
            out[key] = int(form[key])
        except ValueError:
            raise number_error(key, label, whole=True).refuse() from None
    return form, out


def _lift_chart(request: Request, hold: dict[str, Any]) -> str:
    deciles = [str(r["decile"]) for r in hold["lift"]]
    return chart_json(
        {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": grid(top=30, bottom=28),
            "xAxis": {
                "type": "category",
                "data": deciles,
                "name": tr(request, "Decile (highest propensity first)"),
                "nameLocation": "middle",
                "nameGap": 26,
            },
            "yAxis": {"type": "value", "name": tr(request, "Lift")},
            "series": [
                {
                    "name": tr(request, "Model"),
                    "type": "bar",
                    "data": [round(r["lift"] or 0, 2) for r in hold["lift"]],
                },
                {
                    "name": tr(request, "Bought it before"),
                    "type": "bar",
                    "data": [round(r["lift"] or 0, 2) for r in hold["baseline_lift"]],
                },
                {
                    "name": tr(request, "Random"),
                    "type": "line",
                    "symbol": "none",
                    "data": [1.0] * len(deciles),
                    "lineStyle": {"type": "dashed"},
                },
            ],
        }
    )


def _query(args: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode({k: args[k] for k in ("kind", "target", "horizon_days", "top_k", "method")})


@router.get("/insights/propensity")
def propensity_page(request: Request, session: DbSession, user: PageUser) -> Response:
    """Choose a target and horizon; see the holdout quality and whom to invite."""
    require(user, "score:read")
    choices = q.target_choices(session)
    errors: dict[str, str] = {}
    report, status, form, args = None, 200, {}, {}
    try:
        form, args = _params(request, choices)
        if args["target"]:
            report = q.propensity_report(session, actor=user, **args)
    except RetentoError as exc:
        if exc.status in (401, 403):
            raise
        errors[exc.field or ""] = error_text(request, exc.message)
        status = 422 if exc.status in (400, 422) else exc.status
        form = form or dict(request.query_params)
    surveys = []
    if report and can(user, "survey:manage"):
        surveys = [
            (str(i), n) for i, n in survey_names(session, request_locale(request), status="active")
        ]
    return render_insight(
        request,
        user,
        "insights/propensity.html",
        status_code=status,
        f=form,
        errors=errors,
        report=report,
        chart=_lift_chart(request, report["holdout"]) if report else None,
        shown=SHOWN,
        query=_query(args) if report else "",
        kinds=[(k, tr(request, v)) for k, v in q.KIND_LABELS.items()],
        methods=[(k, tr(request, v)) for k, v in q.METHOD_LABELS.items()],
        targets=[(t, t) for t in choices.get(form.get("kind", "category"), [])],
        surveys=surveys,
        invite_ids=",".join(str(r["customer_id"]) for r in report["invite"]) if report else "",
        distribution_key=uuid.uuid4().hex,  # the distribution's idempotency key
    )


@router.get("/insights/propensity/invite.csv")
def propensity_csv(request: Request, session: DbSession, user: PageUser) -> Response:
    """The invite list as CSV (``data:export``)."""
    require(user, "score:read")
    require(user, "data:export")
    _, args = _params(request, q.target_choices(session))
    report = q.propensity_report(session, actor=user, **args)
    return Response(
        q.invite_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="propensity-invite.csv"'},
    )


@router.post("/insights/propensity/distribute")
def propensity_distribute(
    request: Request, raw: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Send a survey to the invite list (a 'customers' segment of the shown customer ids)."""
    require(user, "survey:manage")
    # Ids as the database holds them (1 … 2^63-1): 0 or a longer number would reach it as a
    # value it refuses ("bigint out of range"), or a field-less error from the segment schema.
    survey_id = id_from_text(str(raw.get("survey_id") or ""))
    if survey_id is None:
        raise InvalidInput(tr(request, "Choose a survey."), field="survey_id")
    parts = [x.strip() for x in str(raw.get("customer_ids") or "").split(",") if x.strip()]
    found = [id_from_text(x) for x in parts]
    if None in found:
        raise InvalidInput(
            tr(request, "The invite list is not a list of customer ids."), field="customer_ids"
        )
    ids = sorted({i for i in found if i is not None})
    if not ids:
        raise InvalidInput(tr(request, "The invite list is empty."), field="customer_ids")
    try:
        data = DistributionCreate(
            channel=str(raw.get("channel") or "online"),
            segment=SegmentIn(kind="customers", customer_ids=ids),
            name=str(raw.get("name") or "")[:200],
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "customer_ids" if "customer_ids" in first["loc"] else str(first["loc"][0])
        raise InvalidInput(str(first["msg"]), field=field) from None
    # Like every distribution: checked and recorded ('queued') here, the invitations and e-mails
    # made by a worker (or by this process after the response, RETENTO_RUN_WORK_IN_WEB); the
    # distribution's page shows the progress, then the links.
    # The key drawn with the page: a double click or a resubmitted page records one distribution.
    try:
        dist, created = survey_distributions.start_distribution_once(
            session,
            survey_id,
            data,
            actor=user,
            idempotency_key=str(raw.get("distribution_key") or "").strip()[:120],
        )
    except Conflict as exc:
        if exc.field != "Idempotency-Key":
            raise
        # Sent before with another survey or name (the browser's Back button).
        raise Conflict(
            tr(
                request,
                "This form was already sent with other choices; reload the page to send it again.",
            ),
            field="distribution_key",
        ) from None
    url = f"/surveys/{survey_id}/distributions/{dist.id}"
    if not created:
        flash(request, tr(request, "This form was already sent: here is its distribution."))
        return redirect(request, url)
    item_id = distribution_jobs.enqueue(session, dist, data, user.id)
    flash(request, tr(request, "The invitations are being created."))
    response = redirect(request, url)
    if request.app.state.settings.run_work_in_web:
        response.background = BackgroundTask(run_in_web, request.app.state.session_factory, item_id)
    return response


@router.get("/insights/propensity/lift.csv")
def propensity_lift_csv(request: Request, session: DbSession, user: PageUser) -> Response:
    """The page's lift per decile on the later period (same ``kind``, ``target``,
    ``horizon_days``, ``top_k``, ``method``) as CSV, with the "bought it before" baseline."""
    from retento.dataio.downloads import as_ratio, table_download

    require(user, "score:read")
    require(user, "data:export")
    _, args = _params(request, q.target_choices(session))
    report = q.propensity_report(session, actor=user, **args)
    hold = report["holdout"]
    header = [
        tr(request, "Decile"),
        tr(request, "Customers"),
        tr(request, "Buyers"),
        tr(request, "Lift"),
        tr(request, "Share of all buyers reached"),
        tr(request, "Lift of “bought it before”"),
    ]
    base = {r["decile"]: r for r in hold.get("baseline_lift", [])}
    rows = [
        [
            r["decile"],
            r["customers"],
            r["buyers"],
            as_ratio(r["lift"]),
            as_ratio(r["cumulative_gain"]),
            as_ratio((base.get(r["decile"]) or {}).get("lift")),
        ]
        for r in hold["lift"]
    ]
    return table_download(request, user, header, rows, filename="propensity-lift")
