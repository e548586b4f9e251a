"""The scores list (``/value/customers``): scored customers filtered by value class, label,
stage, P(alive), CLV, churn risk and owner, sorted and paged (htmx swaps the results);
its filters also select the rows of the export (:mod:`retento.scoring.pages_export`).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.permissions import require
from retento.auth.service import assignable_user_choices
from retento.core.deps import DbSession
from retento.core.errors import FieldError, choice_error, number_error, range_error
from retento.core.money import number_text
from retento.core.validation import is_id, offset_from_text
from retento.customers.models import Customer
from retento.scoring import pages_churn, service
from retento.scoring.models import LABELS, STAGES, VALUE_CLASSES
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.listfilters import refuse
from retento.web.render import PageUser, is_htmx, page_router, render, tr

router = page_router()

PAGE_SIZE = 50


SORT_OPTIONS = (
    ("-clv", N_("CLV, highest first")),
    ("clv", N_("CLV, lowest first")),
    ("-churn_risk", N_("Churn risk, highest first")),
    ("p_alive", N_("P(alive), lowest first")),
    ("-p_alive", N_("P(alive), highest first")),
    ("-profit", N_("Profit, highest first")),
    ("-expected_purchases", N_("Expected purchases, most first")),
    ("customer_id", N_("Customer number")),
)


SORTS = {code for code, _ in SORT_OPTIONS}


# The filters of stored codes: query key, codes, the filter's label, the label group of its codes
# (named as ``service.scores_query`` names them for the API).
CODE_FILTERS = (
    ("value_class", VALUE_CLASSES, N_("Value class"), "value_class"),
    ("label", LABELS, N_("Label"), "value_label"),
    ("stage", STAGES, N_("Loyalty stage"), "loyalty_stage"),
)

# The filters' labels as the page shows them: a bad value names the filter so.
FILTER_LABELS = {
    "p_alive_lt": N_("P(alive) below"),
    "p_alive_gte": N_("P(alive) at least"),
    "clv_gte": N_("CLV at least"),
    "churn_risk_gte": N_("Churn risk at least"),
    "owner": N_("Owner"),
    "run": N_("Scoring run"),
}


def _float(
    raw: str, field: str, problems: list[FieldError], lo: float | None = None
) -> float | None:
    """Parse one numeric filter, noting a problem instead of failing."""
    if not raw:
        return None
    try:
        value = float(number_text(raw))  # "1,250" is 1250; "0,5" is refused
    except ValueError:
        problems.append(number_error(field, FILTER_LABELS[field]))
        return None
    if lo is not None and not (math.isfinite(value) and lo <= value <= 1):
        problems.append(range_error(field, FILTER_LABELS[field], 0, 1))
        return None
    if not math.isfinite(value):
        problems.append(number_error(field, FILTER_LABELS[field]))
        return None
    return value


def _score_filters(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
    """Service filters and the raw values to echo back in the form, from the query string."""
    qp = request.query_params
    keys = (
        "value_class", "label", "stage", "p_alive_lt", "p_alive_gte", "clv_gte", "owner", "sort",
        "run", "churn_risk_gte",
    )  # fmt: skip
    raw = {k: qp.get(k, "").strip() for k in keys}
    problems: list[FieldError] = []
    filters: dict[str, Any] = {}
    # A code that is not one of the form's choices (a hand-edited or stale link) is named, not
    # dropped: a dropped filter listed (and exported) every scored customer under its heading.
    for key, allowed, title, group in CODE_FILTERS:
        if raw[key] in allowed:
            filters[key] = raw[key]
        elif raw[key]:
            choices = [(c, label_msgid(group, c)) for c in allowed]
            problems.append(choice_error(key, title, choices))
    filters["p_alive_lt"] = _float(raw["p_alive_lt"], "p_alive_lt", problems, lo=0.0)
    filters["p_alive_gte"] = _float(raw["p_alive_gte"], "p_alive_gte", problems, lo=0.0)
    filters["clv_gte"] = _float(raw["clv_gte"], "clv_gte", problems)
    filters["churn_risk_gte"] = _float(raw["churn_risk_gte"], "churn_risk_gte", problems, lo=0.0)
    for key, field in (("owner", "owner_id"), ("run", "run_id")):
        if raw[key]:
            if not is_id(raw[key]):
                problems.append(number_error(key, FILTER_LABELS[key], whole=True))
            else:
                filters[field] = int(raw[key])
    if raw["sort"] and raw["sort"] not in SORTS:
        problems.append(choice_error("sort", N_("Sort"), SORT_OPTIONS))
    if raw["sort"] not in SORTS:
        raw["sort"] = "-clv"
    filters["sort"] = raw["sort"]
    refuse(problems)
    return filters, raw


def _offset(request: Request) -> int:
    value = request.query_params.get("offset", "0")
    return offset_from_text(value)


@router.get("/value/customers")
def value_customers(request: Request, session: DbSession, user: PageUser) -> Response:
    """Scored customers filtered by class, label, stage, P(alive) and CLV (htmx swaps results)."""
    require(user, "score:read")
    filters, raw = _score_filters(request)
    offset = _offset(request)
    if filters.get("run_id") is None and service.latest_run(session) is None:
        return render(
            request,
            "scoring/customers.html",
            run=None,
            f=raw,
            **_choices(request, session),
            **pages_churn.page_context(request, None),
        )
    run, rows, total = service.list_scores(
        session, actor=user, limit=PAGE_SIZE, offset=offset, **filters
    )
    ids = [r.customer_id for r in rows]
    names = (
        dict(
            session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)))
            .tuples()
            .all()
        )
        if ids
        else {}
    )
    ctx = {
        "run": run,
        "rows": rows,
        "names": names,
        "total": total,
        "has_next": offset + len(rows) < total,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": raw,
        **pages_churn.page_context(request, run),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "scoring/_scores.html", **ctx)
    return render(request, "scoring/customers.html", **ctx, **_choices(request, session))


def _choices(request: Request, session: Session) -> dict[str, Any]:
    """The options of the filter form's selects."""
    return {
        "value_classes": [(c, tr(request, label_msgid("value_class", c))) for c in VALUE_CLASSES],
        "labels": [(c, tr(request, label_msgid("value_label", c))) for c in LABELS],
        "stages": [(c, tr(request, label_msgid("loyalty_stage", c))) for c in STAGES],
        "owners": assignable_user_choices(session),
        "sorts": [(code, tr(request, msgid)) for code, msgid in SORT_OPTIONS],
    }
