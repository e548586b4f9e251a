"""Profiling consent: the organisation setting "Profiling needs the customer's consent".

Off by default (the business profiles from its own order records: legitimate interest). When a
manager turns it on (value settings, ``profiling_needs_consent``) customers whose
``consent_profiling`` is off are not profiled:

- a scoring run neither computes nor stores their scores (value class, CLV, churn risk,
  reasons) and leaves their orders out of the models' training data, and it deletes the scores
  earlier runs stored for them (so turning a customer's consent off clears their scores at the
  next run); the run report counts them (``report["consent"]``);
- everything that reads stored scores (the 360 page, the at-risk list, the warning rules, the
  automated playbook actions, segments by score, Insights training data) also filters on the
  customer's consent *now* through :func:`profiled_condition`, so a withdrawn consent takes
  effect at once, before the next run deletes the rows.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, true
from sqlalchemy.orm import Session

from retento.customers.models import Customer
from retento.scoring.models import CustomerScore, ScoreRun, ValueSettings


def required(session: Session) -> bool:
    """True when profiling needs the customer's consent (the organisation setting)."""
    value = session.scalar(
        select(ValueSettings.profiling_needs_consent).where(ValueSettings.id == 1)
    )
    return bool(value)


def not_consenting() -> Select:
    """``SELECT id`` of the customers who have not agreed to profiling."""
    return select(Customer.id).where(Customer.consent_profiling.is_not(True))


def profiled_condition(session: Session, customer_id: Any) -> Any:
    """A ``WHERE`` condition keeping only customers who may be profiled (``customer_id`` is a
    column holding a customer id): always true while the setting is off."""
    if not required(session):
        return true()
    return customer_id.not_in(not_consenting())


def _setting_on() -> Any:
    return (
        select(ValueSettings.id)
        .where(ValueSettings.id == 1, ValueSettings.profiling_needs_consent.is_(True))
        .exists()
    )


def setting_on_sql() -> Any:
    """The setting as a column, to read it inside another query (the 360 panel's)."""
    return _setting_on().label("profiling_needs_consent")


def profiled_sql(customer_id: Any) -> Any:
    """Like :func:`profiled_condition` but decided inside the query (for the places that build
    a statement without a session, e.g. segments by score)."""
    return customer_id.not_in(not_consenting().where(_setting_on()))


def profiled_customer_sql() -> Any:
    """The same for a statement that joins ``Customer`` already: a condition on that row."""
    return or_(Customer.consent_profiling.is_(True), ~_setting_on())


def may_profile(session: Session, customer: Customer) -> bool:
    """True when ``customer`` may be profiled now."""
    return bool(customer.consent_profiling) or not required(session)


def left_out_counts(session: Session) -> dict[str, int]:
    """Active customers a run leaves out for want of consent, and how many of them bought."""
    from retento.orders.models import Order

    base = [Customer.archived_at.is_(None), Customer.consent_profiling.is_not(True)]
    customers = int(session.scalar(select(func.count(Customer.id)).where(*base)) or 0)
    buyers = int(
        session.scalar(
            select(func.count(Customer.id)).where(
                *base, Customer.id.in_(select(Order.customer_id).where(Order.status != "cancelled"))
            )
        )
        or 0
    )
    return {"customers": customers, "buyers": buyers}


def clear_scores(session: Session) -> int:
    """Delete every stored score of customers without profiling consent (all runs) and their
    points in the runs' chart samples; the number of customers whose scores were deleted."""
    who = not_consenting()
    cleared = int(
        session.scalar(
            select(func.count(func.distinct(CustomerScore.customer_id))).where(
                CustomerScore.customer_id.in_(who)
            )
        )
        or 0
    )
    if not cleared:
        return 0
    gone = set(
        session.scalars(
            select(func.distinct(CustomerScore.customer_id)).where(
                CustomerScore.customer_id.in_(who)
            )
        )
    )
    session.execute(
        delete(CustomerScore).where(CustomerScore.customer_id.in_(who)),
        execution_options={"synchronize_session": False},
    )
    _scrub_reports(session, gone)
    return cleared


def without_refused(session: Session, scores: Any) -> Any:
    """``scores`` (a frame with ``customer_id``) without customers whose consent is off now."""
    ids = scores["customer_id"].astype("int64")
    refused = set(session.scalars(not_consenting().where(Customer.archived_at.is_(None))))
    return scores[~ids.isin(refused)] if refused else scores


def _scrub_reports(session: Session, gone: set[int]) -> None:
    """Remove the customers' points from the scatter samples stored in run reports (the
    samples name customer ids with their CLV, P(alive) and churn risk)."""
    runs = session.scalars(select(ScoreRun).where(ScoreRun.status == "succeeded")).all()
    for run in runs:
        # A copy: changing the loaded JSON in place would leave SQLAlchemy seeing no change.
        report = copy.deepcopy(run.report or {})
        changed = False
        for part in (report.get("distribution"), (report.get("churn") or {}).get("distribution")):
            if not isinstance(part, dict) or not isinstance(part.get("scatter"), list):
                continue
            kept = [p for p in part["scatter"] if not (len(p) > 2 and p[2] in gone)]
            if len(kept) != len(part["scatter"]):
                part["scatter"] = kept
                changed = True
        if changed:
            run.report = report
