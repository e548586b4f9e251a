"""Degenerate fits and non-finite inputs: a number or a clear error, never NaN."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special
from typer.testing import CliRunner

from retento.analytics import BetaGeoModel, ModifiedBetaGeoModel, SummaryInputError, summarize
from retento.analytics.btyd_base import _log_gauss_series, _stay_hyp2f1
from retento.analyze.cli import app

runner = CliRunner()


def _clv_args(csv: Path, out: Path, *extra: str) -> list[str]:
    return [
        "clv", str(csv), "--customer-col", "id", "--date-col", "date", "--amount-col", "amount",
        "--output", str(out), *extra,
    ]  # fmt: skip


def test_gauss_series_matches_exact_sum() -> None:
    # Reference: the series summed exactly (Decimal, 50 digits) at points where SciPy's
    # hyp2f1 is itself off by ~1e-5.
    from decimal import Decimal, getcontext

    getcontext().prec = 50
    A, B, C, z = 44.28746131, 2.35216578, 27.65532897, 0.84258579
    a, b, c, zz = (Decimal(v) for v in (A, B, C, z))
    term = total = Decimal(1)
    k = 0
    while k < 60 or term > total * Decimal("1e-30"):
        term = term * (a + k) * (b + k) / ((c + k) * (k + 1)) * zz
        total += term
        k += 1
    log_stay = A * np.log1p(-z)
    exact = float(total) * np.exp(log_stay)
    got = _log_gauss_series(*(np.array([v]) for v in (A, B, C, z, log_stay)))[0]
    assert got == pytest.approx(exact, rel=1e-12)


def test_stay_hyp2f1_is_finite_where_scipy_gives_nan() -> None:
    # A BG/NBD fit on two customers ended at r ~ 9e6, alpha ~ 1e8: SciPy's hyp2f1 is NaN there.
    r, alpha, a, b = 8914569.99, 96790020.99, 552005.24, 1.8116e-06
    z = 52.0 / (alpha + 17.29 + 52.0)
    A, B, C = r + 1.0, b + 1.0, a + b
    assert np.isnan(special.hyp2f1(A, B, C, z))
    log_stay = A * np.log1p(-z)
    got = _stay_hyp2f1(A, B, C, z, log_stay)[0]
    # Near z = 0 with B/C tiny the series is 1 + A B z / C + ...: the product is ~ stay.
    assert got == pytest.approx(np.exp(log_stay) * (1.0 + A * B * z / C), rel=1e-9)


@pytest.mark.parametrize("model", [BetaGeoModel, ModifiedBetaGeoModel])
def test_expected_purchases_finite_for_huge_parameters(model: type) -> None:
    fitted = model()
    fitted.params_ = {"r": 8914569.99, "alpha": 96790020.99, "a": 552005.24, "b": 1.8116e-06}
    x, tx, T = np.array([1.0, 0.0]), np.array([4.43, 0.0]), np.array([17.29, 17.29])
    expected = fitted.conditional_expected_purchases(52.0, x, tx, T)
    new = fitted.expected_purchases_new_customer(52.0)
    assert np.isfinite(expected).all() and (expected >= 0).all()
    assert np.isfinite(new).all() and new[0] > 0


def test_clv_of_a_tiny_file_is_a_number_and_valid_json(tmp_path: Path) -> None:
    csv = tmp_path / "tiny.csv"
    csv.write_text(
        "\ufeffid,date,amount\n1,2020-01-01,10\n1,2020-02-01,20\n2,2020-01-01,5\n2,2020-05-01,7\n",
        encoding="utf-8",
    )
    out = tmp_path / "scores.csv"
    res = runner.invoke(app, _clv_args(csv, out, "--json"))
    assert res.exit_code == 0, res.output
    assert "NaN" not in res.stdout
    payload = json.loads(res.stdout)
    assert np.isfinite(payload["total_clv"]) and payload["total_clv"] >= 0
    scores = pd.read_csv(out)
    assert scores[["expected_purchases", "p_alive", "clv"]].notna().all().all()
    assert scores["clv"].sum() == pytest.approx(payload["total_clv"], abs=1e-5)


@pytest.mark.parametrize("bad", ["NaN", "inf", "-Infinity"])
def test_non_finite_amount_in_a_file_names_the_row(tmp_path: Path, bad: str) -> None:
    csv = tmp_path / "tx.csv"
    rows = ["id,date,amount"] + [f"{i},2020-01-0{1 + i % 5},{10 + i}" for i in range(20)]
    rows.insert(3, f"3,2020-02-01,{bad}")  # data row 3 (row 0 is the header)
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "scores.csv"
    res = runner.invoke(app, _clv_args(csv, out))
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    assert (
        f"Column 'amount' has a missing or non-numeric amount on data row 3 of {csv} "
        "(1 bad row(s) in total)"
    ) in res.output
    assert not out.exists()
    zh = runner.invoke(app, _clv_args(csv, out), env={"RETENTO_LANG": "zh_CN"})
    assert zh.exit_code == 1
    assert "第 3 个数据行缺少金额或金额不是数字（共 1 行有误）" in zh.output


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_amount_in_a_dataframe_is_refused(bad: float) -> None:
    df = pd.DataFrame(
        {
            "c": [1, 1, 2],
            "d": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-01-01"]),
            "a": [1.0, bad, 2.0],
        }
    )
    with pytest.raises(SummaryInputError, match="non-numeric amount on data row 2 "):
        summarize(df, "c", "d", "a")


def test_unreadable_csv_is_a_one_line_error(tmp_path: Path) -> None:
    csv = tmp_path / "latin1.csv"
    csv.write_bytes(b"id,date,amount,name\n1,2020-01-01,10,Jos\xe9\n1,2020-02-01,20,A\n")
    out = tmp_path / "scores.csv"
    res = runner.invoke(app, _clv_args(csv, out))
    assert res.exit_code == 1
    assert res.output.startswith(f"Error: Cannot read {csv} as CSV: ")
    assert "This file is not utf-8 encoded." in res.output
    assert "Possible Solution" not in res.output and "LINE 1" not in res.output
    assert res.output.count("\n") == 1
    zh = runner.invoke(app, _clv_args(csv, out), env={"RETENTO_LANG": "zh_CN"})
    assert (
        zh.output.startswith(f"错误：无法把 {csv} 作为 CSV 读取：") and zh.output.count("\n") == 1
    )


def test_parameter_bound_warning_shows_plain_numbers(tmp_path: Path) -> None:
    csv = tmp_path / "tx.csv"
    csv.write_text("id,date,amount\n1,2020-01-01,10\n1,2099-02-01,20\n2,2020-01-01,5\n")
    res = runner.invoke(app, _clv_args(csv, tmp_path / "scores.csv"))
    assert "Warning: BetaGeoModel fit hit a parameter bound (r=" in res.output
    assert "np.float64" not in res.output
    assert "; the data may not identify the model" in res.output
    zh = runner.invoke(app, _clv_args(csv, tmp_path / "s.csv"), env={"RETENTO_LANG": "zh_CN"})
    assert "警告：BetaGeoModel 拟合触及参数边界（r=" in zh.output and "np.float64" not in zh.output


def test_calibration_end_after_the_data_is_refused(tmp_path: Path) -> None:
    # It made T run to 2030 (every customer looked gone: total CLV 144 instead of 68,888 on
    # CDNOW) and the holdout negative ("predicted -171 purchases").
    csv = tmp_path / "tx.csv"
    rows = ["id,date,amount"] + [f"{i % 7},2020-0{1 + i % 6}-1{i % 9},{5 + i}" for i in range(40)]
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "scores.csv"
    res = runner.invoke(app, _clv_args(csv, out, "--calibration-end", "2030-01-01"))
    assert res.exit_code == 1 and not out.exists()
    assert res.output == (
        "Error: The calibration end 2030-01-01 is after the end of the observation 2020-06-18: "
        "there is no holdout period\n"
    )
    zh = runner.invoke(
        app, _clv_args(csv, out, "--calibration-end", "2030-01-01"), env={"RETENTO_LANG": "zh_CN"}
    )
    assert zh.output == "错误：校准期结束日 2030-01-01 晚于观察期结束日 2020-06-18：没有验证期\n"
    with pytest.raises(SummaryInputError, match="after the end of the observation"):
        summarize(csv, "id", "date", "amount", calibration_end="2020-06-19")
    # The last day itself is allowed (an empty holdout of length 0).
    assert len(summarize(csv, "id", "date", "amount", calibration_end="2020-06-18")) == 7
