"""Reading order lines for market-basket analysis: CSV without pandas, Parquet through DuckDB.

:meth:`retento.analytics.basket.OrderLines.read` builds its order lines from what this module
returns: one order code and one item code per line, never a table of Python objects.

A CSV file is read in blocks of 256 KiB. A *plain* block (no quotes, no spaces after commas,
every line with the header's number of fields, fields of at most 64 bytes) is split by NumPy
on the positions of its commas and newlines; from the first block that is not plain, the rest
of the file goes through the :mod:`csv` module 4,096 rows at a time. Either way each distinct
value is decoded once and numbered through a dictionary, so memory is the codes (12 bytes a
line) plus one block.

Order ids are read as whole numbers when every one of them is (``7`` and ``07`` are one
order); the first id that is not sends the file through a second pass that numbers the ids as
text. pandas' missing-value markers (``NA``, ``null``, ...) count as empty fields, as they did
when pandas read these files.
"""

from __future__ import annotations

import csv
import io
from array import array
from itertools import compress, islice
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retento.analytics.errors import SummaryInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["order_codes", "read_csv_codes", "read_parquet_columns"]


def read_csv_codes(
    path: Path, order_col: str, item_col: str
) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """The order lines of a CSV file as codes.

    Parameters
    ----------
    path : Path
        An existing, non-empty CSV file with a header, UTF-8 text.
    order_col, item_col : str
        The header names of the order (basket) column and of the item column.

    Returns
    -------
    orders : ndarray of int64
        One non-negative order code per line kept (writable memory of this call's own, which
        the caller may overwrite); ``-1`` where a text order id is empty.
    items : ndarray of int32
        One item code per line, numbering ``labels``; ``-1`` where the item is empty.
    labels : list of str
        The distinct item texts, sorted.
    dropped : int
        Lines left out already because their (whole-number) order id was empty.

    Raises
    ------
    SummaryInputError
        Naming a missing column (with the columns there are), a line with more fields than
        the header (with its line number) or a file that is not text in UTF-8.
    """
    try:
        return _read_csv(path, order_col, item_col, True)
    except _TextOrders:
        # An order id that is not a whole number: read again numbering the ids as text
        # (it keeps "7" and "07" apart for text ids, as before; text ids usually show in
        # the first block, so the first pass stops early).
        return _read_csv(path, order_col, item_col, False)


def order_codes(orders: Any) -> np.ndarray:
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


def read_parquet_columns(path: Path, order_col: str, item_col: str) -> pd.DataFrame:
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
