"""The columns of the loyalty measure (:class:`retento.analytics.loyalty.LoyaltyMeasure`): the
values of the ones it writes and the reading of the ones it reads.

- what it writes: the three dimensions and their default index weights, the loyalty types and
  their display names in English and Chinese;
- what it reads: the input column names (documented in :mod:`retento.analytics.loyalty`), the
  range each numeric column must lie in, and the parsing of numeric and yes/no columns into
  arrays, rejecting bad values with a ``ValueError`` that names the column.

The public names are re-exported by :mod:`retento.analytics.loyalty`, from where the rest of
Retento imports them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_WEIGHTS",
    "DIMENSIONS",
    "FEATURE_COLUMNS",
    "LOYALTY_TYPES",
    "LOYALTY_TYPE_NAMES",
]

#: The three loyalty dimensions of SPEC §4, in the order of the index weights.
DIMENSIONS: tuple[str, ...] = ("behavioural", "intentional", "emotional")
#: The six loyalty types of the course material, plus ``none`` (Dick & Basu's "no loyalty").
LOYALTY_TYPES: tuple[str, ...] = (
    "trust",
    "monopoly",
    "kinship",
    "interest",
    "inertia",
    "potential",
    "none",
)
#: Display names of the types: ``{type: (English, Chinese)}``.
LOYALTY_TYPE_NAMES: dict[str, tuple[str, str]] = {
    "trust": ("trust loyalty", "信赖忠诚"),
    "monopoly": ("monopoly loyalty", "垄断忠诚"),
    "kinship": ("kinship loyalty", "亲缘忠诚"),
    "interest": ("interest loyalty", "利益忠诚"),
    "inertia": ("inertia loyalty", "惰性忠诚"),
    "potential": ("potential loyalty", "潜在忠诚"),
    "none": ("no loyalty", "无忠诚"),
}
#: Input columns understood by :class:`~retento.analytics.loyalty.LoyaltyMeasure` (all optional).
FEATURE_COLUMNS: tuple[str, ...] = (
    "n_orders",
    "days_since_first_order",
    "days_since_last_order",
    "median_gap_days",
    "orders_recent",
    "share_of_wallet",
    "segment",
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

DEFAULT_WEIGHTS: dict[str, float] = {"behavioural": 0.4, "intentional": 0.3, "emotional": 0.3}

# (column, low, high): values outside are rejected with a ValueError naming the column.
_RANGES: dict[str, tuple[float, float]] = {
    "n_orders": (0, math.inf),
    "days_since_first_order": (0, math.inf),
    "days_since_last_order": (0, math.inf),
    "median_gap_days": (0, math.inf),
    "orders_recent": (0, math.inf),
    "share_of_wallet": (0, 1),
    "discount_share": (0, 1),
    "points_redeemed_share": (0, 1),
    "tier_rank": (0, 1),
    "tenure_days": (0, math.inf),
    "satisfaction": (1, 5),
    "repurchase_intent": (1, 5),
    "recommend": (0, 10),
    "complaints": (0, math.inf),
    "complaints_open": (0, math.inf),
    "complaints_breached": (0, math.inf),
    "followup_csat": (1, 5),
}
_TRUE = {"1", "true", "t", "yes", "y", "on", "是", "x"}
_FALSE = {"0", "false", "f", "no", "n", "off", "否", ""}


def _num(data: pd.DataFrame, col: str) -> np.ndarray:
    """Column ``col`` as floats (NaN where missing); a missing column is all NaN."""
    if col not in data.columns:
        return np.full(len(data), np.nan)
    raw = data[col]
    if pd.api.types.is_numeric_dtype(raw.dtype):  # fast path: nothing to parse
        out = raw.to_numpy(dtype=float, na_value=np.nan)
        bad = np.zeros(len(out), dtype=bool)
    else:
        out = pd.to_numeric(raw, errors="coerce").astype(float).to_numpy()
        bad = np.isnan(out) & raw.notna().to_numpy()
    if bad.any():
        example = raw[bad].iloc[0]
        raise ValueError(
            f"column {col!r} has {int(bad.sum())} non-numeric value(s), e.g. {example!r}"
        )
    if np.isinf(out).any():
        raise ValueError(f"column {col!r} has infinite value(s)")
    lo, hi = _RANGES.get(col, (-math.inf, math.inf))
    outside = (out < lo) | (out > hi)
    if outside.any():
        raise ValueError(
            f"column {col!r} must lie in [{lo:g}, {hi:g}]; "
            f"{int(outside.sum())} value(s) outside, e.g. {out[outside][0]:g}"
        )
    return out


def _flag(data: pd.DataFrame, col: str) -> np.ndarray:
    """A yes/no column as booleans (missing = False); words like yes/no/true/是 are accepted."""
    if col not in data.columns:
        return np.zeros(len(data), dtype=bool)
    raw = data[col]
    if pd.api.types.is_bool_dtype(raw):
        return raw.to_numpy(dtype=bool)
    out = np.zeros(len(raw), dtype=bool)
    for i, v in enumerate(raw.tolist()):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, bool | np.bool_):
            out[i] = bool(v)
            continue
        word = str(v).strip().lower()
        if word in _TRUE:
            out[i] = True
        elif word not in _FALSE:
            raise ValueError(f"column {col!r} must be yes/no (true/false, 1/0), got {v!r}")
    return out
