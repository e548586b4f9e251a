"""Customer segmentation: planted clusters are recovered, names follow the documented rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from retento.analytics import CustomerSegmentation, SummaryInputError, segment_features
from retento.analytics.segments import segment_name

DATA = Path(__file__).parents[1] / "data" / "cdnow"

# Four planted groups (sizes differ so every percentile-rank level is unambiguous):
# A recent frequent high spenders, B lapsed small one-time buyers, C cooling regular
# mid spenders, D lapsed big one-time buyers.
PLANTED = {
    "A": (300, 4.0, 20.0, 2000.0),
    "B": (1200, 420.0, 1.0, 12.0),
    "C": (600, 90.0, 4.0, 150.0),
    "D": (400, 400.0, 1.0, 700.0),
}


def planted(seed: int = 1, scale: float = 1.0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    parts, truth = [], []
    for g, (n, r, f, m) in enumerate(PLANTED.values()):
        n = int(n * scale)
        recency = np.maximum(0, np.round(r * np.exp(rng.normal(0, 0.12, n))))
        freq = np.maximum(1, np.round(f * np.exp(rng.normal(0, 0.08, n)))) if f > 1 else np.ones(n)
        money = m * np.exp(rng.normal(0, 0.12, n))
        parts.append(pd.DataFrame({"recency": recency, "frequency": freq, "monetary": money}))
        truth.append(np.full(n, g))
    X = pd.concat(parts, ignore_index=True)
    X.index = pd.Index([f"c{i:05d}" for i in range(len(X))], name="customer")
    return X, np.concatenate(truth)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["cid", "id", "date", "cds", "amount"],
    )


@pytest.mark.parametrize("method,metric", [("kmeans", "silhouette"), ("gmm", "bic")])
def test_planted_clusters_recovered(method: str, metric: str) -> None:
    X, truth = planted()
    seg = CustomerSegmentation(method=method).fit(X)
    assert seg.n_clusters_ == 4
    assert adjusted_rand_score(truth, seg.labels_) > 0.99
    scores = seg.scores_
    assert scores["k"].tolist() == list(range(2, 9))
    assert (scores["metric"] == metric).all()
    best = scores["score"].idxmax() if metric == "silhouette" else scores["score"].idxmin()
    assert scores["chosen"].tolist() == [i == best for i in scores.index]
    assert scores.loc[best, "k"] == 4
    np.testing.assert_array_equal(seg.predict(X), seg.labels_)


def test_planted_names_follow_rules() -> None:
    X, truth = planted()
    seg = CustomerSegmentation().fit(X)
    prof = seg.profiles_
    # segment ids are ordered by revenue share
    assert prof["revenue_share"].is_monotonic_decreasing
    assert prof["revenue_share"].sum() == pytest.approx(1.0)
    assert prof["share"].sum() == pytest.approx(1.0)
    assert prof["size"].sum() == len(X)
    by_group = {g: int(pd.Series(seg.labels_[truth == i]).mode()[0]) for i, g in enumerate(PLANTED)}
    name = prof.set_index("segment")
    assert name.loc[by_group["A"], "name_en"] == "Very recent very frequent top spenders"
    assert name.loc[by_group["A"], "name_zh"] == "最近超高频顶级消费"
    assert name.loc[by_group["B"], "name_en"] == "Lapsed small-ticket one-time buyers"
    assert name.loc[by_group["B"], "name_zh"] == "流失的低消费一次性买家"
    assert name.loc[by_group["C"], "name_en"] == "Recent frequent mid spenders"
    assert name.loc[by_group["D"], "name_en"] == "Cooling big-ticket one-time buyers"
    assert name.loc[by_group["D"], "name_zh"] == "渐冷高消费一次性买家"
    # Every level is the documented percentile rule, recomputed here.
    for row in prof.itertuples():
        for c in ("recency", "frequency", "monetary"):
            m = getattr(row, f"median_{c}")
            p = ((X[c] < m).sum() + (X[c] <= m).sum()) / (2 * len(X))
            want = "high" if p > 2 / 3 else "low" if p < 1 / 3 else "mid"
            want = "very_high" if p > 0.9 else "very_low" if p < 0.1 else want
            assert getattr(row, f"level_{c}") == want
        members = X[seg.labels_ == row.segment]
        assert row.mean_monetary == pytest.approx(members["monetary"].mean())
        assert row.median_recency == pytest.approx(members["recency"].median())
        assert row.revenue_share == pytest.approx(members["monetary"].sum() / X["monetary"].sum())
    assert prof["name_en"].is_unique and prof["name_zh"].is_unique
    assert seg.names("zh")[by_group["A"]] == "最近超高频顶级消费"


def test_optional_features_add_qualifiers() -> None:
    X, truth = planted()
    rng = np.random.default_rng(3)
    X["churn_risk"] = np.where(np.isin(truth, [1, 3]), 0.9, 0.1) + rng.normal(0, 0.01, len(X))
    X["engagement"] = np.where(truth == 0, 8.0, 2.0) + rng.normal(0, 0.1, len(X))
    seg = CustomerSegmentation(n_clusters=4).fit(X)
    assert seg.features_ == ["recency", "frequency", "monetary", "churn_risk", "engagement"]
    a = int(pd.Series(seg.labels_[truth == 0]).mode()[0])
    b = int(pd.Series(seg.labels_[truth == 1]).mode()[0])
    names = seg.names("en")
    assert names[a] == "Very recent very frequent top spenders, safe, engaged"
    assert seg.names("zh")[a] == "最近超高频顶级消费（低流失风险、高互动）"
    assert names[b] == "Lapsed small-ticket one-time buyers, at risk"
    assert seg.scores_["metric"].tolist() == ["fixed"]


def test_segment_name_rules_and_duplicates() -> None:
    levels = {"recency": "high", "frequency": "low", "monetary": "mid"}
    assert segment_name(levels, one_time=True) == ("Lapsed one-time buyers", "流失的一次性买家")
    assert segment_name(levels, one_time=False) == (
        "Lapsed infrequent mid spenders",
        "流失的低频中等消费",
    )
    assert segment_name({**levels, "clv": "high"}, one_time=True) == (
        "Lapsed one-time buyers, with high CLV",
        "流失的一次性买家（高价值）",
    )
    assert segment_name(
        {"recency": "very_low", "frequency": "very_high", "monetary": "very_high"}, False
    ) == (
        "Very recent very frequent top spenders",
        "最近超高频顶级消费",
    )
    # "very" levels without words of their own read like the plain ones
    assert segment_name(
        {"recency": "very_high", "frequency": "very_low", "monetary": "very_low"}, False
    ) == (
        "Lapsed infrequent low spenders",
        "流失的低频低消费",
    )
    # Two planted groups with the same level in every feature get one name each.
    rng = np.random.default_rng(0)
    sizes = {"elite": 200, "g1": 300, "g2": 300, "lapsed": 1400}
    X = pd.DataFrame(
        {
            "recency": np.r_[
                rng.uniform(1, 3, 200), rng.uniform(20, 25, 300), rng.uniform(30, 35, 300),
                rng.uniform(300, 400, 1400),
            ],
            "frequency": np.r_[
                rng.integers(20, 23, 200), rng.integers(5, 7, 300), rng.integers(5, 7, 300),
                np.ones(1400),
            ],
            "monetary": np.r_[
                rng.uniform(1000, 1100, 200), rng.uniform(100, 120, 300),
                rng.uniform(150, 170, 300), np.full(1400, 9.0),
            ],
        }
    )  # fmt: skip
    assert sum(sizes.values()) == len(X)
    seg = CustomerSegmentation(n_clusters=4).fit(X)
    assert seg.profiles_["size"].tolist() == [200, 300, 300, 1400]
    assert seg.profiles_["name_en"].tolist() == [
        "Very recent very frequent top spenders",
        "Recent frequent high spenders",
        "Recent frequent high spenders (2)",
        "Lapsed small-ticket one-time buyers",
    ]
    assert seg.profiles_["name_zh"].tolist()[1:3] == ["近期高频高消费", "近期高频高消费（2）"]
    # the first of the two is the one with more revenue (the 150-170 spenders)
    assert seg.profiles_["median_monetary"].iloc[1] > 150


def test_deterministic_and_estimator_contract() -> None:
    X, _ = planted(seed=5)
    a = CustomerSegmentation(method="gmm", k_max=5, random_state=7)
    b = clone(a)
    assert b.get_params() == a.get_params()
    la = a.fit(X).labels_
    np.testing.assert_array_equal(la, b.fit(X).labels_)
    pd.testing.assert_frame_equal(a.profiles_, b.profiles_)
    assert a.set_params(k_max=4).k_max == 4
    with pytest.raises(ValueError, match="unknown parameter 'k'"):
        a.set_params(k=3)
    np.testing.assert_array_equal(CustomerSegmentation(n_clusters=2).fit_predict(X).shape, [len(X)])


def test_sampled_selection_for_large_n() -> None:
    X, truth = planted(seed=2, scale=4.0)  # 10,000 customers
    seg = CustomerSegmentation(selection_sample=2_000, silhouette_sample=500).fit(X)
    assert seg.n_clusters_ == 4
    assert adjusted_rand_score(truth, seg.labels_) > 0.99


def test_bad_input_is_named() -> None:
    X, _ = planted()
    with pytest.raises(SummaryInputError, match="'monetary'"):
        CustomerSegmentation().fit(X.drop(columns="monetary"))
    bad = X.copy()
    bad.iloc[7, bad.columns.get_loc("recency")] = np.nan
    with pytest.raises(SummaryInputError, match="'recency'.*'c00007'"):
        CustomerSegmentation().fit(bad)
    bad = X.copy()
    bad.iloc[3, bad.columns.get_loc("frequency")] = -1
    with pytest.raises(SummaryInputError, match="'frequency'.*'c00003'"):
        CustomerSegmentation().fit(bad)
    with pytest.raises(ValueError, match="method"):
        CustomerSegmentation(method="dbscan").fit(X)
    with pytest.raises(ValueError, match="k_min <= k_max"):
        CustomerSegmentation(k_min=5, k_max=3).fit(X)
    with pytest.raises(ValueError, match="unknown feature 'age'"):
        CustomerSegmentation(features=["recency", "frequency", "monetary", "age"]).fit(X)
    with pytest.raises(ValueError, match="'monetary' is required"):
        CustomerSegmentation(features=["recency", "frequency"]).fit(X)
    with pytest.raises(RuntimeError, match="not fitted"):
        CustomerSegmentation().predict(X)
    with pytest.raises(TypeError, match="DataFrame"):
        CustomerSegmentation().fit(X.to_numpy())
    same = pd.DataFrame({"recency": [1.0] * 5, "frequency": [1.0] * 5, "monetary": [5.0] * 5})
    with pytest.raises(SummaryInputError, match="1 distinct customer profile"):
        CustomerSegmentation().fit(same)
    with pytest.raises(SummaryInputError, match="only 5 customers"):
        CustomerSegmentation(n_clusters=6).fit(same)


def test_cdnow_features_and_segments(cdnow: pd.DataFrame) -> None:
    X = segment_features(cdnow, "id", "date", "amount")
    assert len(X) == 2357 and X.index.name == "id"
    days = pd.to_datetime(cdnow["date"].astype(str), format="%Y%m%d")
    last = days.max()
    one = cdnow[cdnow["id"] == 1]
    d1 = pd.to_datetime(one["date"].astype(str), format="%Y%m%d")
    assert X.loc[1, "frequency"] == d1.nunique()
    assert X.loc[1, "monetary"] == pytest.approx(one["amount"].sum())
    assert X.loc[1, "recency"] == (last - d1.max()).days
    assert X["monetary"].sum() == pytest.approx(cdnow["amount"].sum())
    cut = segment_features(cdnow, "id", "date", "amount", as_of="1997-03-31")
    early = cdnow[days <= "1997-03-31"]
    assert len(cut) == early["id"].nunique()
    assert cut["monetary"].sum() == pytest.approx(early["amount"].sum())
    assert cut["recency"].min() >= 0
    with pytest.raises(SummaryInputError, match="No purchase on or before 1996-01-01"):
        segment_features(cdnow, "id", "date", "amount", as_of="1996-01-01")
    for method in ("kmeans", "gmm"):
        seg = CustomerSegmentation(method=method).fit(X)
        prof = seg.profiles_
        assert 2 <= seg.n_clusters_ <= 8 and len(prof) == seg.n_clusters_
        assert prof["name_en"].is_unique and prof["name_zh"].is_unique
        assert prof["size"].sum() == 2357
    # The k-means split of CDNOW: repeat buyers bring most revenue, the rest bought once.
    seg = CustomerSegmentation().fit(X)
    assert seg.profiles_["name_en"].tolist() == [
        "Recent frequent high spenders",
        # three customers in four are in it, so its median recency is mid-ranked: "Cooling"
        "Cooling one-time buyers",
    ]
    assert seg.profiles_["revenue_share"].iloc[0] > 0.6


def test_segment_features_bad_row_named(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("cust,day,amount\n1,2024-01-01,5\n2,not a date,3\n")
    with pytest.raises(SummaryInputError, match="'day'.*row 2"):
        segment_features(path, "cust", "day", "amount")


def test_silhouette_matches_sklearn() -> None:
    from sklearn.metrics import silhouette_score

    from retento.analytics.segments import silhouette

    rng = np.random.default_rng(4)
    Z = rng.normal(size=(1500, 3))
    labels = rng.integers(0, 4, 1500)
    labels[0] = 4  # a cluster of one scores 0
    assert silhouette(Z, labels, 5, block=100) == pytest.approx(silhouette_score(Z, labels))
    X, truth = planted()
    Zp = np.log1p(X.to_numpy())
    assert silhouette(Zp, truth, 4) == pytest.approx(silhouette_score(Zp, truth))
