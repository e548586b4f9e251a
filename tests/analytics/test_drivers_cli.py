"""`retento analyze propensity` and `retento analyze drivers` on files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from retento.analyze.cli import app
from tests.analytics.test_propensity import _simulate

runner = CliRunner()


def test_propensity_cli_writes_the_invite_list(tmp_path):
    src = tmp_path / "lines.csv"
    _simulate(600).to_csv(src, index=False)
    out = tmp_path / "invite.csv"
    args = ["propensity", str(src), "--customer-col", "cust", "--date-col", "date"]
    args += ["--item-col", "item", "--amount-col", "amount", "--target", "tea"]
    args += ["--horizon-days", "60", "--as-of", "2025-12-01", "--top-k", "40", "-o", str(out)]
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["holdout"]["model"]["roc_auc"] > rep["holdout"]["baseline"]["roc_auc"]
    assert rep["holdout"]["period_end"] == "2025-12-01"
    inv = pd.read_csv(out)
    assert len(inv) == 40 and list(inv["rank"]) == list(range(1, 41))
    r = runner.invoke(app, [*args[:-2], "--target", "coffee"])
    assert r.exit_code == 1 and "never appears" in r.output


def test_drivers_cli_ranks_the_planted_driver(tmp_path):
    rng = np.random.default_rng(2)
    n = 600
    df = pd.DataFrame(rng.normal(size=(n, 4)), columns=["visits", "a", "b", "c"])
    df["spend"] = 3 * df["visits"] + rng.normal(size=n)
    df["name"] = "x"
    src = tmp_path / "customers.csv"
    df.to_csv(src, index=False)
    r = runner.invoke(
        app, ["drivers", str(src), "--outcome", "spend", "--bootstrap", "30", "--json"]
    )
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["drivers"][0]["feature"] == "visits" and rep["r2_test"] > 0.8
    r = runner.invoke(app, ["drivers", str(src), "--outcome", "profit"])
    assert r.exit_code == 1 and "'profit' is missing" in r.output
