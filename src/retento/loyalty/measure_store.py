"""Stored loyalty measurements: a run computes every customer's measurement
(``measure.customer_features`` → :class:`~retento.analytics.LoyaltyMeasure`) and replaces the
stored rows in one transaction; the pages, API, CLI and the 360 panel read the stored rows.

Runs follow ``scoring/``: :func:`start_run` records a run (at most one in progress: the
``running`` column is unique, so a second start is a 409 on every backend), :func:`execute_run`
computes and stores it, reporting progress for the web page; the nightly job and
``retento loyalty measure --store`` do both in one transaction.

Custom index weights re-weight the stored dimension scores in SQL (the index, the attitude and
therefore the type and rule change; the features do not). The reasons in words are written for
the rows shown only, by :meth:`LoyaltyMeasure.describe` from the stored inputs and decisions.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Float, Integer, and_, case, cast, delete, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retento.analytics.loyalty import DEFAULT_WEIGHTS, DIMENSIONS, LOYALTY_TYPES, LoyaltyMeasure
from retento.audit.service import record
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound, RetentoError
from retento.customers.models import Customer
from retento.loyalty import measure
from retento.loyalty.measure_models import LoyaltyMeasurement, LoyaltyMeasurementRun

log = logging.getLogger("retento.loyalty.measure")

Progress = Callable[[str, float], None]

#: Progress of runs executing in this process (web progress bar): run id -> (stage, 0..1).
LIVE_PROGRESS: dict[int, tuple[str, float]] = {}
#: A "running" run older than this died with its process and no longer blocks a new one.
STALE_RUN = timedelta(hours=2)
#: The nightly job skips when a run succeeded more recently than this.
MIN_GAP = timedelta(hours=20)
CHUNK = 5_000

M = LoyaltyMeasurement
Run = LoyaltyMeasurementRun

#: Stored columns holding the estimator's inputs (what the reasons quote).
FEATURE_COLUMNS = (
    "segment",
    "n_orders",
    "orders_recent",
    "days_since_first_order",
    "days_since_last_order",
    "median_gap_days",
    "discount_share",
    "points_redeemed_share",
    "tier_rank",
    "tier_name",
    "tier_name_zh",
    "tenure_days",
    "no_alternative",
    "affiliated",
    "satisfaction",
    "repurchase_intent",
    "recommend",
    "complaints",
    "complaints_open",
    "complaints_breached",
    "followup_csat",
)
#: Stored columns written from the estimator's output.
SCORE_COLUMNS = (
    "loyalty_type",
    "rule",
    "loyalty_index",
    "behavioural",
    "intentional",
    "emotional",
    "attitude",
    "satisfaction_trap",
    "trap_signal",
    "price_sensitivity",
    "switching_cost",
    "orders_per_year",
    "frequency_ratio",
)
_WORDS = ("reason_en", "reason_zh")
#: What ``LoyaltyMeasure.describe`` reads: the decisions and the inputs the reasons quote.
_DESCRIBED = (
    "loyalty_type",
    "rule",
    "trap_signal",
    "n_orders",
    "days_since_first_order",
    "days_since_last_order",
    "median_gap_days",
    "orders_recent",
    "discount_share",
    "points_redeemed_share",
    "tier_name",
    "tier_name_zh",
    "tenure_days",
    "satisfaction",
    "repurchase_intent",
    "recommend",
    "complaints",
    "complaints_open",
)
_INT_COLUMNS = ("n_orders", "orders_recent", "complaints", "complaints_open", "complaints_breached")
_BOOL_COLUMNS = ("no_alternative", "affiliated", "satisfaction_trap")


def _noop(_stage: str, _fraction: float) -> None:
    return None


# --- runs -----------------------------------------------------------------------------------------


def latest_run(session: Session) -> LoyaltyMeasurementRun | None:
    """The run whose rows are stored (every stored row belongs to the latest successful run);
    without rows, the latest successful run that measured nobody. A run whose rows were deleted
    with their customers (a demo reset) no longer counts."""
    run_id = session.scalar(select(M.run_id).limit(1))
    if run_id is not None:
        return session.get(Run, run_id)
    return session.scalar(
        select(Run)
        .where(Run.status == "succeeded", Run.customers == 0)
        .order_by(Run.id.desc())
        .limit(1)
    )


def running_run(session: Session) -> LoyaltyMeasurementRun | None:
    """The run in progress, if any."""
    return session.scalar(select(Run).where(Run.running.is_(True)).limit(1))


def get_run(session: Session, run_id: int, *, actor: Any) -> LoyaltyMeasurementRun:
    require(actor, "score:read")
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound("Loyalty measurement run", run_id, field="run_id")
    return run


def _params(weights: dict[str, float] | None) -> dict[str, Any]:
    """The estimator's hyper-parameters for a run (validated), weights spelled out."""
    model = LoyaltyMeasure(weights=weights)
    try:
        model.fit(pd.DataFrame())  # validates the parameters only (no rows)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="weights") from exc
    params = model.get_params()
    params.pop("explain")
    params["weights"] = dict(model.weights_)
    return params


def start_run(
    session: Session,
    *,
    actor: Any,
    as_of: datetime | None = None,
    weights: dict[str, float] | None = None,
) -> LoyaltyMeasurementRun:
    """Record a new run as in progress; 409 while another run is (one at a time)."""
    if actor is not None:
        require(actor, "score:run")
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInput("as_of must carry a time zone", field="as_of")
    params = _params(weights)
    now = utcnow()
    busy = running_run(session)
    if busy is not None:
        if now - busy.started_at < STALE_RUN:
            raise _busy(busy.id)
        busy.status, busy.running, busy.finished_at = "failed", None, now
        busy.error = "Interrupted (the process running it stopped)."
        session.flush()
    run = Run(
        status="running",
        running=True,
        as_of=as_of or now,
        started_at=now,
        triggered_by=actor.username if actor is not None else "system",
        params=params,
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:  # another transaction started one between our check and insert
        raise _busy(None) from None
    return run


def _busy(run_id: int | None) -> Conflict:
    if run_id is None:
        return Conflict(
            Msg("Loyalty measurement run is still in progress; wait for it to finish."),
            field="run",
        )
    return Conflict(
        Msg(
            "Loyalty measurement run #%(id)s is still in progress; wait for it to finish.",
            id=run_id,
        ),
        field="run",
    )


def execute_run(
    session: Session,
    run: LoyaltyMeasurementRun,
    *,
    actor: Any = None,
    progress: Progress = _noop,
) -> LoyaltyMeasurementRun:
    """Compute every customer's measurement and replace the stored rows (all or nothing: on
    failure the previous rows stay and the run records the error)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        # A savepoint, so a failure (even an aborted PostgreSQL transaction) leaves the previous
        # rows in place and the session usable for recording the failure.
        with session.begin_nested():
            progress("features", 0.05)
            features = measure.customer_features(session, as_of=run.as_of)
            timings["features_s"] = round(time.perf_counter() - t0, 3)
            progress("measure", 0.45)
            params = dict(run.params or _params(None))
            model = LoyaltyMeasure(**params, explain=False)  # words: per row shown
            try:
                scores = model.fit_transform(features)
            except ValueError as exc:
                raise InvalidInput(str(exc)) from exc
            timings["measure_s"] = round(time.perf_counter() - t0 - timings["features_s"], 3)
            progress("store", 0.6)
            t1 = time.perf_counter()
            _replace(session, run, features, scores, progress)
            timings["store_s"] = round(time.perf_counter() - t1, 3)
        run.reference = {
            "segment_frequency": [[k, v] for k, v in model.segment_frequency_.items()],
            "overall_frequency": _finite(model.overall_frequency_),
        }
        run.customers = len(scores)
        run.trap = int(scores["satisfaction_trap"].sum())
        run.report = {"summary": measure.summary(scores), "timings": timings}
        run.status = "succeeded"
    except Exception as exc:
        log.exception("loyalty measurement run %s failed", run.id)
        run.status = "failed"
        run.error = exc.message if isinstance(exc, RetentoError) else f"{type(exc).__name__}: {exc}"
    run.running = None
    run.finished_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "create",
        "loyalty_measurement_run",
        run.id,
        None,
        {"status": run.status, "customers": run.customers, "trap": run.trap},
    )
    progress("done", 1.0)
    return run


def run_measurement(
    session: Session,
    *,
    actor: Any,
    as_of: datetime | None = None,
    weights: dict[str, float] | None = None,
    progress: Progress = _noop,
) -> LoyaltyMeasurementRun:
    """Start and execute a run in the caller's transaction (CLI, job, tests)."""
    run = start_run(session, actor=actor, as_of=as_of, weights=weights)
    return execute_run(session, run, actor=actor, progress=progress)


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _replace(
    session: Session,
    run: LoyaltyMeasurementRun,
    features: pd.DataFrame,
    scores: pd.DataFrame,
    progress: Progress,
) -> None:
    """Delete every stored row and insert the run's rows (COPY on PostgreSQL, Core executemany
    in chunks elsewhere), inside the caller's savepoint."""
    frame = pd.DataFrame(index=features.index)
    frame["customer_id"] = features["customer_id"].astype("int64")
    for col in FEATURE_COLUMNS:
        frame[col] = features[col] if col in features.columns else np.nan
    for col in SCORE_COLUMNS:
        frame[col] = scores[col]
    for col in _INT_COLUMNS:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").fillna(0).astype("int64")
    for col in _BOOL_COLUMNS:
        frame[col] = frame[col].fillna(False).astype(bool)
    frame["tier_name"] = frame["tier_name"].astype(object)
    frame["tier_name_zh"] = frame["tier_name_zh"].astype(object)
    frame["run_id"] = run.id
    frame["computed_at"] = run.as_of
    values = frame.astype(object).where(frame.notna(), None)
    table = M.__table__
    conn = session.connection()
    conn.execute(delete(table))
    total = len(values)
    columns = list(values.columns)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        # COPY: one stream instead of one INSERT per row (10x faster at 100,000 rows).
        names = ", ".join(f'"{c}"' for c in columns)
        with conn.connection.driver_connection.cursor() as cur:
            with cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for i, rec in enumerate(values.itertuples(index=False, name=None)):
                    copy.write_row(rec)
                    if i % CHUNK == 0:
                        progress("store", 0.6 + 0.39 * i / max(total, 1))
    else:
        for start in range(0, total, CHUNK):
            part = values.iloc[start : start + CHUNK]
            rows = [dict(zip(columns, rec, strict=True)) for rec in part.itertuples(index=False)]
            conn.execute(table.insert(), rows)
            progress("store", 0.6 + 0.39 * min(1.0, (start + CHUNK) / max(total, 1)))
    if conn.dialect.name == "postgresql":
        # Fresh statistics for the planner of the read paths (allowed inside the transaction).
        conn.exec_driver_sql("ANALYZE loyalty_measurements")


def tidy(bind: Any) -> None:
    """After a committed run on PostgreSQL: VACUUM (ANALYZE) the replaced table, so the
    previous run's 100,000 dead rows do not slow the reads down until autovacuum comes by.
    Needs its own autocommit connection (VACUUM cannot run in a transaction); a no-op on
    SQLite, which reuses the freed pages."""
    engine = getattr(bind, "engine", bind)
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # Never queue behind another lock holder (a running ANALYZE, a second run).
            conn.exec_driver_sql("SET lock_timeout = '200ms'")
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {M.__tablename__}")
    except Exception:  # housekeeping only: autovacuum does it later
        log.warning("VACUUM of %s failed", M.__tablename__, exc_info=True)


def last_run_age(session: Session, now: datetime | None = None) -> timedelta | None:
    last = session.scalar(select(func.max(Run.started_at)).where(Run.status == "succeeded"))
    return None if last is None else (now or utcnow()) - last


# --- reading: decisions for the run's or custom weights ----------------------------------------


def normalise(weights: dict[str, float] | None) -> dict[str, float]:
    raw = DEFAULT_WEIGHTS if weights is None else weights
    w = {d: float(raw.get(d, 0.0)) for d in DIMENSIONS}
    total = sum(w.values())
    return {d: v / total for d, v in w.items()}


def _run_weights(run: LoyaltyMeasurementRun) -> dict[str, float]:
    return normalise((run.params or {}).get("weights"))


def reweighted(run: LoyaltyMeasurementRun, weights: dict[str, float] | None) -> bool:
    """True when ``weights`` differ from the run's (so the stored decisions do not apply)."""
    if weights is None:
        return False
    mine, theirs = normalise(weights), _run_weights(run)
    return any(abs(mine[d] - theirs[d]) > 1e-9 for d in DIMENSIONS)


def _wmean(parts: list[tuple[Any, float]]) -> Any:
    """SQL row-wise weighted mean of the non-NULL parts (NULL when none), like ``_nanmean``."""
    num = sum((case((col.is_not(None), col * literal(w, Float)), else_=0.0) for col, w in parts))
    den = sum((case((col.is_not(None), literal(w, Float)), else_=0.0) for col, w in parts))
    return case((den > 0, num / den), else_=None)


def decisions(run: LoyaltyMeasurementRun, weights: dict[str, float] | None) -> dict[str, Any]:
    """SQL expressions of ``loyalty_index``, ``attitude``, ``loyalty_type`` and ``rule``: the
    stored columns, or the decision table re-evaluated on the stored scores for other weights."""
    if not reweighted(run, weights):
        return {
            "loyalty_index": M.loyalty_index,
            "attitude": M.attitude,
            "loyalty_type": M.loyalty_type,
            "rule": M.rule,
        }
    w = normalise(weights)
    p = {**LoyaltyMeasure().get_params(), **(run.params or {})}
    index = _wmean([(getattr(M, d), w[d]) for d in DIMENSIONS])
    if w["intentional"] + w["emotional"] > 0:
        attitude = _wmean([(M.intentional, w["intentional"]), (M.emotional, w["emotional"])])
    else:
        attitude = _wmean([(M.intentional, 1.0), (M.emotional, 1.0)])

    def high(expr: Any, threshold: float) -> Any:
        return func.coalesce(expr, -1.0) >= float(threshold)

    b_high = high(M.behavioural, p["behaviour_threshold"])
    a_high = high(attitude, p["attitude_threshold"])
    table = [
        (and_(b_high, a_high), "R1", "trust"),
        (and_(b_high, M.no_alternative), "R2", "monopoly"),
        (and_(b_high, M.affiliated), "R3", "kinship"),
        (
            and_(b_high, high(M.price_sensitivity, p["price_sensitivity_threshold"])),
            "R4",
            "interest",
        ),
        (and_(b_high, high(M.switching_cost, p["switching_cost_threshold"])), "R5a", "inertia"),
        (b_high, "R5b", "inertia"),
        (a_high, "R6", "potential"),
    ]
    return {
        "loyalty_index": index,
        "attitude": attitude,
        "loyalty_type": case(*[(c, t) for c, _, t in table], else_="none"),
        "rule": case(*[(c, r) for c, r, _ in table], else_="R7"),
    }


def _bucket(index: Any, dialect: str) -> Any:
    """The histogram bin (0–9) of an index 0–100, like ``numpy.histogram(range=(0, 100))``
    (100 falls in the last bin); the index expression is evaluated once."""
    if dialect == "postgresql":
        return func.least(func.width_bucket(index, 0.0, 100.0, 10) - 1, 9)
    return func.min(cast(index / 10.0, Integer), 9)  # the index is never negative


def _active() -> Any:
    return Customer.archived_at.is_(None)


def _not_archived() -> Any:
    """Rows of customers not archived since the run: ``NOT IN`` the (few, indexed) archived
    customers — one uncorrelated lookup set on both backends (a hashed subplan on PostgreSQL,
    an ephemeral index on SQLite), so the stored table is never joined to every customer."""
    archived = select(Customer.id).where(Customer.archived_at.is_not(None))
    return M.customer_id.not_in(archived)


def stored_summary(
    session: Session, run: LoyaltyMeasurementRun | None, weights: dict[str, float] | None = None
) -> dict[str, Any]:
    """Type distribution, index histogram, dimension means and trap count (the shape of
    ``measure.summary``): as of the run (kept with it) for the run's weights, else aggregated
    in SQL over the stored rows of customers not archived since."""
    if run is None:
        return measure.summary(pd.DataFrame(columns=list(measure.OUTPUT_COLUMNS)))
    if not reweighted(run, weights) and (run.report or {}).get("summary"):
        return run.report["summary"]
    # Paging through a re-weighted list asks for the same distribution again: keep it a minute
    # per run and weights (the stored rows change only with a run; archiving shows within 60 s).
    key = (
        session.get_bind().engine.url.render_as_string(hide_password=True),
        run.id,
        run.started_at.isoformat(),
        tuple(sorted(normalise(weights).items())),
    )
    now = time.monotonic()
    hit = _SUMMARY_CACHE.get(key)
    if hit is not None and now - hit[0] < SUMMARY_TTL:
        return copy.deepcopy(hit[1])
    stats = _aggregate(session, run, weights)
    if len(_SUMMARY_CACHE) >= 64:
        _SUMMARY_CACHE.pop(next(iter(_SUMMARY_CACHE)))
    _SUMMARY_CACHE[key] = (now, copy.deepcopy(stats))
    return stats


#: Re-weighted distributions: (database, run, weights) -> (monotonic time, summary).
_SUMMARY_CACHE: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
SUMMARY_TTL = 60.0


def _aggregate(
    session: Session, run: LoyaltyMeasurementRun, weights: dict[str, float] | None
) -> dict[str, Any]:
    """``stored_summary`` in one aggregate query over the stored rows."""
    d = decisions(run, weights)
    dialect = session.get_bind().dialect.name
    ltype = d["loyalty_type"].label("t")
    bucket = _bucket(d["loyalty_index"], dialect).label("b")
    cols = [
        ltype,
        bucket,
        func.count().label("n"),
        func.sum(case((M.satisfaction_trap, 1), else_=0)).label("trap"),
        func.count(d["loyalty_index"]).label("n_index"),
        func.sum(d["loyalty_index"]).label("s_index"),
    ]
    for dim in DIMENSIONS:
        cols += [func.count(getattr(M, dim)), func.sum(getattr(M, dim))]
    stmt = select(*cols).where(_not_archived()).group_by(ltype, bucket)
    rows = session.connection().execute(stmt).all()
    n = sum(int(r[2]) for r in rows)
    per_type = dict.fromkeys(LOYALTY_TYPES, 0)
    hist = [0] * 10
    n_index = s_index = 0.0
    dim_n = dict.fromkeys(DIMENSIONS, 0.0)
    dim_s = dict.fromkeys(DIMENSIONS, 0.0)
    trap = 0
    for r in rows:
        per_type[r[0]] = per_type.get(r[0], 0) + int(r[2])
        trap += int(r[3] or 0)
        if int(r[4]):
            hist[int(r[1])] += int(r[4])
            n_index += int(r[4])
            s_index += float(r[5] or 0.0)
        for i, dim in enumerate(DIMENSIONS):
            dim_n[dim] += int(r[6 + 2 * i])
            dim_s[dim] += float(r[7 + 2 * i] or 0.0)
    return {
        "customers": n,
        "types": [
            {"type": t, "customers": per_type[t], "share": (per_type[t] / n) if n else None}
            for t in LOYALTY_TYPES
        ],
        "index_histogram": {"edges": [float(10 * i) for i in range(11)], "counts": hist},
        "index_mean": (s_index / n_index) if n_index else None,
        "dimension_means": {
            d_: (dim_s[d_] / dim_n[d_] if dim_n[d_] else None) for d_ in DIMENSIONS
        },
        "trap": trap,
    }


def _row_columns(d: dict[str, Any]) -> list[Any]:
    """The columns of ``measure.OUTPUT_COLUMNS`` (plus the inputs the reasons need)."""
    out: list[Any] = []
    seen: set[str] = set()
    for name in (*measure.OUTPUT_COLUMNS, *FEATURE_COLUMNS, "computed_at", "run_id"):
        if name in seen:
            continue
        seen.add(name)
        if name == "name" or name in _WORDS:
            continue  # read / written for the returned rows only (``_with_names``, ``_words``)
        if name in d:
            out.append(d[name].label(name))
        else:
            out.append(getattr(M, name).label(name))
    return out


def _select(
    run: LoyaltyMeasurementRun,
    weights: dict[str, float] | None,
    *,
    customer_id: int | None,
    loyalty_type: str | None,
    trap: bool | None,
) -> tuple[Any, Any]:
    """The filtered row query (unsorted) and its WHERE clause."""
    d = decisions(run, weights)
    where = [_not_archived()]
    if customer_id is not None:
        where.append(M.customer_id == customer_id)
    if loyalty_type is not None:
        where.append(d["loyalty_type"] == loyalty_type)
    if trap is not None:
        where.append(M.satisfaction_trap == trap)  # "= true": the trap index serves it
    return select(*_row_columns(d)).where(*where), d


def _with_names(session: Session, frame: pd.DataFrame) -> pd.DataFrame:
    """The customers' current names, read for the page's rows only."""
    ids = [int(i) for i in frame["customer_id"]]
    found = session.connection().execute(
        select(Customer.id, Customer.name).where(Customer.id.in_(ids))
    )
    names = {int(i): n for i, n in found}
    frame = frame.copy()
    frame["name"] = [names.get(i) for i in ids]
    return frame


def model_for(run: LoyaltyMeasurementRun, weights: dict[str, float] | None = None) -> Any:
    """An (unfitted) estimator with the run's hyper-parameters, for writing reasons."""
    params = dict(run.params or {})
    if weights is not None:
        params["weights"] = weights
    return LoyaltyMeasure(**params)


def _words(frame: pd.DataFrame, run: LoyaltyMeasurementRun) -> pd.DataFrame:
    """``reason_en`` and ``reason_zh`` of the rows, from their stored inputs and decisions."""
    frame = frame.copy()
    if frame.empty:
        frame["reason_en"] = frame["reason_zh"] = pd.Series(dtype=object)
        return frame
    words = model_for(run).describe(frame, frame)
    frame["reason_en"] = words["reason_en"].to_numpy()
    frame["reason_zh"] = words["reason_zh"].to_numpy()
    return frame


def stored_customers(
    session: Session,
    *,
    actor: Any,
    customer_id: int | None = None,
    loyalty_type: str | None = None,
    trap: bool | None = None,
    weights: dict[str, float] | None = None,
    offset: int = 0,
    limit: int | None = None,
    with_summary: bool = True,
) -> tuple[pd.DataFrame, int, dict[str, Any], LoyaltyMeasurementRun | None]:
    """One page of the stored measurement (sorted by loyalty index, lowest first; everything
    when ``limit`` is None), the number of matching customers, the summary of the stored base
    and the run it comes from (None before the first run: then everything is empty)."""
    require(actor, "score:read")
    if loyalty_type is not None and loyalty_type not in LOYALTY_TYPES:
        raise InvalidInput(
            Msg("type must be one of %(choices)s", choices=", ".join(LOYALTY_TYPES)), field="type"
        )
    if customer_id is not None:
        found = session.scalar(select(Customer.id).where(Customer.id == customer_id, _active()))
        if found is None:
            raise NotFound("Customer", customer_id, field="customer_id")
    run = latest_run(session)
    columns = [*measure.OUTPUT_COLUMNS, "computed_at"]
    if run is None:
        stats = stored_summary(session, None)
        return pd.DataFrame(columns=columns), 0, stats, None
    stmt, d = _select(run, weights, customer_id=customer_id, loyalty_type=loyalty_type, trap=trap)
    conn = session.connection()
    stats = stored_summary(session, run, weights) if with_summary else {}
    if (
        stats
        and reweighted(run, weights)
        and customer_id is None
        and (trap is None or not loyalty_type)
    ):
        # The re-weighted aggregate already counted the matches: no second pass over the table.
        if loyalty_type is not None:
            total = next(t["customers"] for t in stats["types"] if t["type"] == loyalty_type)
        elif trap is not None:
            total = stats["trap"] if trap else stats["customers"] - stats["trap"]
        else:
            total = stats["customers"]
    else:
        total = int(conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    if reweighted(run, weights):  # unknown index first, as the live list
        order = (d["loyalty_index"].nulls_first(), M.customer_id)
    else:  # the stored index: the (type|trap, index, id) indexes serve the order
        order = (M.loyalty_index, M.customer_id)
    if limit is not None:
        # Find the page's ids first (narrow, from the index), then read only those rows.
        page_ids = stmt.with_only_columns(M.customer_id).order_by(*order)
        page_ids = page_ids.offset(offset).limit(limit).scalar_subquery()
        stmt = stmt.where(M.customer_id.in_(page_ids))
    else:  # everything (exports): the names by a join
        stmt = stmt.add_columns(Customer.name.label("name"))
        stmt = stmt.join(Customer, Customer.id == M.customer_id).offset(offset)
    result = conn.execute(stmt.order_by(*order))
    frame = pd.DataFrame.from_records(result.all(), columns=list(result.keys()))
    if limit is not None:
        frame = _with_names(session, frame)
    frame = _words(frame, run)
    return frame[columns], total, stats, run


def stored_for_customer(
    session: Session, customer_id: int
) -> tuple[LoyaltyMeasurement, dict[str, str]] | None:
    """The customer's stored row (one primary-key read; the run by its key from the session's
    identity map or one more) with the reasons in English and Chinese: the 360 panel."""
    row = session.get(M, customer_id)
    if row is None:
        return None
    run = session.get(Run, row.run_id)
    # NaN rather than None in number columns: float columns, the estimator's fast path.
    frame = pd.DataFrame(
        {
            c: [
                np.nan if v is None and c not in ("tier_name", "tier_name_zh", "trap_signal") else v
            ]
            for c in _DESCRIBED
            for v in [getattr(row, c)]
        }
    )
    words = model_for(run).describe(frame, frame).iloc[0]
    return row, {"reason_en": words["reason_en"], "reason_zh": words["reason_zh"]}


def run_dict(run: LoyaltyMeasurementRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "status": run.status,
        "as_of": run.as_of,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "triggered_by": run.triggered_by,
        "customers": run.customers,
        "trap": run.trap,
        "weights": (run.params or {}).get("weights"),
        "error": run.error,
    }
