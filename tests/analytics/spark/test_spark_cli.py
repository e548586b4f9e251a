"""`retento analyze clv|churn|basket --engine spark` end to end (issue 15 point 1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from retento.analyze.cli import app

runner = CliRunner()


def _clv(src: Path, out: Path, *extra: str):
    args = ["clv", str(src), "--customer-col", "id", "--date-col", "date", "--amount-col",
            "amount", "--calibration-end", "1997-09-30", "--output", str(out), "--json", *extra]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_clv_spark_matches_duckdb(spark, cdnow_csv: Path, tmp_path: Path) -> None:
    duck = _clv(cdnow_csv, tmp_path / "duck.csv")
    sp = _clv(cdnow_csv, tmp_path / "spark.csv", "--engine", "spark")
    assert sp["engine"] == "spark" and sp["customers"] == duck["customers"] == 2357
    for k, v in duck["params"].items():
        assert abs(sp["params"][k] - v) <= 1e-6 * abs(v)
    assert sp["total_clv"] == pytest_approx(duck["total_clv"])
    assert sp["holdout"]["metrics"]["mae"] == pytest_approx(duck["holdout"]["metrics"]["mae"])
    a = pd.read_csv(tmp_path / "duck.csv")
    b = pd.read_csv(tmp_path / "spark.csv")
    assert list(a.columns) == list(b.columns) and list(a["id"]) == list(b["id"])
    # Both engines write six decimals (retento.analytics.csv_out): one unit of the sixth
    # decimal apart at most where rounding falls differently, besides the relative tolerance.
    assert a["frequency"].dtype.kind == b["frequency"].dtype.kind == "i"
    np.testing.assert_allclose(b["clv"], a["clv"], rtol=1e-6, atol=1.0000001e-6)
    # Parquet output: a directory written by the executors.
    pq = tmp_path / "scores.parquet"
    _clv(cdnow_csv, pq, "--engine", "spark", "--model", "mbgnbd")
    assert len(spark.read.parquet(str(pq)).toPandas()) == 2357


def pytest_approx(v: float):
    import pytest

    return pytest.approx(v, rel=1e-6)


def test_churn_spark_end_to_end(spark, cdnow_csv: Path, tmp_path: Path) -> None:
    def run(out: Path, *extra: str) -> dict:
        res = runner.invoke(
            app,
            ["churn", str(cdnow_csv), "--customer-col", "id", "--date-col", "date",
             "--amount-col", "amount", "--calibration-end", "1997-09-30", "--horizon-days",
             "180", "--windows", "1", "--lang", "zh", "--output", str(out), "--json", *extra],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        return json.loads(res.output)

    duck = run(tmp_path / "duck.csv")
    sp = run(tmp_path / "spark.csv", "--engine", "spark")
    assert sp["engine"] == "spark" and sp["customers"] == duck["customers"] == 2357
    assert sp["training_windows"] == duck["training_windows"]
    # Spark's and DuckDB's aggregates agree to ~1e-15, but gradient boosting's histogram bins
    # can flip on the last digit (e.g. of the gaps' standard deviation), so the two trainings
    # differ slightly (up to ~0.005 in a risk); scoring on the executors with the same fitted
    # model is exact (test_spark_churn).
    assert abs(sp["mean_risk"] - duck["mean_risk"]) < 0.005
    assert sp["holdout"]["complete"]
    for key in ("roc_auc", "pr_auc", "brier"):
        assert abs(sp["holdout"]["model"][key] - duck["holdout"]["model"][key]) < 0.01
        assert sp["holdout"]["baseline"][key] == pytest_approx(duck["holdout"]["baseline"][key])
    a = pd.read_csv(tmp_path / "duck.csv")
    b = pd.read_csv(tmp_path / "spark.csv")
    assert list(b.columns) == list(a.columns) and list(b["id"]) == list(a["id"])
    np.testing.assert_allclose(b["churn_risk"], a["churn_risk"], atol=0.02)
    np.testing.assert_allclose(b["p_alive_bgnbd"], a["p_alive_bgnbd"], rtol=1e-4)
    assert (b["reason_code_1"] == a["reason_code_1"]).mean() > 0.9
    assert b["reason_1"].dropna().str.contains("[\u4e00-\u9fff]").all()


def test_basket_spark_and_bad_engine(spark, tmp_path: Path) -> None:
    src = tmp_path / "lines.csv"
    rows = [(1, "tea"), (1, "milk"), (2, "tea"), (2, "milk"), (3, "tea"), (4, "jam"), (4, "")]
    pd.DataFrame(rows, columns=["order", "sku"]).to_csv(src, index=False)
    out = tmp_path / "itemsets.csv"
    args = ["basket", str(src), "--order-col", "order", "--item-col", "sku", "--min-support",
            "0.5", "--output", str(out), "--json"]  # fmt: skip
    res = runner.invoke(app, [*args, "--engine", "spark"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["n_baskets"] == 4 and summary["n_itemsets"] == 3
    written = pd.read_csv(out)
    assert dict(zip(written["itemsets"], written["support"], strict=True)) == {
        "tea": 0.75,
        "milk": 0.5,
        "milk | tea": 0.5,
    }
    bad = runner.invoke(app, [*args, "--engine", "hadoop"])
    assert bad.exit_code == 1 and "--engine must be duckdb or spark" in bad.output
