"""Shared vocabulary and input checks of the customer-value functions.

The customer-value classification of SPEC §1 lives in four modules, all re-exported by
:mod:`retento.analytics`:

- :mod:`retento.analytics.rfm`: :func:`~retento.analytics.rfm.rfm_scores`.
- :mod:`retento.analytics.pyramid`: the value pyramid (客户金字塔), the Pareto curve and the
  MVC / MGC / BZ labels of the 8/2/3 rule.
- :mod:`retento.analytics.stages`: loyalty stages (potential → new → regular → old → loyal).
- :mod:`retento.analytics.cohorts`: cohort retention, repeat-purchase and retention rates.

This module holds the class codes they return (stable strings, stored in the database and
translated by the UI) and the input validation they share, so every function reports an empty
input or a missing column the same way: a :class:`ValueError` naming the column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LOYALTY_STAGES", "PYRAMID_CLASSES", "VALUE_LABELS"]

#: Value pyramid classes, best first: 贵宾型, 重要型, 普通型, 小客户, 负值.
PYRAMID_CLASSES: tuple[str, ...] = ("vip", "major", "ordinary", "small", "below_zero")
#: Labels of the 8/2/3 rule: most valuable, most growable, below zero, none of these.
VALUE_LABELS: tuple[str, ...] = ("mvc", "mgc", "bz", "other")
#: Loyalty stages in the order a relationship moves through them.
LOYALTY_STAGES: tuple[str, ...] = ("potential", "new", "regular", "old", "loyal")


def require_columns(data: pd.DataFrame, columns: list[str], what: str = "data") -> None:
    """Raise a :class:`ValueError` naming the first missing column, or the empty input.

    Parameters
    ----------
    data : pandas.DataFrame
        The input table.
    columns : list of str
        Columns the caller needs.
    what : str
        How the input is called in the message (``"transactions"``, ``"summary"`` …).
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, not {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        available = ", ".join(map(str, data.columns)) or "none"
        raise ValueError(f"column {missing[0]!r} not found in {what}; columns are: {available}")
    if len(data) == 0:
        raise ValueError(f"column {columns[0]!r} is empty: {what} has no rows")


def numeric(values: Any, name: str, *, allow_negative: bool = True) -> pd.Series:
    """Return ``values`` as a float Series (index kept), rejecting empty, missing or inf values.

    Parameters
    ----------
    values : Series, array-like
        One number per customer.
    name : str
        Column or argument name used in error messages.
    allow_negative : bool
        If false, negative values are rejected too.
    """
    if isinstance(values, pd.DataFrame):
        raise TypeError(f"{name} must be one column (a Series or 1-d array), not a DataFrame")
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if s.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if len(s) == 0:
        raise ValueError(f"{name!r} is empty: at least one customer is needed")
    out = pd.to_numeric(s, errors="coerce").astype(float)
    arr = out.to_numpy()
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name!r} has {int(bad.sum())} missing, non-numeric or infinite value(s)")
    if not allow_negative and (arr < 0).any():
        raise ValueError(f"{name!r} has {int((arr < 0).sum())} negative value(s)")
    return out


def datetimes(values: pd.Series, name: str) -> pd.Series:
    """Parse a date/time column to naive ``datetime64`` (UTC if time-zone aware).

    Raises a :class:`ValueError` naming the column when a value is missing or unparseable.
    """
    d = None
    if pd.api.types.is_datetime64_any_dtype(values):
        d = values
    else:
        # ISO 8601 first (fast, and tolerant of dates with and without times), then mixed formats.
        for fmt in ("ISO8601", "mixed"):
            try:
                d = pd.to_datetime(values, format=fmt)
                break
            except (ValueError, TypeError) as exc:
                error = exc
        if d is None:
            raise ValueError(f"column {name!r} has values that are not dates: {error}") from None
    if getattr(d.dt, "tz", None) is not None:
        d = d.dt.tz_convert("UTC").dt.tz_localize(None)
    n_bad = int(d.isna().sum())
    if n_bad:
        raise ValueError(f"column {name!r} has {n_bad} missing date(s)")
    return d


def timestamp(value: Any, name: str) -> pd.Timestamp:
    """One boundary date as a naive :class:`pandas.Timestamp` (UTC if time-zone aware)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a date: {value!r} ({exc})") from None
    if ts is pd.NaT:
        raise ValueError(f"{name} is missing")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def share(value: float, name: str, *, allow_zero: bool = True) -> float:
    """Check that ``value`` is a share of customers in [0, 1] (or (0, 1])."""
    v = float(value)
    low_ok = v >= 0 if allow_zero else v > 0
    if not (low_ok and v <= 1):
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must be a share in {bound}, got {value!r}")
    return v


def top_rank(values: np.ndarray) -> np.ndarray:
    """Rank of each customer, 1 = highest value; tied values share the mean of their ranks.

    Classifying by this rank keeps tied customers together, and a tied group that straddles a
    class boundary goes to the class where most of it falls (the group's midpoint), so a class
    differs from its quota by at most half a tied group. A group split exactly in half goes to
    the lower class.
    """
    return pd.Series(values).rank(method="average", ascending=False).to_numpy()


def quota(cumulative_share: float, n: int) -> int:
    """Number of customers in the top ``cumulative_share`` of ``n`` (rounded down)."""
    return int(np.floor(cumulative_share * n + 1e-9))
