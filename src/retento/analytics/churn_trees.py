r"""Fast, exact evaluation of a fitted gradient-boosting ensemble, for churn reasons at scale.

The reasons of :class:`~retento.analytics.churn.ChurnRiskModel` are occlusion differences: the
risk with a feature group g moved to the population baseline :math:`\tilde x_g`,

.. math::

    c_g(x) = \hat p(x) - \hat p(x_{g \leftarrow \tilde x_g}).

Predicting the whole ensemble once per group costs one full prediction per group (about 75 %
of scoring 1,000,000 customers). But moving g only changes the trees that split on a feature of
g, and in those trees only the decisions of the nodes that split on g, which become constants
(the baseline is one value). :class:`FlatTrees` therefore evaluates each tree's split decisions
once, as boolean arrays, and recomputes only the affected trees with those decisions fixed:

.. math::

    F(x_{g \leftarrow \tilde x_g}) = F(x) + \sum_{t \in T_g}
        \bigl(f_t(x \mid d_{t,g} = \text{const}) - f_t(x)\bigr).

The leaf values and the order of summation are those of scikit-learn's predictor (baseline,
then tree 1, 2, ...), so the raw score equals
:meth:`~sklearn.ensemble.HistGradientBoostingClassifier.decision_function` exactly.

Supported: binary classifiers on numeric features (no categorical splits). For anything else
:meth:`FlatTrees.from_estimator` returns None and the caller predicts the moved copies with the
estimator itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["FlatTrees"]

# Trees larger than this are evaluated by scikit-learn (the vectorised traversal computes every
# node for every row, which pays off only for the small trees churn models use).
MAX_NODES = 63


class FlatTrees:
    """A fitted binary ``HistGradientBoostingClassifier`` as arrays of small trees.

    Parameters
    ----------
    baseline : float
        The ensemble's baseline raw prediction (log-odds of the training prior).
    trees : list of structured ndarray
        Each tree's node records (scikit-learn's ``TreePredictor.nodes``).
    """

    def __init__(self, baseline: float, trees: Sequence[np.ndarray]) -> None:
        self.baseline = float(baseline)
        self.trees = list(trees)
        # Internal nodes of each tree, and the trees that split on each feature.
        self._internal = [np.flatnonzero(t["is_leaf"] == 0) for t in self.trees]
        self._by_feature: dict[int, list[int]] = {}
        for i, (t, internal) in enumerate(zip(self.trees, self._internal, strict=True)):
            for f in np.unique(t["feature_idx"][internal]).tolist():
                self._by_feature.setdefault(int(f), []).append(i)

    @classmethod
    def from_estimator(cls, est: Any) -> FlatTrees | None:
        """Flatten a fitted estimator; None when it is not a supported (small, numeric,
        binary) ensemble."""
        predictors = getattr(est, "_predictors", None)
        if predictors is None or getattr(est, "n_trees_per_iteration_", 0) != 1:
            return None
        if getattr(est, "_preprocessor", None) is not None:  # categorical columns reordered
            return None
        trees = [it[0].nodes for it in predictors]
        if any(t["is_categorical"].any() or len(t) > MAX_NODES for t in trees):
            return None
        return cls(float(np.asarray(est._baseline_prediction).ravel()[0]), trees)

    # -- evaluation -----------------------------------------------------------------------------
    @staticmethod
    def _left(node: np.void, col: np.ndarray) -> np.ndarray:
        """Rows going left at ``node``: value <= threshold, or missing when missing go left."""
        go = col <= node["num_threshold"]
        if node["missing_go_to_left"]:
            go |= np.isnan(col)
        return go

    @staticmethod
    def _left_const(node: np.void, value: float) -> bool:
        if np.isnan(value):
            return bool(node["missing_go_to_left"])
        return bool(value <= node["num_threshold"])

    def _value(
        self, t: int, decisions: Mapping[int, np.ndarray | bool], n: int, node: int = 0
    ) -> np.ndarray | float:
        """Leaf value per row (a scalar when every row ends in the same leaf)."""
        rec = self.trees[t][node]
        if rec["is_leaf"]:
            return float(rec["value"])
        d = decisions[node]
        if isinstance(d, bool):
            return self._value(t, decisions, n, int(rec["left"] if d else rec["right"]))
        left = self._value(t, decisions, n, int(rec["left"]))
        right = self._value(t, decisions, n, int(rec["right"]))
        return np.where(d, left, right)

    def _decisions(self, t: int, X: np.ndarray) -> dict[int, np.ndarray | bool]:
        nodes = self.trees[t]
        return {
            int(i): self._left(nodes[i], X[:, int(nodes[i]["feature_idx"])])
            for i in self._internal[t]
        }

    def raw_and_moved(
        self, X: np.ndarray, moves: Mapping[str, Mapping[int, float]], *, chunk: int = 32_768
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Raw scores of ``X`` and of its copies with features moved to constants.

        Parameters
        ----------
        X : ndarray of shape (n, n_features), float64
            Columns in the estimator's feature order.
        moves : mapping
            ``{name: {feature index: value}}``: one moved copy per name.

        Returns
        -------
        raw : ndarray of shape (n,)
            Equal to the estimator's ``decision_function(X)``.
        moved : dict of ndarray
            The raw score of each moved copy.
        """
        X = np.asarray(X, dtype=np.float64)
        raw = np.empty(len(X))
        moved = {name: np.empty(len(X)) for name in moves}
        affected = {
            name: {t for f in cols for t in self._by_feature.get(int(f), [])}
            for name, cols in moves.items()
        }
        # Row chunks that stay in the CPU cache: every tree touches each chunk a few times.
        for lo in range(0, len(X), chunk):
            sl = slice(lo, lo + chunk)
            r, mv = self._chunk(np.asfortranarray(X[sl]), moves, affected)
            raw[sl] = r
            for name in moves:
                moved[name][sl] = mv[name]
        return raw, moved

    def _chunk(
        self,
        X: np.ndarray,
        moves: Mapping[str, Mapping[int, float]],
        affected: Mapping[str, set[int]],
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        n = len(X)
        raw = np.full(n, self.baseline)
        delta = {name: np.zeros(n) for name in moves}
        for t in range(len(self.trees)):
            dec = self._decisions(t, X)
            value = self._value(t, dec, n)
            raw += value  # the same order of summation as scikit-learn: bit-identical
            nodes = self.trees[t]
            for name, cols in moves.items():
                if t not in affected[name]:
                    continue
                fixed = dict(dec)
                for i in self._internal[t]:
                    f = int(nodes[i]["feature_idx"])
                    if f in cols:
                        fixed[int(i)] = self._left_const(nodes[i], cols[f])
                delta[name] += np.subtract(self._value(t, fixed, n), value)
        return raw, {name: raw + d for name, d in delta.items()}
