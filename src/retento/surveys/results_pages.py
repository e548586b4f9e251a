"""The survey results screen: metric cards, charts, per-question distributions and comments.

The metrics come from ``results_cache`` (computed once per survey change and filter, not per
view); the comment list is read page by page, newest first, and exported as CSV with every cell
neutralised against spreadsheet formulas. The page's filters (period of completion, channel,
the respondent's value class) apply to every figure, the distributions and the comments.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput
from retento.core.validation import DbId, offset_from_text
from retento.customers.models import Customer
from retento.dataio.cells import neutralise_row
from retento.surveys import csi_report, languages, reports, results_cache, service
from retento.surveys.models import (
    CHANNELS,
    COST_DIMENSIONS,
    VALUE_DIMENSIONS,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)
from retento.surveys.reports import NO_FILTER, ResponseFilter
from retento.surveys.results_charts import csat_height, dashboard_charts, dump, pct
from retento.web import dashfilters
from retento.web.charts import grid
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.render import (
    PageUser,
    error_text,
    is_htmx,
    page_router,
    query_with,
    render,
    request_locale,
    tr,
)

router = page_router()

COMMENTS_PER_PAGE = 20
TRAP_PAGE = 50  # satisfaction-trap rows per page of the results page
CHOICE_TYPES = ("single_choice", "multiple_choice")
SCALE_TYPES = ("rating", "nps", "ces")
METRIC_NAMES = {
    "nps": N_("NPS"),
    "csat": N_("CSAT"),
    "ces": N_("CES (customer effort)"),
    "ratio": N_("Expectation and perception (c = b/a)"),
    "value": N_("Customer delivered value"),
    "csi": N_("Satisfaction index (CSI)"),
    "choices": N_("Answer distributions"),
    "comments": N_("Comments"),
}


def measures(survey: Survey) -> dict[str, bool]:
    """Which metrics the survey's questions can measure (cards of the others are hidden)."""
    types = {q.qtype for q in survey.questions}
    return {
        "nps": "nps" in types,
        "csat": reports.headline_csat_question(survey) is not None,
        "ces": "ces" in types,
        "ratio": "expectation_perception" in types,
        "value": any(q.value_dimension for q in survey.questions),
        "csi": any(q.csi_latent for q in survey.questions),
        "choices": bool(types & {*CHOICE_TYPES, *SCALE_TYPES}),
        "comments": "free_text" in types,
    }


def value_gaps(survey: Survey) -> dict[str, bool]:
    """Whether the survey lacks the value or the cost side of delivered value."""
    dims = {q.value_dimension for q in survey.questions if q.value_dimension}
    return {
        "needs_value": not dims & set(VALUE_DIMENSIONS),
        "needs_cost": not dims & set(COST_DIMENSIONS),
    }


def _option_label(option: dict[str, Any]) -> str:
    return str(option.get("label") or option.get("value"))


def distributions(
    session: Session, survey: Survey, flt: ResponseFilter = NO_FILTER
) -> list[dict[str, Any]]:
    """Counts and shares per option (choices) or per scale point (rating, NPS, CES)."""
    qs = [q for q in survey.questions if q.qtype in (*CHOICE_TYPES, *SCALE_TYPES)]
    if not qs:
        return []
    done = (
        SurveyResponse.survey_id == survey.id,
        SurveyResponse.status == "completed",
        *flt.conditions(),
    )
    numbers: dict[int, Counter] = defaultdict(Counter)
    scale_ids = [q.id for q in qs if q.qtype in SCALE_TYPES]
    if scale_ids:
        for qid, number, n in session.execute(
            select(SurveyAnswer.question_id, SurveyAnswer.number, func.count())
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(*done, SurveyAnswer.question_id.in_(scale_ids), SurveyAnswer.number.is_not(None))
            .group_by(SurveyAnswer.question_id, SurveyAnswer.number)
        ):
            numbers[qid][number] += n
    chosen: dict[int, Counter] = defaultdict(Counter)
    answered: Counter = Counter()
    choice_ids = [q.id for q in qs if q.qtype in CHOICE_TYPES]
    if choice_ids:
        for qid, choices in session.execute(
            select(SurveyAnswer.question_id, SurveyAnswer.choices)
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(*done, SurveyAnswer.question_id.in_(choice_ids))
        ):
            if choices:
                answered[qid] += 1
                chosen[qid].update(set(choices))
    out = []
    for q in qs:
        if q.qtype in CHOICE_TYPES:
            counts = chosen[q.id]
            base = answered[q.id]
            labels = [(str(o.get("value")), _option_label(o)) for o in q.options or []]
            known = {v for v, _ in labels}
            labels += [(v, v) for v in sorted(counts) if v not in known]
        else:
            counts = Counter({int(k): v for k, v in numbers[q.id].items() if float(k).is_integer()})
            base = sum(numbers[q.id].values())
            lo = 0 if q.qtype == "nps" else (q.scale_min or 1)
            hi = 10 if q.qtype == "nps" else (q.scale_max or 5)
            labels = [(k, str(k)) for k in range(lo, hi + 1)]
        out.append(
            {
                "question": q.code,
                "text": q.text,
                "qtype": q.qtype,
                "respondents": base,
                "options": [
                    {
                        "value": v,
                        "label": lab,
                        "count": counts.get(v, 0),
                        "share": counts.get(v, 0) / base if base else None,
                    }
                    for v, lab in labels
                ],
            }
        )
    return out


def distribution_chart(request: Request, d: dict[str, Any]) -> str:
    """A bar chart of one question's distribution, option labels on the category axis."""
    horizontal = d["qtype"] in CHOICE_TYPES
    labels = [o["label"] for o in d["options"]]
    category = {"type": "category", "data": labels, "axisLabel": {"interval": 0}}
    value = {"type": "value", "minInterval": 1, "name": tr(request, N_("Respondents"))}
    if horizontal:
        category["inverse"] = True
    return dump(
        {
            "grid": grid(right=40, bottom=4),
            "tooltip": {"trigger": "axis"},
            "xAxis": value if horizontal else category,
            "yAxis": category if horizontal else value,
            "series": [
                {
                    "type": "bar",
                    "name": tr(request, N_("Respondents")),
                    "label": {"show": True, "position": "right" if horizontal else "top"},
                    "data": [o["count"] for o in d["options"]],
                }
            ],
        }
    )


def compute(
    session: Session, survey: Survey, user: User, flt: ResponseFilter = NO_FILTER
) -> dict[str, Any]:
    """Everything the results page shows that depends on the answers (those ``flt`` selects)."""
    res = reports.survey_results(
        session,
        survey.id,
        actor=user,
        since=flt.since,
        until=flt.until,
        channel=flt.channel,
        value_class=flt.value_class,
    )
    value = None
    if any(q.value_dimension for q in survey.questions):
        value = reports.delivered_value_report(session, survey.id, actor=user, limit=20, flt=flt)
    csi = None
    csi_note = ""
    if any(q.csi_latent for q in survey.questions):
        try:
            csi = csi_report.csi_report(session, survey.id, actor=user, flt=flt)
        except InvalidInput as exc:
            csi_note = exc.message
    return {
        "res": res,
        "value": value,
        "csi": csi,
        "csi_note": csi_note,
        "trap": reports.satisfaction_trap(session, survey.id, actor=user, flt=flt),
        "distributions": distributions(session, survey, flt),
    }


def question_texts(survey: Survey, locale: str) -> dict[str, str]:
    """``{question code: text}`` in the viewer's language where the survey has it."""
    return {q.code: languages.question_texts(q, locale)["text"] for q in survey.questions}


def localised_distributions(
    survey: Survey, dists: list[dict[str, Any]], locale: str
) -> list[dict[str, Any]]:
    """The cached distributions with question texts and option labels in ``locale`` where the
    survey has them (the cache holds the survey's own language)."""
    by_code = {q.code: q for q in survey.questions}
    out = []
    for d in dists:
        q = by_code.get(d["question"])
        if q is None or q.qtype not in CHOICE_TYPES:
            out.append(
                {**d, "text": languages.question_texts(q, locale)["text"] if q else d["text"]}
            )
            continue
        labels = languages.option_labels(q, locale)
        out.append(
            {
                **d,
                "text": languages.question_texts(q, locale)["text"],
                "options": [
                    {**o, "label": labels.get(o["value"], o["label"])} for o in d["options"]
                ],
            }
        )
    return out


def _charts(request: Request, survey: Survey, bundle: dict[str, Any]) -> dict[str, Any]:
    """The charts of the bundle in the request's language (kept with the bundle)."""
    locale = request_locale(request)
    store = bundle["charts"]
    if locale not in store:
        texts = question_texts(survey, locale)
        charts = dashboard_charts(request, bundle["res"], bundle["value"], bundle["csi"], texts)
        charts["questions"] = {
            d["question"]: distribution_chart(request, d)
            for d in localised_distributions(survey, bundle["distributions"], locale)
            if d["respondents"]
        }
        store[locale] = charts
    return store[locale]


def comment_rows(
    session: Session,
    survey_id: int,
    *,
    limit: int | None,
    offset: int = 0,
    flt: ResponseFilter = NO_FILTER,
) -> tuple[list[dict[str, Any]], int]:
    """Free-text answers of completed responses, newest first, and how many there are."""
    where = (
        SurveyResponse.survey_id == survey_id,
        SurveyResponse.status == "completed",
        *flt.conditions(),
        SurveyQuestion.qtype == "free_text",
        SurveyAnswer.text.is_not(None),
        SurveyAnswer.text != "",
    )
    joined = (
        select(SurveyAnswer.id)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(*where)
    )
    total = session.scalar(select(func.count()).select_from(joined.subquery())) or 0
    stmt = (
        select(
            SurveyAnswer.text,
            SurveyQuestion.code,
            SurveyQuestion.text,
            SurveyResponse.id,
            SurveyResponse.customer_id,
            Customer.name,
            SurveyResponse.channel,
            SurveyResponse.completed_at,
        )
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .outerjoin(Customer, Customer.id == SurveyResponse.customer_id)
        .where(*where)
        .order_by(SurveyResponse.completed_at.desc(), SurveyResponse.id.desc(), SurveyAnswer.id)
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = [
        {
            "comment": text,
            "question": code,
            "question_text": qtext,
            "response_id": rid,
            "customer_id": cid,
            "customer_name": name,
            "channel": channel,
            "completed_at": at,
        }
        for text, code, qtext, rid, cid, name, channel, at in session.execute(stmt)
    ]
    return rows, total


def _page_number(request: Request) -> int:
    raw = request.query_params.get("comments_page", "1").strip() or "1"
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1_000_000:
        raise InvalidInput(
            tr(request, N_("The comments page must be a whole number from 1.")),
            field="comments_page",
        )
    return int(raw)


# --- filters -----------------------------------------------------------------------------------


def _value_classes() -> tuple[str, ...]:
    from retento.scoring.models import VALUE_CLASSES

    return VALUE_CLASSES


def parse_filters(
    request: Request, session: Session
) -> tuple[dashfilters.DashFilters, str, ResponseFilter, dict[str, str]]:
    """The period (``period``, ``from``, ``to``: responses completed then), the respondent's
    value class (``segment=value_class:vip``, latest scoring run) and the channel of the query
    string: the shown filters, the channel, the response filter and the field errors (in the
    reader's language; with errors the filter selects every response)."""
    segments = {"value_class": _value_classes()}
    dash, bad = dashfilters.parse_or_typed(request, segments, default_period="all")
    errors: dict[str, str] = {}
    if bad is not None:
        errors[bad.field or "period"] = error_text(request, bad.message)
    channel = request.query_params.get("channel", "").strip()
    try:
        flt = reports.response_filter(
            session,
            since=dash.start,
            until=dash.end,
            channel=channel,
            value_class=dash.segment_value or None,
        )
    except InvalidInput as exc:
        errors[exc.field or "channel"] = error_text(request, exc.message)
    return dash, channel, NO_FILTER if errors else flt, errors


def filter_context(
    request: Request, survey: Survey, dash: dashfilters.DashFilters, channel: str, errors: dict
) -> dict[str, Any]:
    """What ``_dash_filters.html`` needs, with the channel select."""
    classes = [
        (f"value_class:{c}", tr(request, label_msgid("value_class", c))) for c in _value_classes()
    ]
    channels = [(c, tr(request, label_msgid("survey_channel", c))) for c in CHANNELS]
    return {
        "dash": dash,
        "dash_segments": [(tr(request, N_("Value class")), classes)],
        "dash_segment_label": tr(request, N_("Value class")),
        "dash_periods": dashfilters.PERIOD_OPTIONS,
        "dash_action": f"/surveys/{survey.id}/results",
        "dash_selects": [("channel", tr(request, N_("Channel")), channels, channel)],
        "dash_errors": errors,
        "filter_query": dash.query(channel=channel),
    }


@router.get("/surveys/{survey_id:int}/results")
def survey_results(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """The results dashboard: NPS, CSAT, CES, c = b/a, word of mouth, value, CSI, funnel, trap,
    per-question distributions and the comments, for the responses the filters select (a bad
    filter gives the page back, 422, with the field's error and every response)."""
    survey = service.get_survey(session, survey_id, actor=user)
    require(user, "survey:read")
    page = _page_number(request)
    dash, channel, flt, errors = parse_filters(request, session)
    # Presets end "now": the key holds their days, so a filtered view is reused within a day.
    key = (dash.key(), flt.channel) if flt.active else ()
    bundle = results_cache.cached(
        session, survey, lambda: compute(session, survey, user, flt), key=key
    )
    charts = _charts(request, survey, bundle)
    # The trap can hold hundreds of respondents: one page of it, paged like every list.
    trap_offset = offset_from_text(request.query_params.get("trap_offset", ""))
    trap_total = len(bundle["trap"])
    trap = bundle["trap"][trap_offset : trap_offset + TRAP_PAGE]
    names: dict[int, str] = {}
    if trap:
        ids = [t["customer_id"] for t in trap]
        names = dict(
            session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids))).all()
        )
    trap_ctx = {
        "trap": trap,
        "names": names,
        "trap_offset": trap_offset,
        "trap_limit": TRAP_PAGE,
        "trap_total": trap_total,
    }
    if is_htmx(request) and request.headers.get("hx-target") == "trap-results":
        return render(request, "surveys/_trap.html", **trap_ctx)
    value = bundle["value"]
    comments, total = comment_rows(
        session,
        survey.id,
        limit=COMMENTS_PER_PAGE,
        offset=(page - 1) * COMMENTS_PER_PAGE,
        flt=flt,
    )
    pages = max(1, -(-total // COMMENTS_PER_PAGE))
    shown = measures(survey)
    locale = request_locale(request)
    qtexts = question_texts(survey, locale)
    for c in comments:
        c["question_text"] = qtexts.get(c["question"], c["question_text"])
    return render(
        request,
        "surveys/results.html",
        status_code=422 if errors else 200,
        survey=languages.shown_survey(survey, locale),
        res=bundle["res"],
        value=value,
        weakest=value["overall"]["weakest"] if value and value.get("overall") else None,
        gaps=value_gaps(survey),
        csi=bundle["csi"],
        csi_note=bundle["csi_note"],
        **trap_ctx,
        charts=charts,
        csat_height=csat_height(bundle["res"]),
        pct=pct,
        measures=shown,
        measured=[METRIC_NAMES[k] for k, on in shown.items() if on],
        not_measured=[METRIC_NAMES[k] for k, on in shown.items() if not on],
        distributions=localised_distributions(survey, bundle["distributions"], locale),
        qtexts=qtexts,
        comments=comments,
        comments_total=total,
        comments_page=page,
        comments_pages=pages,
        show_customers=can(user, "customer:read"),
        filtered=flt.active,
        page_link=lambda n: query_with(request, comments_page=n),
        **filter_context(request, survey, dash, channel, errors),
    )


@router.get("/surveys/{survey_id:int}/comments.csv")
def comments_csv(request: Request, session: DbSession, user: PageUser, survey_id: DbId) -> Response:
    """Every comment of the survey as CSV, newest first; cells neutralised (no formulas). The
    results page's filters apply (a bad one is a 422 naming the field)."""
    require(user, "data:export")
    survey = service.get_survey(session, survey_id, actor=user)
    _, _, flt, errors = parse_filters(request, session)
    if errors:
        name, message = next(iter(errors.items()))
        raise InvalidInput(message, field=name)
    rows, _ = comment_rows(session, survey.id, limit=None, flt=flt)
    customers = can(user, "customer:read")
    buf = io.StringIO()
    w = csv.writer(buf)
    head = ["response_id", "completed_at", "channel", "question", "comment"]
    w.writerow(head + (["customer_id", "customer_name"] if customers else []))
    for r in rows:
        line = [
            r["response_id"],
            r["completed_at"].isoformat() if r["completed_at"] else "",
            r["channel"],
            r["question"],
            r["comment"],
        ]
        if customers:
            line += [r["customer_id"] or "", r["customer_name"] or ""]
        w.writerow(neutralise_row(line))
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="survey-{survey_id}-comments.csv"'},
    )
