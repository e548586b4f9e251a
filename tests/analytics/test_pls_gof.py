"""GoF of PLS path models with single-item blocks (R plspm: communalities of blocks with more
than one item only; with none the GoF is 0/0, undefined)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from retento.analytics import fit_csi


def _data(n: int = 200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 0.6 * x + rng.normal(scale=0.8, size=n)
    z = 0.5 * y + rng.normal(scale=0.8, size=n)
    return pd.DataFrame(
        {
            "x1": x + rng.normal(scale=0.5, size=n),
            "y1": y + rng.normal(scale=0.5, size=n),
            "z1": z + rng.normal(scale=0.5, size=n),
            "z2": z + rng.normal(scale=0.5, size=n),
        }
    )


PATHS = [("X", "Y"), ("Y", "Z")]


def test_gof_is_nan_when_every_block_has_one_item():
    res = fit_csi(_data(), {"X": ["x1"], "Y": ["y1"], "Z": ["z1"]}, PATHS)
    assert math.isnan(res.gof)
    # Everything else is defined: single items load 1, paths and R² are the correlations.
    assert res.outer_model["loading"].to_numpy() == pytest.approx([1.0, 1.0, 1.0])
    d = _data()
    r_xy = np.corrcoef(d["x1"], d["y1"])[0, 1]
    r_yz = np.corrcoef(d["y1"], d["z1"])[0, 1]
    assert res.path_coefficients.loc["X", "Y"] == pytest.approx(r_xy)
    assert res.r2.to_dict() == pytest.approx({"Y": r_xy**2, "Z": r_yz**2})
    assert np.isfinite(res.indices.to_numpy()).all()


def test_gof_counts_only_blocks_with_more_than_one_item():
    res = fit_csi(_data(), {"X": ["x1"], "Y": ["y1"], "Z": ["z1", "z2"]}, PATHS)
    comm = res.outer_model.loc[["z1", "z2"], "communality"].mean()
    assert res.gof == pytest.approx(math.sqrt(comm * res.r2.mean()))
    assert 0 < res.gof < 1
