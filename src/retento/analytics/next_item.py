"""Next-product recommendations from sequential patterns, and their evaluation.

:class:`NextItemRecommender` turns the two-step patterns ``<{a} {b}>`` found by
:func:`retento.analytics.sequences.frequent_sequences` into sequential rules ``a -> b`` with
confidence ``s(<{a} {b}>) / s(<{a}>)`` (the first-order sequential rules of Agrawal & Srikant
1995, "Mining sequential patterns", ICDE). :func:`evaluate_next_item` compares it by hit-rate@k
on the period after a cut-off with two baselines: popularity and the customer's own most-bought
items. The repeat-purchase baseline is known to be hard to beat on grocery-like data (Rendle et
al. 2010, "Factorizing personalized Markov chains for next-basket recommendation", WWW; Hu et
al. 2020, "Modeling personalized item frequency information for next-basket recommendation",
SIGIR), so the function names whichever wins.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retento.analytics.basket import _distinct
from retento.analytics.sequences import PurchaseSequences, _mine

__all__ = ["NextItemRecommender", "evaluate_next_item"]


class NextItemRecommender:
    """Next-product suggestions from two-step sequential patterns (scikit-learn style).

    Fitting mines the patterns ``<{a} {b}>`` (customer bought ``a``, then ``b`` on a later date
    within the gap) with :func:`frequent_sequences` and keeps the rules ``a -> b`` with
    confidence ``s(<{a} {b}>) / s(<{a}>)``. A customer's score for item ``b`` is the sum of the
    confidences of the rules whose ``a`` was bought on the customer's last ``recent`` purchase
    dates; items without a rule follow by popularity (share of customers buying them), so there
    are always ``k`` suggestions once ``k`` items are known. Items already bought may be
    suggested (repeat purchases count).

    Parameters
    ----------
    min_support : float, default 0.005
    max_gap : int, optional
        Steps (see :func:`frequent_sequences`).
    max_gap_days : int, optional
    recent : int, default 1
        How many of the customer's latest purchase dates feed the rules.
    max_patterns : int, optional, default 1,000,000
    time_budget : float, optional

    Attributes
    ----------
    rules_ : DataFrame
        ``antecedent``, ``consequent``, ``support``, ``confidence``.
    popularity_ : ndarray
        Share of customers buying each item (by item code).
    """

    def __init__(
        self,
        min_support: float = 0.005,
        max_gap: int | None = None,
        max_gap_days: int | None = None,
        recent: int = 1,
        max_patterns: int | None = 1_000_000,
        time_budget: float | None = None,
    ) -> None:
        self.min_support = min_support
        self.max_gap = max_gap
        self.max_gap_days = max_gap_days
        self.recent = recent
        self.max_patterns = max_patterns
        self.time_budget = time_budget

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "min_support": self.min_support,
            "max_gap": self.max_gap,
            "max_gap_days": self.max_gap_days,
            "recent": self.recent,
            "max_patterns": self.max_patterns,
            "time_budget": self.time_budget,
        }

    def set_params(self, **params: Any) -> NextItemRecommender:
        for key, value in params.items():
            if key not in self.get_params():
                raise ValueError(f"unknown parameter {key!r}")
            setattr(self, key, value)
        return self

    def fit(self, data: PurchaseSequences | list[list[Any]]) -> NextItemRecommender:
        """Mine the two-step rules of ``data`` (the purchases up to the cut-off)."""
        if self.recent < 1:
            raise ValueError("recent must be at least 1")
        if not isinstance(data, PurchaseSequences):
            data = PurchaseSequences.from_lists(data)
        found = _mine(
            data,
            self.min_support,
            2,
            self.max_gap,
            self.max_gap_days,
            self.max_patterns,
            self.time_budget,
        )
        m = len(data.item_labels)
        n = max(data.n_sequences, 1)
        single = np.zeros(m, dtype=np.int64)
        for p, c in found:
            if len(p) == 1 and len(p[0]) == 1:
                single[p[0][0]] = c
        ante, cons, sup = [], [], []
        for p, c in found:
            if len(p) == 2:
                ante.append(p[0][0])
                cons.append(p[1][0])
                sup.append(c)
        a = np.asarray(ante, dtype=np.int64)
        b = np.asarray(cons, dtype=np.int64)
        s = np.asarray(sup, dtype=np.int64)
        conf = s / np.maximum(single[a], 1) if len(a) else np.zeros(0)
        self.labels_ = data.item_labels
        self.n_items_ = m
        self.popularity_ = _buyers(data) / n
        self._rule_a, self._rule_b, self._rule_conf = a, b, conf.astype(np.float64)
        labels = np.asarray(data.item_labels, dtype=object)
        self.rules_ = (
            pd.DataFrame(
                {
                    "antecedent": labels[a] if len(a) else [],
                    "consequent": labels[b] if len(b) else [],
                    "support": s / n,
                    "confidence": conf,
                }
            )
            .sort_values(["confidence", "support"], ascending=False, kind="stable")
            .reset_index(drop=True)
        )
        return self

    def _top_codes(self, data: PurchaseSequences, k: int) -> np.ndarray:
        """``(n_sequences, k)`` item codes, best first (-1 where fewer items are known)."""
        from scipy import sparse

        m = self.n_items_
        # The customer's last ``recent`` purchase dates.
        seq = data.elem_seq
        rank_from_end = np.zeros(len(seq), dtype=np.int64)
        if len(seq):
            seq_last = np.empty(data.n_sequences, dtype=np.int64)
            seq_last[seq] = np.arange(len(seq))
            rank_from_end = seq_last[seq] - np.arange(len(seq))
        recent_line = rank_from_end[data.line_elem] < self.recent
        items = data.line_item
        if data.item_labels != self.labels_:  # another coding: map by label, drop unknown items
            known = {label: code for code, label in enumerate(self.labels_)}
            recode = np.array([known.get(v, -1) for v in data.item_labels], dtype=np.int64)
            items = recode[items] if len(recode) else items
            recent_line &= items >= 0
        rows = data.elem_seq[data.line_elem[recent_line]]
        cols = items[recent_line]
        x = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(data.n_sequences, m)
        )
        x.data[:] = 1.0  # an item bought on several recent dates counts once
        r = sparse.csr_matrix((self._rule_conf, (self._rule_a, self._rule_b)), shape=(m, m))
        return _top_k(x @ r, self.popularity_, k)

    def recommend(self, data: PurchaseSequences, k: int = 5) -> pd.DataFrame:
        """Top-``k`` next items for every customer of ``data`` (their history), as rows
        ``customer``, ``rank`` (1 = best), ``item``."""
        if not hasattr(self, "rules_"):
            raise RuntimeError("NextItemRecommender is not fitted; call fit() first")
        top = self._top_codes(data, k)
        return _ranked_frame(top, data, self.labels_)


def _buyers(data: PurchaseSequences) -> np.ndarray:
    """Customers buying each item (by item code)."""
    m = len(data.item_labels)
    key = data.elem_seq[data.line_elem] * m + data.line_item
    return np.bincount(_distinct(key) % m, minlength=m).astype(np.float64) if m else np.zeros(0)


def _top_k(scores: Any, popularity: np.ndarray, k: int, chunk: int = 20_000) -> np.ndarray:
    """Row-wise top-``k`` of sparse ``scores`` with popularity as the tie-breaker and filler."""
    n, m = scores.shape
    kk = min(k, m)
    out = np.full((n, k), -1, dtype=np.int64)
    if kk == 0 or n == 0:
        return out
    pop = popularity / (popularity.max() + 1.0) * 1e-9  # below any confidence difference
    scores = scores.tocsr()
    for lo in range(0, n, chunk):
        dense = scores[lo : lo + chunk].toarray()
        dense += pop
        part = np.argpartition(-dense, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(dense, part, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        out[lo : lo + chunk, :kk] = np.take_along_axis(part, order, axis=1)
    return out


def _ranked_frame(top: np.ndarray, data: PurchaseSequences, labels: list[Any]) -> pd.DataFrame:
    n, k = top.shape
    cust = np.asarray(data.customer_labels, dtype=object)[data.seq_customer]
    valid = top >= 0
    lab = np.asarray(labels, dtype=object)
    return pd.DataFrame(
        {
            "customer": np.repeat(cust, k)[valid.ravel()],
            "rank": np.tile(np.arange(1, k + 1), n)[valid.ravel()],
            "item": lab[top[valid]],
        }
    )


def _repeat_top(data: PurchaseSequences, popularity: np.ndarray, k: int) -> np.ndarray:
    """Each customer's own most-bought items (purchase dates holding them; later last
    purchase first on ties), then popular items."""
    from scipy import sparse

    m = len(data.item_labels)
    n = data.n_sequences
    key = data.elem_seq[data.line_elem] * m + data.line_item
    order = np.argsort(key, kind="stable")  # lines ascend by date within a key
    key_sorted = key[order]
    if len(key_sorted) == 0:
        return _top_k(sparse.csr_matrix((n, m)), popularity, k)
    ends = np.append(np.flatnonzero(key_sorted[1:] != key_sorted[:-1]), len(key_sorted) - 1)
    starts = np.append(0, ends[:-1] + 1)
    uniq = key_sorted[ends]
    count = (ends - starts + 1).astype(np.float64)
    last_elem = data.line_elem[order[ends]]
    # Recency tie-break below one purchase: the later the last purchase, the higher.
    span = float(data.line_elem.max() + 1)
    score = count + 0.5 * (last_elem + 1) / (span + 1)
    table = sparse.csr_matrix((score, (uniq // m, uniq % m)), shape=(n, m))
    return _top_k(table, popularity, k)


def evaluate_next_item(
    data: PurchaseSequences,
    cutoff: Any,
    *,
    k: int = 5,
    min_support: float = 0.005,
    max_gap: int | None = None,
    max_gap_days: int | None = None,
    recent: int = 1,
    max_patterns: int | None = 1_000_000,
    time_budget: float | None = None,
) -> dict[str, Any]:
    """Hit-rate@``k`` of :class:`NextItemRecommender` and of two baselines on the period after
    ``cutoff``.

    Every model sees only the purchases before ``cutoff``. A customer counts when they bought
    both before and on/after ``cutoff``; a hit is one of the customer's ``k`` suggestions
    bought on or after ``cutoff``. Baselines: *popularity* (the ``k`` items most customers
    bought) and *repeat* (the customer's own most-bought items by purchase dates, most recent
    first on ties, filled with popular items).

    Returns
    -------
    dict with ``n_customers``, ``k``, ``hit_rate`` (``{"patterns", "popularity", "repeat"}``),
    ``winner`` (the name with the highest hit-rate; ties go to the simpler model, in the order
    popularity, repeat, patterns) and ``n_rules``.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    train, test = data.split(cutoff)
    model = NextItemRecommender(
        min_support=min_support,
        max_gap=max_gap,
        max_gap_days=max_gap_days,
        recent=recent,
        max_patterns=max_patterns,
        time_budget=time_budget,
    ).fit(train)
    m = len(data.item_labels)
    # Test customers who also have a history.
    hist_pos = np.full(len(data.customer_labels), -1, dtype=np.int64)
    hist_pos[train.seq_customer] = np.arange(train.n_sequences)
    test_cust = test.seq_customer
    rows = hist_pos[test_cust]
    eval_seq = np.flatnonzero(rows >= 0)  # test sequences with a history
    truth_key = _distinct(test.elem_seq[test.line_elem] * m + test.line_item)
    tops = {
        "patterns": model._top_codes(train, k),
        "popularity": np.tile(_top_k_vector(model.popularity_, k), (train.n_sequences, 1)),
        "repeat": _repeat_top(train, model.popularity_, k),
    }
    hit_rate: dict[str, float | None] = {}
    for name, top in tops.items():
        if len(eval_seq) == 0:
            hit_rate[name] = None
            continue
        rec = top[rows[eval_seq]]  # (n_eval, k)
        key = eval_seq[:, None] * m + rec
        hit = np.isin(key, truth_key) & (rec >= 0)
        hit_rate[name] = float(hit.any(axis=1).mean())
    winner = None
    if len(eval_seq):
        winner = max(("popularity", "repeat", "patterns"), key=lambda s: hit_rate[s] or 0.0)
        best = hit_rate[winner]
        for name in ("popularity", "repeat", "patterns"):
            if hit_rate[name] == best:
                winner = name
                break
    return {
        "cutoff": str(pd.Timestamp(cutoff).date()),
        "k": k,
        "n_customers": int(len(eval_seq)),
        "n_train_customers": int(train.n_sequences),
        "n_rules": len(model.rules_),
        "hit_rate": hit_rate,
        "winner": winner,
    }


def _top_k_vector(popularity: np.ndarray, k: int) -> np.ndarray:
    out = np.full(k, -1, dtype=np.int64)
    order = np.argsort(-popularity, kind="stable")[:k]
    out[: len(order)] = order
    return out
