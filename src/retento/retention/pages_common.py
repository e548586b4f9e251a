"""Shared pieces of the retention pages: churn reasons in words, chart JSON, filter parsing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from fastapi import Request

from retento.analytics import churn_reasons
from retento.core.errors import FieldError, InvalidInput, choice_error, number_error
from retento.core.validation import is_id, offset_from_text
from retento.retention.reasons import ALERT_STATUS_NAMES, SEVERITY_NAMES, model_reason
from retento.web.i18n import N_
from retento.web.labels import label_msgid, register_labels, register_value_labels
from retento.web.render import request_locale, tr

PAGE_SIZE = 50

# Short names of the churn model's reason codes (the filter's options); the full sentence with
# the customer's own numbers comes from analytics.churn_reasons.
register_labels(
    "churn_reason",
    {
        "lapsed": N_("No purchase for longer than usual"),
        "lapsed_once": N_("Bought once, not since"),
        "purchases_falling": N_("Fewer purchases"),
        "few_purchases": N_("Few purchases"),
        "spend_falling": N_("Spending fell"),
        "low_spend": N_("Low spend"),
        "new_customer": N_("New customer"),
        "units_falling": N_("Fewer items bought"),
        "units_per_order": N_("Few items per purchase"),
        "inactive_model": N_("Purchase pattern says inactive"),
        "purchase_count": N_("Number of purchases"),
        "spend_level": N_("Spend per purchase"),
        "tenure": N_("Time as a customer"),
        "units_level": N_("Items per purchase"),
        "active_model": N_("Purchase pattern"),
        "complaints_open": N_("Open complaints"),
        "complaints_breached": N_("Complaint past its deadline"),
        "complaint_severity": N_("Severe complaint"),
        "nps_detractor": N_("Low recommendation score"),
        "touchpoints_recent": N_("Recent contacts"),
        "loyalty_tier": N_("Loyalty tier"),
        "loyalty_activity": N_("Loyalty points activity"),
    },
)

register_labels("alert_status", ALERT_STATUS_NAMES)
register_labels(
    "task_status",
    {"open": N_("Open"), "done": N_("Done"), "cancelled": N_("Cancelled")},
)
register_labels(
    "task_result",
    {
        "reached": N_("Reached the customer"),
        "offer_accepted": N_("Offer accepted"),
        "not_reached": N_("Could not reach the customer"),
        "declined": N_("Reached, offer declined"),
    },
)
register_labels(
    "task_kind",
    {"task": N_("Win-back task"), "call": N_("Call"), "offer": N_("Offer")},
)
# The audit log and the stale-edit page name these records' coded values by these groups.
register_value_labels(
    "retention_task", {"status": "task_status", "kind": "task_kind", "result": "task_result"}
)
register_labels("retention_severity", SEVERITY_NAMES)
register_value_labels(
    "retention_alert", {"status": "alert_status", "severity": "retention_severity"}
)
register_value_labels("retention_rule", {"severity": "retention_severity"})
register_value_labels("retention_case", {"outcome": "case_outcome"})


def reason_codes() -> list[str]:
    """Every reason code the churn model can give, in the library's order."""
    return list(churn_reasons.REASONS)


@lru_cache(maxsize=65_536)
def _render(code: str, params: tuple, locale: str, currency: str) -> str:
    # Exports render hundreds of thousands of reasons whose values (days, counts) repeat a lot.
    return model_reason(code, dict(params), locale, currency)


def reason_text(request: Request, reason: dict[str, Any]) -> str:
    """A stored reason ``{"code", "params"}`` as a sentence in the request's language, amounts
    in the installation's currency."""
    locale = request_locale(request)
    currency = request.app.state.settings.currency
    code = str(reason.get("code") or "")
    params = reason.get("params") or {}
    try:
        return _render(code, tuple(sorted(params.items())), locale, currency)
    except TypeError:  # a parameter that cannot be a cache key (a list): render directly
        return model_reason(code, params, locale, currency)


def reason_label(request: Request, code: str | None) -> str:
    """The short name of a reason code."""
    return tr(request, label_msgid("churn_reason", code)) if code else ""


def pct(value: float | None, digits: int = 1) -> str:
    """``0.2345`` → ``23.5 %``."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:.{digits}f} %"


def offset_of(request: Request) -> int:
    return offset_from_text(request.query_params.get("offset", "0"))


def choice(
    raw: str,
    allowed: tuple[str, ...] | list[str],
    field: str,
    problems: list,
    *,
    label: str,
    labels: Mapping[str, str] | None = None,
) -> str | None:
    """``raw`` if it is one of ``allowed`` (empty → ``None``), else a problem naming ``field``
    by the filter's ``label`` (a msgid) and listing the choices by ``labels`` (code → msgid)."""
    if not raw:
        return None
    if raw not in allowed:
        names = labels or {}
        problems.append(choice_error(field, label, [(c, names.get(c, c)) for c in allowed]))
        return None
    return raw


def id_param(raw: str, field: str, problems: list, *, label: str) -> int | None:
    """A record's id in the query (empty → ``None``), else a problem naming ``field``."""
    if not raw:
        return None
    if not is_id(raw):
        problems.append(number_error(field, label, whole=True))
        return None
    return int(raw)


def raise_problems(problems: list[FieldError]) -> None:
    """Bad query parameters answer 422 naming the first field."""
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)


def tab_counts(session: Any, user: Any) -> dict[str, int]:
    """The numbers on the tabs: my alerts still needing someone and my open tasks."""
    from sqlalchemy import func, select

    from retento.retention.models import RetentionAlert, RetentionTask

    alerts = session.scalar(
        select(func.count(RetentionAlert.id)).where(
            RetentionAlert.owner_id == user.id,
            RetentionAlert.status.in_(("open", "acknowledged")),
        )
    )
    tasks = session.scalar(
        select(func.count(RetentionTask.id)).where(
            RetentionTask.owner_id == user.id, RetentionTask.status == "open"
        )
    )
    return {"alerts": int(alerts or 0), "tasks": int(tasks or 0)}
