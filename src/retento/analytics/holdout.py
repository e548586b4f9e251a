r"""Calibration/holdout validation of BTYD models: tables, tracking curves and plots.

The standard checks of Fader, Hardie & Lee (2005): (1) the mean number of holdout purchases,
actual against :math:`E[Y(T^*)\mid x, t_x, T]`, grouped by calibration frequency
:math:`x = 0, 1, \dots, 7+`; (2) cumulative and weekly repeat transactions of the whole cohort,
actual against :math:`\sum_i E[X(t - s_i)]` where :math:`s_i` is customer i's first purchase.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from retento.analytics.summary import (
    SummaryInputError,
    _date_expr,
    _lit_date,
    _q,
    _register_source,
)

__all__ = ["HoldoutReport", "holdout_report", "plot_holdout_by_frequency", "plot_tracking"]


@dataclass
class HoldoutReport:
    """Predicted against actual holdout purchases.

    Attributes
    ----------
    model : str
        Class name of the model.
    params : dict
        Fitted parameters.
    log_likelihood : float
        Calibration log-likelihood.
    by_frequency : DataFrame
        One row per calibration frequency bucket (``"0"`` … ``"7+"``): ``customers``,
        ``actual`` and ``predicted`` mean holdout purchases.
    metrics : dict
        ``mae`` and ``rmse`` (per customer), ``msle`` (mean squared log(1+·) error), ``bias``
        (:math:`\\sum \\hat y / \\sum y - 1`), ``mae_by_frequency`` (over the bucket means),
        ``total_actual`` and ``total_predicted``.
    tracking : DataFrame or None
        Per period (``period`` 1, 2, … in model time units from the first purchase day):
        ``actual_cumulative``, ``expected_cumulative``, ``actual_incremental``,
        ``expected_incremental`` and ``holdout`` (whether the period ends after calibration).
    """

    model: str
    params: dict[str, float]
    log_likelihood: float
    by_frequency: pd.DataFrame
    metrics: dict[str, float]
    tracking: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def mae(self) -> float:
        """Mean absolute error of per-customer holdout purchases."""
        return self.metrics["mae"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary."""
        out: dict[str, Any] = {
            "model": self.model,
            "params": {k: float(v) for k, v in self.params.items()},
            "log_likelihood": float(self.log_likelihood),
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "by_frequency": _records(self.by_frequency),
            "meta": {
                k: (str(v) if not isinstance(v, int | float) else v) for k, v in self.meta.items()
            },
        }
        out["tracking"] = None if self.tracking is None else _records(self.tracking)
        return out


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    recs = []
    for row in df.to_dict(orient="records"):
        recs.append({k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()})
    return recs


def holdout_report(
    model: Any,
    summary_with_holdout: pd.DataFrame,
    transactions: pd.DataFrame | str | os.PathLike[str] | None = None,
    *,
    customer_col: str | None = None,
    datetime_col: str | None = None,
    calibration_end: Any = None,
    observation_end: Any = None,
    freq_unit_days: float = 7.0,
    max_frequency: int = 7,
) -> HoldoutReport:
    r"""Compare a fitted BTYD model's holdout forecasts with what happened.

    Parameters
    ----------
    model : BetaGeoModel or ParetoNBDModel
        Fitted on the calibration columns of ``summary_with_holdout``.
    summary_with_holdout : DataFrame
        Output of :func:`~retento.analytics.summarize` with ``calibration_end`` given.
    transactions : DataFrame or path, optional
        Day-level transactions for the tracking curves (needs ``customer_col``,
        ``datetime_col`` and ``calibration_end``).
    freq_unit_days : float
        Days per model time unit (7 for weeks).
    max_frequency : int
        Calibration frequencies at or above this are pooled (``"7+"``).

    Returns
    -------
    HoldoutReport

    Notes
    -----
    Predicted holdout purchases are :math:`E[Y(T^*) \mid x, t_x, T]` with :math:`T^*` the
    ``duration_holdout``. The expected cumulative repeat transactions at time t are
    :math:`\sum_i E[X(t - s_i)]` over customers with first purchase :math:`s_i < t`.
    """
    s = summary_with_holdout
    needed = {"frequency", "recency", "T", "frequency_holdout", "duration_holdout"}
    if not needed <= set(s.columns):
        raise ValueError(
            "summary_with_holdout needs the columns "
            + ", ".join(sorted(needed))
            + " (call summarize with calibration_end=...)"
        )
    x = s["frequency"].to_numpy(float)
    pred = model.conditional_expected_purchases(
        s["duration_holdout"].to_numpy(float),
        x,
        s["recency"].to_numpy(float),
        s["T"].to_numpy(float),
    )
    actual = s["frequency_holdout"].to_numpy(float)
    bucket = np.minimum(x, max_frequency).astype(int)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    counts = np.bincount(bucket, minlength=max_frequency + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        act_mean = np.bincount(bucket, actual, minlength=max_frequency + 1) / counts
        pred_mean = np.bincount(bucket, pred, minlength=max_frequency + 1) / counts
    by_x = pd.DataFrame(
        {"frequency": labels, "customers": counts, "actual": act_mean, "predicted": pred_mean}
    )
    by_x = by_x[by_x["customers"] > 0].reset_index(drop=True)
    err = pred - actual
    metrics = {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "msle": float(np.mean((np.log1p(pred) - np.log1p(actual)) ** 2)),
        "bias": float(pred.sum() / actual.sum() - 1.0) if actual.sum() > 0 else float("nan"),
        "mae_by_frequency": float(np.mean(np.abs(by_x["predicted"] - by_x["actual"]))),
        "total_actual": float(actual.sum()),
        "total_predicted": float(pred.sum()),
        "customers": float(len(s)),
    }
    tracking = None
    if transactions is not None:
        if customer_col is None or datetime_col is None or calibration_end is None:
            raise ValueError("tracking curves need customer_col, datetime_col and calibration_end")
        tracking = tracking_curves(
            model,
            transactions,
            customer_col,
            datetime_col,
            calibration_end=calibration_end,
            observation_end=observation_end,
            freq_unit_days=freq_unit_days,
        )
    params = getattr(model, "params_", {})
    return HoldoutReport(
        model=type(model).__name__,
        params=dict(params),
        log_likelihood=float(getattr(model, "log_likelihood_", float("nan"))),
        by_frequency=by_x,
        metrics=metrics,
        tracking=tracking,
        meta={"freq_unit_days": freq_unit_days, "max_frequency": max_frequency},
    )


def tracking_curves(
    model: Any,
    transactions: pd.DataFrame | str | os.PathLike[str],
    customer_col: str,
    datetime_col: str,
    *,
    calibration_end: Any,
    observation_end: Any = None,
    freq_unit_days: float = 7.0,
) -> pd.DataFrame:
    r"""Cumulative and per-period repeat transactions, actual against expected.

    Same-day purchases are merged. Customers whose first purchase is after ``calibration_end``
    are excluded. Period k covers days :math:`[d_0 + (k-1)u, d_0 + ku)` where :math:`d_0` is
    the first purchase day of the cohort and u = ``freq_unit_days``; the expected cumulative
    value at its end is :math:`\sum_i E[X((d_0 + ku - s_i)/u)]` over :math:`s_i < d_0 + ku`.
    """
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        _register_source(con, transactions, [customer_col, datetime_col])
        described = {r[0]: r[1] for r in con.execute("DESCRIBE src").fetchall()}
        for col in (customer_col, datetime_col):
            if col not in described:
                raise SummaryInputError(f"Column {col!r} not found in the transactions")
        day = _date_expr(datetime_col, described[datetime_col])
        cal = _lit_date(calibration_end)
        con.execute(
            f"CREATE TEMP TABLE d AS SELECT DISTINCT {_q(customer_col)} AS c, {day} AS day "
            f"FROM src WHERE {day} IS NOT NULL"
        )
        con.execute(
            f"CREATE TEMP TABLE f AS SELECT c, min(day) AS first FROM d GROUP BY c "
            f"HAVING min(day) <= {cal}"
        )
        d0, dmax = con.execute("SELECT min(first), (SELECT max(day) FROM d) FROM f").fetchone()
        obs = pd.Timestamp(observation_end if observation_end is not None else dmax)
        first = con.execute(
            "SELECT date_diff('day', (SELECT min(first) FROM f), first) AS k, count(*) "
            "FROM f GROUP BY k ORDER BY k"
        ).fetchnumpy()
        rep = con.execute(
            "SELECT date_diff('day', (SELECT min(first) FROM f), d.day) AS k, count(*) "
            "FROM d JOIN f USING (c) WHERE d.day > f.first GROUP BY k ORDER BY k"
        ).fetchnumpy()
    finally:
        con.close()
    first_day = np.asarray(first["k"], dtype=float)
    first_n = np.asarray(first["count_star()"], dtype=float)
    rep_day = np.asarray(rep["k"], dtype=np.int64)
    rep_n = np.asarray(rep["count_star()"], dtype=float)
    horizon_days = (obs - pd.Timestamp(d0)).days + 1
    n_periods = int(np.floor(horizon_days / freq_unit_days + 1e-9))
    cal_day = (pd.Timestamp(calibration_end) - pd.Timestamp(d0)).days + 1
    ends = np.arange(1, n_periods + 1) * freq_unit_days
    expected = np.empty(n_periods)
    for k, end in enumerate(ends):
        m = first_day < end
        expected[k] = float(
            first_n[m]
            @ model.expected_purchases_new_customer((end - first_day[m]) / freq_unit_days)
        )
    per_day = np.bincount(rep_day, weights=rep_n, minlength=int(ends[-1]) + 1 if n_periods else 1)
    cum_day = np.concatenate([[0.0], np.cumsum(per_day)])
    actual = cum_day[np.minimum(np.ceil(ends - 1e-9).astype(int), len(cum_day) - 1)]
    return pd.DataFrame(
        {
            "period": np.arange(1, n_periods + 1),
            "actual_cumulative": actual,
            "expected_cumulative": expected,
            "actual_incremental": np.diff(actual, prepend=0.0),
            "expected_incremental": np.diff(expected, prepend=0.0),
            "holdout": ends > cal_day,
        }
    )


def _figure_out(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if p.suffix.lower() not in {".png", ".svg"}:
        raise ValueError(f"plot path must end in .png or .svg, not {p.name!r}")
    return p


def plot_holdout_by_frequency(report: HoldoutReport, path: str | os.PathLike[str]) -> Path:
    """Bar chart of actual vs predicted mean holdout purchases by calibration frequency;
    writes PNG or SVG (by suffix) with the Agg backend and returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    p = _figure_out(path)
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    df = report.by_frequency
    pos = np.arange(len(df))
    ax.bar(pos - 0.2, df["actual"], width=0.4, label="Actual")
    ax.bar(pos + 0.2, df["predicted"], width=0.4, label=f"{report.model}")
    ax.set_xticks(pos, df["frequency"])
    ax.set_xlabel("Purchases in calibration period (x)")
    ax.set_ylabel("Mean purchases in holdout period")
    ax.set_title(f"Conditional expectations (MAE {report.metrics['mae']:.3f})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(p)
    return p


def plot_tracking(
    report: HoldoutReport, path: str | os.PathLike[str], *, kind: str = "cumulative"
) -> Path:
    """Line plot of the ``"cumulative"`` or ``"incremental"`` tracking curve (PNG or SVG)."""
    if report.tracking is None:
        raise ValueError("the report has no tracking curves; pass transactions=...")
    if kind not in {"cumulative", "incremental"}:
        raise ValueError("kind must be 'cumulative' or 'incremental'")
    from matplotlib.figure import Figure

    p = _figure_out(path)
    track = report.tracking
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    ax.plot(track["period"], track[f"actual_{kind}"], color="black", label="Actual")
    ax.plot(track["period"], track[f"expected_{kind}"], ls="--", label=report.model)
    if track["holdout"].any() and not track["holdout"].all():
        ax.axvline(float(track.loc[~track["holdout"], "period"].max()), color="grey", ls=":")
    ax.set_xlabel("Period")
    ax.set_ylabel(f"{kind.capitalize()} repeat transactions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(p)
    return p
