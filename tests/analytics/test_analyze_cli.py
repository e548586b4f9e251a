"""`retento analyze clv` through Typer's CliRunner on the analyze sub-app."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from retento.analyze.cli import app

runner = CliRunner()


def _args(csv: Path, out: Path, *extra: str) -> list[str]:
    return [
        "clv", str(csv), "--customer-col", "id", "--date-col", "date", "--amount-col", "amount",
        "--output", str(out), *extra,
    ]  # fmt: skip


def test_clv_json_reproduces_paper(cdnow_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    res = runner.invoke(app, _args(cdnow_csv, out, "--calibration-end", "1997-09-30", "--json"))
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["customers"] == 2357
    assert payload["params"]["r"] == pytest.approx(0.243, abs=0.001)
    assert payload["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    assert payload["gamma_gamma"]["params"]["p"] == pytest.approx(6.25, abs=0.01)
    assert payload["holdout"]["metrics"]["msle"] == pytest.approx(0.234, abs=0.001)
    scores = pd.read_csv(out)
    assert list(scores.columns) == [
        "id", "frequency", "recency", "T", "monetary", "expected_purchases", "p_alive", "clv",
    ]  # fmt: skip
    assert len(scores) == 2357
    assert scores["clv"].ge(0).all() and scores["p_alive"].between(0, 1).all()
    assert scores["clv"].sum() == pytest.approx(payload["total_clv"], rel=1e-9)


def test_clv_pareto_days_text_output(cdnow_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    res = runner.invoke(
        app,
        _args(
            cdnow_csv,
            out,
            "--model",
            "pareto",
            "--freq",
            "D",
            "--horizon",
            "365",
            "--margin",
            "0.3",
        ),
    )
    assert res.exit_code == 0, res.output
    assert "pareto" in res.stdout and "Total CLV" in res.stdout
    assert len(pd.read_csv(out)) == 2357


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("id,date,amount\n1,2024-01-01,3\n", ["--date-col", "day"], "'day' not found"),
        ("id,date,amount\n1,2024-01-01,3\n1,2024-02-30,4\n", [], "'date'.*row 2"),
        ("id,date,amount\n1,2024-01-01,3\n1,2024-01-05,abc\n", [], "'amount'.*row 2"),
        ("", [], "empty"),
        ("id,date,amount\n", [], "No transactions"),
        ("id,date,amount\n1,2024-01-01,3\n", ["--model", "cbgnbd"], "--model"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(
    tmp_path: Path, content: str, extra: list[str], message: str
) -> None:
    csv = tmp_path / "tx.csv"
    csv.write_text(content)
    args = _args(csv, tmp_path / "o.csv")
    if extra[:1] == ["--date-col"]:
        args[args.index("--date-col") + 1] = extra[1]
    else:
        args += extra
    res = runner.invoke(app, args)
    assert res.exit_code == 1
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "Traceback" not in res.output
    import re

    assert re.search(message, res.stderr), res.stderr


def test_too_few_repeaters(tmp_path: Path) -> None:
    csv = tmp_path / "tx.csv"
    csv.write_text("id,date,amount\n1,2024-01-01,3\n2,2024-01-02,4\n1,2024-01-09,5\n")
    res = runner.invoke(app, _args(csv, tmp_path / "o.csv"))
    assert res.exit_code == 1
    assert "repeat" in res.stderr


def test_spend_model_failure_is_a_message_and_writes_nothing(tmp_path: Path) -> None:
    # The transaction model fits (40 customers, half of them repeaters), but every repeat
    # purchase but one is $0: the spend model, fitted alongside it in a thread, has fewer than
    # two customers to fit and its error reaches the user as the command's message.
    rows = ["id,date,amount"]
    for c in range(1, 41):
        rows.append(f"{c},2024-01-{1 + c % 20:02d},10")
        if c % 2 == 0:
            rows.append(f"{c},2024-03-{1 + c % 25:02d},{5 if c == 2 else 0}")
    csv = tmp_path / "tx.csv"
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "o.csv"
    res = runner.invoke(app, _args(csv, out))
    assert res.exit_code == 1, res.output
    assert "fewer than two customers with repeat purchases of positive mean value" in res.stderr
    assert not out.exists()


def test_registered_in_main_cli() -> None:
    from retento.cli import app as main_app

    res = runner.invoke(main_app, ["analyze", "--help"])
    assert res.exit_code == 0
    assert "clv" in res.stdout


def test_analytics_does_not_import_web_stack() -> None:
    import subprocess
    import sys

    # Besides itself, only the group class that words its usage errors (typer only; core's
    # __init__ is empty) and the words it shares with the help pages (no imports at all).
    light = (
        "retento.analytics",
        "retento.analyze",
        "retento.core.cli_usage",
        "retento.core.cli_words",
    )
    code = (
        "import sys, retento.analytics, retento.analyze;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('fastapi','sqlalchemy','babel')"
        f" or (m.startswith('retento.') and m != 'retento.core' and not m.startswith({light!r}))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_zero_value_repeat_purchases_are_left_out_of_the_spend_model(
    cdnow_csv: Path, tmp_path: Path
) -> None:
    # The CDNOW sample's 8 $0 rows are first purchases, which the spend model never sees; a
    # real log also has $0 repeat purchases (free replacements, fully discounted orders): set
    # the only repeat purchase of 8 one-repeat customers to $0.
    df = pd.read_csv(cdnow_csv)
    days = df.groupby("id")["date"].nunique()
    one_repeat = days[days == 2].index[:8]
    last_day = df[df["id"].isin(one_repeat)].groupby("id")["date"].max()
    df.loc[df["id"].isin(one_repeat) & (df["date"] == df["id"].map(last_day)), "amount"] = 0.0
    zero_csv = tmp_path / "zero.csv"
    df.to_csv(zero_csv, index=False)
    out = tmp_path / "scores.csv"
    res = runner.invoke(app, _args(zero_csv, out, "--json"))
    assert res.exit_code == 0, res.output
    gg = json.loads(res.stdout)["gamma_gamma"]
    assert gg["left_out"] == 8
    assert "zero or negative" in gg["left_out_reason"]
    assert gg["customers_fitted"] == int((pd.read_csv(out)["frequency"] > 0).sum()) - 8
    scores = pd.read_csv(out).set_index("id")
    # Left-out customers get the population mean spend, like one-time buyers: CLV is the
    # discounted expected purchases times that mean, so positive wherever purchases are.
    assert (scores.loc[one_repeat, "monetary"] == 0).all()
    assert (scores.loc[one_repeat, "clv"] > 0).all()
    text = runner.invoke(app, _args(zero_csv, out))
    assert text.exit_code == 0, text.output
    assert "left out 8 repeat customer(s)" in text.stdout


def test_clv_with_mbgnbd(cdnow_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    res = runner.invoke(
        app, _args(cdnow_csv, out, "--model", "mbgnbd", "--calibration-end", "1997-09-30", "--json")
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["model"] == "mbgnbd"
    assert payload["params"]["r"] == pytest.approx(0.525, abs=0.002)
    assert payload["gamma_gamma"]["left_out"] == 0
    scores = pd.read_csv(out)
    one_timers = scores[scores["frequency"] == 0]
    assert one_timers["p_alive"].lt(1).all() and one_timers["p_alive"].gt(0).all()


def test_csv_has_six_decimals_and_parquet_full_precision(cdnow_csv: Path, tmp_path: Path) -> None:
    from retento.analytics import summarize

    csv_out, pq_out = tmp_path / "s.csv", tmp_path / "s.parquet"
    for out in (csv_out, pq_out):
        res = runner.invoke(app, _args(cdnow_csv, out, "--calibration-end", "1997-09-30"))
        assert res.exit_code == 0, res.output
    exact = pd.read_parquet(pq_out)
    text = pd.read_csv(csv_out)
    assert list(text.columns) == list(exact.columns)
    # Parquet keeps the summary itself, row for row (doubles, not rounded).
    summary = summarize(cdnow_csv, "id", "date", "amount", freq="W", calibration_end="1997-09-30")
    assert exact["id"].tolist() == summary.index.tolist()
    for col in ("frequency", "recency", "T", "monetary"):
        assert (exact[col].to_numpy() == summary[col].to_numpy()).all(), col
    assert 0 < exact["clv"].min() and (exact["p_alive"] <= 1).all()
    # The CSV: frequency as an integer, every other number with six decimals, within half a
    # unit of the sixth decimal of the exact value.
    assert text["frequency"].dtype.kind == "i"
    assert (text["frequency"] == exact["frequency"]).all()
    first_row = csv_out.read_text().splitlines()[1].split(",")
    assert all(len(v.split(".")[1]) == 6 for v in first_row[2:]), first_row
    for col in ("recency", "T", "monetary", "expected_purchases", "p_alive", "clv"):
        err = (text[col] - exact[col]).abs().max()
        assert err <= 5.0000001e-7, (col, err)


def test_csv_columns_widen_for_large_values_and_keep_non_finite() -> None:
    import numpy as np

    from retento.analytics.csv_out import csv_column

    assert "DECIMAL(18, 6)" in csv_column("clv", np.array([1.5, -99_999_999_999.0]))
    assert "DECIMAL(38, 6)" in csv_column("clv", np.array([1.5, 1e11]))
    assert csv_column("clv", np.array([1.5, np.nan])) == '"clv"'
    assert csv_column("clv", np.array([1.5, 1e30])) == '"clv"'
    assert csv_column("clv", np.array([])) == '"clv"'


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "pareto"])
def test_scores_equal_the_models_public_methods(
    cdnow_csv: Path, tmp_path: Path, model: str
) -> None:
    """The command scores each distinct (x, t_x, T) row once, P(alive) once and the
    hypergeometric term once per distinct (x, T): the numbers must be the models' own."""
    import numpy as np

    from retento.analytics import (
        BetaGeoModel,
        GammaGammaModel,
        ModifiedBetaGeoModel,
        ParetoNBDModel,
        summarize,
    )

    out = tmp_path / "s.parquet"
    res = runner.invoke(
        app, _args(cdnow_csv, out, "--model", model, "--calibration-end", "1997-09-30", "--json")
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    scores = pd.read_parquet(out)
    s = summarize(cdnow_csv, "id", "date", "amount", freq="W", calibration_end="1997-09-30")
    x, tx, T = (s[c].to_numpy() for c in ("frequency", "recency", "T"))
    cls = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel, "pareto": ParetoNBDModel}
    fitted = cls[model]().fit(x, tx, T)
    assert payload["params"] == pytest.approx(fitted.params_, rel=1e-9)
    for t in (52.0, 0.3, 17.5):
        direct = fitted.conditional_expected_purchases(t, x, tx, T)
        assert np.array_equal(fitted._expected_purchases_fn(x, tx, T)(t), direct)
    np.testing.assert_allclose(
        scores["expected_purchases"], fitted.conditional_expected_purchases(52.0, x, tx, T),
        rtol=1e-9,
    )  # fmt: skip
    np.testing.assert_allclose(scores["p_alive"], fitted.probability_alive(x, tx, T), rtol=1e-9)
    m = s["monetary"].to_numpy()
    keep = x > 0
    gg = GammaGammaModel().fit(x[keep], m[keep])
    clv = fitted.customer_lifetime_value(gg, x, tx, T, m, horizon=52.0, discount_rate=0.1)
    np.testing.assert_allclose(scores["clv"], clv, rtol=1e-9)
    assert len(scores) == len(s) and scores["id"].tolist() == s.index.tolist()


def test_holdout_report_failure_removes_the_file(
    cdnow_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holdout report runs in a thread beside scoring and writing; when it fails, the
    command fails with its message and leaves no half-valid output behind."""
    import retento.analytics

    def boom(*args: object, **kwargs: object) -> None:
        raise ValueError("holdout went wrong")

    monkeypatch.setattr(retento.analytics, "holdout_report", boom)
    out = tmp_path / "s.csv"
    res = runner.invoke(app, _args(cdnow_csv, out, "--calibration-end", "1997-09-30"))
    assert res.exit_code == 1
    assert "holdout went wrong" in res.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("value", "ok"),
    [("1997-09-30", True), ("1997/09/30", True), ("19970930", True), ("1997-02-30", False),
     ("soon", False)],
)  # fmt: skip
def test_calibration_end_is_checked_before_reading(
    cdnow_csv: Path, tmp_path: Path, value: str, ok: bool
) -> None:
    from retento.analyze.cli import _is_date

    assert _is_date(value) is ok
    assert _is_date(value) is _pandas_reads(value)
    if not ok:
        res = runner.invoke(app, _args(cdnow_csv, tmp_path / "o.csv", "--calibration-end", value))
        assert res.exit_code == 1
        assert "--calibration-end is not a date" in res.stderr


def _pandas_reads(value: str) -> bool:
    try:
        pd.Timestamp(value)
    except ValueError:
        return False
    return True
