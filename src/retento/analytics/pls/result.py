"""The estimated PLS path model: :class:`PLSPMResult`, and the tables assembled from an estimate.

:func:`_assemble` turns the plain arrays of :mod:`.core` into the labelled tables of the result
(outer model, cross-loadings, inner regressions, effects, reliability, 0--100 indices).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from retento.analytics.pls.bootstrap import BootstrapResult, _bootstrap
from retento.analytics.pls.core import _Core, _index_scores, _index_weights, _standardise
from retento.analytics.pls.spec import _Spec


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
        return _bootstrap(self, n, seed, level)

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
