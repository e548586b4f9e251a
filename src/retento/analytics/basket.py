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
import os
import time
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from retento.analytics.basket_io import order_codes, read_csv_codes, read_parquet_columns
from retento.analytics.errors import SummaryInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BasketAnalysis",
    "BudgetExceeded",
    "Itemset",
    "OrderLines",
    "Rule",
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
    file, or a DataFrame). A CSV file is read in blocks straight into integer codes (plain
    blocks split by NumPy, any other by the :mod:`csv` module; see
    :mod:`retento.analytics.basket_io`), so the lines never become a table of Python objects
    and pandas is not needed.
    ``skipped`` counts lines left out because their order or item was empty.
    """

    baskets: np.ndarray
    items: np.ndarray
    labels: list[Any]
    n_baskets: int
    skipped: int = 0

    @classmethod
    def from_arrays(cls, orders: ArrayLike, items: ArrayLike) -> OrderLines:
        import pandas as pd

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
        ``item_col``; lines with an empty order or item are counted in ``skipped``.

        A CSV file needs a header; fields may be quoted (with the delimiter, quotes or line
        breaks inside), spaces after a comma are ignored, and pandas' missing-value markers
        (``NA``, ``null``, ``None``, ``NaN``, ...) count as empty, as they did when pandas read
        the file. When every order id is a whole number they are compared as numbers (``7``
        and ``07`` are one order), otherwise as text. Items are labelled by their text and
        numbered in sorted order.

        Raises
        ------
        SummaryInputError
            Naming a missing or empty file, a missing column (with the columns there are), a
            line with more fields than the header (with its line number) or a file that is
            not text in UTF-8.
        """
        if not isinstance(source, str | os.PathLike):
            return cls._from_frame(source, order_col, item_col)
        path = Path(source)
        if not path.exists():
            raise SummaryInputError(f"File not found: {path}")
        if path.stat().st_size == 0:
            raise SummaryInputError(f"File is empty: {path}")
        if path.suffix.lower() in {".parquet", ".pq"}:
            frame = read_parquet_columns(path, order_col, item_col)
            return cls._from_frame(frame, order_col, item_col)
        o_values, i_codes, labels, dropped = read_csv_codes(path, order_col, item_col)
        # The reader's arrays are this call's own: the key is built in the orders' memory.
        return cls._from_codes(o_values, i_codes, labels, dropped, owned=True)

    @classmethod
    def _from_frame(cls, frame: Any, order_col: str, item_col: str) -> OrderLines:
        """Order lines from the two columns of a DataFrame (pandas is imported only here)."""
        for col in (order_col, item_col):
            if col not in frame.columns:
                raise SummaryInputError(
                    f"Column {col!r} not found; columns are: " + ", ".join(map(str, frame.columns))
                )
        o_codes = order_codes(frame[order_col])
        i = frame[item_col].astype("category")
        i_codes = i.cat.codes.to_numpy()
        labels = [str(v) for v in i.cat.categories]
        del frame, i  # the codes are all that is needed from here
        return cls._from_codes(o_codes, i_codes, labels, 0)

    @classmethod
    def _from_codes(
        cls,
        o_codes: np.ndarray,
        i_codes: np.ndarray,
        labels: list[str],
        dropped: int,
        owned: bool = False,
    ) -> OrderLines:
        """Distinct lines from one order code (``>= 0``; ``-1`` missing) and one item code per
        line; ``dropped`` lines were already left out by the reader. ``owned``: ``o_codes`` is
        a writable int64 array nobody else holds, used as the key's memory."""
        blank = np.array([not v.strip() for v in labels], dtype=bool)
        ok = (o_codes >= 0) & (i_codes >= 0)
        if blank.any():
            ok &= ~blank[np.where(i_codes >= 0, i_codes, 0)]
        skipped = int(len(ok) - ok.sum())
        width = max(len(labels), 1)
        # One int64 key per line, built and sorted in place (peak memory matters here: a few
        # arrays of 8 bytes per line are the largest thing this command holds).
        if skipped:
            key = o_codes[ok].astype(np.int64, copy=False)
        else:
            key = o_codes if owned else o_codes.astype(np.int64, copy=True)
        del o_codes
        key *= width
        key += i_codes[ok] if skipped else i_codes
        del i_codes, ok
        key.sort()
        starts = np.empty(len(key), dtype=bool)
        starts[:1] = True
        np.not_equal(key[1:], key[:-1], out=starts[1:])
        key = key[starts]  # distinct (basket, item) lines
        items = np.empty(len(key), dtype=np.int32)
        np.remainder(key, width, out=items, casting="unsafe")  # < width: fits in int32
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
            skipped=skipped + dropped,
        )


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
    as_frame: bool = True,
) -> pd.DataFrame | list[Itemset]:
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
    as_frame : bool, default True
        ``False`` returns the same rows as a list of :class:`Itemset` tuples (no pandas).

    Returns
    -------
    DataFrame with columns ``support`` (float), ``count`` (int), ``itemsets`` (tuple of item
    labels, in the order of first appearance in the data; sorted labels for a CSV read by
    :meth:`OrderLines.read`) and ``length``; sorted by length, then by support descending.
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
        return _itemsets(result, enc.labels, n, as_frame)
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
        return _itemsets(result, enc.labels, n, as_frame)

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
        return _itemsets(result, enc.labels, n, as_frame)

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
    return _itemsets(result, enc.labels, n, as_frame)


class Itemset(NamedTuple):
    """One frequent itemset: the row of :func:`frequent_itemsets`' DataFrame."""

    support: float
    count: int
    itemsets: tuple[Any, ...]
    length: int


class Rule(NamedTuple):
    """One association rule ``antecedents -> consequents``: the row of
    :func:`association_rules`' DataFrame."""

    antecedents: tuple[Any, ...]
    consequents: tuple[Any, ...]
    antecedent_support: float
    consequent_support: float
    support: float
    confidence: float
    lift: float
    leverage: float
    conviction: float


def _itemsets(
    found: list[tuple[tuple[int, ...], int]], labels: list[Any], n: int, as_frame: bool
) -> pd.DataFrame | list[Itemset]:
    """The itemsets sorted by length, then support descending (stable: ties keep the order in
    which they were found)."""
    rows = [
        Itemset(c / n if n else float(c), c, tuple(labels[k] for k in sorted(codes)), len(codes))
        for codes, c in found
    ]
    rows.sort(key=lambda r: (r.length, -r.count))
    if not as_frame:
        return rows
    import pandas as pd

    return pd.DataFrame(
        {
            "support": np.array([r.support for r in rows], dtype=float),
            "count": np.array([r.count for r in rows], dtype=np.int64),
            "itemsets": [r.itemsets for r in rows],
            "length": np.array([r.length for r in rows], dtype=np.int64),
        }
    )


def association_rules(
    itemsets: pd.DataFrame | list[Itemset],
    n_baskets: int | None = None,
    *,
    min_confidence: float = 0.0,
    as_frame: bool = True,
) -> pd.DataFrame | list[Rule]:
    """Rules ``A -> C`` from every frequent itemset of two or more items.

    Parameters
    ----------
    itemsets : DataFrame or list of Itemset
        The output of :func:`frequent_itemsets` (all subsets of each itemset are in it, by
        downward closure).
    n_baskets : int, optional
        Unused when ``itemsets`` has ``support`` (kept for callers holding counts only).
    min_confidence : float in [0, 1]
    as_frame : bool, default True
        ``False`` returns the same rows as a list of :class:`Rule` tuples (no pandas).

    Returns
    -------
    DataFrame with columns ``antecedents``, ``consequents`` (tuples), ``antecedent_support``,
    ``consequent_support``, ``support``, ``confidence``, ``lift``, ``leverage`` and
    ``conviction`` (``inf`` when confidence is 1), sorted by lift then confidence descending.
    """
    if not 0 <= min_confidence <= 1:
        raise ValueError("min_confidence must be in [0, 1]")
    if isinstance(itemsets, list):
        pairs = ((r.itemsets, r.support) for r in itemsets)
    else:
        pairs = zip(itemsets["itemsets"], itemsets["support"], strict=True)
    support = {frozenset(s): float(v) for s, v in pairs}
    rows: list[Rule] = []
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
                rows.append(
                    Rule(
                        tuple(ante),
                        tuple(sorted(c, key=str)),
                        s_a,
                        s_c,
                        s_ac,
                        conf,
                        conf / s_c,
                        s_ac - s_a * s_c,
                        math.inf if conf >= 1 else (1 - s_c) / (1 - conf),
                    )
                )
    rows.sort(key=lambda r: (-r.lift, -r.confidence))  # stable: ties keep their order
    if not as_frame:
        return rows
    import pandas as pd

    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in RULE_COLUMNS]
    return pd.DataFrame(
        {
            name: list(col) if k < 2 else np.array(col, dtype=float)
            for k, (name, col) in enumerate(zip(RULE_COLUMNS, columns, strict=True))
        },
        columns=RULE_COLUMNS,
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
        if not hasattr(self, "rules_"):
            raise RuntimeError("BasketAnalysis is not fitted; call fit() first")
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
