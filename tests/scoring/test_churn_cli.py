"""`retento score` on a small demo database: churn risk, horizon option, MBG/NBD, the run
report when history is short, and the spend model's left-out customers."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from retento.cli import app
from tests.scoring.test_churn import _customers_with_orders
from tests.scoring.test_cli import _output, cli_db, runner  # noqa: F401 (fixture)


def test_score_adds_churn_risk_with_mbgnbd_and_a_horizon(cli_db):  # noqa: F811
    r = runner.invoke(app, ["demo", "--customers", "150", "--seed", "3"])
    assert r.exit_code == 0, _output(r)
    r = runner.invoke(
        app, ["score", "--model", "mbgnbd", "--churn-horizon-days", "60", "--holdout-weeks", "0"]
    )
    assert r.exit_code == 0, _output(r)
    out = _output(r)
    assert "customers scored with mbgnbd" in out
    assert "Churn risk (60-day horizon, ChurnRiskModel):" in out
    # The holdout line gives the AUC's 95 % interval and the paired test against BG/NBD.
    flat = " ".join(out.split())
    assert "Churn holdout (last 60 days): ROC AUC" in flat
    assert "95 % CI" in flat and "difference" in flat
    with cli_db.connect() as conn:
        run_id = conn.execute(text("SELECT max(id) FROM score_runs")).scalar_one()
        n_risk, n_buyers, lo, hi = conn.execute(
            text(
                "SELECT count(churn_risk), count(*) FILTER (WHERE order_count > 0), "
                "min(churn_risk), max(churn_risk) FROM customer_scores WHERE run_id = :r"
            ),
            {"r": run_id},
        ).one()
        reasons = conn.execute(
            text(
                "SELECT count(*) FROM customer_scores WHERE run_id = :r "
                "AND churn_reasons IS NOT NULL AND churn_reasons != '[]'"
            ),
            {"r": run_id},
        ).scalar_one()
    assert n_risk == n_buyers > 0 and 0.0 <= lo <= hi <= 1.0 and reasons > 0
    bad = runner.invoke(app, ["score", "--churn-horizon-days", "3"])
    assert bad.exit_code == 1 and "(--churn-horizon-days) must be between 14 and" in _output(bad)


def test_score_says_when_churn_risk_is_not_computed_and_who_the_spend_model_left_out(
    cli_db,  # noqa: F811
):
    r = runner.invoke(
        app, ["user", "create", "boss", "--role", "admin", "--password", "long-password"]
    )
    assert r.exit_code == 0, _output(r)
    with Session(cli_db) as session:
        # A month of history; the repeat purchases of the first 3 customers are free.
        _customers_with_orders(session, 3, [25, 12, 3], ["40.00", "0.00", "0.00"], "FREE")
        for prefix, amounts in (("PA", ["40", "30", "20"]), ("PB", ["20", "50", "35"])):
            _customers_with_orders(session, 3, [25, 12, 3], amounts, prefix)
        _customers_with_orders(session, 3, [25, 12, 3], ["15", "12", "9"], "PC")
        session.commit()
    r = runner.invoke(app, ["score", "--as-of", "2025-01-01T00:00:00+00:00"])
    assert r.exit_code == 0, _output(r)
    out = _output(r)
    assert "Churn risk not computed (90-day horizon): not enough history before" in out
    assert "Spend model (Gamma-Gamma) left out 3 repeat customer(s)" in out
    assert "zero or negative" in out
