"""Sequence discovery: frequent purchase sequences and a next-product recommender.

The data are purchase lines: one (customer, date, item) triple per row. A customer's
*sequence* is its purchase dates in order; the items bought on one date form one *element*
(an itemset). A *pattern* such as ``<{bread, butter} {jam}>`` is contained in a sequence when
its elements are subsets of strictly later and later elements of the sequence; its *support*
is the share of customers whose sequence contains it.

Algorithm (PrefixSpan, Pei et al. 2001, "PrefixSpan: Mining sequential patterns efficiently by
prefix-projected pattern growth", ICDE; and 2004, IEEE TKDE 16(11)), with NumPy projections:

* lines are sorted by (customer, date, item) and numbered; each element (customer, date) is a
  range of lines;
* the projected database of a pattern ``P`` is the array of elements at which an occurrence of
  ``P`` can *end* (all of them, not only the first per customer: the maximum gap and itemset
  extensions need every end);
* *itemset extensions* ``P + {j}`` (``j`` after the last element's largest item) are counted on
  the lines of those elements; *sequence extensions* ``P, {j}`` on the lines of the elements
  reachable from an end (later, and within the maximum gap). Candidate lines are grouped by item
  with one stable radix sort; a support is the number of distinct customers in the group;
* growth is depth-first and stops at patterns below ``min_support`` (anti-monotone, so the
  enumeration is complete).

``max_gap`` counts *steps*: two consecutive matched elements are at most ``max_gap`` purchase
dates apart in the customer's sequence (1 = consecutive purchase dates). ``max_gap_days``
bounds the calendar days between them instead; both may be given. ``max_len`` counts items (the
length of Pei et al.: ``<{a, b} {c}>`` has length 3). A maximum number of patterns and a time
budget stop a run with :class:`~retento.analytics.basket.BudgetExceeded` naming the cap.

Next-product recommendations from these patterns: :mod:`retento.analytics.next_item`.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from retento.analytics.basket import BudgetExceeded, _distinct
from retento.analytics.errors import SummaryInputError

__all__ = [
    "BudgetExceeded",
    "PurchaseSequences",
    "format_pattern",
    "frequent_sequences",
]


@dataclass(frozen=True)
class PurchaseSequences:
    """Purchase lines as integer arrays, sorted by (sequence, element, item), de-duplicated.

    ``line_item[l]`` and ``line_elem[l]`` are line ``l``'s item code and element (a customer's
    purchase date); element ``e`` holds lines ``elem_start[e]:elem_start[e + 1]``, belongs to
    sequence ``elem_seq[e]`` and falls on day ``elem_day[e]`` (days since 1970-01-01). Sequence
    ``s`` is customer ``customer_labels[seq_customer[s]]``; item ``k`` is ``item_labels[k]``.
    Build it with :meth:`from_arrays`, :meth:`from_lists` or :meth:`read`.
    """

    line_item: np.ndarray
    line_elem: np.ndarray
    elem_start: np.ndarray
    elem_seq: np.ndarray
    elem_day: np.ndarray
    seq_customer: np.ndarray
    customer_labels: list[Any]
    item_labels: list[Any]
    skipped: int = 0

    @property
    def n_sequences(self) -> int:
        return len(self.seq_customer)

    @property
    def n_elements(self) -> int:
        return len(self.elem_seq)

    @classmethod
    def from_arrays(
        cls, customers: ArrayLike, dates: ArrayLike, items: ArrayLike
    ) -> PurchaseSequences:
        """From three equal-length columns: customer ids, dates (anything ``pandas.to_datetime``
        reads; the time of day is ignored: one element per customer and calendar day) and item
        ids. Missing values raise ``ValueError``."""
        c = np.asarray(customers)
        i = np.asarray(items)
        d = _to_datetime(pd.Series(np.asarray(dates)))
        if c.shape != i.shape or c.ndim != 1 or len(d) != len(c):
            raise ValueError(
                "customers, dates and items must be 1-d arrays of the same length (one per line)"
            )
        if len(c) and (pd.isna(c).any() or pd.isna(i).any() or d.isna().any()):
            raise ValueError("customers, dates and items must not contain missing values")
        c_codes, c_labels = pd.factorize(c, sort=False)
        i_codes, i_labels = pd.factorize(i, sort=False)
        days = _days(d)
        return _build(
            c_codes, days, i_codes, np.asarray(c_labels).tolist(), np.asarray(i_labels).tolist()
        )

    @classmethod
    def from_lists(cls, sequences: list[list[Any]]) -> PurchaseSequences:
        """From Python lists: ``sequences[s]`` is customer ``s``'s steps in order, each step an
        item or a collection of items (one element per step, days ``0, 1, 2, ...``)."""
        cust, day, item = [], [], []
        for s, seq in enumerate(sequences):
            for t, step in enumerate(seq):
                group = step if isinstance(step, (list, tuple, set, frozenset)) else [step]
                for it in group:
                    cust.append(s)
                    day.append(t)
                    item.append(it)
        i_codes, i_labels = pd.factorize(np.asarray(item, dtype=object), sort=False)
        return _build(
            np.asarray(cust, dtype=np.int64),
            np.asarray(day, dtype=np.int64),
            i_codes,
            list(range(len(sequences))),
            np.asarray(i_labels).tolist(),
        )

    @classmethod
    def read(
        cls, source: Any, customer_col: str, date_col: str, item_col: str
    ) -> PurchaseSequences:
        """Purchase lines from a CSV or Parquet path (or a DataFrame). Lines with an empty
        customer, date or item are counted in ``skipped``; a date that cannot be read raises
        :class:`~retento.analytics.SummaryInputError` naming the line and value, as does a
        missing file or column."""
        cols = [customer_col, date_col, item_col]
        if isinstance(source, pd.DataFrame):
            frame, where = source, "the data"
        else:
            path = Path(source)
            where = str(path)
            if not path.exists():
                raise SummaryInputError(f"File not found: {path}")
            if path.stat().st_size == 0:
                raise SummaryInputError(f"File is empty: {path}")
            if path.suffix.lower() in {".parquet", ".pq"}:
                frame = _read_parquet(path, cols)
            else:
                try:
                    header = list(pd.read_csv(path, nrows=0).columns)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise SummaryInputError(f"Cannot read {path} as CSV: {exc}") from None
                _check_columns(cols, header, where)
                try:
                    frame = pd.read_csv(
                        path,
                        usecols=cols,
                        dtype={item_col: "category", date_col: "category"},
                        skipinitialspace=True,
                    )
                except (ValueError, UnicodeDecodeError) as exc:
                    raise SummaryInputError(f"Cannot read {path} as CSV: {exc}") from None
        _check_columns(cols, list(frame.columns), where)
        c_codes, c_labels = pd.factorize(frame[customer_col].to_numpy(), use_na_sentinel=True)
        item = frame[item_col].astype("category")
        i_codes = item.cat.codes.to_numpy()
        i_labels = [str(v) for v in item.cat.categories]
        # Dates repeat (one per day): parse each distinct value once.
        raw = frame[date_col]
        if isinstance(raw.dtype, pd.CategoricalDtype):
            d_codes, d_values = raw.cat.codes.to_numpy(), pd.Series(raw.cat.categories)
        else:
            d_codes, uniques = pd.factorize(raw.to_numpy(), use_na_sentinel=True)
            d_values = pd.Series(uniques)
        parsed = _to_datetime(d_values.astype(object))
        value_blank = d_values.astype(str).str.strip().eq("").to_numpy()
        value_bad = parsed.isna().to_numpy() & ~value_blank
        if value_bad.any():
            row = int(
                np.flatnonzero(value_bad[np.where(d_codes >= 0, d_codes, 0)] & (d_codes >= 0))[0]
            )
            raise SummaryInputError(
                f"Column {date_col!r}, line {row + 2}: {raw.iloc[row]!r} is not a date "
                "(use YYYY-MM-DD or an ISO date-time)"
            )
        value_days = _days(parsed.fillna(pd.Timestamp(0)))
        blank_date = (d_codes < 0) | value_blank[np.where(d_codes >= 0, d_codes, 0)]
        blank_item = np.array([not v.strip() for v in i_labels], dtype=bool)
        ok = (c_codes >= 0) & (i_codes >= 0) & ~blank_date
        if blank_item.any():
            ok &= ~blank_item[np.where(i_codes >= 0, i_codes, 0)]
        skipped = int(len(ok) - ok.sum())
        days = value_days[d_codes[ok]]
        return _build(
            c_codes[ok],
            days,
            i_codes[ok],
            np.asarray(c_labels).tolist(),
            i_labels,
            skipped,
        )

    def split(self, cutoff: Any) -> tuple[PurchaseSequences, PurchaseSequences]:
        """The purchases before ``cutoff`` (a date) and those on or after it, with the same
        customer and item labels."""
        day = _days(pd.Series([pd.Timestamp(cutoff)]))[0]
        line_day = self.elem_day[self.line_elem]
        cust = self.seq_customer[self.elem_seq[self.line_elem]]
        out = []
        for keep in (line_day < day, line_day >= day):
            out.append(
                _build(
                    cust[keep],
                    line_day[keep],
                    self.line_item[keep],
                    self.customer_labels,
                    self.item_labels,
                )
            )
        return out[0], out[1]


def _check_columns(cols: list[str], header: list[Any], where: str) -> None:
    for col in cols:
        if col not in header:
            raise SummaryInputError(
                f"Column {col!r} not found in {where}; columns are: " + ", ".join(map(str, header))
            )


def _to_datetime(raw: pd.Series) -> pd.Series:
    """Dates (time zones dropped); the format is inferred from the first value, and values in
    another format are parsed one by one. Unreadable values become ``NaT``."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        dates = raw
    else:
        with warnings.catch_warnings():  # "could not infer format": the retry below
            warnings.simplefilter("ignore", UserWarning)
            dates = pd.to_datetime(raw, errors="coerce")
        retry = (dates.isna() & raw.notna()).to_numpy()
        if retry.any():
            again = pd.to_datetime(raw[retry], errors="coerce", format="mixed")
            if getattr(again.dt, "tz", None) is not None:
                again = again.dt.tz_localize(None)
            dates = dates.copy()
            dates[retry] = again
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    return dates


def _days(dates: pd.Series) -> np.ndarray:
    return dates.to_numpy().astype("datetime64[D]").astype(np.int64)


def _read_parquet(path: Path, cols: list[str]) -> pd.DataFrame:
    """The three columns of a Parquet file through DuckDB (no pyarrow needed)."""
    import duckdb

    from retento.analytics.summary import _q

    sp = str(path).replace("'", "''")
    con = duckdb.connect()
    try:
        names = [
            r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{sp}')").fetchall()
        ]
        _check_columns(cols, names, str(path))
        customer, date, item = (_q(c) for c in cols)
        return con.execute(
            f"SELECT {customer}, CAST({date} AS VARCHAR) AS {date}, "
            f"CAST({item} AS VARCHAR) AS {item} FROM read_parquet('{sp}')"
        ).df()
    except duckdb.Error as exc:
        raise SummaryInputError(f"Cannot read {path} as Parquet: {exc}") from None
    finally:
        con.close()


def _build(
    cust: np.ndarray,
    day: np.ndarray,
    item: np.ndarray,
    customer_labels: list[Any],
    item_labels: list[Any],
    skipped: int = 0,
) -> PurchaseSequences:
    cust = np.asarray(cust, dtype=np.int64)
    day = np.asarray(day, dtype=np.int64)
    item = np.asarray(item, dtype=np.int64)
    n = len(item)
    if n:
        # One int64 key per line when it fits (a plain sort is ~10x faster than a lexsort).
        d0 = int(day.min())
        n_days = int(day.max()) - d0 + 1
        n_items = int(item.max()) + 1
        if (int(cust.max()) + 1) * n_days * n_items < 2**62:
            key = _distinct((cust * n_days + (day - d0)) * n_items + item)
            item = key % n_items
            rest = key // n_items
            day = rest % n_days + d0
            cust = rest // n_days
        else:
            order = np.lexsort((item, day, cust))
            cust, day, item = cust[order], day[order], item[order]
            keep = np.empty(n, dtype=bool)
            keep[0] = True
            keep[1:] = (cust[1:] != cust[:-1]) | (day[1:] != day[:-1]) | (item[1:] != item[:-1])
            cust, day, item = cust[keep], day[keep], item[keep]
        n = len(item)
    new_elem = np.empty(n, dtype=bool)
    new_seq = np.empty(n, dtype=bool)
    if n:
        new_seq[0] = new_elem[0] = True
        np.not_equal(cust[1:], cust[:-1], out=new_seq[1:])
        new_elem[1:] = new_seq[1:] | (day[1:] != day[:-1])
    starts = np.flatnonzero(new_elem)
    elem_start = np.empty(len(starts) + 1, dtype=np.int64)
    elem_start[:-1] = starts
    elem_start[-1] = n
    line_elem = np.repeat(np.arange(len(starts), dtype=np.int64), np.diff(elem_start))
    elem_seq = np.cumsum(new_seq[starts], dtype=np.int64) - 1
    return PurchaseSequences(
        line_item=item,
        line_elem=line_elem,
        elem_start=elem_start,
        elem_seq=elem_seq,
        elem_day=day[starts],
        seq_customer=cust[new_seq],
        customer_labels=list(customer_labels),
        item_labels=list(item_labels),
        skipped=skipped,
    )


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(starts[k], stops[k])`` (empty ranges skipped)."""
    lens = stops - starts
    keep = lens > 0
    if not keep.all():
        starts, lens = starts[keep], lens[keep]
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.cumsum(lens) - lens
    return np.arange(total, dtype=np.int64) - np.repeat(offsets - starts, lens)


def _reach(data: PurchaseSequences, max_gap: int | None, max_gap_days: int | None) -> np.ndarray:
    """``reach[e]``: the last element a sequence extension from element ``e`` may use."""
    seq = data.elem_seq
    n_elem = len(seq)
    seq_last = np.empty(data.n_sequences, dtype=np.int64)
    if n_elem:
        seq_last[seq] = np.arange(n_elem)  # the last write per sequence wins
    reach = seq_last[seq] if n_elem else np.empty(0, dtype=np.int64)
    if max_gap is not None:
        reach = np.minimum(reach, np.arange(n_elem) + max_gap)
    if max_gap_days is not None and n_elem:
        span = int(data.elem_day.max() - data.elem_day.min()) + max_gap_days + 1
        key = seq * span + (data.elem_day - data.elem_day.min())
        reach = np.minimum(reach, np.searchsorted(key, key + max_gap_days, side="right") - 1)
    return reach


def frequent_sequences(
    data: PurchaseSequences | list[list[Any]],
    *,
    min_support: float,
    max_len: int | None = None,
    max_gap: int | None = None,
    max_gap_days: int | None = None,
    max_patterns: int | None = 1_000_000,
    time_budget: float | None = None,
) -> pd.DataFrame:
    """Every sequential pattern whose support (share of customers) is ``>= min_support``.

    Parameters
    ----------
    data : PurchaseSequences or list of lists
        The purchase sequences (a list of lists is read by :meth:`PurchaseSequences.from_lists`).
    min_support : float in (0, 1]
        The smallest share of customers whose sequence must contain a pattern.
    max_len : int, optional
        The largest number of items in a pattern (``None``: no limit).
    max_gap : int, optional
        Steps: consecutive elements of a pattern must match purchase dates at most this many
        positions apart in a customer's sequence (1 = consecutive purchase dates).
    max_gap_days : int, optional
        Days: consecutive elements must match purchase dates at most this many days apart.
    max_patterns : int, optional
        Stop with :class:`BudgetExceeded` once more patterns than this are found.
    time_budget : float, optional
        Seconds; stop with :class:`BudgetExceeded` when exceeded.

    Returns
    -------
    DataFrame with columns ``pattern`` (tuple of elements, each a tuple of item labels),
    ``support`` (float), ``count`` (customers), ``length`` (items) and ``n_elements``;
    sorted by length, then support descending.

    Examples
    --------
    >>> found = frequent_sequences([["a", "b"], ["a", "c", "b"], ["b"]], min_support=0.6)
    >>> [(format_pattern(p), c) for p, c in zip(found["pattern"], found["count"])]
    [('b', 3), ('a', 2), ('a > b', 2)]
    """
    if not 0 < min_support <= 1:
        raise ValueError("min_support must be in (0, 1]")
    if max_len is not None and max_len < 1:
        raise ValueError("max_len must be at least 1")
    if max_gap is not None and max_gap < 1:
        raise ValueError("max_gap must be at least 1 (step)")
    if max_gap_days is not None and max_gap_days < 0:
        raise ValueError("max_gap_days must not be negative")
    if not isinstance(data, PurchaseSequences):
        data = PurchaseSequences.from_lists(data)
    found = _mine(data, min_support, max_len, max_gap, max_gap_days, max_patterns, time_budget)
    return _pattern_frame(found, data)


def _mine(
    data: PurchaseSequences,
    min_support: float,
    max_len: int | None,
    max_gap: int | None,
    max_gap_days: int | None,
    max_patterns: int | None,
    time_budget: float | None,
) -> list[tuple[tuple[tuple[int, ...], ...], int]]:
    started = time.perf_counter()
    n = data.n_sequences
    results: list[tuple[tuple[tuple[int, ...], ...], int]] = []
    if n == 0:
        return results
    min_count = max(1, math.ceil(min_support * n - 1e-9))
    limit = max_len if max_len is not None else 1 << 30
    m = len(data.item_labels)
    # Radix-sortable item keys.
    item = data.line_item.astype(np.uint16 if m <= 1 << 16 else np.int64)
    small = np.int32 if len(item) < 2**31 - 1 else np.int64
    line_elem = data.line_elem.astype(small)
    line_seq = data.elem_seq[line_elem].astype(small)
    reach = _reach(data, max_gap, max_gap_days)
    # Lines of items bought by too few customers can never extend a pattern: drop them (the
    # purchase dates stay, so gaps in steps keep counting them).
    first = np.empty(len(item), dtype=bool)
    first[:1] = True
    if len(item) > 1:
        # Lines ascend by (customer, date, item): distinct (customer, item) by a stable sort.
        order = np.argsort(item, kind="stable")
        it, sq = item[order], line_seq[order]
        first[0] = True
        first[1:] = (it[1:] != it[:-1]) | (sq[1:] != sq[:-1])
        buyers = np.bincount(it[first].astype(np.int64), minlength=m)
    else:
        buyers = np.bincount(item.astype(np.int64), minlength=m)
    keep = (buyers >= min_count)[item]
    if not keep.all():
        item, line_elem, line_seq = item[keep], line_elem[keep], line_seq[keep]
    elem_start = np.zeros(data.n_elements + 1, dtype=np.int64)
    np.cumsum(np.bincount(line_elem, minlength=data.n_elements), out=elem_start[1:])
    multi = np.diff(elem_start) > 1  # purchase dates with more than one (frequent) item
    any_multi = bool(multi.any())
    check_every = [0]

    def check() -> None:
        found = len(results)
        if max_patterns is not None and found > max_patterns:
            raise BudgetExceeded(
                f"more than {max_patterns:,} frequent sequences at min_support={min_support}; "
                "raise min_support, lower max_len or max_gap, or raise max_patterns",
                found,
            )
        check_every[0] += 1
        if time_budget is not None and time.perf_counter() - started > time_budget:
            raise BudgetExceeded(
                f"time budget of {time_budget:g} s used up after {found:,} sequences at "
                f"min_support={min_support}; raise min_support, lower max_len or allow more time",
                found,
            )

    def group(lines: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
        """``(item, support, elements)`` of each frequent item among candidate ``lines``
        (ascending), elements ascending."""
        if len(lines) == 0:
            return []
        order = np.argsort(item[lines], kind="stable")
        ordered = lines[order]
        it = item[ordered]
        sq = line_seq[ordered]
        distinct = np.empty(len(it), dtype=bool)  # first line of each (item, customer)
        distinct[0] = True
        np.not_equal(sq[1:], sq[:-1], out=distinct[1:])
        distinct[1:] |= it[1:] != it[:-1]
        sup = np.bincount(it[distinct].astype(np.int64), minlength=m)
        frequent = np.flatnonzero(sup >= min_count)
        if len(frequent) == 0:
            return []
        keys = frequent.astype(it.dtype)
        los = np.searchsorted(it, keys, side="left").tolist()
        his = np.searchsorted(it, keys, side="right").tolist()
        return [
            (j, int(sup[j]), line_elem[ordered[lo:hi]])
            for j, lo, hi in zip(frequent.tolist(), los, his, strict=True)
        ]

    def grow(pattern: list[list[int]], elems: np.ndarray, length: int) -> None:
        if length >= limit:
            return
        last = pattern[-1][-1]
        # Itemset extensions: items after ``last`` on the same purchase dates.
        with_more = elems[multi[elems]] if any_multi else elems[:0]
        lines = _ranges(elem_start[with_more], elem_start[with_more + 1])
        lines = lines[item[lines] > last]
        for j, sup, new in group(lines):
            child = [*pattern[:-1], [*pattern[-1], j]]
            results.append((tuple(tuple(e) for e in child), sup))
            check()
            grow(child, new, length + 1)
        # Sequence extensions: items on later purchase dates within the gap. Ends ascend within
        # a sequence and so do their reaches, so the reachable elements are the union of
        # ``(e, reach[e]]`` made disjoint by starting each after the previous end.
        hi = reach[elems]
        lo = elems + 1
        if len(lo) > 1:
            lo[1:] = np.maximum(lo[1:], hi[:-1] + 1)
        lines = _ranges(elem_start[lo], elem_start[np.maximum(hi + 1, lo)])
        for j, sup, new in group(lines):
            child = [*pattern, [j]]
            results.append((tuple(tuple(e) for e in child), sup))
            check()
            grow(child, new, length + 1)

    for j, sup, elems in group(np.arange(len(item), dtype=np.int64)):
        results.append((((j,),), sup))
        check()
        grow([[j]], elems, 1)
    return results


def _pattern_frame(
    found: list[tuple[tuple[tuple[int, ...], ...], int]], data: PurchaseSequences
) -> pd.DataFrame:
    labels = data.item_labels
    pats = [tuple(tuple(labels[k] for k in el) for el in p) for p, _ in found]
    counts = np.array([c for _, c in found], dtype=np.int64)
    n = data.n_sequences
    frame = pd.DataFrame(
        {
            "pattern": pats,
            "support": counts / n if n else counts.astype(float),
            "count": counts,
            "length": np.array([sum(len(e) for e in p) for p, _ in found], dtype=np.int64),
            "n_elements": np.array([len(p) for p, _ in found], dtype=np.int64),
        }
    )
    frame["_codes"] = [p for p, _ in found]
    frame = frame.sort_values(
        ["length", "support"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)
    frame.attrs["codes"] = frame.pop("_codes").tolist()
    return frame


def format_pattern(pattern: tuple[tuple[Any, ...], ...]) -> str:
    """``(("bread", "butter"), ("jam",))`` as ``"bread + butter > jam"``."""
    return " > ".join(" + ".join(str(i) for i in el) for el in pattern)
