"""Market-basket analysis: frequent itemsets and association rules on order lines.

The data are order lines: one (order, item) pair per row. Nothing dense is ever built: a basket
table one-hot encoded as ``baskets x items`` (what ``mlxtend`` needs) holds 10^8-10^10 cells at
realistic sizes, which is where its users meet 16-192 GB of memory (mlxtend#837, #1106, #909).

Algorithm (Eclat with bit-sets, after Zaki 2000, "Scalable algorithms for association mining",
IEEE TKDE 12(3)):

1. Items below the support threshold are dropped; baskets become rows of a sparse 0/1 matrix
   ``X`` (compressed rows) over the frequent items.
2. All pair counts ``C = X^T X`` come from enumerating the pairs inside each basket: the cost is
   the sum of squared basket sizes, not ``items^2 x baskets`` (a sparse product past 3,000
   frequent items).
3. Longer itemsets grow depth-first from frequent pairs. Each frequent item keeps its *tid-set*
   (the baskets holding it) as a packed bit-set; the support of ``P u {j}`` is
   ``popcount(T(P) & T(j))``. A candidate is only intersected when every pair inside it is
   frequent (the pair matrix is a free pruning table), and by the downward-closure property
   (Agrawal & Srikant 1994) every subset of a frequent itemset is frequent, so the enumeration
   is complete.

Memory is ``O(frequent items x baskets / 8)`` bytes for the bit-sets plus one bit-set per level
of the depth-first search. Caps on itemset length, a maximum number of itemsets and a time
budget stop a run with :class:`BudgetExceeded` (which names the cap and what to change) instead
of exhausting memory.

Rule measures, for a rule ``A -> C`` with supports ``s(.)`` as fractions of baskets:

* confidence ``s(A u C) / s(A)``
* lift ``confidence / s(C)``
* leverage ``s(A u C) - s(A) s(C)`` (Piatetsky-Shapiro 1991)
* conviction ``(1 - s(C)) / (1 - confidence)`` (Brin et al. 1997; infinite when confidence = 1)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from retento.analytics.errors import SummaryInputError

__all__ = [
    "BasketAnalysis",
    "BudgetExceeded",
    "OrderLines",
    "association_rules",
    "frequent_itemsets",
]

RULE_COLUMNS = [
    "antecedents",
    "consequents",
    "antecedent_support",
    "consequent_support",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
]


class BudgetExceeded(RuntimeError):
    """A run hit one of its caps (itemset count or time) before finishing.

    ``found`` holds how many itemsets had been found; the message says which cap and what to
    change (a higher ``min_support``, a lower ``max_len``, or a larger budget).
    """

    def __init__(self, message: str, found: int) -> None:
        super().__init__(message)
        self.found = found


@dataclass(frozen=True)
class OrderLines:
    """Distinct (basket, item) pairs as integer codes; ``labels[k]`` is item ``k``'s label.

    Build it with :meth:`from_arrays` (two columns in memory) or :meth:`read` (a CSV or Parquet
    file, read and de-duplicated by DuckDB, so the lines never become Python objects).
    ``skipped`` counts lines left out because their order or item was empty.
    """

    baskets: np.ndarray
    items: np.ndarray
    labels: list[Any]
    n_baskets: int
    skipped: int = 0

    @classmethod
    def from_arrays(cls, orders: ArrayLike, items: ArrayLike) -> OrderLines:
        o = np.asarray(orders)
        i = np.asarray(items)
        if o.shape != i.shape or o.ndim != 1:
            raise ValueError(
                "orders and items must be 1-d arrays of the same length (one per line)"
            )
        if len(o) and (pd.isna(o).any() or pd.isna(i).any()):
            raise ValueError("orders and items must not contain missing values")
        o_codes, _ = pd.factorize(o, sort=False)
        i_codes, labels = pd.factorize(i, sort=False)
        n_baskets = int(o_codes.max()) + 1 if len(o_codes) else 0
        # One line per (basket, item): an item bought twice in a basket counts once.
        width = max(len(labels), 1)
        key = _distinct(o_codes.astype(np.int64) * width + i_codes)
        return cls(
            baskets=key // width,
            items=key % width,
            labels=np.asarray(labels).tolist(),
            n_baskets=n_baskets,
        )

    @classmethod
    def read(cls, source: Any, order_col: str, item_col: str) -> OrderLines:
        """Order lines from a CSV or Parquet path (or a DataFrame): columns ``order_col`` and
        ``item_col``; lines with an empty order or item are counted in ``skipped``. Raises
        :class:`~retento.analytics.SummaryInputError` naming a missing file or column."""
        if isinstance(source, pd.DataFrame):
            frame = source
        else:
            path = Path(source)
            if not path.exists():
                raise SummaryInputError(f"File not found: {path}")
            if path.stat().st_size == 0:
                raise SummaryInputError(f"File is empty: {path}")
            if path.suffix.lower() in {".parquet", ".pq"}:
                frame = _read_parquet(path, order_col, item_col)
            else:
                try:
                    header = list(pd.read_csv(path, nrows=0).columns)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise SummaryInputError(f"Cannot read {path} as CSV: {exc}") from None
                for col in (order_col, item_col):
                    if col not in header:
                        raise SummaryInputError(
                            f"Column {col!r} not found in {path}; columns are: "
                            + ", ".join(map(str, header))
                        )
                # The items as a category: the parser hands back integer codes and one label
                # per distinct item, never a Python string per line.
                try:
                    frame = pd.read_csv(
                        path,
                        usecols=[order_col, item_col],
                        dtype={item_col: "category"},
                        skipinitialspace=True,
                    )
                except (ValueError, UnicodeDecodeError) as exc:
                    raise SummaryInputError(f"Cannot read {path} as CSV: {exc}") from None
        for col in (order_col, item_col):
            if col not in frame.columns:
                raise SummaryInputError(
                    f"Column {col!r} not found; columns are: " + ", ".join(map(str, frame.columns))
                )
        o_codes = _order_codes(frame[order_col])
        i = frame[item_col].astype("category")
        i_codes = i.cat.codes.to_numpy()
        labels = [str(v) for v in i.cat.categories]
        del frame, i  # the codes are all that is needed from here
        blank = np.array([not v.strip() for v in labels], dtype=bool)
        ok = (o_codes >= 0) & (i_codes >= 0)
        if blank.any():
            ok &= ~blank[np.where(i_codes >= 0, i_codes, 0)]
        skipped = int(len(ok) - ok.sum())
        width = max(len(labels), 1)
        # One int64 key per line, built and sorted in place (peak memory matters here: a few
        # arrays of 8 bytes per line are the largest thing this command holds).
        key = o_codes[ok] if skipped else o_codes.astype(np.int64, copy=True)
        del o_codes
        key *= width
        key += i_codes[ok] if skipped else i_codes
        del i_codes, ok
        key.sort()
        starts = np.empty(len(key), dtype=bool)
        starts[:1] = True
        np.not_equal(key[1:], key[:-1], out=starts[1:])
        key = key[starts]  # distinct (basket, item) lines
        items = (key % width).astype(np.int32)
        key //= width
        # Dense basket numbers over the baskets that kept at least one item (``key`` is sorted,
        # so a basket starts wherever the number changes); unused or blank item labels stay
        # (they simply have no line).
        starts = np.empty(len(key), dtype=bool)
        starts[:1] = True
        np.not_equal(key[1:], key[:-1], out=starts[1:])
        del key
        baskets = np.cumsum(starts, dtype=np.int64)
        baskets -= 1
        return cls(
            baskets=baskets,
            items=items,
            labels=labels,
            n_baskets=int(baskets[-1]) + 1 if len(baskets) else 0,
            skipped=skipped,
        )


def _order_codes(orders: pd.Series) -> np.ndarray:
    """Non-negative integers that tell the orders apart, -1 for a missing order.

    Integer order numbers are used as they are, shifted to start at 0 (the sort that follows
    groups them anyway), so no hash table of every order is built (~20 MB per million lines);
    other values (text ids) are numbered by ``pd.factorize``."""
    values = orders.to_numpy()
    if values.dtype.kind in "iu" and len(values):
        low, high = int(values.min()), int(values.max())
        if high - low < 2**40:  # room for ``order * n_items + item`` in int64
            return values.astype(np.int64, copy=False) - low
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return codes


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort and a comparison: NumPy 2's hash-based ``unique`` takes
    ~20x longer on millions of int64 keys)."""
    values = np.sort(values)
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _read_parquet(path: Path, order_col: str, item_col: str) -> pd.DataFrame:
    """The two columns of a Parquet file through DuckDB (no pyarrow needed)."""
    import duckdb

    from retento.analytics.summary import _q

    sp = str(path).replace("'", "''")
    con = duckdb.connect()
    try:
        cols = [
            r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{sp}')").fetchall()
        ]
        for col in (order_col, item_col):
            if col not in cols:
                raise SummaryInputError(
                    f"Column {col!r} not found in {path}; columns are: {', '.join(cols)}"
                )
        return con.execute(
            f"SELECT {_q(order_col)}, CAST({_q(item_col)} AS VARCHAR) AS {_q(item_col)} "
            f"FROM read_parquet('{sp}')"
        ).df()
    except duckdb.Error as exc:
        raise SummaryInputError(f"Cannot read {path} as Parquet: {exc}") from None
    finally:
        con.close()


@dataclass(frozen=True)
class _Compressed:
    """A 0/1 matrix in compressed form: row ``r``'s columns are ``indices[indptr[r]:indptr[r+1]]``
    (CSR), or the transposed view (CSC) with rows and columns swapped."""

    indptr: np.ndarray
    indices: np.ndarray
    shape: tuple[int, int]


def _compress(major: np.ndarray, minor: np.ndarray, shape: tuple[int, int]) -> _Compressed:
    """Group ``(major, minor)`` entries by ``major`` (stable, so a sorted ``minor`` stays sorted)."""
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(major, minlength=shape[0]), out=indptr[1:])
    if len(major) < 2 or bool((major[1:] >= major[:-1]).all()):
        return _Compressed(indptr, minor, shape)  # already grouped (order lines come sorted)
    order = np.argsort(major, kind="stable")
    return _Compressed(indptr, minor[order], shape)


def _bitsets(matrix: _Compressed, columns: np.ndarray, n_rows: int) -> np.ndarray:
    """Packed tid-sets (``uint64`` words) of the given columns, one row per column."""
    words = (n_rows + 63) // 64
    out = np.zeros((len(columns), words * 8), dtype=np.uint8)
    flags = np.zeros(words * 64, dtype=bool)
    for k, col in enumerate(columns):
        rows = matrix.indices[matrix.indptr[col] : matrix.indptr[col + 1]]
        flags[rows] = True
        out[k] = np.packbits(flags, bitorder="little")
        flags[rows] = False
    return out.view(np.uint64)


# Pairs generated at once by the small-basket path: ~5 arrays of this many 4-byte numbers are
# alive at a time (1M: ~20 MB), which bounds this step's memory; larger blocks were no faster.
_PAIR_CHUNK = 1_000_000
_DENSE_PAIRS_MAX = 3000  # frequent items up to which pair counts go into an m x m table


def _frequent_pairs(x: _Compressed, min_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a, b, count)`` of every column pair ``a < b`` held together by ``>= min_count`` rows,
    sorted by ``(a, b)``.

    With up to 3,000 columns, every pair inside each basket is enumerated, grouped by basket
    size (a ``baskets x size`` block per size) and counted with ``bincount`` into an
    ``m x m`` table: the cost is the sum of squared basket sizes with no per-row overhead. With
    more columns, ``X^T X`` by sparse product (memory ``O(pairs present)``).
    """
    m = x.shape[1]
    if m > _DENSE_PAIRS_MAX:
        from scipy import sparse

        n = x.shape[0]
        ones = np.ones(len(x.indices), dtype=np.int32)
        xs = sparse.csr_matrix((ones, x.indices, x.indptr), shape=(n, m))
        pair = (xs.T @ xs).tocoo()
        keep = (pair.row < pair.col) & (pair.data >= min_count)
        pr, pc, pn = pair.row[keep], pair.col[keep], pair.data[keep]
        order = np.lexsort((pc, pr))
        return pr[order].astype(np.int64), pc[order].astype(np.int64), pn[order]
    # m <= 3,000, so a pair's number a*m + b < 9e6 fits in int32 (half the memory of int64).
    indptr, cols = x.indptr, x.indices.astype(np.int32)
    sizes = np.diff(indptr)
    counts = np.zeros(m * m, dtype=np.int64)
    for size in np.unique(sizes[sizes >= 2]).tolist():
        rows = np.flatnonzero(sizes == size)
        iu, ju = np.triu_indices(size, 1)
        step = max(1, _PAIR_CHUNK // len(iu))
        offsets = np.arange(size)
        for lo in range(0, len(rows), step):
            block = cols[indptr[rows[lo : lo + step], None] + offsets]
            a, b = block[:, iu], block[:, ju]
            low = np.minimum(a, b)
            np.maximum(a, b, out=b)
            low *= m
            low += b
            del a, b
            counts += np.bincount(low.ravel(), minlength=m * m)
    hit = np.flatnonzero(counts >= min_count)  # sorted, so (a, b) comes out in order
    return hit // m, hit % m, counts[hit]


def _popcount(bits: np.ndarray) -> int:
    return int(np.bitwise_count(bits).sum(dtype=np.int64))


def frequent_itemsets(
    orders: ArrayLike | OrderLines,
    items: ArrayLike | None = None,
    *,
    min_support: float,
    max_len: int | None = None,
    max_itemsets: int | None = 1_000_000,
    time_budget: float | None = None,
) -> pd.DataFrame:
    """Every itemset whose support (share of baskets holding all its items) is ``>= min_support``.

    Parameters
    ----------
    orders, items : array-like, shape (n_lines,)
        One entry per order line: the basket (order) id and the item (product, category) id.
        Repeated (order, item) lines count once. ``orders`` may instead be an
        :class:`OrderLines` (then ``items`` is omitted).
    min_support : float in (0, 1]
        The smallest share of baskets an itemset must appear in.
    max_len : int, optional
        The longest itemset to report (``None``: no limit).
    max_itemsets : int, optional
        Stop with :class:`BudgetExceeded` once more itemsets than this are found.
    time_budget : float, optional
        Seconds; stop with :class:`BudgetExceeded` when exceeded.

    Returns
    -------
    DataFrame with columns ``support`` (float), ``count`` (int), ``itemsets`` (tuple of item
    labels, in the order of first appearance in the data) and ``length``; sorted by length,
    then by support descending.
    """
    if not 0 < min_support <= 1:
        raise ValueError("min_support must be in (0, 1]")
    if max_len is not None and max_len < 1:
        raise ValueError("max_len must be at least 1")
    started = time.perf_counter()
    if isinstance(orders, OrderLines):
        enc = orders
    else:
        if items is None:
            raise ValueError("items is required unless orders is an OrderLines")
        enc = OrderLines.from_arrays(orders, items)
    n = enc.n_baskets
    result: list[tuple[tuple[int, ...], int]] = []
    if n == 0:
        return _itemset_frame(result, enc.labels, n)
    min_count = max(1, math.ceil(min_support * n - 1e-9))
    counts = np.bincount(enc.items, minlength=len(enc.labels))
    frequent = np.flatnonzero(counts >= min_count)
    # Order frequent items by ascending support: Eclat's classes stay smallest that way.
    frequent = frequent[np.argsort(counts[frequent], kind="stable")]

    def check(found: int) -> None:
        if max_itemsets is not None and found > max_itemsets:
            raise BudgetExceeded(
                f"more than {max_itemsets:,} frequent itemsets at min_support={min_support}; "
                "raise min_support, lower max_len or raise max_itemsets",
                found,
            )
        if time_budget is not None and time.perf_counter() - started > time_budget:
            raise BudgetExceeded(
                f"time budget of {time_budget:g} s used up after {found:,} itemsets at "
                f"min_support={min_support}; raise min_support, lower max_len or allow more time",
                found,
            )

    result.extend(((int(k),), int(counts[k])) for k in frequent)
    check(len(result))
    if (max_len is not None and max_len < 2) or len(frequent) < 2:
        return _itemset_frame(result, enc.labels, n)

    # Sparse basket x frequent-item matrix (position = rank in ``frequent``).
    position = np.full(len(enc.labels), -1, dtype=np.int32)
    position[frequent] = np.arange(len(frequent))
    keep = position[enc.items] >= 0
    rows, cols = enc.baskets[keep], position[enc.items[keep]]
    m = len(frequent)
    x = _compress(rows, cols, (n, m))
    pr, pc, pn = _frequent_pairs(x, min_count)
    result.extend(
        ((int(frequent[a]), int(frequent[b])), int(c)) for a, b, c in zip(pr, pc, pn, strict=True)
    )
    check(len(result))
    if max_len is not None and max_len < 3:
        return _itemset_frame(result, enc.labels, n)

    # Frequent-pair lookup and each item's partners (for the depth-first growth).
    is_pair = np.zeros((m, m), dtype=bool) if m <= 20_000 else None
    partners: dict[int, np.ndarray] = {}
    if len(pr):
        starts = np.searchsorted(pr, np.arange(m + 1))
        for a in np.unique(pr):
            partners[int(a)] = pc[starts[a] : starts[a + 1]]
    if is_pair is not None:
        is_pair[pr, pc] = True
        pair_ok = lambda a, b: is_pair[a, b]  # noqa: E731
    else:
        pair_set = set(zip(pr.tolist(), pc.tolist(), strict=True))
        pair_ok = lambda a, b: (a, b) in pair_set  # noqa: E731
    # Tid-sets of every item that starts or extends a frequent pair.
    involved = np.unique(np.concatenate([pr, pc])) if len(pr) else np.array([], dtype=np.int64)
    csc = _compress(cols, rows, (m, n))
    bits_of = dict(
        zip(involved.tolist(), _bitsets(csc, involved, n), strict=True)
    )  # rank -> uint64 words
    limit = max_len if max_len is not None else m

    def grow(prefix: list[int], prefix_bits: np.ndarray, tail: np.ndarray) -> None:
        # ``tail``: items after the prefix's last item that are frequent with the prefix.
        for idx, j in enumerate(tail.tolist()):
            nxt = [k for k in tail[idx + 1 :].tolist() if pair_ok(j, k)]
            if not nxt:
                continue
            bits_j = prefix_bits & bits_of[j]
            new_tail = []
            for k in nxt:
                both = bits_j & bits_of[k]
                c = _popcount(both)
                if c >= min_count:
                    result.append((tuple(int(frequent[t]) for t in (*prefix, j, k)), c))
                    new_tail.append(k)
            check(len(result))
            if new_tail and len(prefix) + 3 <= limit:
                grow([*prefix, j], bits_j, np.asarray(new_tail))

    for a, tail in partners.items():
        if len(tail) >= 2:
            grow([a], bits_of[a], tail)
    return _itemset_frame(result, enc.labels, n)


def _itemset_frame(
    found: list[tuple[tuple[int, ...], int]], labels: list[Any], n: int
) -> pd.DataFrame:
    sets = [tuple(labels[k] for k in sorted(codes)) for codes, _ in found]
    counts = np.array([c for _, c in found], dtype=np.int64)
    frame = pd.DataFrame(
        {
            "support": counts / n if n else counts.astype(float),
            "count": counts,
            "itemsets": sets,
            "length": np.array([len(s) for s in sets], dtype=np.int64),
        }
    )
    return frame.sort_values(
        ["length", "support"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)


def association_rules(
    itemsets: pd.DataFrame, n_baskets: int | None = None, *, min_confidence: float = 0.0
) -> pd.DataFrame:
    """Rules ``A -> C`` from every frequent itemset of two or more items.

    Parameters
    ----------
    itemsets : DataFrame
        The output of :func:`frequent_itemsets` (all subsets of each itemset are in it, by
        downward closure).
    n_baskets : int, optional
        Unused when ``itemsets`` has ``support`` (kept for callers holding counts only).
    min_confidence : float in [0, 1]

    Returns
    -------
    DataFrame with columns ``antecedents``, ``consequents`` (tuples), ``antecedent_support``,
    ``consequent_support``, ``support``, ``confidence``, ``lift``, ``leverage`` and
    ``conviction`` (``inf`` when confidence is 1), sorted by lift then confidence descending.
    """
    if not 0 <= min_confidence <= 1:
        raise ValueError("min_confidence must be in [0, 1]")
    support = {
        frozenset(s): float(v)
        for s, v in zip(itemsets["itemsets"], itemsets["support"], strict=True)
    }
    out: dict[str, list[Any]] = {c: [] for c in RULE_COLUMNS}
    for items, s_ac in support.items():
        if len(items) < 2:
            continue
        ordered = sorted(items, key=str)
        for r in range(1, len(ordered)):
            for ante in combinations(ordered, r):
                a = frozenset(ante)
                c = items - a
                s_a, s_c = support[a], support[c]
                conf = s_ac / s_a
                if conf < min_confidence:
                    continue
                out["antecedents"].append(tuple(ante))
                out["consequents"].append(tuple(sorted(c, key=str)))
                out["antecedent_support"].append(s_a)
                out["consequent_support"].append(s_c)
                out["support"].append(s_ac)
                out["confidence"].append(conf)
                out["lift"].append(conf / s_c)
                out["leverage"].append(s_ac - s_a * s_c)
                out["conviction"].append(math.inf if conf >= 1 else (1 - s_c) / (1 - conf))
    frame = pd.DataFrame(out, columns=RULE_COLUMNS)
    return frame.sort_values(["lift", "confidence"], ascending=False, kind="stable").reset_index(
        drop=True
    )


class BasketAnalysis:
    """Frequent itemsets and association rules, with scikit-learn's estimator contract.

    Parameters
    ----------
    min_support : float, default 0.01
    min_confidence : float, default 0.0
    max_len : int, optional
    max_itemsets : int, optional, default 1,000,000
    time_budget : float, optional
        Seconds (see :func:`frequent_itemsets`).

    Attributes
    ----------
    itemsets_ : DataFrame
    rules_ : DataFrame
    n_baskets_ : int
    n_items_ : int
        Distinct items seen.

    Examples
    --------
    >>> model = BasketAnalysis(min_support=0.5).fit([1, 1, 2, 2], ["tea", "milk", "tea", "milk"])
    >>> model.itemsets_["itemsets"].tolist()
    [('tea',), ('milk',), ('tea', 'milk')]
    """

    def __init__(
        self,
        min_support: float = 0.01,
        min_confidence: float = 0.0,
        max_len: int | None = None,
        max_itemsets: int | None = 1_000_000,
        time_budget: float | None = None,
    ) -> None:
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.max_len = max_len
        self.max_itemsets = max_itemsets
        self.time_budget = time_budget

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "min_support": self.min_support,
            "min_confidence": self.min_confidence,
            "max_len": self.max_len,
            "max_itemsets": self.max_itemsets,
            "time_budget": self.time_budget,
        }

    def set_params(self, **params: Any) -> BasketAnalysis:
        for key, value in params.items():
            if key not in self.get_params():
                raise ValueError(f"unknown parameter {key!r}")
            setattr(self, key, value)
        return self

    def fit(self, orders: ArrayLike | OrderLines, items: ArrayLike | None = None) -> BasketAnalysis:
        """Find the frequent itemsets and the rules of the order lines ``(orders, items)`` (or
        of an :class:`OrderLines`)."""
        if isinstance(orders, OrderLines):
            lines = orders
        else:
            if items is None:
                raise ValueError("items is required unless orders is an OrderLines")
            lines = OrderLines.from_arrays(orders, items)
        self.n_baskets_ = lines.n_baskets
        self.n_items_ = len(lines.labels)
        self.itemsets_ = frequent_itemsets(
            lines,
            min_support=self.min_support,
            max_len=self.max_len,
            max_itemsets=self.max_itemsets,
            time_budget=self.time_budget,
        )
        self.rules_ = association_rules(self.itemsets_, min_confidence=self.min_confidence)
        return self

    def recommend(self, basket: ArrayLike, k: int = 5) -> list[tuple[Any, float, float]]:
        """Up to ``k`` items to suggest for a basket holding ``basket``: the consequents of the
        rules whose antecedent the basket contains, best lift first, as ``(item, lift,
        confidence)``; items already in the basket are never suggested."""
        held = set(np.asarray(basket).tolist())
        seen: dict[Any, tuple[float, float]] = {}
        for ante, cons, lift, conf in zip(
            self.rules_["antecedents"],
            self.rules_["consequents"],
            self.rules_["lift"],
            self.rules_["confidence"],
            strict=True,
        ):
            if len(cons) != 1 or not set(ante) <= held or cons[0] in held:
                continue
            if cons[0] not in seen or seen[cons[0]] < (lift, conf):
                seen[cons[0]] = (float(lift), float(conf))
        best = sorted(seen.items(), key=lambda kv: kv[1], reverse=True)[:k]
        return [(item, lift, conf) for item, (lift, conf) in best]
