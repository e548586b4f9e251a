r"""PLS path modelling (PLS-PM) for customer-satisfaction index models.

This module implements Wold's partial least squares path modelling algorithm as it is
formalised by Lohmöller (1989) and described by Tenenhaus, Esposito Vinzi, Chatelin & Lauro
(2005), with the numerical conventions of R's ``plspm`` package (Sanchez 2013), so that the
results can be compared with published R output digit for digit. On top of the estimator it
provides the ACSI-style 0--100 satisfaction indices (Fornell et al. 1996), bootstrap
confidence intervals and an importance--performance (driver) matrix.

Model
-----
There are :math:`J` latent variables (LVs) :math:`\xi_j`, each measured by a block of
manifest variables (MVs) :math:`x_{jh}`, :math:`h = 1..p_j`.  The *inner* (structural) model is
a recursive system of linear regressions

.. math:: \xi_j = \sum_{i \to j} \beta_{ij} \xi_i + \zeta_j,

and the *outer* (measurement) model is either reflective (Mode A,
:math:`x_{jh} = \lambda_{jh} \xi_j + \epsilon_{jh}`) or formative (Mode B,
:math:`\xi_j = \sum_h w_{jh} x_{jh} + \delta_j`).

Algorithm (stage 1, iterative outer weights)
--------------------------------------------
The MVs are centred; with ``scaled=True`` they are also divided by their *population*
standard deviation (divisor :math:`n`, as in R ``plspm``).  Starting from unit weights, repeat

1. outer estimation: :math:`Y_j = X_j w_j`, standardised to zero mean and unit population
   variance;
2. inner estimation: :math:`Z_j = \sum_{i \ne j} e_{ij} Y_i` over the LVs adjacent to
   :math:`j`, with inner weights

   * centroid: :math:`e_{ij} = \operatorname{sign} \operatorname{cor}(Y_i, Y_j)`;
   * factorial: :math:`e_{ij} = \operatorname{cor}(Y_i, Y_j)`;
   * path: for predecessors :math:`i \to j` the coefficients of the multiple regression of
     :math:`Y_j` on its predecessors, for successors :math:`j \to i` the correlation
     :math:`\operatorname{cor}(Y_i, Y_j)`;
3. new outer weights: Mode A :math:`w_{jh} = \frac{1}{n} x_{jh}^\top Z_j` (covariance),
   Mode B :math:`w_j = (X_j^\top X_j)^{-1} X_j^\top Z_j` (regression);

until :math:`\sum_{jh} (|w^{old}_{jh}| - |w^{new}_{jh}|)^2 < 10^{-6}` or 100 iterations.  The
final weights are rescaled so that each LV score :math:`\hat\xi_j = X_j w_j` has unit population
variance.  No sign flipping is applied (R ``plspm`` convention): unit starting weights orient
each LV with the majority of its items.

Stage 2 and 3
-------------
Path coefficients are the ordinary least-squares regressions of each endogenous LV score on
the scores of its predecessors; loadings are :math:`\lambda_{jh} = \operatorname{cor}(x_{jh},
\hat\xi_j)`, communalities :math:`\lambda_{jh}^2`, redundancies :math:`\lambda_{jh}^2 R^2_j`,
and the goodness of fit (Tenenhaus et al. 2005) is

.. math:: \mathrm{GoF} = \sqrt{\overline{\lambda^2}\;\overline{R^2}},

where :math:`\overline{\lambda^2}` is the mean communality over all MVs of blocks with more than
one MV and :math:`\overline{R^2}` the mean :math:`R^2` of the endogenous LVs.  When every block
has a single MV there is no communality to average and the GoF is undefined: ``gof`` is NaN
(R ``plspm`` computes 0/0 there too).  The other undefined quantities are the AVE of Mode B
blocks and the 0--100 index of a block whose index weights sum to zero (with a warning); all
are NaN, never a made-up number.

References
----------
.. [1] Wold, H. (1982). Soft modeling: the basic design and some extensions. In K. G.
   Jöreskog & H. Wold (Eds.), *Systems under indirect observation*, Part II, 1--54.
   North-Holland.
.. [2] Lohmöller, J.-B. (1989). *Latent Variable Path Modeling with Partial Least Squares*.
   Physica-Verlag.
.. [3] Tenenhaus, M., Esposito Vinzi, V., Chatelin, Y.-M., & Lauro, C. (2005). PLS path
   modeling. *Computational Statistics & Data Analysis*, 48(1), 159--205.
.. [4] Fornell, C., Johnson, M. D., Anderson, E. W., Cha, J., & Bryant, B. E. (1996). The
   American Customer Satisfaction Index: nature, purpose, and findings. *Journal of
   Marketing*, 60(4), 7--18.
.. [5] Sanchez, G. (2013). *PLS Path Modeling with R*. Trowchez Editions, Berkeley.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "BootstrapResult",
    "PLSPMResult",
    "fit_csi",
    "fit_csi_higher_order",
]

Scheme = Literal["centroid", "factorial", "path"]
Mode = Literal["A", "B"]
PathsSpec = Sequence[tuple[str, str]] | Mapping[str, Sequence[str] | str] | pd.DataFrame

_SCHEMES = ("centroid", "factorial", "path")


# --------------------------------------------------------------------------------------------
# Model specification and validation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """A validated model: LV order, blocks, inner adjacency and modes."""

    latents: tuple[str, ...]
    blocks: dict[str, list[str]]
    columns: list[str]  # all MVs in block order
    block_index: np.ndarray  # LV index of each MV
    adjacency: np.ndarray  # adjacency[i, j] = 1 if latent i -> latent j
    modes: tuple[str, ...]
    scheme: str
    scaled: bool
    tol: float
    max_iter: int


def _normalise_paths(paths: PathsSpec) -> list[tuple[str, str]]:
    """Turn the accepted ``paths`` forms into a list of ``(source, target)`` edges."""
    if isinstance(paths, pd.DataFrame):
        edges = []
        for source in paths.index:
            for target in paths.columns:
                value = paths.loc[source, target]
                if pd.notna(value) and value != 0:
                    edges.append((str(source), str(target)))
        return edges
    if isinstance(paths, Mapping):
        edges = []
        for source, targets in paths.items():
            if isinstance(targets, str):
                targets = [targets]
            edges.extend((str(source), str(t)) for t in targets)
        return edges
    edges = []
    for edge in paths:
        if isinstance(edge, str) or len(edge) != 2:
            raise ValueError(f"each path must be a (source, target) pair, got {edge!r}")
        edges.append((str(edge[0]), str(edge[1])))
    return edges


def _find_cycle(latents: Sequence[str], adjacency: np.ndarray) -> list[str] | None:
    """Return one directed cycle as a list of latent names, or ``None`` if the graph is acyclic."""
    n = len(latents)
    state = [0] * n  # 0 = unvisited, 1 = on stack, 2 = done
    stack: list[int] = []

    def visit(i: int) -> list[int] | None:
        state[i] = 1
        stack.append(i)
        for j in np.flatnonzero(adjacency[i]):
            if state[j] == 1:
                return stack[stack.index(int(j)) :] + [int(j)]
            if state[j] == 0:
                found = visit(int(j))
                if found is not None:
                    return found
        stack.pop()
        state[i] = 2
        return None

    for i in range(n):
        if state[i] == 0:
            cycle = visit(i)
            if cycle is not None:
                return [latents[k] for k in cycle]
    return None


def _build_spec(
    data: pd.DataFrame,
    blocks: Mapping[str, Sequence[str] | str],
    paths: PathsSpec,
    scheme: str,
    scaled: bool,
    modes: Mapping[str, str] | None,
    tol: float,
    max_iter: int,
) -> _Spec:
    if not isinstance(data, pd.DataFrame):
        raise ValueError("data must be a pandas DataFrame with one column per manifest variable")
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(_SCHEMES)}; got {scheme!r}")
    if not blocks:
        raise ValueError("blocks must map at least one latent variable to its item columns")
    if tol <= 0:
        raise ValueError("tol must be positive")
    if max_iter < 1:
        raise ValueError("max_iter must be at least 1")

    latents = tuple(str(lv) for lv in blocks)
    norm_blocks: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for lv, items in blocks.items():
        lv = str(lv)
        items = [items] if isinstance(items, str) else list(items)
        if len(items) == 0:
            raise ValueError(f"latent variable {lv!r} has no items (empty block)")
        for item in items:
            if item not in data.columns:
                raise ValueError(f"column {item!r} (block {lv!r}) is not in the data")
            if item in seen:
                raise ValueError(
                    f"column {item!r} is assigned to both {seen[item]!r} and {lv!r}; "
                    "each item may belong to one block only"
                )
            seen[item] = lv
        norm_blocks[lv] = [str(i) for i in items]

    index = {lv: k for k, lv in enumerate(latents)}
    columns = [item for lv in latents for item in norm_blocks[lv]]
    block_index = np.array([index[lv] for lv in latents for _ in norm_blocks[lv]], dtype=int)
    for col in columns:
        series = data[col]
        if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
            raise ValueError(f"column {col!r} is not numeric (dtype {series.dtype})")
        n_missing = int(series.isna().sum())
        if n_missing:
            raise ValueError(
                f"column {col!r} has {n_missing} missing value(s); impute or drop them first"
            )
        if not np.all(np.isfinite(series.to_numpy(dtype=float))):
            raise ValueError(f"column {col!r} contains infinite values")
        if series.nunique() < 2:
            raise ValueError(f"column {col!r} is constant (zero variance)")

    edges = _normalise_paths(paths)
    if not edges:
        raise ValueError("paths must contain at least one (source, target) edge")
    adjacency = np.zeros((len(latents), len(latents)), dtype=float)
    for source, target in edges:
        for name in (source, target):
            if name not in index:
                raise ValueError(f"latent variable {name!r} appears in paths but has no block")
        if source == target:
            raise ValueError(f"path {source!r} -> {target!r} is a self-loop")
        adjacency[index[source], index[target]] = 1.0
    cycle = _find_cycle(latents, adjacency)
    if cycle is not None:
        raise ValueError("paths must be acyclic (recursive model); cycle: " + " -> ".join(cycle))
    linked = (adjacency.sum(axis=0) + adjacency.sum(axis=1)) > 0
    isolated = [lv for lv, ok in zip(latents, linked, strict=True) if not ok]
    if isolated:
        raise ValueError(f"latent variable(s) {isolated} have no path to or from any other latent")

    modes = dict(modes or {})
    for lv, mode in modes.items():
        if lv not in index:
            raise ValueError(f"modes names unknown latent variable {lv!r}")
        if mode not in ("A", "B"):
            raise ValueError(f"mode of {lv!r} must be 'A' or 'B', got {mode!r}")
    mode_tuple = tuple(modes.get(lv, "A") for lv in latents)

    if len(data) < 3:
        raise ValueError("at least 3 observations are needed")
    return _Spec(
        latents=latents,
        blocks=norm_blocks,
        columns=columns,
        block_index=block_index,
        adjacency=adjacency,
        modes=mode_tuple,
        scheme=scheme,
        scaled=scaled,
        tol=tol,
        max_iter=max_iter,
    )


# --------------------------------------------------------------------------------------------
# Numerical core (plain arrays so that the bootstrap stays cheap)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class PLSPMResult:
    r"""The estimated PLS path model.

    Attributes
    ----------
    latents : tuple of str
        Latent variables in the order of ``blocks``.
    blocks : dict
        Latent variable -> item columns.
    modes : dict
        Latent variable -> ``"A"`` (reflective) or ``"B"`` (formative).
    scheme : str
        Inner weighting scheme.
    scaled : bool
        Whether MVs were standardised before estimation.
    path_coefficients : pandas.DataFrame
        Square matrix of direct effects, rows = source, columns = target (0 where no path).
    r2 : pandas.Series
        :math:`R^2` of each endogenous latent variable.
    outer_weights, outer_loadings : pandas.Series
        Indexed by item.  Weights apply to the prepared (centred, and if ``scaled``
        standardised) items and give scores with unit population variance.
    outer_model : pandas.DataFrame
        Per item: ``block``, ``weight``, ``loading``, ``communality``, ``redundancy``.
    crossloadings : pandas.DataFrame
        Correlation of every item with every latent score (plus a ``block`` column).
    scores : pandas.DataFrame
        Latent variable scores (mean 0, population variance 1), same index as ``data``.
    inner_model : dict
        Endogenous latent -> regression table (``estimate``, ``std_error``, ``t``, ``p_value``).
    inner_summary : pandas.DataFrame
        Per latent: ``type``, ``r_squared``, ``block_communality``, ``mean_redundancy``,
        ``ave`` (NaN for Mode B blocks).
    effects : pandas.DataFrame
        ``from``, ``to``, ``direct``, ``indirect``, ``total`` for every pair connected by a
        directed path.
    total_effects : pandas.DataFrame
        Square matrix of total effects :math:`(I - B)^{-1} - I`, rows = source.
    gof : float
        Goodness of fit, :math:`\sqrt{\overline{\text{communality}}\cdot\overline{R^2}}`,
        where the communality mean runs over the items of blocks with more than one item (R
        ``plspm``: a single item always has communality 1, which says nothing about fit).
        NaN when no block has more than one item: GoF is then undefined, as in ``plspm``.
        Every other attribute is still estimated in that case.
    unidimensionality : pandas.DataFrame
        Per block: ``mode``, ``mvs``, ``cronbach_alpha``, ``dillon_goldstein_rho``,
        ``eig_1st``, ``eig_2nd``.
    index_weights : pandas.Series
        ACSI weights of the 0--100 rescaled items (sum to 1 per block).
    index_scores : pandas.DataFrame
        Each respondent's 0--100 index per latent variable.
    indices : pandas.Series
        Mean 0--100 index per latent variable (the published "ACSI score").
    iterations : int
        Iterations of the outer-weight loop.
    converged : bool
        Whether the loop converged within ``max_iter``.
    """

    latents: tuple[str, ...]
    blocks: dict[str, list[str]]
    modes: dict[str, str]
    scheme: str
    scaled: bool
    path_coefficients: pd.DataFrame
    r2: pd.Series
    outer_weights: pd.Series
    outer_loadings: pd.Series
    outer_model: pd.DataFrame
    crossloadings: pd.DataFrame
    scores: pd.DataFrame
    inner_model: dict[str, pd.DataFrame]
    inner_summary: pd.DataFrame
    effects: pd.DataFrame
    total_effects: pd.DataFrame
    gof: float
    unidimensionality: pd.DataFrame
    index_weights: pd.Series
    index_scores: pd.DataFrame
    indices: pd.Series
    iterations: int
    converged: bool
    _spec: _Spec = field(repr=False)
    _raw: np.ndarray = field(repr=False)
    _ranges: tuple[np.ndarray, np.ndarray] = field(repr=False)

    def __repr__(self) -> str:
        r2 = ", ".join(f"{lv}={v:.3f}" for lv, v in self.r2.items())
        return (
            f"PLSPMResult(latents={list(self.latents)}, scheme={self.scheme!r}, "
            f"scaled={self.scaled}, n={len(self.scores)}, gof={self.gof:.4f}, r2=[{r2}], "
            f"converged={self.converged})"
        )

    def bootstrap(
        self, n: int = 200, seed: int | None = None, level: float = 0.95
    ) -> BootstrapResult:
        """Nonparametric bootstrap of the model (resampling respondents with replacement).

        Parameters
        ----------
        n : int, default 200
            Number of bootstrap resamples.
        seed : int, optional
            Seed of the :func:`numpy.random.default_rng` generator, for reproducible CIs.
        level : float, default 0.95
            Coverage of the percentile confidence intervals.

        Returns
        -------
        BootstrapResult
            ``original``, ``mean``, ``std_error``, ``ci_lower``, ``ci_upper`` for the path
            coefficients, total effects, loadings, weights, :math:`R^2` and 0--100 indices.

        Notes
        -----
        As in R ``plspm`` no sign correction is applied to the resamples; with well-defined
        reflective blocks the unit starting weights keep the orientation stable.
        """
        if n < 2:
            raise ValueError("n must be at least 2")
        if not 0 < level < 1:
            raise ValueError("level must be between 0 and 1")
        spec = self._spec
        raw = self._raw
        lows, highs = self._ranges
        rng = np.random.default_rng(seed)
        n_obs = raw.shape[0]
        adj = spec.adjacency.astype(bool)
        reach = np.linalg.inv(np.eye(len(spec.latents)) - spec.adjacency) - np.eye(
            len(spec.latents)
        )
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
        pc = self.path_coefficients.to_numpy()
        te = self.total_effects.to_numpy()
        endo_names = [lv for lv, e in zip(lat, endo, strict=True) if e]
        return BootstrapResult(
            paths=_summary_frame(np.array(draws["p"]), pc[adj], path_names, level),
            total_effects=_summary_frame(np.array(draws["t"]), te[reach_mask], total_names, level),
            loadings=_summary_frame(
                np.array(draws["l"]), self.outer_loadings.to_numpy(), spec.columns, level
            ),
            weights=_summary_frame(
                np.array(draws["w"]), self.outer_weights.to_numpy(), spec.columns, level
            ),
            r2=_summary_frame(np.array(draws["r"]), self.r2.to_numpy(), endo_names, level),
            indices=_summary_frame(np.array(draws["i"]), self.indices.to_numpy(), list(lat), level),
            n_resamples=n,
            level=level,
            seed=seed,
            n_failed=failed,
        )

    def importance_performance(self, target: str, *, standardized: bool = True) -> pd.DataFrame:
        """Importance--performance (driver) matrix for one target latent variable.

        Parameters
        ----------
        target : str
            The outcome latent variable, e.g. ``"Satisfaction"`` or ``"Loyalty"``.
        standardized : bool, default True
            If True the importance is the standardised total effect (from
            :attr:`total_effects`).  If False it is the ACSI "impact": the total effect in
            index points, i.e. the change of the target's 0--100 index for a one-point change
            of the driver's index, :math:`\\tau_{ij}\\,\\mathrm{sd}(I_j)/\\mathrm{sd}(I_i)`
            (exact because every index is an affine function of its LV score).

        Returns
        -------
        pandas.DataFrame
            One row per driver with a non-zero total effect on ``target`` (sorted by
            importance, descending) and columns ``importance``, ``performance`` (the driver's
            mean 0--100 index) and ``quadrant``: ``"concentrate here"`` (importance above
            the mean, performance below), ``"keep up the good work"`` (both above),
            ``"low priority"`` (both below) or ``"possible overkill"`` (importance below,
            performance above).
        """
        if target not in self.latents:
            raise ValueError(f"unknown target latent variable {target!r}")
        total = self.total_effects[target]
        drivers = [lv for lv in self.latents if lv != target and abs(total[lv]) > 0]
        if not drivers:
            raise ValueError(f"latent variable {target!r} has no drivers (it is exogenous)")
        importance = total[drivers].astype(float)
        if not standardized:
            sd = self.index_scores.std(axis=0, ddof=0)
            importance = importance * sd[target] / sd[drivers]
        performance = self.indices[drivers].astype(float)
        imp_hi = importance >= importance.mean()
        perf_hi = performance >= performance.mean()
        quadrant = np.where(
            imp_hi,
            np.where(perf_hi, "keep up the good work", "concentrate here"),
            np.where(perf_hi, "possible overkill", "low priority"),
        )
        out = pd.DataFrame(
            {"importance": importance, "performance": performance, "quadrant": quadrant},
            index=pd.Index(drivers, name="driver"),
        )
        return out.sort_values("importance", ascending=False)


# --------------------------------------------------------------------------------------------
# Derived quantities
# --------------------------------------------------------------------------------------------


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


def _unidimensionality(spec: _Spec, raw: np.ndarray) -> pd.DataFrame:
    rows = []
    for j in range(len(spec.latents)):
        idx = np.flatnonzero(spec.block_index == j)
        p = idx.size
        alpha = rho = 1.0
        eig1, eig2 = 1.0, 0.0
        if p > 1:
            block = raw[:, idx]
            corr = np.corrcoef(block, rowvar=False)
            eigval, eigvec = np.linalg.eigh(corr)
            order = np.argsort(eigval)[::-1]
            eigval, eigvec = eigval[order], eigvec[:, order]
            eig1, eig2 = float(eigval[0]), float(eigval[1])
            if spec.modes[j] == "A":
                # Cronbach's alpha on the standardised items.
                off = corr[np.triu_indices(p, 1)].sum() * 2
                alpha = p / (p - 1) * off / corr.sum()
                # Dillon-Goldstein rho from the loadings on the first principal component.
                lam = eigvec[:, 0] * np.sqrt(eigval[0])
                num = lam.sum() ** 2
                rho = num / (num + p - np.sum(lam**2))
            else:
                alpha = rho = 0.0
        rows.append(
            {
                "mode": spec.modes[j],
                "mvs": p,
                "cronbach_alpha": alpha,
                "dillon_goldstein_rho": rho,
                "eig_1st": eig1,
                "eig_2nd": eig2,
            }
        )
    return pd.DataFrame(rows, index=pd.Index(spec.latents, name="latent"))


def _inner_tables(spec: _Spec, scores: np.ndarray) -> dict[str, pd.DataFrame]:
    n = scores.shape[0]
    out: dict[str, pd.DataFrame] = {}
    for j, lv in enumerate(spec.latents):
        pred = np.flatnonzero(spec.adjacency[:, j])
        if not pred.size:
            continue
        design = np.column_stack([np.ones(n), scores[:, pred]])
        coef, *_ = np.linalg.lstsq(design, scores[:, j], rcond=None)
        resid = scores[:, j] - design @ coef
        dof = n - design.shape[1]
        sigma2 = resid @ resid / dof
        se = np.sqrt(np.diag(sigma2 * np.linalg.inv(design.T @ design)))
        t = coef / se
        from scipy import stats  # imported here: scipy.stats costs ~0.4 s at start-up

        pval = 2 * stats.t.sf(np.abs(t), dof)
        names = [spec.latents[i] for i in pred]
        out[lv] = pd.DataFrame(
            {"estimate": coef[1:], "std_error": se[1:], "t": t[1:], "p_value": pval[1:]},
            index=pd.Index(names, name="source"),
        )
    return out


def _assemble(
    spec: _Spec,
    core: _Core,
    data: pd.DataFrame,
    raw: np.ndarray,
    ranges: tuple[np.ndarray, np.ndarray],
) -> PLSPMResult:
    lat = list(spec.latents)
    cols = spec.columns
    bi = spec.block_index
    block_names = [lat[j] for j in bi]
    endo = spec.adjacency.sum(axis=0) > 0

    path_df = pd.DataFrame(core.paths, index=pd.Index(lat, name="source"), columns=lat)
    path_df.columns.name = "target"
    total_df = pd.DataFrame(core.total, index=pd.Index(lat, name="source"), columns=lat)
    total_df.columns.name = "target"
    r2_full = pd.Series(core.r2, index=lat)
    r2 = r2_full[endo].rename("r2")

    weights = pd.Series(core.weights, index=pd.Index(cols, name="name"), name="weight")
    loadings = pd.Series(core.loadings, index=weights.index, name="loading")
    communality = loadings**2
    redundancy = communality * core.r2[bi]
    outer = pd.DataFrame(
        {
            "block": block_names,
            "weight": weights,
            "loading": loadings,
            "communality": communality,
            "redundancy": redundancy,
        }
    )
    scores = pd.DataFrame(core.scores, index=data.index, columns=lat)
    xs = _standardise(raw)
    cross = pd.DataFrame(xs.T @ core.scores / raw.shape[0], index=weights.index, columns=lat)
    cross.insert(0, "block", block_names)

    block_comm = outer.groupby("block", sort=False)["communality"].mean().reindex(lat)
    mean_red = outer.groupby("block", sort=False)["redundancy"].mean().reindex(lat)
    ave = block_comm.where([m == "A" for m in spec.modes])
    inner_summary = pd.DataFrame(
        {
            "type": np.where(endo, "Endogenous", "Exogenous"),
            "r_squared": core.r2,
            "block_communality": block_comm.to_numpy(),
            "mean_redundancy": mean_red.to_numpy(),
            "ave": ave.to_numpy(),
        },
        index=pd.Index(lat, name="latent"),
    )
    sizes = np.bincount(bi, minlength=len(lat))
    multi = sizes[bi] > 1
    # plspm: only blocks with more than one item count; with none, GoF is 0/0 (undefined).
    mean_comm = float(communality[multi].mean()) if multi.any() else float("nan")
    gof = float(np.sqrt(mean_comm * core.r2[endo].mean()))

    direct = core.paths
    effect_rows = []
    for i in range(len(lat)):
        for j in range(len(lat)):
            if i != j and (direct[i, j] != 0 or core.total[i, j] != 0):
                effect_rows.append(
                    {
                        "from": lat[i],
                        "to": lat[j],
                        "direct": direct[i, j],
                        "indirect": core.total[i, j] - direct[i, j],
                        "total": core.total[i, j],
                    }
                )
    effects = pd.DataFrame(effect_rows)
    effects.index = pd.Index([f"{r['from']} -> {r['to']}" for r in effect_rows], name="path")

    lows, highs = ranges
    iw, bad = _index_weights(spec, core, lows, highs)
    if bad:
        warnings.warn(
            f"index weights of {bad} sum to zero; their 0-100 index is undefined (NaN)",
            RuntimeWarning,
            stacklevel=3,
        )
    index_scores = pd.DataFrame(
        _index_scores(spec, raw, iw, lows, highs), index=data.index, columns=lat
    )
    return PLSPMResult(
        latents=spec.latents,
        blocks={k: list(v) for k, v in spec.blocks.items()},
        modes=dict(zip(lat, spec.modes, strict=True)),
        scheme=spec.scheme,
        scaled=spec.scaled,
        path_coefficients=path_df,
        r2=r2,
        outer_weights=weights,
        outer_loadings=loadings,
        outer_model=outer,
        crossloadings=cross,
        scores=scores,
        inner_model=_inner_tables(spec, core.scores),
        inner_summary=inner_summary,
        effects=effects,
        total_effects=total_df,
        gof=gof,
        unidimensionality=_unidimensionality(spec, raw),
        index_weights=pd.Series(iw, index=weights.index, name="index_weight"),
        index_scores=index_scores,
        indices=index_scores.mean(axis=0).rename("index"),
        iterations=core.iterations,
        converged=core.converged,
        _spec=spec,
        _raw=raw,
        _ranges=ranges,
    )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def fit_csi(
    data: pd.DataFrame,
    blocks: Mapping[str, Sequence[str] | str],
    paths: PathsSpec,
    *,
    scheme: Scheme = "centroid",
    scaled: bool = True,
    modes: Mapping[str, Mode] | None = None,
    scale_range: tuple[float, float] | Mapping[str, tuple[float, float]] | None = None,
    tol: float = 1e-6,
    max_iter: int = 100,
) -> PLSPMResult:
    r"""Fit a customer-satisfaction index model (ACSI, ECSI or custom) by PLS path modelling.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent, numeric item columns without missing values.  Extra columns
        are ignored.
    blocks : dict
        Latent variable -> list of item columns (a single column name is also accepted).
        The order of the keys fixes the order of the latent variables in every output.
    paths : list of (source, target), dict or DataFrame
        The structural model: a list of ``(source, target)`` edges, a dict
        ``source -> [targets]``, or a square 0/1 DataFrame with rows = source and columns =
        target.  Must be acyclic.
    scheme : {"centroid", "factorial", "path"}, default "centroid"
        Inner weighting scheme (see the module docstring).
    scaled : bool, default True
        Standardise the items (population sd) before estimation; ``False`` only centres
        them, which is appropriate when all items share one scale (R ``plspm``'s
        ``scaled = FALSE``).  Either way LV scores are standardised.
    modes : dict, optional
        Latent variable -> ``"A"`` (reflective, default) or ``"B"`` (formative).
    scale_range : (min, max) or dict, optional
        The questionnaire scale of the items, for the 0--100 indices, e.g. ``(1, 10)``; a
        dict gives one range per column.  By default the observed minimum and maximum of
        each item are used, which is only right when both scale ends were used.
    tol : float, default 1e-6
        Convergence tolerance on :math:`\sum (|w^{old}| - |w^{new}|)^2`.
    max_iter : int, default 100
        Maximum iterations; on non-convergence a :class:`RuntimeWarning` is issued and
        :attr:`PLSPMResult.converged` is False.

    Returns
    -------
    PLSPMResult
        Path coefficients, :math:`R^2`, outer weights and loadings, scores, GoF, effects,
        reliability tables and the 0--100 indices; see :class:`PLSPMResult`.

    Raises
    ------
    ValueError
        If a column is unknown, non-numeric, constant or has missing values, a latent has no
        items or no path, the paths are cyclic or name an unknown latent, or an option is
        invalid.

    Notes
    -----
    **ACSI indices** (Fornell et al. 1996).  Each item is rescaled to 0--100,
    :math:`r_h = 100 (x_h - \min_h) / (\max_h - \min_h)`.  The unstandardised weight of item
    :math:`h` is its PLS weight divided by the item's sd (when ``scaled``); on the rescaled
    item it is :math:`\tilde w_h \propto w_h (\max_h - \min_h) / s_h`, normalised so that the
    weights of a block sum to 1.  A respondent's index is :math:`\sum_h \tilde w_h r_h` and
    the reported index of a latent variable is the mean over respondents.  Because the
    index is an affine function of the LV score, its correlations and path structure are
    those of the PLS model.

    References
    ----------
    Wold (1982); Lohmöller (1989); Tenenhaus et al. (2005), CSDA 48, 159--205; Fornell et
    al. (1996), J. Marketing 60(4); Sanchez (2013), *PLS Path Modeling with R*.

    Examples
    --------
    >>> from retento.analytics import ECSI_MODEL, fit_csi
    >>> res = fit_csi(df, ECSI_MODEL.example_blocks, ECSI_MODEL.paths,
    ...               scale_range=(1, 10))  # doctest: +SKIP
    >>> res.path_coefficients.loc["Satisfaction", "Loyalty"]  # doctest: +SKIP
    """
    spec = _build_spec(data, blocks, paths, scheme, scaled, modes, tol, max_iter)
    raw = data[spec.columns].to_numpy(dtype=float)
    ranges = _resolve_ranges(data, spec.columns, scale_range)
    core = _estimate(spec, raw)
    if not core.converged:
        warnings.warn(
            f"PLS-PM did not converge in {max_iter} iterations (tol {tol})",
            RuntimeWarning,
            stacklevel=2,
        )
    return _assemble(spec, core, data, raw, ranges)


def fit_csi_higher_order(
    data: pd.DataFrame,
    blocks: Mapping[str, Sequence[str] | str],
    paths: PathsSpec,
    higher_order: Mapping[str, Iterable[str]],
    *,
    scheme: Scheme = "path",
    scaled: bool = True,
    modes: Mapping[str, Mode] | None = None,
    scale_range: tuple[float, float] | Mapping[str, tuple[float, float]] | None = None,
    tol: float = 1e-6,
    max_iter: int = 100,
) -> PLSPMResult:
    """Two-stage estimation of a model with higher-order constructs (HOCs).

    Stage 1 estimates the first-order model in which every HOC is replaced by its lower-order
    constructs (LOCs): each antecedent of the HOC points to every LOC and every LOC points to
    each outcome of the HOC.  Stage 2 adds the stage-1 LOC scores to the data as items of the
    HOC and estimates the model of ``paths`` (in which the LOCs no longer appear unless they
    are also linked in ``paths``).  This is the two-stage approach of seminr's
    ``higher_composite(..., method = two_stage)`` (Sarstedt, Hair, Cheah, Becker & Ringle
    2019, Australasian Marketing Journal 27(3)).

    Parameters
    ----------
    data, blocks, paths, scheme, scaled, modes, scale_range, tol, max_iter
        As for :func:`fit_csi`; ``blocks`` contains the first-order latents only, ``paths``
        the structural model with the HOCs, ``modes`` may give the HOCs' modes.
    higher_order : dict
        HOC name -> the names of its lower-order latents (keys of ``blocks``).

    Returns
    -------
    PLSPMResult
        The stage-2 model; the HOC's items are named after its LOCs, and its 0--100 index
        is built from the LOCs' indices with the stage-2 weights.
    """
    edges = _normalise_paths(paths)
    modes = dict(modes or {})
    blocks = {str(k): ([v] if isinstance(v, str) else list(v)) for k, v in blocks.items()}
    hocs = {str(h): [str(x) for x in locs] for h, locs in higher_order.items()}
    for hoc, locs in hocs.items():
        if hoc in blocks:
            raise ValueError(f"higher-order construct {hoc!r} must not have its own block")
        if len(locs) < 2:
            raise ValueError(
                f"higher-order construct {hoc!r} needs at least two lower-order latents"
            )
        for loc in locs:
            if loc not in blocks:
                raise ValueError(f"lower-order latent {loc!r} of {hoc!r} has no block")
            if loc in data.columns:
                raise ValueError(f"data already has a column named {loc!r}")

    stage1_edges: list[tuple[str, str]] = []
    for source, target in edges:
        sources = hocs.get(source, [source])
        targets = hocs.get(target, [target])
        stage1_edges.extend((s, t) for s in sources for t in targets)
    stage1_edges = list(dict.fromkeys(stage1_edges))
    used = {lv for edge in stage1_edges for lv in edge}
    stage1_blocks = {lv: items for lv, items in blocks.items() if lv in used}
    stage1_modes = {lv: m for lv, m in modes.items() if lv in stage1_blocks}
    stage1 = fit_csi(
        data,
        stage1_blocks,
        stage1_edges,
        scheme=scheme,
        scaled=scaled,
        modes=stage1_modes,
        scale_range=scale_range,
        tol=tol,
        max_iter=max_iter,
    )

    stage2_data = data.copy()
    stage2_blocks: dict[str, list[str]] = {}
    ranges: dict[str, tuple[float, float]] = {}
    base_lows, base_highs = stage1._ranges
    for col, lo, hi in zip(stage1._spec.columns, base_lows, base_highs, strict=True):
        ranges[col] = (float(lo), float(hi))
    used2 = {lv for edge in edges for lv in edge}
    for lv, items in blocks.items():
        if lv in used2:
            stage2_blocks[lv] = items
    for hoc, locs in hocs.items():
        for loc in locs:
            # The LOC index (0-100) is an affine function of the LOC score, so the HOC's
            # weights on the LOC scores translate to index weights on the LOC indices.
            # With index = mean + slope * score, the score's "scale" (lo, hi) that maps it
            # onto the index by (score - lo) / (hi - lo) * 100 is found below.
            score = stage1.scores[loc].to_numpy()
            index = stage1.index_scores[loc].to_numpy()
            mean = float(index.mean())
            slope = float(np.mean(score * (index - mean)))  # score has unit variance
            if not slope > 0:
                raise ValueError(f"the 0-100 index of {loc!r} is not increasing in its score")
            stage2_data[loc] = score
            ranges[loc] = (-mean / slope, (100.0 - mean) / slope)
        stage2_blocks[hoc] = list(locs)
    return fit_csi(
        stage2_data,
        stage2_blocks,
        edges,
        scheme=scheme,
        scaled=scaled,
        modes=modes,
        scale_range=ranges,
        tol=tol,
        max_iter=max_iter,
    )
