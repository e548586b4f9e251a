"""Model specification of a PLS path model: blocks, paths and modes, checked and normalised.

:func:`_build_spec` turns what a caller passes to :func:`~retento.analytics.pls.fit_csi` into a
:class:`_Spec` (latent order, item columns, inner adjacency, modes), or raises a
:class:`ValueError` that names the column, latent or path at fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Scheme = Literal["centroid", "factorial", "path"]
Mode = Literal["A", "B"]
PathsSpec = Sequence[tuple[str, str]] | Mapping[str, Sequence[str] | str] | pd.DataFrame

_SCHEMES = ("centroid", "factorial", "path")


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
