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

import csv
import io
import math
import os
import time
from array import array
from dataclasses import dataclass
from itertools import combinations, compress, islice
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

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
    blocks split by NumPy, any other by the :mod:`csv` module), so the lines never become a
    table of Python objects and pandas is not needed.
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
            return cls._from_frame(_read_parquet(path, order_col, item_col), order_col, item_col)
        try:
            o_values, i_codes, labels, dropped = _read_csv(path, order_col, item_col, True)
        except _TextOrders:
            # An order id that is not a whole number: read again numbering the ids as text
            # (it keeps "7" and "07" apart for text ids, as before; text ids usually show in
            # the first block, so the first pass stops early).
            o_values, i_codes, labels, dropped = _read_csv(path, order_col, item_col, False)
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
        o_codes = _order_codes(frame[order_col])
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


def _order_codes(orders: Any) -> np.ndarray:
    """Non-negative integers that tell the orders apart, -1 for a missing order.

    Integer order numbers are used as they are, shifted to start at 0 (the sort that follows
    groups them anyway), so no hash table of every order is built (~20 MB per million lines);
    other values (text ids) are numbered by ``pd.factorize``."""
    values = orders.to_numpy()
    if values.dtype.kind in "iu" and len(values):
        return _integer_orders(values.astype(np.int64, copy=False))
    import pandas as pd

    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return codes


def _integer_orders(values: np.ndarray, in_place: bool = False) -> np.ndarray:
    """Integer order numbers (int64) as non-negative codes: shifted to start at 0 when their
    range leaves room for ``order * n_items + item`` in int64 (in ``values`` itself if
    ``in_place``), else numbered by a sort."""
    if not len(values):
        return values.astype(np.int64)
    low, high = int(values.min()), int(values.max())
    if high - low < 2**40:
        if in_place:
            values -= low
            return values
        return values - low
    return np.unique(values, return_inverse=True)[1].astype(np.int64)


# pandas' default missing-value markers (``pandas._libs.parsers.STR_NA_VALUES``): a field that
# is exactly one of these counts as empty, as it did when pandas read these files.
_NA_STRINGS = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
     "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)  # fmt: skip
# Rows parsed, mapped to codes and dropped at a time: a block's Python strings (~150 bytes per
# row) are the reader's only memory besides the codes; larger blocks were no faster.
_CSV_BLOCK_ROWS = 4096


class _Codes(dict):
    """Text -> 0, 1, 2, ... in order of first appearance; the missing markers -> -1.

    Looked up through ``map(codes.__getitem__, values)``, so a known value costs one C-level
    dictionary probe and only a new one runs Python code (``__missing__``)."""

    def __init__(self) -> None:
        super().__init__(dict.fromkeys(_NA_STRINGS, -1))
        self.size = 0

    def __missing__(self, key: str) -> int:
        code = self[key] = self.size
        self.size += 1
        return code

    def labels(self) -> list[str]:
        return [k for k, v in self.items() if v >= 0]  # insertion order = code order


class _TextOrders(Exception):
    """An order id is not a whole number in int64: the file is read again with text ids."""


class _Lines:
    """The order and item codes of a CSV file as it is read, one entry per line.

    ``orders`` holds the order numbers themselves (``order_codes is None``: a line whose order
    is empty is dropped and counted in ``dropped``; another non-integer raises
    :class:`_TextOrders`) or codes numbered in order of appearance (-1: empty); ``items`` the
    item codes of :attr:`item_codes` (-1: empty)."""

    def __init__(self, integer_orders: bool) -> None:
        self.orders = array("q")
        self.items = array("i")
        self.item_codes = _Codes()
        self.order_codes = None if integer_orders else _Codes()
        self.dropped = 0

    def add_text(self, orders: list[str], items: Any) -> None:
        """One block: the orders as text, the items already as codes."""
        if self.order_codes is not None:
            self.orders.extend(map(self.order_codes.__getitem__, orders))
            self.items.extend(items)
            return
        try:
            self.orders.extend(map(int, orders))
        except (ValueError, OverflowError):
            # ``extend`` stops at the bad value: take back this block's part, leave out the
            # lines with an empty order and try the rest again.
            del self.orders[len(self.items) :]
            keep = [v not in _NA_STRINGS for v in orders]
            self.dropped += len(keep) - sum(keep)
            orders = list(compress(orders, keep))
            items = list(compress(items, keep))
            try:
                self.orders.extend(map(int, orders))
            except (ValueError, OverflowError):
                raise _TextOrders from None
        self.items.extend(items)

    def add_rows(self, rows: list[list[str]], get_order: Any, get_item: Any) -> None:
        """One block of rows from the csv module."""
        items = array("i", map(self.item_codes.__getitem__, map(get_item, rows)))
        self.add_text(list(map(get_order, rows)), items)

    def add_fields(self, orders: np.ndarray, items: np.ndarray) -> None:
        """One block of fields as fixed-width bytes (NumPy ``S`` arrays): each distinct value
        is decoded and looked up once."""
        items = self._codes(items, self.item_codes).astype(np.int32)
        if self.order_codes is not None:
            self.orders.frombytes(self._codes(orders, self.order_codes).tobytes())
        else:
            try:
                numbers = _digits(orders)
                if numbers is None:
                    numbers = orders.astype(np.int64)
            except (ValueError, OverflowError):
                self.add_text([v.decode("utf-8") for v in orders.tolist()], items.tolist())
                return
            self.orders.frombytes(numbers.tobytes())
        self.items.frombytes(items.tobytes())

    @staticmethod
    def _codes(values: np.ndarray, codes: _Codes) -> np.ndarray:
        """The code of each value: its distinct values by a sort (of the 8 bytes as one
        ``uint64`` when they fit), each decoded once."""
        if values.dtype.itemsize == 8:
            distinct, inverse = np.unique(values.view(np.uint64), return_inverse=True)
            distinct = distinct.view("S8")
        else:
            distinct, inverse = np.unique(values, return_inverse=True)
        known = [codes[v.decode("utf-8")] for v in distinct.tolist()]
        return np.asarray(known, dtype=np.int64)[inverse.ravel()]


def _digits(values: np.ndarray) -> np.ndarray | None:
    """Fields of 1-18 ASCII digits (NUL-padded ``S`` values) as int64, column by column; ``None``
    when any field is something else (a sign, a space, empty: left to ``int``)."""
    width = values.dtype.itemsize
    if width > 18 or not len(values):
        return None
    cells = values.view(np.uint8).reshape(len(values), width)
    padding = cells == 0  # only after a field's bytes: the block has no NUL
    digits = cells - np.uint8(48)  # a digit's value; other bytes wrap round above 9
    if padding[:, 0].any() or ((digits > 9) & ~padding).any():
        return None
    digits[padding] = 0
    # Left-aligned digits read as ``width`` digits, then the padding's zeros divided away.
    whole = digits.astype(np.int64) @ (10 ** np.arange(width - 1, -1, -1, dtype=np.int64))
    whole //= 10 ** np.count_nonzero(padding, axis=1).astype(np.int64)
    return whole


# A block read at a time by the fast path: its index arrays are a few times its size.
_CSV_BLOCK_BYTES = 1 << 18
_FIELD_MAX = 64  # longer fields go through the csv module (a block's fields are padded to it)


def _plain_fields(buf: bytes, width: int, columns: tuple[int, int]) -> list[np.ndarray] | None:
    """The fields ``columns`` of every line of ``buf`` (whole lines) as ``S`` arrays, found by
    NumPy, when the block is plain: no quotes, no NUL, every line with ``width`` fields, no
    space after a comma, ``\\n`` or ``\\r\\n`` line ends, fields of at most 64 bytes. ``None``
    sends the block (and the rest of the file) to the csv module."""
    if b'"' in buf or b"\x00" in buf or b", " in buf or b"\n " in buf or buf[:1] == b" ":
        return None
    # NULs after the block, so that a window of up to 64 bytes fits from any field's start.
    padded = np.frombuffer(buf + bytes(_FIELD_MAX), dtype=np.uint8)
    a = padded[: len(buf)]
    ends = np.flatnonzero(a == 10)
    n = len(ends)
    commas = np.flatnonzero(a == 44)
    if not n or len(commas) != n * (width - 1):
        return None
    commas = commas.reshape(n, width - 1)
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    # Each line's commas lie inside it (so no blank line and no line with too many fields).
    if width > 1 and ((commas[:, 0] < starts).any() or (commas[:, -1] > ends).any()):
        return None
    stops = ends
    if b"\r" in buf:
        if int(np.count_nonzero(a == 13)) != n or not (a[ends - 1] == 13).all():
            return None
        stops = ends - 1
    out = []
    for col in columns:
        lo = starts if col == 0 else commas[:, col - 1] + 1
        hi = stops if col == width - 1 else commas[:, col]
        size = hi - lo
        longest = int(size.max())
        if longest > _FIELD_MAX:
            return None
        longest = 8 if longest <= 8 else longest  # 8 bytes: sorted as one uint64
        # Each field's window of ``longest`` bytes (one row copy each), NUL past its end
        # (trailing NULs end an ``S`` value).
        cells = np.lib.stride_tricks.sliding_window_view(padded, longest)[lo]
        cells *= np.arange(longest) < size[:, None]
        out.append(cells.view(f"S{longest}").ravel())
    return out


def _read_csv(
    path: Path, order_col: str, item_col: str, integer_orders: bool
) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """``(orders, item codes, labels, dropped)`` of a CSV file, one entry per line (see
    :class:`_Lines`); item codes follow the sorted labels (-1: empty).

    Plain blocks (see :func:`_plain_fields`) are split by NumPy; from the first block that is
    not, the rest of the file goes through the csv module, 4,096 rows at a time."""
    fail = f"Cannot read {path} as CSV"
    try:
        with open(path, "rb") as raw:
            header = _csv_header(raw, fail)
            for col in (order_col, item_col):
                if col not in header:
                    raise SummaryInputError(
                        f"Column {col!r} not found in {path}; columns are: " + ", ".join(header)
                    )
            width = len(header)
            columns = (header.index(order_col), header.index(item_col))
            lines = _Lines(integer_orders)
            seen = 0  # records read after the header (blank ones included)
            offset, tail = raw.tell(), b""
            while True:
                chunk = raw.read(_CSV_BLOCK_BYTES)
                buf = tail + chunk
                cut = buf.rfind(b"\n") + 1 if chunk else len(buf)
                if not buf or (chunk and not cut):
                    tail = buf
                    if not chunk:
                        break
                    continue
                block, tail = buf[:cut], buf[cut:]
                fields = _plain_fields(block if chunk else block + b"\n", width, columns)
                if fields is None:
                    raw.seek(offset)
                    seen = _read_rows(raw, lines, width, columns, path, seen, fail)
                    break
                lines.add_fields(*fields)
                seen += len(fields[0])
                offset += len(block)
                if not chunk:
                    break
    except UnicodeDecodeError as exc:
        raise SummaryInputError(f"{fail}: {exc} (the file must be UTF-8 text)") from None
    labels = lines.item_codes.labels()
    # Items numbered in sorted label order (as a sorted category would): a permutation of the
    # few codes, then one look-up per line; rank[-1] keeps the empty marker at -1.
    order = sorted(range(len(labels)), key=labels.__getitem__)
    rank = np.full(len(labels) + 1, -1, dtype=np.int32)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(labels), dtype=np.int32)
    items, orders = lines.items, lines.orders
    del lines.items, lines.orders  # freed as soon as they are converted
    i_codes = rank[np.frombuffer(items, dtype=np.int32)] if len(items) else np.empty(0, np.int32)
    del items
    labels = [labels[k] for k in order]
    # A view of the array's own (writable) memory, which the caller may overwrite.
    o = np.frombuffer(orders, dtype=np.int64) if len(orders) else np.empty(0, np.int64)
    del orders
    if lines.order_codes is None:
        o = _integer_orders(o, True)
    return o, i_codes, labels, lines.dropped


def _csv_header(raw: Any, fail: str) -> list[str]:
    """The header of a CSV file open in binary (blank lines before it skipped; it may hold
    quoted names, even across lines); ``raw`` is left at the first data line."""
    text = ""
    while True:
        line = raw.readline()
        if not line:
            if text.strip():
                break
            raise SummaryInputError(f"{fail}: no columns to parse from file")
        text += line.decode("utf-8-sig" if not text and raw.tell() == len(line) else "utf-8")
        if not text.strip():
            text = ""
            continue
        if text.count('"') % 2 == 0:
            break
    try:
        return next(csv.reader(io.StringIO(text), skipinitialspace=True))
    except csv.Error as exc:
        raise SummaryInputError(f"{fail}: line 1: {exc}") from None


def _read_rows(
    raw: Any,
    lines: _Lines,
    width: int,
    columns: tuple[int, int],
    path: Path,
    seen: int,
    fail: str,
) -> int:
    """The rest of the file (``raw`` at a line start) through the csv module into ``lines``;
    returns the number of records read."""
    get_order, get_item = itemgetter(columns[0]), itemgetter(columns[1])
    need = max(columns) + 1
    start = raw.tell()
    reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""), skipinitialspace=True)
    try:
        while rows := list(islice(reader, _CSV_BLOCK_ROWS)):
            n_rows = len(rows)
            if min(map(len, rows)) != width or max(map(len, rows)) != width:
                rows = _regular_rows(rows, width, need, path, seen, fail)
            seen += n_rows
            lines.add_rows(rows, get_order, get_item)
    except csv.Error as exc:
        with open(path, "rb") as again:  # lines before this reader started (an error path)
            before = again.read(start).count(b"\n")
        raise SummaryInputError(f"{fail}: line {before + reader.line_num}: {exc}") from None
    return seen


def _regular_rows(
    rows: list[list[str]], width: int, need: int, path: Path, seen: int, fail: str
) -> list[list[str]]:
    """The rows of a block with blank lines left out and short rows padded with empty fields
    (their missing order or item makes them skipped lines, as pandas read them); a row longer
    than the header is an error naming its line."""
    out = []
    for k, row in enumerate(rows):
        if len(row) > width:
            line = _line_number(path, seen + k + 1)
            raise SummaryInputError(
                f"{fail}: line {line} has {len(row)} fields, the header has {width}"
            )
        if not row:
            continue
        out.append(row if len(row) >= need else row + [""] * (need - len(row)))
    return out


def _line_number(path: Path, record: int) -> int:
    """The line of ``path`` on which data record ``record`` (1 = the first after the header)
    ends: fields may hold line breaks, so it is found by reading again (an error path)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header: list[str] | None = []
        while header == []:
            header = next(reader, None)
        for _ in islice(reader, record):
            pass
        return reader.line_num


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
