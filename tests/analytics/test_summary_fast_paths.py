"""The summary's fast paths equal the general ones: distinct holdout days by a BIGINT or
HUGEINT bit mask (holdouts of up to 127 days) or a bitstring, dense integer ids grouped by
DuckDB's perfect hashing and sorted by NumPy, other ids sorted by DuckDB."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import retento.analytics.summary as summary_mod
from retento.analytics import summarize


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 12_000
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    df = pd.DataFrame(
        {
            "cust": rng.integers(0, 1_500, n),
            "when": days,
            "amount": np.round(rng.gamma(2.0, 20.0, n), 2),
        }
    )
    dup = df.sample(3_000, random_state=2).assign(amount=lambda d: d["amount"] + 1.0)
    return pd.concat([df, dup], ignore_index=True)


@pytest.mark.parametrize(
    ("calibration_end", "observation_end", "word"),
    [
        ("2024-12-15", None, "BIGINT"),  # 50 holdout days
        ("2024-12-01", "2025-02-02", "BIGINT"),  # 63
        ("2024-11-01", None, "HUGEINT"),  # 94
        ("2024-09-28", "2025-02-02", "HUGEINT"),  # 127
        ("2024-09-27", "2025-02-02", "bitstring"),  # 128
        ("2024-06-30", None, "bitstring"),  # 218
    ],
)
def test_holdout_days_equal_day_grouping(
    transactions: pd.DataFrame, calibration_end, observation_end, word, monkeypatch
) -> None:
    cal = summary_mod._lit_date(calibration_end)
    obs = summary_mod._lit_date(observation_end or transactions["when"].max())
    expr = summary_mod._holdout_days(cal, obs, "bits")
    assert (expr == "bits") if word == "bitstring" else (f"AS {word})" in expr)
    kw = {"freq": "D", "calibration_end": calibration_end, "observation_end": observation_end}
    fast = summarize(transactions, "cust", "when", "amount", **kw)
    monkeypatch.setattr(summary_mod, "_BITSET_MAX_DAYS", 0)
    slow = summarize(transactions, "cust", "when", "amount", **kw)
    assert (fast["frequency_holdout"] > 1).sum() > 100
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-12)


def test_string_ids_sorted_by_duckdb() -> None:
    df = pd.DataFrame(
        {
            "cust": ["b", "a", "c", "a", "b"],
            "when": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05", "2024-01-09"]
            ),
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    s = summarize(df, "cust", "when", "amount")
    assert list(s.index) == ["a", "b", "c"]
    assert list(s["frequency"]) == [1.0, 1.0, 0.0]


def test_perfect_hash_grouping_equals_hash_grouping(monkeypatch) -> None:
    rng = np.random.default_rng(11)
    n = 60_000
    df = pd.DataFrame(
        {
            "cust": rng.integers(0, 20_000, n),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D"),
            "amount": np.round(rng.gamma(2.0, 20.0, n), 2),
        }
    )
    kw = {"freq": "W", "calibration_end": "2024-09-01"}
    perfect = summarize(df, "cust", "when", "amount", **kw)
    monkeypatch.setattr(summary_mod, "_PERFECT_HASH_MAX_BITS", 0)
    hashed = summarize(df, "cust", "when", "amount", **kw)
    pd.testing.assert_frame_equal(perfect, hashed, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize(
    ("ids", "customers", "threshold"),
    [
        ((1, 1_000_000), 1_000_000, 21),  # dense: an array of 2^21 slots
        ((1, 1_000), 1_000, 12),  # DuckDB's default already covers it
        ((1, 10**9), 1_000_000, 12),  # sparse ids: hash table
        ((0, 2**21), 2**21, 12),  # 2^22 slots per thread: more than 2^23 on two threads
    ],
)
def test_perfect_hash_only_for_dense_ids(ids, customers, threshold) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"CREATE TABLE t AS SELECT * FROM (VALUES ({ids[0]}), ({ids[1]})) v(cust)")
    summary_mod._use_perfect_hash(con, customers)
    assert con.execute("SELECT current_setting('perfect_ht_threshold')").fetchone()[0] == threshold
