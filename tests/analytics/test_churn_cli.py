"""`retento analyze churn` on the CDNOW sample through Typer's CliRunner."""

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
        "churn", str(csv), "--customer-col", "id", "--date-col", "date", "--amount-col", "amount",
        "--calibration-end", "1997-09-30", "--horizon-days", "273", "--output", str(out), *extra,
    ]  # fmt: skip


def test_churn_json_reports_holdout_against_btyd_baseline(cdnow_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    res = runner.invoke(app, _args(cdnow_csv, out, "--json"))
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["customers"] == 2357
    assert all(w["label_end"] <= "1997-09-30" for w in payload["training_windows"])
    hold = payload["holdout"]
    assert hold["complete"] and hold["days"] == 273
    model, base = hold["model"], hold["baseline"]
    for key in ("roc_auc", "pr_auc", "lift_at_10", "brier"):
        assert key in model and key in base
    assert base["model"] == "BG/NBD"
    assert model["roc_auc"] >= 0.775 and model["roc_auc"] > base["expected_purchases_roc_auc"]
    assert model["brier"] < base["brier"] and model["lift_at_10"] > base["lift_at_10"]
    assert len(model["calibration"]) == 10
    # The AUC's DeLong interval (measured 0.755-0.799; the goal of 0.79 lies inside
    # it) and the paired test against the BG/NBD baseline on the same customers.
    low, high = model["roc_auc_ci95"]
    assert low < model["roc_auc"] < high and 0.005 < model["roc_auc_se"] < 0.02
    cmp = hold["comparison"]
    assert cmp["roc_auc_difference"] == pytest.approx(model["roc_auc"] - base["roc_auc"])
    assert cmp["ci95"][0] < cmp["roc_auc_difference"] < cmp["ci95"][1]
    assert 0.0 <= cmp["p_value"] <= 1.0
    scores = pd.read_csv(out)
    assert len(scores) == 2357 and scores.columns[0] == "id"
    assert scores["churn_risk"].between(0, 1).all()
    assert scores["churned"].mean() == pytest.approx(0.7098, abs=1e-4)
    assert scores["reason_1"].dropna().str.contains("no purchase for").any()
    assert set(payload["top_reasons"]) <= {
        "lapsed", "lapsed_once", "purchases_falling", "few_purchases", "spend_falling",
        "low_spend", "new_customer", "inactive_model", "purchase_count", "spend_level", "tenure",
        "active_model",
    }  # fmt: skip


def test_churn_text_output_in_chinese(cdnow_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "zh.csv"
    res = runner.invoke(app, _args(cdnow_csv, out, "--lang", "zh", "--windows", "2"))
    assert res.exit_code == 0, res.output
    # --lang zh: the report's lines are Chinese too, as its errors are
    assert "验证期：ROC AUC" in res.stdout and "BG/NBD" in res.stdout
    assert "95% 置信区间" in res.stdout and "差值 +" in res.stdout and "p = " in res.stdout
    assert "Holdout" not in res.stdout and "difference" not in res.stdout
    assert pd.read_csv(out)["reason_1"].dropna().str.contains("未购买|购买模式").any()


def test_quantity_column_adds_item_features_and_reasons(cdnow_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "qty.csv"
    res = runner.invoke(app, _args(cdnow_csv, out, "--quantity-col", "cds", "--json"))
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    # Measured 0.7744 with the quantity features (0.7771 without): no gain on CDNOW, see
    # docs/analytics-churn.md; the floor stays that of the model without them.
    assert payload["holdout"]["model"]["roc_auc"] >= 0.77
    scores = pd.read_csv(out)
    assert "units_per_order" in scores.columns
    assert (scores["units_per_order"] >= 1).all()
    assert {"units_falling", "units_per_order"} & set(payload["top_reasons"])
    texts = pd.concat([scores[f"reason_{i}"] for i in (1, 2, 3)]).dropna()
    assert texts.str.contains("item\\(s\\) per purchase on average|fewer items bought").any()
    assert not texts.str.contains("units_").any()  # never a raw column name


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--horizon-days", "0"], "--horizon-days"),
        (["--calibration-end", "someday"], "not a date"),
        (["--calibration-end", "1997-01-15"], "not enough history"),
        (["--lang", "fr"], "--lang"),
        (["--customer-col", "nobody"], "'nobody' not found"),
        (["--quantity-col", "items"], "'items' not found"),
    ],
)
def test_bad_input_is_a_message(cdnow_csv: Path, tmp_path: Path, extra, message) -> None:
    args = _args(cdnow_csv, tmp_path / "o.csv")
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    res = runner.invoke(app, args)
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    assert message in res.stderr, res.stderr
