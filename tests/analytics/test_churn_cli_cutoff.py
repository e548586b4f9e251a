"""`retento analyze churn --calibration-end` after the file's last purchase is refused.

Exploratory testing found that scoring the CDNOW sample (last purchase 1998-06-30) at 1998-09-30
gave every customer a churn risk of 100 %: the training windows end at the cut-off, and the days
after the file's end counted every customer as churned (window churn rate 1.0)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from retento.analyze.cli import app

runner = CliRunner()


def _args(csv: Path, out: Path, cut: str) -> list[str]:
    return [
        "churn", str(csv), "--customer-col", "id", "--date-col", "date", "--amount-col", "amount",
        "--calibration-end", cut, "--horizon-days", "90", "--output", str(out), "--json",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        (
            "en",
            "Error: --calibration-end 1998-09-30 is after the last purchase in the file "
            "(1998-06-30): the training windows would count every customer as churned after it\n",
        ),
        (
            "zh_CN",
            "错误：--calibration-end 1998-09-30 晚于文件中的最后一次购买（1998-06-30）："
            "训练窗口会把之后的每位客户都算作已流失\n",
        ),
    ],
)
def test_cut_off_after_the_data_is_refused(cdnow_csv: Path, tmp_path: Path, lang, said) -> None:
    out = tmp_path / "scores.csv"
    res = runner.invoke(app, _args(cdnow_csv, out, "1998-09-30"), env={"RETENTO_LANG": lang})
    assert res.exit_code == 1
    assert res.output == said
    assert not out.exists()


def test_cut_off_on_the_last_day_still_scores(cdnow_csv: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "scores.csv"
    res = runner.invoke(app, _args(cdnow_csv, out, "1998-06-30"))
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["customers"] == 2357 and 0.5 < payload["mean_risk"] < 0.95
    assert all(w["churn_rate"] < 0.95 for w in payload["training_windows"])
