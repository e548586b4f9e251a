"""Insights: customer experience by mode and journey stage (SPEC §7), from experience records
and answers to mode-tagged survey questions (``retento.journey.dashboard``), with the list of
experience records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.core.errors import FieldError, choice_error
from retento.core.pagination import apply_sort
from retento.core.validation import offset_from_text
from retento.customers.models import Customer
from retento.customers.service import can_change_customer
from retento.dataio.downloads import download
from retento.insights.registry import Insight, register_insight, render_insight
from retento.journey import labels as _labels  # noqa: F401  (registers the labels)
from retento.journey import service
from retento.journey.charts import api_url, heatmap_chart, mode_chart
from retento.journey.dashboard import SOURCES, experience_summary
from retento.journey.models import MODES, RATING_MAX, RATING_MIN, ExperienceRecord
from retento.touchpoints.models import STAGES
from retento.web import dashfilters
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.listfilters import raw_params, refuse, with_query
from retento.web.render import PageUser, page_router, tr

router = page_router()

register_insight(
    Insight(
        key="experience",
        title=N_("Experience by mode"),
        summary=N_(
            "How customers rate their experience — sense, feel, think, act, relate — at each "
            "journey stage, from experience records and mode-tagged survey questions."
        ),
        href="/insights/experience",
        permission="touchpoint:read",
        order=61,
    )
)

PAGE_SIZE = 50
EXPORT_BATCH = 5_000
EXPORT_COLUMNS = (
    "id", "external_id", "customer_id", "customer_external_id", "customer_name", "occurred_at",
    "mode", "stage", "rating", "touchpoint_id", "survey_response_id", "survey_answer_id", "note",
)  # fmt: skip
PARAMS = ("source", "mode", "stage", "rating", "customer", "customer_id")


def _filters(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
    """Record filters for ``service.experience_filter`` and the raw values to re-show."""
    raw = raw_params(request, PARAMS)
    problems: list[FieldError] = []
    filters: dict[str, Any] = {}
    choose = tr(request, "Choose one of the listed values.")
    # A code not in a select (a hand-edited link) is named as the filter is, choices by label.
    for key, label, group, allowed in (
        ("mode", N_("Experience mode"), "experience_mode", MODES),
        ("stage", N_("Journey stage"), "stage", STAGES),
        ("source", N_("Source"), "experience_source", SOURCES),
    ):
        if raw[key] and raw[key] not in allowed:
            problems.append(choice_error(key, label, [(c, label_msgid(group, c)) for c in allowed]))
        elif raw[key] and key != "source":
            filters[key] = raw[key]
    if raw["rating"]:
        if raw["rating"].isdigit() and RATING_MIN <= int(raw["rating"]) <= RATING_MAX:
            filters["rating"] = int(raw["rating"])
        else:
            problems.append(FieldError("rating", choose))
    if raw["customer_id"]:
        if raw["customer_id"].isdigit() and len(raw["customer_id"]) <= 9:
            filters["customer_id"] = int(raw["customer_id"])
        else:
            problems.append(FieldError("customer_id", tr(request, "Enter a whole number.")))
    if raw["customer"]:
        filters["customer_q"] = raw["customer"]
    refuse(problems)
    return filters, raw


@router.get("/insights/experience")
def experience_page(request: Request, session: DbSession, user: PageUser) -> Response:
    """The experience dashboard (mode × stage) and the experience records of the period."""
    require(user, service.READ)
    dash = dashfilters.parse(request, {}, default_period="365")
    filters, raw = _filters(request)
    summary = experience_summary(
        session, start=dash.start, end=dash.end, source=raw["source"] or None
    )
    offset = offset_from_text(request.query_params.get("offset", "0"))
    stmt = apply_sort(
        service.experience_filter(since=dash.start, until=dash.end, **filters),
        "-occurred_at",
        service.SORTABLE,
        ExperienceRecord.id,
    )
    rows = list(session.scalars(stmt.limit(PAGE_SIZE + 1).offset(offset)))
    shown = rows[:PAGE_SIZE]
    ids = {e.customer_id for e in shown}
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}

    def opts(group: str, codes: tuple[str, ...]) -> list[tuple[str, str]]:
        return [(c, tr(request, label_msgid(group, c))) for c in codes]

    return render_insight(
        request,
        user,
        "insights/experience.html",
        summary=summary,
        dash=dash,
        dash_periods=dashfilters.PERIOD_OPTIONS,
        f=raw,
        rows=[
            (e, customers.get(e.customer_id), can_change_customer(user, customers[e.customer_id]))
            for e in shown
            if e.customer_id in customers
        ],
        has_next=len(rows) > PAGE_SIZE,
        offset=offset,
        limit=PAGE_SIZE,
        modes=opts("experience_mode", MODES),
        stages=opts("stage", STAGES),
        sources=opts("experience_source", SOURCES),
        ratings=[(str(r), str(r)) for r in range(RATING_MAX, RATING_MIN - 1, -1)],
        rating_max=RATING_MAX,
        charts={"heatmap": heatmap_chart(request, summary), "modes": mode_chart(request, summary)},
        api_url=api_url("/api/v1/insights/experience", dash, source=raw["source"]),
        csv_url=with_query(request, "/insights/experience/export.csv"),
        xlsx_url=with_query(request, "/insights/experience/export.xlsx"),
        may_export=can(user, "data:export"),
    )


def _producer(filters: dict[str, Any]):
    """Header, then the filtered records in id order, EXPORT_BATCH rows at a time."""

    def produce(session, actor) -> Iterator[list[list[Any]]]:
        require(actor, service.READ)
        yield [list(EXPORT_COLUMNS)]
        last = 0
        while True:
            stmt = (
                service.experience_filter(**filters)
                .add_columns(Customer.external_id, Customer.name)
                .join(Customer, Customer.id == ExperienceRecord.customer_id)
                .where(ExperienceRecord.id > last)
                .order_by(ExperienceRecord.id)
                .limit(EXPORT_BATCH)
            )
            rows = session.execute(stmt).all()
            if not rows:
                return
            yield [
                [e.id, e.external_id, e.customer_id, ext, name, e.occurred_at, e.mode, e.stage,
                 e.rating, e.touchpoint_id, e.survey_response_id, e.survey_answer_id, e.note]
                for e, ext, name in rows
            ]  # fmt: skip
            last = rows[-1][0].id

    return produce


def _export(request: Request, user: User, fmt: str) -> Response:
    require(user, service.READ)
    dash = dashfilters.parse(request, {}, default_period="365")
    filters, _ = _filters(request)
    return download(
        request,
        user,
        _producer({"since": dash.start, "until": dash.end, **filters}),
        fmt=fmt,
        filename="experience-records",
        sheet=tr(request, "Experience records"),
    )


@router.get("/insights/experience/export.csv")
def experience_export_csv(request: Request, user: PageUser) -> Response:
    """The filtered experience records as CSV (``data:export``)."""
    return _export(request, user, "csv")


@router.get("/insights/experience/export.xlsx")
def experience_export_xlsx(request: Request, user: PageUser) -> Response:
    """The filtered experience records as XLSX (``data:export``)."""
    return _export(request, user, "xlsx")
