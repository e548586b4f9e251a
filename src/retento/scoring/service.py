"""Scoring runs: SQL summaries → CLV models and value classification → stored scores."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retento.audit.service import record
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.config import get_settings
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound, choice_error
from retento.core.money import to_money
from retento.core.pagination import apply_sort, paginate
from retento.customers.models import Customer
from retento.scoring import churn, compute, consent, queries, value_settings
from retento.scoring.models import (
    LABELS,
    STAGES,
    VALUE_CLASSES,
    CustomerScore,
    ScoreRun,
    top_reason,
    value_at_risk,
)
from retento.scoring.schemas import ScoreRunCreate
from retento.web.i18n import N_
from retento.web.labels import label_msgid

Progress = Callable[[str, float], None]

SORTABLE = {
    "customer_id": CustomerScore.customer_id,
    "clv": CustomerScore.clv,
    "p_alive": CustomerScore.p_alive,
    "churn_risk": CustomerScore.churn_risk,
    "profit": CustomerScore.profit,
    "revenue": CustomerScore.revenue,
    "expected_purchases": CustomerScore.expected_purchases,
    "frequency": CustomerScore.frequency,
}

CHUNK = 20_000


def _noop(_stage: str, _fraction: float) -> None:
    return None


# Progress of runs executing in this process, for the web progress bar: run id -> (stage, 0..1).
LIVE_PROGRESS: dict[int, tuple[str, float]] = {}
MIN_CUSTOMERS = 10
STALE_RUN = timedelta(hours=6)  # a "running" run older than this died with its process
# A fixed 64-bit key of the advisory lock taken while a run is started ("SCORERUN").
_START_LOCK = 0x53434F52_4552554E


def _customers_with_orders(session: Session) -> int:
    from retento.orders.models import Order

    return int(session.scalar(select(func.count(func.distinct(Order.customer_id)))) or 0)


def start_run(session: Session, data: ScoreRunCreate, *, actor: User | None) -> ScoreRun:
    """Record a new run as running (refused if too few buyers or another run is in progress)."""
    if actor is not None:
        require(actor, "score:run")
    if _customers_with_orders(session) < MIN_CUSTOMERS:
        raise InvalidInput(
            "At least 10 customers with orders are needed to fit the models.", field="model"
        )
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
        select(func.pg_try_advisory_xact_lock(_START_LOCK))
    ):
        # Another transaction is starting a run, or running one it has not committed (the API's
        # ``wait=true``, the CLI): refused at once rather than waiting behind it on the index.
        raise Conflict(
            Msg("Another scoring run is in progress; wait for it to finish."), field="model"
        )
    now = utcnow()
    busy = session.scalars(select(ScoreRun).where(ScoreRun.status == "running")).all()
    for other in busy:
        if now - other.started_at < STALE_RUN:
            raise _in_progress(other.id)
        other.status, other.error, other.finished_at = "failed", "Interrupted.", now
    session.flush()  # the stale run closed before the new one takes the one "running" place
    run = ScoreRun(
        model=data.model,
        as_of=data.as_of or now,
        status="running",
        started_at=now,
        triggered_by=actor.username if actor else "system",
    )
    # Two starts at the same moment both read no run in progress: the unique index on the
    # running run (``uq_score_runs_running``) refuses the second insert, which waits for the
    # first transaction and fails once it commits.
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        other_id = session.scalar(
            select(ScoreRun.id).where(ScoreRun.status == "running").order_by(ScoreRun.id.desc())
        )
        raise _in_progress(other_id) from None
    return run


def _in_progress(run_id: int | None) -> Conflict:
    return Conflict(
        Msg("Scoring run #%(id)s is still in progress; wait for it to finish.", id=run_id),
        field="model",
    )


def run_scoring(
    session: Session, data: ScoreRunCreate, *, actor: User | None, progress: Progress = _noop
) -> ScoreRun:
    """Score every customer now; the run row records success or the error."""
    run = start_run(session, data, actor=actor)
    return execute_run(session, run, data, actor=actor, progress=progress)


def execute_run(
    session: Session,
    run: ScoreRun,
    data: ScoreRunCreate,
    *,
    actor: User | None,
    progress: Progress = _noop,
) -> ScoreRun:
    """Compute and store the scores of a started run (scores are all-or-nothing)."""
    as_of = run.as_of
    try:
        progress("summary", 0.05)
        # "Profiling needs the customer's consent" (scoring.consent): customers without it are
        # neither in the models' data nor scored, and earlier runs' scores of them are deleted.
        only = consent.required(session)
        summary = queries.customer_summary(session, as_of, consent_only=only)
        if int((summary["order_count"] > 0).sum()) < MIN_CUSTOMERS:
            raise InvalidInput(
                "At least 10 customers with orders are needed to fit the models.", field="model"
            )
        monthly = queries.monthly_activity(session, as_of, consent_only=only)
        holdout = None
        if data.holdout_weeks:
            holdout_start = as_of - timedelta(weeks=data.holdout_weeks)
            holdout = queries.daily_transactions(
                session, (holdout_start - timedelta(days=3650)).date(), as_of, consent_only=only
            )
        progress("fit", 0.25)
        # The value settings (pyramid cut-offs, loyalty-stage rules) as they are now.
        rules = value_settings.rules_for_run(session)
        result = compute.score_customers(summary, monthly, holdout, data, as_of=as_of, rules=rules)
        progress("churn", 0.45)
        scores, churn_report = _with_churn(session, result.scores, data, as_of, only)
        result.report["churn"] = compute.json_safe(churn_report)
        result.report["consent"] = {"required": only}
        if only:
            result.report["consent"] |= {
                **{f"left_out_{k}": v for k, v in consent.left_out_counts(session).items()},
                "cleared": consent.clear_scores(session),
            }
            # Consent withdrawn while the models were fitted: not stored either.
            scores = consent.without_refused(session, scores)
        progress("store", 0.70)
        _store(session, run.id, scores, progress)
        run.params = {
            **result.params,
            "churn": {
                "model": churn_report.get("model"),
                "horizon_days": churn_report.get("horizon_days"),
                "status": churn_report.get("status"),
            },
        }
        run.log_likelihood = result.log_likelihood
        run.report = result.report
        run.customers_scored = len(scores)
        run.status = "succeeded"
    except InvalidInput:
        raise  # bad request: the caller rolls back (the background runner records it as failed)
    except Exception as exc:
        run.status = "failed"
        run.error = f"{type(exc).__name__}: {exc}"
        run.report = {"traceback": traceback.format_exc(limit=5)}
    run.finished_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "create",
        "score_run",
        run.id,
        None,
        {
            "model": run.model,
            "status": run.status,
            "customers": run.customers_scored,
            **(
                {"consent": (run.report or {}).get("consent")}
                if (run.report or {}).get("consent", {}).get("required")
                else {}
            ),
        },
    )
    progress("done", 1.0)
    return run


def churn_horizon(data: ScoreRunCreate) -> int:
    return int(data.churn_horizon_days or get_settings().churn_horizon_days)


def _with_churn(
    session: Session,
    scores: pd.DataFrame,
    data: ScoreRunCreate,
    as_of: datetime,
    consent_only: bool = False,
) -> tuple[pd.DataFrame, dict]:
    """Add ``churn_risk`` and ``churn_reasons`` (None where not computed) and the churn report."""
    horizon = churn_horizon(data)
    if not data.churn:
        report = {"model": churn.MODEL_NAME, "horizon_days": horizon, "status": "off"}
        report["reason_code"] = "off"
        report["reason"] = "churn risk was not requested for this run"
        risk = pd.DataFrame(columns=["churn_risk", "churn_reasons"])
    else:
        risk, report = churn.churn_scores(
            session, as_of, horizon_days=horizon, consent_only=consent_only
        )
    scores = scores.copy()
    ids = scores["customer_id"].astype("int64")
    risk_values = [
        None if v is None or pd.isna(v) else round(float(v), 6)
        for v in ids.map(risk["churn_risk"]).astype(object)
    ]
    # Object dtype keeps None as None (a float column would turn it into NaN, which PostgreSQL
    # stores as a number, not NULL).
    scores["churn_risk"] = pd.Series(risk_values, index=scores.index, dtype=object)
    reasons = risk["churn_reasons"].to_dict()
    scores["churn_reasons"] = pd.Series(
        [reasons.get(int(i)) for i in ids], index=scores.index, dtype=object
    )
    if report.get("status") == "scored":
        report["distribution"] = _risk_distribution(scores)
    return scores, report


def _risk_distribution(scores: pd.DataFrame) -> dict:
    """Histogram of churn risk and a sample of (risk, CLV, customer) points for the dashboard."""
    scored = scores[scores["churn_risk"].notna()]
    risk = scored["churn_risk"].to_numpy(float)
    counts, edges = np.histogram(risk, bins=10, range=(0.0, 1.0))
    rng = np.random.default_rng(0)
    sample = scored if len(scored) <= 2000 else scored.iloc[rng.choice(len(scored), 2000, False)]
    points = [
        [round(float(r), 4), round(float(c or 0.0), 2), int(i)]
        for r, c, i in zip(sample["churn_risk"], sample["clv"], sample["customer_id"], strict=True)
    ]
    return {
        "hist": {"edges": [round(float(e), 2) for e in edges], "counts": counts.tolist()},
        "scatter": points,
    }


def _money(value: float) -> Decimal:
    return to_money(round(float(value), 2))


def _store(session: Session, run_id: int, scores: pd.DataFrame, progress: Progress) -> None:
    cols = list(scores.columns)
    money_cols = {"revenue", "profit", "monetary", "expected_spend", "clv"}
    total = len(scores)
    for start in range(0, total, CHUNK):
        part = scores.iloc[start : start + CHUNK]
        rows = []
        for rec in part.itertuples(index=False):
            row = dict(zip(cols, rec, strict=True))
            for key in money_cols:
                v = row.get(key)
                row[key] = (
                    None if v is None or (isinstance(v, float) and np.isnan(v)) else _money(v)
                )
            for key in ("first_order_on", "last_order_on"):
                if row.get(key) is not None and pd.isna(row[key]):
                    row[key] = None
            # Stored for the at-risk list's index (retention.queries_web): CLV × risk in cents.
            row["value_at_risk"] = value_at_risk(row.get("clv"), row.get("churn_risk"))
            row["churn_top_reason"] = top_reason(row.get("churn_reasons"))
            row["run_id"] = run_id
            rows.append(row)
        if rows:
            # Bulk path (issue 15): COPY on PostgreSQL, one prepared executemany on SQLite.
            from retento.dataio.bulk import insert_rows

            names = list(rows[0])
            insert_rows(
                session.connection(),
                CustomerScore.__table__,
                names,
                ([r.get(c) for c in names] for r in rows),
            )
        progress("store", 0.70 + 0.29 * min(1.0, (start + CHUNK) / max(total, 1)))


def latest_run(session: Session, *, model: str | None = None) -> ScoreRun | None:
    stmt = select(ScoreRun).where(ScoreRun.status == "succeeded")
    if model:
        stmt = stmt.where(ScoreRun.model == model)
    return session.scalar(stmt.order_by(ScoreRun.id.desc()).limit(1))


def get_run(session: Session, run_id: int, *, actor: User) -> ScoreRun:
    require(actor, "score:read")
    run = session.get(ScoreRun, run_id)
    if run is None:
        raise NotFound("Scoring run", run_id)
    return run


def list_runs(session: Session, *, actor: User, limit: int = 20, offset: int = 0):
    require(actor, "score:read")
    return paginate(
        session, select(ScoreRun).order_by(ScoreRun.id.desc()), limit=limit, offset=offset
    )


def _run_or_latest(session: Session, run_id: int | None) -> ScoreRun:
    run = session.get(ScoreRun, run_id) if run_id else latest_run(session)
    if run is None or run.status != "succeeded":
        raise NotFound("Scoring run", run_id or "latest", field="run_id")
    return run


def list_scores(
    session: Session,
    *,
    actor: User,
    run_id: int | None = None,
    value_class: str | None = None,
    label: str | None = None,
    stage: str | None = None,
    p_alive_lt: float | None = None,
    p_alive_gte: float | None = None,
    clv_gte: float | None = None,
    churn_risk_gte: float | None = None,
    churn_risk_lt: float | None = None,
    owner_id: int | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
):
    """Scores of one run (default: the latest), filtered e.g. 'VIP customers with P(alive) < 0.5'."""
    run, stmt = scores_query(
        session,
        actor=actor,
        run_id=run_id,
        value_class=value_class,
        label=label,
        stage=stage,
        p_alive_lt=p_alive_lt,
        p_alive_gte=p_alive_gte,
        clv_gte=clv_gte,
        churn_risk_gte=churn_risk_gte,
        churn_risk_lt=churn_risk_lt,
        owner_id=owner_id,
        sort=sort,
    )
    return run, *paginate(session, stmt, limit=limit, offset=offset)


def scores_query(
    session: Session,
    *,
    actor: User,
    run_id: int | None = None,
    value_class: str | None = None,
    label: str | None = None,
    stage: str | None = None,
    p_alive_lt: float | None = None,
    p_alive_gte: float | None = None,
    clv_gte: float | None = None,
    churn_risk_gte: float | None = None,
    churn_risk_lt: float | None = None,
    owner_id: int | None = None,
    sort: str | None = None,
):
    """``(run, sorted select of its CustomerScore rows)`` for the filters of ``list_scores``
    (the list pages it; the web export streams all of it)."""
    require(actor, "score:read")
    # Named as the scored customers page's filters name them (the API keeps the codes).
    for name, value, allowed, title, group in (
        ("value_class", value_class, VALUE_CLASSES, N_("Value class"), "value_class"),
        ("label", label, LABELS, N_("Label"), "value_label"),
        ("stage", stage, STAGES, N_("Loyalty stage"), "loyalty_stage"),
    ):
        if value and value not in allowed:
            choices = [(c, label_msgid(group, c)) for c in allowed]
            raise choice_error(name, title, choices).refuse()
    run = _run_or_latest(session, run_id)
    stmt = select(CustomerScore).where(
        CustomerScore.run_id == run.id,
        consent.profiled_condition(session, CustomerScore.customer_id),
    )
    if value_class:
        stmt = stmt.where(CustomerScore.value_class == value_class)
    if label:
        stmt = stmt.where(CustomerScore.label == label)
    if stage:
        stmt = stmt.where(CustomerScore.loyalty_stage == stage)
    if p_alive_lt is not None:
        stmt = stmt.where(CustomerScore.p_alive < p_alive_lt)
    if p_alive_gte is not None:
        stmt = stmt.where(CustomerScore.p_alive >= p_alive_gte)
    if clv_gte is not None:
        stmt = stmt.where(CustomerScore.clv >= clv_gte)
    if churn_risk_gte is not None:
        stmt = stmt.where(CustomerScore.churn_risk >= churn_risk_gte)
    if churn_risk_lt is not None:
        stmt = stmt.where(CustomerScore.churn_risk < churn_risk_lt)
    if owner_id is not None:
        stmt = stmt.join(Customer, Customer.id == CustomerScore.customer_id).where(
            Customer.owner_id == owner_id
        )
    stmt = apply_sort(stmt, sort, SORTABLE, CustomerScore.customer_id)
    return run, stmt


def customer_scores(
    session: Session, customer_id: int, *, actor: User, limit: int = 20
) -> list[CustomerScore]:
    """A customer's score history, newest run first."""
    require(actor, "score:read")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("Customer", customer_id)
    if not consent.may_profile(session, customer):
        return []  # not profiled (no consent): earlier scores are not shown
    stmt = (
        select(CustomerScore)
        .join(ScoreRun, ScoreRun.id == CustomerScore.run_id)
        .where(CustomerScore.customer_id == customer_id, ScoreRun.status == "succeeded")
        .order_by(CustomerScore.run_id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def report_part(session: Session, part: str, *, actor: User, run_id: int | None = None) -> dict:
    """One part of a run's stored report: pyramid, pareto, cohorts, fit, holdout, distributions."""
    require(actor, "score:read")
    run = _run_or_latest(session, run_id)
    report = run.report or {}
    if part not in report:
        raise NotFound("Report part", part, field="part")
    return {
        "run_id": run.id,
        "as_of": run.as_of.isoformat(),
        "model": run.model,
        part: report[part],
    }


def last_run_age(session: Session, now: datetime | None = None) -> timedelta | None:
    last = session.scalar(
        select(func.max(ScoreRun.started_at)).where(ScoreRun.status == "succeeded")
    )
    if last is None:
        return None
    return (now or utcnow()) - last
