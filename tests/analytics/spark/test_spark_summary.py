"""The Spark summary and CLV fit give the DuckDB path's rows and parameters (issue 15 point 1)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from retento.analytics import BetaGeoModel, SummaryInputError, simulate_transactions, summarize
from retento.analytics.spark import customer_summary, fit_clv, score_clv
from retento.analytics.spark import summarize as spark_summarize


def test_cdnow_summary_row_for_row(spark, cdnow_csv: Path) -> None:
    kw = {"freq": "W", "calibration_end": "1997-09-30"}
    duck = summarize(cdnow_csv, "id", "date", "amount", **kw)
    sp = spark_summarize(cdnow_csv, "id", "date", "amount", spark=spark, **kw)
    assert len(sp) == 2357
    pd.testing.assert_frame_equal(sp, duck, check_exact=False, rtol=1e-12, atol=1e-12)


def test_cdnow_bgnbd_parameters_and_scores(spark, cdnow_csv: Path) -> None:
    duck = summarize(cdnow_csv, "id", "date", "amount", freq="W", calibration_end="1997-09-30")
    ref = BetaGeoModel().fit(duck["frequency"], duck["recency"], duck["T"])
    summary = customer_summary(
        spark, str(cdnow_csv), "id", "date", "amount", freq="W", calibration_end="1997-09-30"
    )
    fit = fit_clv(summary, "bgnbd")
    assert fit.customers == 2357 and fit.distinct_rows < 2357
    for k, v in ref.params_.items():
        assert fit.model.params_[k] == pytest.approx(v, rel=1e-6)
    assert fit.model.params_["r"] == pytest.approx(0.2426, abs=1e-4)  # FHL 2005, CDNOW
    scored = score_clv(summary, fit, horizon=52, freq="W").toPandas().set_index("id").sort_index()
    expected = ref.conditional_expected_purchases(
        52.0, duck["frequency"], duck["recency"], duck["T"]
    )
    np.testing.assert_allclose(scored["expected_purchases"], expected, rtol=1e-6)
    np.testing.assert_allclose(
        scored["p_alive"], ref.probability_alive(duck["frequency"], duck["recency"], duck["T"]),
        rtol=1e-6,
    )  # fmt: skip
    assert (scored["clv"] > 0).all()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 1,000,000 simulated transactions (BG/NBD with Gamma-Gamma spend) as Parquet."""
    tx = simulate_transactions(100_000, 0.9, 20.0, 0.6, 8.0, seed=7, observation_days=365)
    path = tmp_path_factory.mktemp("sim") / "tx.parquet"
    con = duckdb.connect()
    con.register("tx", tx)
    con.execute(f"COPY tx TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def test_million_transactions_same_summary_and_parameters(spark, simulated: Path) -> None:
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{simulated}')").fetchall()[0][0]
    assert 900_000 < n < 1_200_000
    duck = summarize(simulated, "customer_id", "date", "amount", freq="W")
    summary = customer_summary(spark, str(simulated), "customer_id", "date", "amount", freq="W")
    rows = summary.toPandas().set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(
        rows, duck, check_exact=False, rtol=1e-12, atol=1e-9, check_names=False
    )
    ref = BetaGeoModel().fit(duck["frequency"], duck["recency"], duck["T"])
    fit = fit_clv(summary, "bgnbd")
    for k, v in ref.params_.items():
        assert fit.model.params_[k] == pytest.approx(v, rel=1e-6)
    assert fit.model.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-9)


def test_bad_date_named_with_its_row(spark, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("cust,day,amount\n1,2024-01-02,5\n1,2024-01-09,7\n2,not a date,3\n")
    with pytest.raises(SummaryInputError, match=r"'day'.*data row 3"):
        spark_summarize(path, "cust", "day", "amount", spark=spark)
    with pytest.raises(SummaryInputError, match="Column 'amt' not found"):
        spark_summarize(path, "cust", "day", "amt", spark=spark)
