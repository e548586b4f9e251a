"""Nonparametric bootstrap of a PLS path model: resampled respondents, percentile intervals.

The full model is estimated again on each resample (on plain arrays, :mod:`.core`), and each
parameter is summarised as R ``plspm``'s ``boot`` element summarises it (Sanchez 2013, ch. 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from retento.analytics.pls.core import _estimate, _index_scores, _index_weights
from retento.analytics.pls.spec import _Spec


def _summary_frame(
    draws: np.ndarray, original: np.ndarray, index: list[str], level: float
) -> pd.DataFrame:
    alpha = (1.0 - level) / 2.0
    return pd.DataFrame(
        {
            "original": original,
            "mean": np.nanmean(draws, axis=0),
            "std_error": np.nanstd(draws, axis=0, ddof=1),
            "ci_lower": np.nanquantile(draws, alpha, axis=0),
            "ci_upper": np.nanquantile(draws, 1.0 - alpha, axis=0),
        },
        index=pd.Index(index, name="name"),
    )


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap distribution summaries of a PLS-PM fit.

    Each table has one row per parameter and the columns ``original`` (full-sample estimate),
    ``mean`` and ``std_error`` (mean and standard deviation, ddof 1, of the bootstrap
    estimates) and ``ci_lower`` / ``ci_upper`` (percentile confidence interval at ``level``),
    the same summaries as R ``plspm``'s ``boot`` element (Sanchez 2013, ch. 5).

    Attributes
    ----------
    paths, total_effects : pandas.DataFrame
        Indexed by ``"source -> target"``.
    loadings, weights : pandas.DataFrame
        Indexed by manifest variable.
    r2 : pandas.DataFrame
        Indexed by endogenous latent variable.
    indices : pandas.DataFrame
        The 0--100 index of every latent variable.
    n_resamples, level, seed
        The settings used; ``n_failed`` counts resamples that did not converge or were
        degenerate (a resampled item with zero variance); they are dropped.
    """

    paths: pd.DataFrame
    total_effects: pd.DataFrame
    loadings: pd.DataFrame
    weights: pd.DataFrame
    r2: pd.DataFrame
    indices: pd.DataFrame
    n_resamples: int
    level: float
    seed: int | None
    n_failed: int


class _Fit(Protocol):
    """What the bootstrap reads of a :class:`~retento.analytics.pls.PLSPMResult`: the model,
    its data and scale ranges (resampled), and the full-sample estimates (the ``original``
    column)."""

    @property
    def _spec(self) -> _Spec: ...
    @property
    def _raw(self) -> np.ndarray: ...
    @property
    def _ranges(self) -> tuple[np.ndarray, np.ndarray]: ...
    @property
    def path_coefficients(self) -> pd.DataFrame: ...
    @property
    def total_effects(self) -> pd.DataFrame: ...
    @property
    def outer_loadings(self) -> pd.Series: ...
    @property
    def outer_weights(self) -> pd.Series: ...
    @property
    def r2(self) -> pd.Series: ...
    @property
    def indices(self) -> pd.Series: ...


def _bootstrap(fit: _Fit, n: int, seed: int | None, level: float) -> BootstrapResult:
    """Nonparametric bootstrap of a fitted model: what :meth:`PLSPMResult.bootstrap` returns.

    Parameters
    ----------
    fit : PLSPMResult
        The full-sample fit; its specification, data and scale ranges are resampled.
    n, seed, level
        As for :meth:`PLSPMResult.bootstrap`.

    Returns
    -------
    BootstrapResult
    """
    if n < 2:
        raise ValueError("n must be at least 2")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    spec = fit._spec
    raw = fit._raw
    lows, highs = fit._ranges
    rng = np.random.default_rng(seed)
    n_obs = raw.shape[0]
    adj = spec.adjacency.astype(bool)
    reach = np.linalg.inv(np.eye(len(spec.latents)) - spec.adjacency) - np.eye(len(spec.latents))
    reach_mask = np.abs(reach) > 0
    endo = adj.any(axis=0)
    draws: dict[str, list[np.ndarray]] = {k: [] for k in ("p", "t", "l", "w", "r", "i")}
    failed = 0
    for _ in range(n):
        rows = rng.integers(0, n_obs, size=n_obs)
        sample = raw[rows]
        if np.any(sample.std(axis=0) == 0):
            failed += 1
            continue
        core = _estimate(spec, sample)
        if not core.converged:
            failed += 1
            continue
        iw, _ = _index_weights(spec, core, lows, highs)
        idx = _index_scores(spec, sample, iw, lows, highs).mean(axis=0)
        draws["p"].append(core.paths[adj])
        draws["t"].append(core.total[reach_mask])
        draws["l"].append(core.loadings)
        draws["w"].append(core.weights)
        draws["r"].append(core.r2[endo])
        draws["i"].append(idx)
    if len(draws["p"]) < 2:
        raise RuntimeError("fewer than two bootstrap resamples could be estimated")
    lat = spec.latents
    src, tgt = np.nonzero(adj)
    path_names = [f"{lat[i]} -> {lat[j]}" for i, j in zip(src, tgt, strict=True)]
    src_t, tgt_t = np.nonzero(reach_mask)
    total_names = [f"{lat[i]} -> {lat[j]}" for i, j in zip(src_t, tgt_t, strict=True)]
    pc = fit.path_coefficients.to_numpy()
    te = fit.total_effects.to_numpy()
    endo_names = [lv for lv, e in zip(lat, endo, strict=True) if e]
    return BootstrapResult(
        paths=_summary_frame(np.array(draws["p"]), pc[adj], path_names, level),
        total_effects=_summary_frame(np.array(draws["t"]), te[reach_mask], total_names, level),
        loadings=_summary_frame(
            np.array(draws["l"]), fit.outer_loadings.to_numpy(), spec.columns, level
        ),
        weights=_summary_frame(
            np.array(draws["w"]), fit.outer_weights.to_numpy(), spec.columns, level
        ),
        r2=_summary_frame(np.array(draws["r"]), fit.r2.to_numpy(), endo_names, level),
        indices=_summary_frame(np.array(draws["i"]), fit.indices.to_numpy(), list(lat), level),
        n_resamples=n,
        level=level,
        seed=seed,
        n_failed=failed,
    )
