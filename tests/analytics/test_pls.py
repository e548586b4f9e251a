"""Tests of the PLS path modelling estimator against R plspm / seminr published outputs.

Data and expected outputs live in ``tests/data/ecsi`` (see ``SOURCE.md`` there).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retento.analytics import (
    ACSI_MODEL,
    ECSI_MODEL,
    BootstrapResult,
    PLSPMResult,
    fit_csi,
    fit_csi_higher_order,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "ecsi"
EXPECTED = DATA / "expected"

SAT_BLOCKS = {
    lv: [f"{lv.lower()}{i}" for i in range(1, n + 1)]
    for lv, n in [("IMAG", 5), ("EXPE", 5), ("QUAL", 5), ("VAL", 4), ("SAT", 4), ("LOY", 4)]
}
SAT_PATHS = [
    ("IMAG", "EXPE"),
    ("IMAG", "SAT"),
    ("IMAG", "LOY"),
    ("EXPE", "QUAL"),
    ("EXPE", "VAL"),
    ("EXPE", "SAT"),
    ("QUAL", "VAL"),
    ("QUAL", "SAT"),
    ("VAL", "SAT"),
    ("SAT", "LOY"),
]
MOBI_PREFIX = {
    "Expectation": "CUEX",
    "Quality": "PERQ",
    "Loyalty": "CUSL",
    "Image": "IMAG",
    "Complaints": "CUSCO",
    "Value": "PERV",
}
OUTER_COLS = ["weight", "loading", "communality", "redundancy"]


def expected(name: str) -> pd.DataFrame:
    return pd.read_csv(EXPECTED / name, index_col=0)


@pytest.fixture(scope="module")
def satisfaction() -> pd.DataFrame:
    return pd.read_csv(DATA / "satisfaction.csv", index_col=0)


@pytest.fixture(scope="module")
def mobi() -> pd.DataFrame:
    return pd.read_csv(DATA / "mobi.csv", index_col=0)


@pytest.fixture(scope="module")
def sat_fit(satisfaction: pd.DataFrame) -> PLSPMResult:
    # R: plspm(satisfaction, sat_path, sat_blocks, modes = rep("A", 6), scaled = FALSE)
    return fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, scheme="centroid", scaled=False)


def mobi_blocks(mobi: pd.DataFrame, *latents: str) -> dict[str, list[str]]:
    return {lv: [c for c in mobi.columns if c.startswith(MOBI_PREFIX[lv])] for lv in latents}


# ---------------------------------------------------------------------------------------------
# R plspm `satisfaction` regression fixtures (README section C2)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "filename"),
    [
        ("centroid", "satisfaction.outer-model.csv"),
        ("factorial", "satisfaction.outer-model-factorial.csv"),
        ("path", "satisfaction.outer-model-path.csv"),
    ],
)
def test_satisfaction_outer_model_matches_plspm(
    satisfaction: pd.DataFrame, scheme: str, filename: str
) -> None:
    fit = fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, scheme=scheme, scaled=False)
    exp = expected(filename)
    assert fit.converged
    assert list(fit.outer_model.index) == list(exp.index)
    assert list(fit.outer_model["block"]) == list(exp["block"])
    np.testing.assert_allclose(fit.outer_model[OUTER_COLS], exp[OUTER_COLS], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fit.outer_weights, exp["weight"], rtol=1e-7)
    np.testing.assert_allclose(fit.outer_loadings, exp["loading"], rtol=1e-7)


def test_satisfaction_paths_r2_gof_match_plspm(sat_fit: PLSPMResult) -> None:
    pc = sat_fit.path_coefficients
    published = {
        ("IMAG", "EXPE"): 0.578959,
        ("EXPE", "QUAL"): 0.848344,
        ("EXPE", "VAL"): 0.105478,
        ("QUAL", "VAL"): 0.676656,
        ("IMAG", "SAT"): 0.200724,
        ("EXPE", "SAT"): -0.002754,
        ("QUAL", "SAT"): 0.122145,
        ("VAL", "SAT"): 0.589331,
        ("IMAG", "LOY"): 0.275150,
        ("SAT", "LOY"): 0.495479,
    }
    for (src, tgt), value in published.items():
        assert pc.loc[src, tgt] == pytest.approx(value, abs=1e-6)
    # Every other cell is zero (no path).
    mask = np.ones(pc.shape, dtype=bool)
    for src, tgt in published:
        mask[pc.index.get_loc(src), pc.columns.get_loc(tgt)] = False
    assert np.all(pc.to_numpy()[mask] == 0)

    r2 = {"EXPE": 0.335194, "QUAL": 0.719688, "VAL": 0.590084, "SAT": 0.707321, "LOY": 0.509923}
    assert list(sat_fit.r2.index) == list(r2)
    np.testing.assert_allclose(sat_fit.r2.to_numpy(), list(r2.values()), atol=1e-6)
    assert sat_fit.gof == pytest.approx(0.609741624338411, rel=1e-9)


def test_satisfaction_scores_match_plspm(sat_fit: PLSPMResult, satisfaction) -> None:
    exp = pd.read_csv(EXPECTED / "satisfaction.scores.csv")
    assert list(sat_fit.scores.columns) == list(exp.columns)
    assert sat_fit.scores.index.equals(satisfaction.index)
    np.testing.assert_allclose(sat_fit.scores.to_numpy(), exp.to_numpy(), rtol=1e-7, atol=1e-9)
    # plspm convention: scores have mean 0 and population variance 1.
    np.testing.assert_allclose(sat_fit.scores.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(sat_fit.scores.std(ddof=0), 1, atol=1e-12)


def test_satisfaction_inner_model_matches_plspm(sat_fit: PLSPMResult) -> None:
    exp = expected("satisfaction.inner-model.csv")
    got = sat_fit.inner_model["SAT"]
    assert list(got.index) == list(exp.index)
    np.testing.assert_allclose(got.to_numpy(), exp.to_numpy(), rtol=1e-6)
    assert set(sat_fit.inner_model) == {"EXPE", "QUAL", "VAL", "SAT", "LOY"}


def test_satisfaction_inner_summary_matches_plspm(sat_fit: PLSPMResult) -> None:
    exp = expected("satisfaction.inner-summary.csv")
    got = sat_fit.inner_summary
    assert list(got.index) == list(exp.index)
    assert list(got["type"]) == list(exp["type"])
    cols = ["r_squared", "block_communality", "mean_redundancy", "ave"]
    np.testing.assert_allclose(got[cols], exp[cols], rtol=1e-7, atol=1e-12)


def test_satisfaction_crossloadings_match_plspm(sat_fit: PLSPMResult) -> None:
    exp = expected("satisfaction.crossloadings.csv")
    got = sat_fit.crossloadings
    assert list(got.columns) == list(exp.columns)
    assert list(got["block"]) == list(exp["block"])
    lvs = list(SAT_BLOCKS)
    np.testing.assert_allclose(got[lvs], exp[lvs], rtol=1e-7)


def test_satisfaction_effects_match_plspm(sat_fit: PLSPMResult) -> None:
    exp = expected("satisfaction.effects.csv")
    got = sat_fit.effects
    assert list(got.index) == list(exp.index)
    assert list(got["from"]) == list(exp["from"])
    assert list(got["to"]) == list(exp["to"])
    cols = ["direct", "indirect", "total"]
    np.testing.assert_allclose(got[cols], exp[cols], rtol=1e-7, atol=1e-12)
    # The square matrix agrees with the long table.
    for row in exp.itertuples():
        assert sat_fit.total_effects.loc[row._1, row.to] == pytest.approx(row.total, abs=1e-10)


def test_satisfaction_unidimensionality_matches_plspm(sat_fit: PLSPMResult) -> None:
    exp = expected("satisfaction_unidim.csv")
    got = sat_fit.unidimensionality
    assert list(got.index) == list(exp.index)
    assert list(got["mode"]) == list(exp["mode"])
    assert list(got["mvs"]) == list(exp["mvs"])
    cols = ["cronbach_alpha", "dillon_goldstein_rho", "eig_1st", "eig_2nd"]
    np.testing.assert_allclose(got[cols], exp[cols], rtol=1e-7)


def test_satisfaction_mode_b_matches_plspm(satisfaction: pd.DataFrame) -> None:
    fit = fit_csi(
        satisfaction,
        SAT_BLOCKS,
        SAT_PATHS,
        scaled=False,
        modes={lv: "B" for lv in SAT_BLOCKS},
    )
    exp = expected("satisfaction.modeb.inner-summary.csv")
    got = fit.inner_summary
    assert list(got["type"]) == list(exp["type"])
    np.testing.assert_allclose(got["r_squared"], exp["r_squared"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(got["block_communality"], exp["block_communality"], rtol=1e-6)
    np.testing.assert_allclose(got["mean_redundancy"], exp["mean_Redundancy"], rtol=1e-6)
    assert got["ave"].isna().all()  # AVE is not defined for formative blocks
    assert fit.r2["SAT"] == pytest.approx(0.732184, abs=1e-6)
    assert (fit.unidimensionality["cronbach_alpha"] == 0).all()


# ---------------------------------------------------------------------------------------------
# seminr fixtures on the ECSI mobi data (README section C1)
# ---------------------------------------------------------------------------------------------


def test_mobi_basic_model_matches_seminr(mobi: pd.DataFrame) -> None:
    blocks = mobi_blocks(mobi, "Expectation", "Quality", "Loyalty", "Image", "Complaints")
    paths = {"Expectation": ["Loyalty"], "Quality": "Loyalty", "Image": ["Expectation"]}
    paths["Complaints"] = ["Loyalty"]
    # seminr uses its own stopping rule; a tighter tolerance reaches its fixed point.
    fit = fit_csi(mobi, blocks, paths, scheme="path", modes={"Quality": "B"}, tol=1e-10)
    exp_outer = expected("seminr-mobi-basic-outer-model.csv")
    np.testing.assert_allclose(
        fit.outer_model.loc[exp_outer.index, ["weight", "loading"]], exp_outer, atol=5e-6
    )
    exp_paths = expected("seminr-mobi-basic-paths.csv")
    got = fit.path_coefficients.loc[exp_paths.index, exp_paths.columns]
    np.testing.assert_allclose(got, exp_paths, atol=1e-6)
    assert fit.path_coefficients.loc["Image", "Expectation"] == pytest.approx(0.512877, abs=1e-5)


def test_mobi_basic_model_default_tolerance_within_3_decimals(mobi: pd.DataFrame) -> None:
    blocks = mobi_blocks(mobi, "Expectation", "Quality", "Loyalty", "Image", "Complaints")
    paths = [
        ("Expectation", "Loyalty"),
        ("Quality", "Loyalty"),
        ("Image", "Expectation"),
        ("Complaints", "Loyalty"),
    ]
    fit = fit_csi(mobi, blocks, paths, scheme="path", modes={"Quality": "B"})
    exp_outer = expected("seminr-mobi-basic-outer-model.csv")
    np.testing.assert_allclose(
        fit.outer_model.loc[exp_outer.index, ["weight", "loading"]], exp_outer, atol=5e-4
    )
    exp_paths = expected("seminr-mobi-basic-paths.csv")
    got = fit.path_coefficients.loc[exp_paths.index, exp_paths.columns]
    np.testing.assert_allclose(got, exp_paths, atol=5e-4)


def test_mobi_two_stage_higher_order_matches_seminr(mobi: pd.DataFrame) -> None:
    blocks = mobi_blocks(mobi, "Expectation", "Quality", "Loyalty", "Image", "Complaints", "Value")
    paths = [
        ("Expectation", "Satisfaction"),
        ("Quality", "Satisfaction"),
        ("Satisfaction", "Complaints"),
        ("Satisfaction", "Loyalty"),
    ]
    fit = fit_csi_higher_order(
        mobi,
        blocks,
        paths,
        {"Satisfaction": ["Image", "Value"]},
        scheme="path",
        modes={"Quality": "B"},
        tol=1e-10,
        scale_range=(1, 10),
    )
    exp_outer = expected("seminr-mobi-hoc-ts-outer-model.csv")
    # The first-order items of the HOC are not part of the stage-2 model (zero rows in seminr).
    dropped = [i for i in exp_outer.index if i not in fit.outer_model.index]
    assert sorted(dropped) == sorted([f"IMAG{i}" for i in range(1, 6)] + ["PERV1", "PERV2"])
    assert (exp_outer.loc[dropped] == 0).all().all()
    kept = [i for i in exp_outer.index if i in fit.outer_model.index]
    assert len(kept) == 16
    np.testing.assert_allclose(
        fit.outer_model.loc[kept, ["loading", "weight"]], exp_outer.loc[kept], atol=5e-6
    )
    assert fit.blocks["Satisfaction"] == ["Image", "Value"]
    exp_paths = expected("seminr-mobi-hoc-ts-paths.csv")
    got = fit.path_coefficients.loc[exp_paths.index, exp_paths.columns]
    np.testing.assert_allclose(got, exp_paths, atol=1e-6)
    # The HOC index is a weighted mean of the LOC indices, so it stays on the 0-100 scale.
    assert 0 < fit.indices["Satisfaction"] < 100
    assert fit.index_weights[["Image", "Value"]].sum() == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sat_boot(sat_fit: PLSPMResult) -> BootstrapResult:
    return sat_fit.bootstrap(n=200, seed=20240601)


@pytest.mark.parametrize(
    ("attr", "filename"),
    [
        ("paths", "satisfaction_boot_paths.csv"),
        ("total_effects", "satisfaction_boot_total_effects.csv"),
        ("loadings", "satisfaction_boot_loadings.csv"),
        ("weights", "satisfaction_boot_weights.csv"),
        ("r2", "satisfaction_boot_rsquared.csv"),
    ],
)
def test_bootstrap_agrees_with_plspm(sat_boot: BootstrapResult, attr: str, filename: str) -> None:
    exp = expected(filename)
    got = getattr(sat_boot, attr)
    assert set(got.index) == set(exp.index)
    got = got.loc[exp.index]
    # The full-sample column is deterministic.
    np.testing.assert_allclose(got["original"], exp["original"], rtol=1e-7, atol=1e-12)
    # The rest is random (R's own resamples): compare in the published ballpark.
    np.testing.assert_allclose(got["mean"], exp["mean"], atol=0.05)
    np.testing.assert_allclose(got["std_error"], exp["std.error"], atol=0.03)
    np.testing.assert_allclose(got["ci_lower"], exp["perc.025"], atol=0.1)
    np.testing.assert_allclose(got["ci_upper"], exp["perc.975"], atol=0.1)
    # The percentile intervals cover the point estimates.
    assert (got["ci_lower"] <= got["original"]).all()
    assert (got["original"] <= got["ci_upper"]).all()


def test_bootstrap_is_reproducible_and_fast(sat_fit: PLSPMResult) -> None:
    start = time.perf_counter()
    a = sat_fit.bootstrap(n=200, seed=7)
    elapsed = time.perf_counter() - start
    b = sat_fit.bootstrap(n=200, seed=7)
    c = sat_fit.bootstrap(n=50, seed=8, level=0.9)
    pd.testing.assert_frame_equal(a.paths, b.paths)
    pd.testing.assert_frame_equal(a.indices, b.indices)
    assert not a.paths["mean"].equals(c.paths["mean"])
    assert a.n_failed == 0 and a.n_resamples == 200 and c.level == 0.9
    assert list(a.indices.index) == list(SAT_BLOCKS)
    assert ((a.indices["ci_lower"] > 0) & (a.indices["ci_upper"] < 100)).all()
    # 90% intervals are narrower than 95% ones on average.
    width95 = (a.paths["ci_upper"] - a.paths["ci_lower"]).mean()
    width90 = (c.paths["ci_upper"] - c.paths["ci_lower"]).mean()
    assert width90 < width95
    assert elapsed < 10.0, f"200 bootstrap resamples took {elapsed:.1f}s"


def test_bootstrap_rejects_bad_arguments(sat_fit: PLSPMResult) -> None:
    with pytest.raises(ValueError, match="n must be"):
        sat_fit.bootstrap(n=1)
    with pytest.raises(ValueError, match="level"):
        sat_fit.bootstrap(n=10, level=1.5)


# ---------------------------------------------------------------------------------------------
# Indices and importance-performance
# ---------------------------------------------------------------------------------------------


def test_acsi_index_follows_fornell_formula(satisfaction: pd.DataFrame) -> None:
    fit = fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, scaled=True, scale_range=(0, 10))
    for lv, items in SAT_BLOCKS.items():
        x = satisfaction[items]
        # Unstandardised weights: standardised weight / item sd (population).
        w = fit.outer_weights[items] / x.std(ddof=0)
        lo, hi = 0.0, 10.0
        fornell = ((w * x.mean()).sum() - lo * w.sum()) / ((hi - lo) * w.sum()) * 100
        assert fit.indices[lv] == pytest.approx(fornell, rel=1e-10)
        assert fit.index_weights[items].sum() == pytest.approx(1.0)
        # The per-respondent index is an increasing affine function of the LV score.
        assert np.corrcoef(fit.index_scores[lv], fit.scores[lv])[0, 1] == pytest.approx(1.0)
    assert fit.index_scores.min().min() >= 0
    assert fit.index_scores.max().max() <= 100 + 1e-9


def test_index_does_not_depend_on_scaling_when_items_share_a_scale(
    satisfaction: pd.DataFrame,
) -> None:
    a = fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, scaled=True, scale_range=(0, 10))
    b = fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, scaled=False, scale_range=(0, 10))
    # Different weights (standardised vs raw items), but both are 0-100 indices of the
    # same respondents; they agree to within 1.5 points and rank respondents alike.
    np.testing.assert_allclose(a.indices, b.indices, atol=1.5)
    for lv in SAT_BLOCKS:
        assert np.corrcoef(a.index_scores[lv], b.index_scores[lv])[0, 1] > 0.99
    # An index of a respondent answering the scale maximum on every item is 100.
    top = satisfaction.copy()
    top.iloc[0, : satisfaction.columns.get_loc("gender")] = 10
    c = fit_csi(top, SAT_BLOCKS, SAT_PATHS, scale_range=(0, 10))
    np.testing.assert_allclose(c.index_scores.iloc[0], 100.0)


def test_scale_range_per_column_and_default(satisfaction: pd.DataFrame) -> None:
    items = [c for c in satisfaction.columns if c != "gender"]
    per_col = {c: (0, 10) for c in items}
    a = fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, scale_range=per_col)
    b = fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, scale_range=(0, 10))
    pd.testing.assert_series_equal(a.indices, b.indices)
    observed = fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS)  # observed min/max per item
    assert not np.allclose(observed.indices, b.indices)
    with pytest.raises(ValueError, match="no \\(min, max\\) entry for column 'imag2'"):
        fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, scale_range={"imag1": (0, 10)})
    with pytest.raises(ValueError, match="max > min"):
        fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, scale_range=(10, 0))


def test_importance_performance(sat_fit: PLSPMResult) -> None:
    ipm = sat_fit.importance_performance("LOY")
    assert set(ipm.index) == {"IMAG", "EXPE", "QUAL", "VAL", "SAT"}
    exp = expected("satisfaction.effects.csv").set_index("from")
    exp = exp[exp["to"] == "LOY"]["total"]
    np.testing.assert_allclose(ipm["importance"], exp.loc[ipm.index], rtol=1e-7)
    np.testing.assert_allclose(ipm["performance"], sat_fit.indices[ipm.index])
    assert ipm["importance"].is_monotonic_decreasing
    assert set(ipm["quadrant"]) <= {
        "concentrate here",
        "keep up the good work",
        "low priority",
        "possible overkill",
    }
    # IMAG has the largest total effect on loyalty and an above-average index.
    assert ipm.index[0] == "IMAG" and ipm.loc["IMAG", "quadrant"] == "keep up the good work"

    raw = sat_fit.importance_performance("SAT", standardized=False)
    sd = sat_fit.index_scores.std(ddof=0)
    tot = sat_fit.total_effects["SAT"]
    for drv in raw.index:
        assert raw.loc[drv, "importance"] == pytest.approx(tot[drv] * sd["SAT"] / sd[drv])
    with pytest.raises(ValueError, match="no drivers"):
        sat_fit.importance_performance("IMAG")
    with pytest.raises(ValueError, match="unknown target"):
        sat_fit.importance_performance("NOPE")


# ---------------------------------------------------------------------------------------------
# Default models
# ---------------------------------------------------------------------------------------------


def test_default_models_fit_mobi(mobi: pd.DataFrame) -> None:
    assert set(ECSI_MODEL.latents) == set(ACSI_MODEL.latents) | {"Image"}
    assert set(ACSI_MODEL.paths) < set(ECSI_MODEL.paths)
    assert ("Satisfaction", "Loyalty") in ACSI_MODEL.paths
    assert ("Image", "Expectation") in ECSI_MODEL.paths
    template = ECSI_MODEL.blocks_template()
    assert list(template) == list(ECSI_MODEL.latents) and all(v == [] for v in template.values())

    blocks = {lv: list(items) for lv, items in ECSI_MODEL.example_blocks.items()}
    ecsi = ECSI_MODEL.fit(mobi, blocks, scale_range=(1, 10))
    direct = fit_csi(
        mobi,
        {lv: blocks[lv] for lv in ECSI_MODEL.latents},
        list(ECSI_MODEL.paths),
        scale_range=(1, 10),
    )
    pd.testing.assert_frame_equal(ecsi.path_coefficients, direct.path_coefficients)
    assert ecsi.converged
    assert ecsi.path_coefficients.loc["Satisfaction", "Loyalty"] > 0.3
    assert ecsi.path_coefficients.loc["Image", "Expectation"] > 0.3
    assert 0.3 < ecsi.gof < 1
    assert ((ecsi.indices > 50) & (ecsi.indices < 90)).all()
    acsi = ACSI_MODEL.fit(
        mobi, {lv: list(ACSI_MODEL.example_blocks[lv]) for lv in ACSI_MODEL.latents}
    )
    assert acsi.r2["Satisfaction"] > 0.5
    with pytest.raises(ValueError, match="no items given for latent"):
        ACSI_MODEL.fit(mobi, {"Expectation": ["CUEX1"]})
    with pytest.raises(ValueError, match="has no latent"):
        ACSI_MODEL.fit(mobi, {**{lv: ["CUEX1"] for lv in ACSI_MODEL.latents}, "Image": ["I"]})


# ---------------------------------------------------------------------------------------------
# Simulation: recover a known structural model
# ---------------------------------------------------------------------------------------------


def test_recovers_simulated_structural_model() -> None:
    rng = np.random.default_rng(12345)
    n = 20_000
    b12, b13, b23 = 0.6, 0.3, 0.45
    xi1 = rng.standard_normal(n)
    xi2 = b12 * xi1 + np.sqrt(1 - b12**2) * rng.standard_normal(n)
    mean3 = b13 * xi1 + b23 * xi2
    var3 = np.var(mean3)
    xi3 = mean3 + np.sqrt(1 - var3) * rng.standard_normal(n)
    cols: dict[str, np.ndarray] = {}
    blocks: dict[str, list[str]] = {}
    for name, xi in [("Quality", xi1), ("Value", xi2), ("Satisfaction", xi3)]:
        blocks[name] = []
        for h, lam in enumerate([0.95, 0.92, 0.9, 0.93, 0.94, 0.91, 0.9, 0.95]):
            col = f"{name[:3].lower()}{h}"
            # Items on different scales: scaled=True must handle them.
            cols[col] = (h + 1) * (lam * xi + np.sqrt(1 - lam**2) * rng.standard_normal(n))
            blocks[name].append(col)
    data = pd.DataFrame(cols)
    paths = [("Quality", "Value"), ("Quality", "Satisfaction"), ("Value", "Satisfaction")]
    for scheme in ("centroid", "factorial", "path"):
        fit = fit_csi(data, blocks, paths, scheme=scheme)
        pc = fit.path_coefficients
        # PLS-PM with Mode A is consistent at large: small attenuation with 8 reliable items.
        assert pc.loc["Quality", "Value"] == pytest.approx(b12, abs=0.03)
        assert pc.loc["Quality", "Satisfaction"] == pytest.approx(b13, abs=0.03)
        assert pc.loc["Value", "Satisfaction"] == pytest.approx(b23, abs=0.03)
        assert fit.outer_loadings.between(0.85, 0.97).all()
        total = fit.total_effects.loc["Quality", "Satisfaction"]
        assert total == pytest.approx(b13 + b12 * b23, abs=0.03)


def test_large_sample_is_vectorised(satisfaction: pd.DataFrame) -> None:
    big = satisfaction.sample(100_000, replace=True, random_state=3).reset_index(drop=True)
    start = time.perf_counter()
    fit = fit_csi(big, SAT_BLOCKS, SAT_PATHS)
    assert time.perf_counter() - start < 10.0
    assert fit.scores.shape == (100_000, 6)
    assert fit.r2["SAT"] == pytest.approx(0.71, abs=0.03)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d, b, p: (d, {**b, "IMAG": ["imag1", "nope"]}, p), "column 'nope'"),
        (lambda d, b, p: (d, {**b, "IMAG": []}, p), "'IMAG' has no items"),
        (lambda d, b, p: (d, b, [*p, ("LOY", "IMAG")]), "cycle: .*IMAG.*LOY.*IMAG"),
        (lambda d, b, p: (d, b, [*p, ("SAT", "SAT")]), "self-loop"),
        (lambda d, b, p: (d, b, [*p, ("SAT", "GHOST")]), "'GHOST' appears in paths"),
        (lambda d, b, p: (d, {**b, "EXTRA": ["gender"]}, p), "column 'gender' is not numeric"),
        (
            lambda d, b, p: (d.assign(val2=d["val2"].mask(d.index == d.index[3])), b, p),
            "column 'val2' has 1 missing",
        ),
        (lambda d, b, p: (d.assign(sat1=5), b, p), "column 'sat1' is constant"),
        (lambda d, b, p: (d, {**b, "LOY": ["loy1", "imag1"]}, p), "'imag1' is assigned to both"),
        (lambda d, b, p: (d, {**b, "EXTRA": ["imag1"]}, p), "assigned to both"),
        (lambda d, b, p: (d, b, []), "at least one"),
        (lambda d, b, p: (d, b, [("SAT",)]), "pair"),
    ],
)
def test_invalid_input_raises_clear_errors(satisfaction, mutate, message) -> None:
    data, blocks, paths = mutate(satisfaction, dict(SAT_BLOCKS), list(SAT_PATHS))
    with pytest.raises(ValueError, match=message):
        fit_csi(data, blocks, paths)


def test_invalid_options(satisfaction: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="scheme must be one of"):
        fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, scheme="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode of 'SAT'"):
        fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, modes={"SAT": "C"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="unknown latent variable 'X'"):
        fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, modes={"X": "A"})
    isolated = {**SAT_BLOCKS, "ALONE": ["gender"]}
    with pytest.raises(ValueError, match="ALONE"):
        fit_csi(satisfaction.assign(gender=satisfaction["imag1"] * 2.0), isolated, SAT_PATHS)
    with pytest.raises(ValueError, match="DataFrame"):
        fit_csi(satisfaction.to_numpy(), SAT_BLOCKS, SAT_PATHS)  # type: ignore[arg-type]


def test_paths_accept_dict_and_dataframe(satisfaction: pd.DataFrame, sat_fit) -> None:
    as_dict: dict[str, list[str]] = {}
    for src, tgt in SAT_PATHS:
        as_dict.setdefault(src, []).append(tgt)
    lvs = list(SAT_BLOCKS)
    matrix = pd.DataFrame(0, index=lvs, columns=lvs)
    for src, tgt in SAT_PATHS:
        matrix.loc[src, tgt] = 1
    for paths in (as_dict, matrix):
        fit = fit_csi(satisfaction, SAT_BLOCKS, paths, scaled=False)
        pd.testing.assert_frame_equal(fit.path_coefficients, sat_fit.path_coefficients)


def test_non_convergence_warns(satisfaction: pd.DataFrame) -> None:
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fit = fit_csi(satisfaction, SAT_BLOCKS, SAT_PATHS, max_iter=1)
    assert not fit.converged and fit.iterations == 1


def test_analytics_does_not_import_web_stack() -> None:
    code = (
        "import sys, retento.analytics as a; a.fit_csi; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'sqlalchemy') "
        "or (m.startswith('retento') and m != 'retento' "
        "and not m.startswith('retento.analytics'))); print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
