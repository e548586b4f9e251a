"""The PLS-PM estimator on plain arrays (so that the bootstrap stays cheap).

Stage 1 (iterative outer weights), stages 2 and 3 (paths, loadings, total effects) as the
package docstring of :mod:`retento.analytics.pls` describes them, and the ACSI weights that turn
the items into 0--100 indices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retento.analytics.pls.spec import _Spec


@dataclass
class _Core:
    weights: np.ndarray  # (p,) outer weights on the prepared MVs
    scores: np.ndarray  # (n, J) LV scores, mean 0, population variance 1
    loadings: np.ndarray  # (p,)
    paths: np.ndarray  # (J, J) source x target
    r2: np.ndarray  # (J,) 0 for exogenous
    total: np.ndarray  # (J, J) total effects
    iterations: int
    converged: bool
    center: np.ndarray
    scale: np.ndarray


def _prepare(raw: np.ndarray, scaled: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre (and with ``scaled`` standardise by the population sd) the MV matrix."""
    center = raw.mean(axis=0)
    sd = raw.std(axis=0)  # population sd, divisor n (R plspm convention)
    if scaled:
        scale = sd
    else:
        scale = np.ones_like(sd)
    return (raw - center) / scale, center, scale


def _standardise(y: np.ndarray) -> np.ndarray:
    return (y - y.mean(axis=0)) / y.std(axis=0)


def _inner_weights(spec: _Spec, y: np.ndarray) -> np.ndarray:
    """Inner weight matrix ``E`` with ``Z = Y @ E`` (column j = inner estimate of LV j)."""
    adj = spec.adjacency
    linked = adj + adj.T
    corr = (y.T @ y) / y.shape[0]  # Y standardised -> correlation matrix
    if spec.scheme == "centroid":
        return np.sign(corr) * linked
    if spec.scheme == "factorial":
        return corr * linked
    e = corr * adj  # successors of j (j -> i): correlation, stored at e[i, j]
    e = e.T.copy()  # e[i, j] = corr if j -> i
    for j in range(adj.shape[0]):
        pred = np.flatnonzero(adj[:, j])
        if pred.size:
            coef = np.linalg.lstsq(y[:, pred], y[:, j], rcond=None)[0]
            e[pred, j] = coef
    return e


def _outer_weights(spec: _Spec, x: np.ndarray) -> tuple[np.ndarray, int, bool]:
    n, p = x.shape
    n_lv = len(spec.latents)
    bi = spec.block_index
    odm = np.zeros((p, n_lv))
    odm[np.arange(p), bi] = 1.0
    members = [np.flatnonzero(bi == j) for j in range(n_lv)]
    w = odm / (x @ odm).std(axis=0)
    w_old = w.sum(axis=1)
    converged = False
    iteration = 1
    while True:
        y = _standardise(x @ w)
        z = y @ _inner_weights(spec, y)
        for j, idx in enumerate(members):
            if spec.modes[j] == "A":
                w[idx, j] = x[:, idx].T @ z[:, j] / n
            else:
                w[idx, j] = np.linalg.lstsq(x[:, idx], z[:, j], rcond=None)[0]
        w_new = w.sum(axis=1)
        if np.sum((np.abs(w_old) - np.abs(w_new)) ** 2) < spec.tol:
            converged = True
            break
        if iteration >= spec.max_iter:
            break
        w_old = w_new
        iteration += 1
    w = w / (x @ w).std(axis=0)
    return w.sum(axis=1), iteration, converged


def _estimate(spec: _Spec, raw: np.ndarray) -> _Core:
    x, center, scale = _prepare(raw, spec.scaled)
    weights, iterations, converged = _outer_weights(spec, x)
    n_lv = len(spec.latents)
    bi = spec.block_index
    wmat = np.zeros((x.shape[1], n_lv))
    wmat[np.arange(x.shape[1]), bi] = weights
    scores = x @ wmat
    xs = _standardise(x)
    loadings = np.einsum("ij,ij->j", xs, scores[:, bi]) / x.shape[0]
    paths = np.zeros((n_lv, n_lv))
    r2 = np.zeros(n_lv)
    for j in range(n_lv):
        pred = np.flatnonzero(spec.adjacency[:, j])
        if pred.size:
            coef = np.linalg.lstsq(scores[:, pred], scores[:, j], rcond=None)[0]
            paths[pred, j] = coef
            resid = scores[:, j] - scores[:, pred] @ coef
            r2[j] = 1.0 - resid @ resid / (scores[:, j] @ scores[:, j])
    total = np.linalg.inv(np.eye(n_lv) - paths) - np.eye(n_lv)
    return _Core(
        weights=weights,
        scores=scores,
        loadings=loadings,
        paths=paths,
        r2=r2,
        total=total,
        iterations=iterations,
        converged=converged,
        center=center,
        scale=scale,
    )


def _resolve_ranges(
    data: pd.DataFrame,
    columns: Sequence[str],
    scale_range: tuple[float, float] | Mapping[str, tuple[float, float]] | None,
) -> tuple[np.ndarray, np.ndarray]:
    lows, highs = [], []
    for col in columns:
        if scale_range is None:
            lo, hi = float(data[col].min()), float(data[col].max())
        elif isinstance(scale_range, Mapping):
            if col not in scale_range:
                raise ValueError(f"scale_range has no (min, max) entry for column {col!r}")
            lo, hi = scale_range[col]
        else:
            lo, hi = scale_range
        if not hi > lo:
            raise ValueError(f"scale_range for column {col!r} must have max > min, got {lo}..{hi}")
        lows.append(float(lo))
        highs.append(float(hi))
    return np.array(lows), np.array(highs)


def _index_weights(
    spec: _Spec, core: _Core, lows: np.ndarray, highs: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """ACSI weights of the 0--100 rescaled items, normalised to sum to 1 per block.

    The unstandardised weight of item h (on its original scale) is ``w_h / s_h``; on the
    0--100 rescaled item it becomes ``w_h (max_h - min_h) / s_h``.
    """
    raw_w = core.weights / core.scale * (highs - lows)
    sums = np.bincount(spec.block_index, weights=raw_w, minlength=len(spec.latents))
    bad = [lv for lv, s in zip(spec.latents, sums, strict=True) if abs(s) < 1e-12]
    if bad:
        sums = np.where(np.abs(sums) < 1e-12, np.nan, sums)
    return raw_w / sums[spec.block_index], bad


def _index_scores(
    spec: _Spec, raw: np.ndarray, iw: np.ndarray, lows: np.ndarray, highs: np.ndarray
) -> np.ndarray:
    rescaled = (raw - lows) / (highs - lows) * 100.0
    n_lv = len(spec.latents)
    mat = np.zeros((raw.shape[1], n_lv))
    mat[np.arange(raw.shape[1]), spec.block_index] = iw
    return rescaled @ mat
