"""Fitting a customer-satisfaction index model: :func:`fit_csi` and :func:`fit_csi_higher_order`.

The public entry points of :mod:`retento.analytics.pls`: check the model (:mod:`.spec`),
estimate it (:mod:`.core`) and assemble the result (:mod:`.result`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from retento.analytics.pls.core import _estimate, _resolve_ranges
from retento.analytics.pls.result import PLSPMResult, _assemble
from retento.analytics.pls.spec import Mode, PathsSpec, Scheme, _build_spec, _normalise_paths


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
