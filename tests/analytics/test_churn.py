"""Churn risk model: honest time-split evaluation on CDNOW, Telco 5-fold CV, reasons in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from retento.analytics.churn import (
    TELCO_FEATURE_LABELS,
    ChurnRiskModel,
    TransactionLog,
    churn_metrics,
    telco_features,
)
from retento.analytics.churn_reasons import duration_text, reason_params, render_reason
from retento.analytics.summary import SummaryInputError

DATA = Path(__file__).parents[1] / "data"
CUT = pd.Timestamp("1997-09-30")
HORIZON = 273  # weeks 40-78


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    df = pd.read_csv(
        DATA / "cdnow" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["cid", "id", "date", "cds", "amount"],
    )
    df["date"] = pd.to_datetime(df["date"].astype(str))
    return df[["id", "date", "amount"]]


@pytest.fixture(scope="module")
def scored(cdnow: pd.DataFrame) -> tuple[ChurnRiskModel, pd.DataFrame, pd.Series]:
    with TransactionLog(cdnow, "id", "date", "amount") as log:
        model = ChurnRiskModel(horizon_days=HORIZON, linear=True).fit_transactions(log, CUT)
        scores = model.score_transactions(log, CUT)
        y = log.labels(CUT, HORIZON, scores.index)
    return model, scores, y


def test_cdnow_holdout_beats_the_btyd_baseline(scored) -> None:
    model, scores, y = scored
    assert len(scores) == 2357 and y.mean() == pytest.approx(0.7098, abs=1e-4)
    m = churn_metrics(y, scores["churn_risk"])
    bg_expected = roc_auc_score(y, -scores["expected_purchases_bgnbd"])
    bg_p0 = churn_metrics(y, scores["p_no_purchase_bgnbd"])
    # Measured 0.7783 (BG/NBD expected purchases 0.7725, BG/NBD P(no purchase) 0.7569); the
    # issue's goal of 0.79 is not reached on this 2,357-customer sample (docs/analytics-churn.md).
    assert m["roc_auc"] >= 0.775
    assert m["roc_auc"] > bg_expected > 0.77
    assert m["pr_auc"] > bg_p0["pr_auc"]
    assert m["lift_at_10"] > bg_p0["lift_at_10"]
    assert m["brier"] < bg_p0["brier"]
    # Calibration: every risk decile within 10 points of the observed churn rate, plus two
    # binomial standard errors of that rate (~236 customers a decile: 3-3.5 points), and 6
    # points on average. Measured: 15.7 points at most (the third decile, 0.687 against 0.530,
    # allowed 16.5), 5.2 on average; Brier 0.1597.
    errors = []
    for b in m["calibration"]:
        obs, n = b["observed"], b["customers"]
        se = np.sqrt(max(obs * (1 - obs), 0.01) / n)
        errors.append(abs(b["predicted"] - obs))
        assert errors[-1] < 0.10 + 2 * se, b
    assert np.mean(errors) < 0.06
    assert -1 < model.horizon_shift_ < 0  # windows shorter than the horizon: risk lowered


def test_training_never_sees_the_evaluation_period(cdnow: pd.DataFrame, scored) -> None:
    model, scores, _ = scored
    assert all(w["label_end"] <= CUT.date().isoformat() for w in model.windows_)
    # Dropping everything after the cut-off changes nothing the model learnt.
    with TransactionLog(cdnow[cdnow["date"] <= CUT], "id", "date", "amount") as log:
        again = ChurnRiskModel(horizon_days=HORIZON, linear=True).fit_transactions(log, CUT)
        other = again.score_transactions(log, CUT)
    np.testing.assert_allclose(other["churn_risk"], scores["churn_risk"], rtol=1e-9)


def test_one_time_buyers_are_not_called_safe(scored) -> None:
    _, scores, y = scored
    once = scores["purchases"] == 1
    assert (scores.loc[once, "p_alive_bgnbd"] == 1).all()
    assert (scores.loc[once, "p_alive_mbgnbd"] < 1).all()
    # Risk of one-time buyers is high and, among them, longer silence means higher risk.
    assert scores.loc[once, "churn_risk"].mean() > 0.8
    lapsed = once & (scores["days_since_last"] > 240)
    assert scores.loc[lapsed, "churn_risk"].mean() > scores.loc[once & ~lapsed, "churn_risk"].mean()


def test_reasons_are_plain_words_in_english_and_chinese(scored) -> None:
    _, scores, _ = scored
    texts = pd.concat([scores[f"reason_{i}"] for i in (1, 2, 3)]).dropna()
    zh = pd.concat([scores[f"reason_zh_{i}"] for i in (1, 2, 3)]).dropna()
    assert len(texts) > 1000 and len(texts) == len(zh)
    raw = ["days_since_last", "median_gap", "p_alive", "_", "nan"]
    assert not texts.str.contains("|".join(raw)).any()
    row = scores[(scores["reason_code_1"] == "lapsed")].iloc[0]
    assert (
        row["reason_1"].startswith("no purchase for ") and "usually buys every" in row["reason_1"]
    )
    assert "未购买" in row["reason_zh_1"]
    once = scores[scores["reason_code_1"] == "lapsed_once"]
    assert (once["purchases"] == 1).all()
    assert once["reason_1"].str.endswith("bought only once").all()
    assert (scores["contribution_1"].dropna() >= 0.01).all()


def test_duration_text() -> None:
    assert duration_text([1, 5, 42, 150, 365, 800]) == [
        "1 day", "5 days", "6 weeks", "5 months", "12 months", "2.2 years",
    ]  # fmt: skip
    assert duration_text([150], "zh") == ["5个月"]


def test_extra_features_need_reason_texts(cdnow: pd.DataFrame) -> None:
    with TransactionLog(cdnow, "id", "date", "amount") as log:
        rng = np.random.default_rng(3)
        ids = np.arange(1, 2358)
        complaints = pd.DataFrame(
            {"complaints_open": rng.poisson(0.3, len(ids)).astype(float)},
            index=pd.Index(ids, name="id"),
        )
        labels = {"complaints_open": ("{value:.0f} open complaint(s)", "{value:.0f}个未解决投诉")}
        model = ChurnRiskModel(horizon_days=91, n_windows=2, feature_labels=labels)
        model.fit_transactions(log, CUT, extra=lambda cut: complaints)
        assert "complaints_open" in model.feature_names_in_
        assert model.groups_["complaints_open"] == ["complaints_open"]
        out = model.score_transactions(log, CUT, extra=complaints)
        assert out["churn_risk"].between(0, 1).all()
        model.feature_labels = None
        with pytest.raises(ValueError, match="no reason text for the feature 'complaints_open'"):
            model._texts(out, np.array(["complaints_open"] * len(out), dtype=object))


def _with_cds() -> pd.DataFrame:
    df = pd.read_csv(
        DATA / "cdnow" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["cid", "id", "date", "cds", "amount"],
    )
    df["date"] = pd.to_datetime(df["date"].astype(str))
    return df[["id", "date", "cds", "amount"]]


def test_quantity_column_adds_item_features_with_reasons_in_words() -> None:
    df = _with_cds()
    cut = pd.Timestamp("1997-06-30")
    with TransactionLog(df, "id", "date", "amount", quantity_col="cds") as log:
        feats = log.features(cut, horizon_days=91)
        model = ChurnRiskModel(horizon_days=91, n_windows=2).fit_transactions(log, cut)
        scores = model.score_transactions(log, cut)
    assert "quantity" in model.groups_ and "units_per_order" in model.feature_names_in_
    # Customer 4: same-day rows merged; 2 CDs on 1997-01-01 and 2 on 1997-01-18 by the cut.
    mine = df[(df["id"] == 4) & (df["date"] <= cut)]
    days = mine.groupby("date")[["cds", "amount"]].sum()
    row = feats.loc[4]
    assert row["units_total"] == days["cds"].sum()
    assert row["units_per_order"] == pytest.approx(days["cds"].sum() / len(days))
    assert row["units_last"] == days["cds"].iloc[-1]
    assert row["spend_per_unit"] == pytest.approx(days["amount"].sum() / days["cds"].sum())
    recent = days[days.index > cut - pd.Timedelta(days=91)]["cds"].sum()
    assert row["units_recent"] == recent
    assert row["units_trend"] == row["units_recent"] - row["units_prior"]
    assert scores["churn_risk"].between(0, 1).all()
    for i in (1, 2, 3):
        q = scores[scores[f"reason_code_{i}"].isin(["units_falling", "units_per_order"])]
        for text in q[f"reason_{i}"].tolist() + q[f"reason_zh_{i}"].tolist():
            assert "units_" not in text and "{" not in text
    falling = scores[scores["units_trend"] < 0].iloc[:1]
    from retento.analytics.churn_reasons import tx_reason

    codes, (en, zh) = tx_reason("quantity", falling, 91)
    r = falling.iloc[0]
    assert codes[0] == "units_falling"
    assert en[0] == (
        f"fewer items bought: {r['units_recent']:.0f} in the last 3 months against "
        f"{r['units_prior']:.0f} in the 3 months before"
    )
    assert zh[0].startswith("购买件数减少：最近3个月")
    params = reason_params("units_per_order", {"units_per_order": 1.5})
    assert render_reason("units_per_order", params) == "buys 1.5 item(s) per purchase on average"
    assert render_reason("units_per_order", {"n": 2.0}, "zh") == "平均每次购买2件"


def test_reason_amounts_take_a_money_format() -> None:
    params = {"recent": 0.0, "prior": 9928.9, "window": 91.0}
    plain = render_reason("spend_falling", params, "zh")
    assert "0.00" in plain and "9,928.90" in plain
    with_currency = render_reason("spend_falling", params, "zh", money=lambda v: f"¥{v:,.2f}")
    assert "¥0.00" in with_currency and "¥9,928.90" in with_currency


def test_bad_quantity_is_refused_naming_the_column() -> None:
    df = _with_cds().head(50).copy()
    df["cds"] = df["cds"].astype(object)
    df.loc[7, "cds"] = "many"
    with pytest.raises(SummaryInputError, match="'cds'.*row 8"):
        TransactionLog(df, "id", "date", "amount", quantity_col="cds")


def test_not_enough_history_is_a_clear_error(cdnow: pd.DataFrame) -> None:
    with TransactionLog(cdnow, "id", "date", "amount") as log:
        with pytest.raises(ValueError, match="not enough history"):
            ChurnRiskModel(horizon_days=90).fit_transactions(log, "1997-02-01")


def test_metrics_on_a_known_example() -> None:
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.6, 0.2, 0.3, 0.2, 0.1, 0.1])
    m = churn_metrics(y, p, bins=5)
    assert m["roc_auc"] == pytest.approx(20 / 21)
    assert m["lift_at_10"] == pytest.approx(1 / 0.3)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert sum(b["customers"] for b in m["calibration"]) == 10
    with pytest.raises(ValueError, match="both churners"):
        churn_metrics(np.zeros(3), np.ones(3))


def test_estimator_contract() -> None:
    from sklearn.base import clone

    m = ChurnRiskModel(horizon_days=30, linear=True)
    assert m.get_params()["horizon_days"] == 30
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "stacker_")
    with pytest.raises(RuntimeError, match="not fitted"):
        m.predict_proba(pd.DataFrame({"a": [1.0]}))


@pytest.mark.slow
def test_telco_five_fold_cv_auc() -> None:
    X, y = telco_features(pd.read_csv(DATA / "telco_churn" / "Telco-Customer-Churn.csv"))
    assert X.shape == (7043, 19) and y.sum() == 1869
    aucs = []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        m = ChurnRiskModel(
            linear=True, max_iter=600, learning_rate=0.02, feature_labels=TELCO_FEATURE_LABELS
        ).fit(X.iloc[train], y[train])
        aucs.append(roc_auc_score(y[test], m.predict_proba(X.iloc[test])[:, 1]))
    # Measured 0.8511 (logistic regression 0.845, tuned LightGBM 0.849 as reference points).
    assert np.mean(aucs) >= 0.85
    reasons = m.explain(X.iloc[test[:200]])
    assert reasons["reason_1"].dropna().str.len().gt(5).all()
    assert not reasons["reason_1"].dropna().str.contains("MonthlyCharges|_").any()


def test_low_wordings_only_below_the_typical_customer() -> None:
    """A group can raise a big spender's risk (trees combine features); review found the top
    spenders of the demo reading "low spend: $4,451.28 per purchase" and likely-active ones
    "gives only a 84 % chance". Below the baseline (population median) the low wording, at or
    above it a plain one under its own code, in both languages."""
    from retento.analytics.churn_reasons import tx_reason

    base = {
        "spend_mean": 50.0,
        "purchases": 3.0,
        "tenure_days": 365.0,
        "p_alive_mbgnbd": 0.6,
        "units_per_order": 2.0,
    }
    rows = pd.DataFrame(
        {
            "spend_recent": [10.0, 10.0],
            "spend_prior": [10.0, 10.0],
            "spend_mean": [20.0, 4451.28],
            "purchase_trend": [0.0, 0.0],
            "purchases_recent": [1.0, 4.0],
            "purchases_prior": [1.0, 4.0],
            "purchases": [2.0, 12.0],
            "tenure_days": [90.0, 1100.0],
            "p_alive_mbgnbd": [0.31, 0.84],
            "units_trend": [0.0, 0.0],
            "units_recent": [1.0, 1.0],
            "units_prior": [1.0, 1.0],
            "units_per_order": [1.0, 3.5],
        }
    )
    said = {g: tx_reason(g, rows, 91, base) for g in ("spend", "frequency", "tenure", "btyd")}
    said["quantity"] = tx_reason("quantity", rows, 91, base)
    codes = {g: list(c) for g, (c, _) in said.items()}
    assert codes == {
        "spend": ["low_spend", "spend_level"],
        "frequency": ["few_purchases", "purchase_count"],
        "tenure": ["new_customer", "tenure"],
        "btyd": ["inactive_model", "active_model"],
        "quantity": ["units_per_order", "units_level"],
    }
    en = {g: t[0] for g, (_, t) in said.items()}
    zh = {g: t[1] for g, (_, t) in said.items()}
    assert en["spend"] == [
        "low spend: 20.00 per purchase on average",
        "spends 4,451.28 per purchase on average",
    ]
    assert en["frequency"][1] == "12 purchase(s) in 3 years" and "only" in en["frequency"][0]
    assert en["tenure"] == ["customer for only 3 months", "customer for 3 years"]
    assert en["btyd"][1] == (
        "the purchase-pattern model puts the chance that the customer is still active at 84 %"
    )
    assert zh["spend"][1] == "平均每次消费4,451.28" and zh["btyd"][1].endswith("概率为 84%")
    # The stored form renders the same sentence (the app keeps code and params).
    for code in ("spend_level", "purchase_count", "tenure", "active_model", "units_level"):
        assert "{" not in render_reason(code, {}, "zh") and render_reason(code, {}) != code
    # Without a baseline (a caller of the old signature) the low wordings stay.
    assert list(tx_reason("spend", rows, 91)[0]) == ["low_spend", "low_spend"]
