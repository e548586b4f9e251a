"""Churn on Spark: the DuckDB path's features, and the same risks and reasons when the fitted
model scores on the executors (issue 15 point 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retento.analytics.churn import ChurnRiskModel, TransactionLog
from retento.analytics.spark import SparkTransactionLog, score_churn

CUT = "1997-12-31"


@pytest.fixture(scope="module")
def logs(spark, cdnow_csv: Path):
    with (
        SparkTransactionLog(spark, str(cdnow_csv), "id", "date", "amount", "cds") as slog,
        TransactionLog(cdnow_csv, "id", "date", "amount", quantity_col="cds") as dlog,
    ):
        yield slog, dlog


def test_features_equal_the_duckdb_path(logs) -> None:
    slog, dlog = logs
    assert (slog.first_day, slog.last_day) == (dlog.first_day, dlog.last_day)
    sp = slog.features(CUT, horizon_days=90)
    duck = dlog.features(CUT, horizon_days=90)
    assert len(sp) == 2357 and "units_per_order" in sp
    pd.testing.assert_frame_equal(sp, duck, check_exact=False, rtol=1e-9, atol=1e-12)
    labels = slog.labels(CUT, 90, sp.index)
    pd.testing.assert_series_equal(labels, dlog.labels(CUT, 90, duck.index))


def test_distributed_scores_equal_the_single_machine_scores(logs) -> None:
    slog, dlog = logs
    # Trained on features Spark aggregated and the driver collected.
    model = ChurnRiskModel(horizon_days=90, n_windows=1).fit_transactions(slog, CUT)
    ref = model.score_transactions(dlog, CUT)
    got = score_churn(model, slog, CUT).toPandas().set_index("cust").sort_index()
    assert list(got.index) == list(ref.index)
    np.testing.assert_allclose(got["churn_risk"], ref["churn_risk"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["p_alive_mbgnbd"], ref["p_alive_mbgnbd"], rtol=1e-6)
    for col in ("reason_code_1", "reason_1", "reason_zh_2"):
        assert got[col].fillna("").tolist() == ref[col].fillna("").astype(object).tolist()
