"""summarize(): BTYD summary of transaction logs, checked against Hardie's CDNOW summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retento.analytics import SummaryInputError, summarize

DATA = Path(__file__).parents[1] / "data" / "cdnow"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["cid", "id", "date", "cds", "amount"],
    )


@pytest.fixture(scope="module")
def hardie() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


def test_cdnow_matches_hardie_summary(cdnow: pd.DataFrame, hardie: pd.DataFrame) -> None:
    s = summarize(cdnow, "id", "date", "amount", freq="W", calibration_end="1997-09-30")
    assert len(s) == 2357
    assert s["frequency"].sum() == 2457
    assert (s["frequency"] > 0).sum() == 946
    np.testing.assert_array_equal(s["frequency"].to_numpy(), hardie["x"].to_numpy())
    # Hardie rounds weeks to 2 dp.
    np.testing.assert_allclose(s["recency"], hardie["t_x"], atol=0.0051)
    np.testing.assert_allclose(s["T"], hardie["T"], atol=0.0051)
    np.testing.assert_allclose(s["monetary"], hardie["zbar"], atol=0.0051)
    assert s["T"].min() == pytest.approx(27.0)
    assert s["T"].max() == pytest.approx(38.857, abs=1e-3)


def test_cdnow_holdout_columns(cdnow: pd.DataFrame) -> None:
    s = summarize(
        cdnow,
        "id",
        "date",
        "amount",
        freq="W",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    assert set(s.columns) >= {"frequency_holdout", "monetary_holdout", "duration_holdout"}
    np.testing.assert_allclose(s["duration_holdout"], 39.0)
    zero = s[s["frequency"] == 0]
    assert len(zero) == 1411
    assert zero["frequency_holdout"].sum() == 334
    assert (s.loc[s["frequency_holdout"] == 0, "monetary_holdout"] == 0).all()


def test_same_day_merge_days_and_weeks() -> None:
    tx = pd.DataFrame(
        {
            "c": ["a", "a", "a", "a", "b"],
            "d": ["2024-01-01", "2024-01-01 15:00", "2024-01-08", "2024-01-15", "2024-01-10"],
            "m": [10.0, 5.0, 20.0, 40.0, 7.0],
        }
    )
    s = summarize(tx, "c", "d", "m", observation_end="2024-01-31")
    assert s.loc["a"].tolist() == [2.0, 14.0, 30.0, 30.0]
    assert s.loc["b"].tolist() == [0.0, 0.0, 21.0, 0.0]
    w = summarize(tx, "c", "d", "m", freq="W", observation_end="2024-01-31")
    assert w.loc["a", "T"] == pytest.approx(30 / 7)  # not rounded
    assert w.loc["a", "recency"] == pytest.approx(2.0)


def test_calibration_drops_late_customers_and_counts_holdout() -> None:
    tx = pd.DataFrame(
        {
            "c": [1, 1, 1, 2],
            "d": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-02-03", "2024-02-01"]),
            "m": [1.0, 2.0, 6.0, 3.0],
        }
    )
    s = summarize(tx, "c", "d", "m", calibration_end="2024-01-31")
    assert list(s.index) == [1]
    assert s.loc[1, "frequency_holdout"] == 1
    assert s.loc[1, "monetary_holdout"] == 6.0
    assert s.loc[1, "duration_holdout"] == 3.0


def test_csv_and_parquet_paths(tmp_path: Path, cdnow: pd.DataFrame) -> None:
    small = cdnow.head(300)
    csv = tmp_path / "tx.csv"
    small.to_csv(csv, index=False)
    from_csv = summarize(csv, "id", "date", "amount", freq="W")
    from_df = summarize(small, "id", "date", "amount", freq="W")
    pd.testing.assert_frame_equal(from_csv, from_df, check_index_type=False)
    import duckdb

    pq = tmp_path / "tx.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{pq}' (FORMAT parquet)")
    from_pq = summarize(pq, "id", "date", "amount", freq="W")
    np.testing.assert_allclose(from_pq.to_numpy(), from_df.to_numpy())


def test_bad_inputs_name_column_and_row(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("cust,day,amt\n1,2024-01-01,3.5\n2,2024-13-45,1\n3,2024-01-02,x\n")
    with pytest.raises(SummaryInputError, match=r"'day'.*row 2"):
        summarize(csv, "cust", "day", "amt")
    with pytest.raises(SummaryInputError, match="'nope' not found"):
        summarize(csv, "cust", "nope", "amt")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SummaryInputError, match="empty"):
        summarize(empty, "cust", "day", "amt")
    csv.write_text("cust,day,amt\n1,2024-01-01,3.5\n3,2024-01-02,x\n")
    with pytest.raises(SummaryInputError, match=r"'amt'.*row 2"):
        summarize(csv, "cust", "day", "amt")
    with pytest.raises(ValueError, match="freq"):
        summarize(csv, "cust", "day", "amt", freq="M")


def test_bad_date_beyond_csv_sniffer_sample(tmp_path: Path) -> None:
    csv = tmp_path / "late.csv"
    n = 60_000
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 300, unit="D")
    df = pd.DataFrame({"cust": np.arange(n) % 5000, "day": days.strftime("%Y-%m-%d"), "amt": 1.0})
    df.loc[n - 7, "day"] = "not-a-date"
    df.to_csv(csv, index=False)
    with pytest.raises(SummaryInputError, match=rf"'day'.*row {n - 6}\b"):
        summarize(csv, "cust", "day", "amt")
    df.loc[n - 7, "day"] = "2024-02-01"
    df.to_csv(csv, index=False)
    assert len(summarize(csv, "cust", "day", "amt")) == 5000
