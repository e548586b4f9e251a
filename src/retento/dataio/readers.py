"""Reading CSV and XLSX files into (line number, cells) rows, with encoding checks."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from retento.core.errors import FieldError, InvalidInput
from retento.dataio.schemas import MAX_FIELD

# The csv module's own guard; our per-column limits (MAX_FIELD and narrower) come after it.
csv.field_size_limit(max(MAX_FIELD * 10, 1_000_000))

XLSX_MAGIC = b"PK\x03\x04"


@dataclass
class Table:
    """A file opened for reading: its header and an iterator of ``(line, cells)``."""

    name: str
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    size: int = 0
    position: Callable[[], int] = field(default=lambda: 0)
    kind: str = "csv"


def _line_of_bad_bytes(data: bytes, encoding: str) -> tuple[int, str]:
    """Find the first line that does not decode, for the error message."""
    dec = codecs.getincrementaldecoder(encoding)()
    for no, raw in enumerate(data.splitlines(keepends=True), 1):
        try:
            dec.decode(raw)
        except UnicodeDecodeError as exc:
            return no, raw[max(0, exc.start - 8) : exc.end + 8].hex(" ")
    return 1, ""


def _encoding_error(data: bytes, encoding: str) -> InvalidInput:
    line, near = _line_of_bad_bytes(data, encoding)
    hint = (
        " Save the file as UTF-8, or pass --encoding gb18030 (or the file's real encoding)."
        if encoding.replace("-", "").lower().startswith("utf8")
        else ""
    )
    msg = f"Line {line} is not valid {encoding} text (bytes {near}).{hint}"
    return InvalidInput(msg, errors=[FieldError(None, msg, row=line)])


def decode(data: bytes, encoding: str | None) -> str:
    """UTF-8 (BOM optional, UTF-16 with BOM) unless an encoding is given; errors name the line."""
    if encoding is None:
        if data.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            encoding = "utf-8"
    else:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise InvalidInput(f"Unknown encoding '{encoding}'.", field="encoding") from exc
        if encoding.replace("-", "").lower() in ("utf8", "utf8sig"):
            encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise _encoding_error(data, encoding) from None


def _guess_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def read_csv(
    data: bytes, name: str, *, encoding: str | None = None, delimiter: str | None = None
) -> Table:
    """Parse CSV text; ``line`` is the physical line where each record starts (header = 1)."""
    text = decode(data, encoding)
    if not text.strip():
        raise InvalidInput(
            f"{name} is empty: expected a header line and at least one row.",
            errors=[FieldError(None, "The file is empty.", row=1)],
        )
    delim = delimiter or _guess_delimiter(text[: text.find("\n") if "\n" in text else None])
    buf = io.StringIO(text, newline="")
    reader = csv.reader(buf, delimiter=delim)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise InvalidInput(
            f"The header line cannot be read: {exc}.", errors=[FieldError(None, str(exc), row=1)]
        ) from None
    header = [h.strip() for h in header]
    size = len(text)

    def rows() -> Iterator[tuple[int, list[str]]]:
        last = reader.line_num
        while True:
            start = last + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InvalidInput(
                    f"Line {start} cannot be read as CSV: {exc}.",
                    errors=[FieldError(None, f"cannot be read as CSV: {exc}", row=start)],
                ) from None
            last = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            yield start, cells

    return Table(name, header, rows(), size, buf.tell, "csv")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def read_xlsx(data: bytes, name: str) -> Table:
    """The first worksheet of an XLSX workbook; ``line`` is the sheet's row number."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise InvalidInput(f"{name} is not a readable XLSX workbook: {exc}.") from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header_row = None
    for header_row in it:
        if any(v is not None and str(v).strip() for v in header_row):
            break
    else:
        header_row = None
    if header_row is None:
        wb.close()
        raise InvalidInput(
            f"{name} is empty: expected a header row and at least one row.",
            errors=[FieldError(None, "The worksheet is empty.", row=1)],
        )
    header = [_cell(v).strip() for v in header_row]
    while header and not header[-1]:
        header.pop()
    total = ws.max_row or 0
    state = {"row": 1}

    def rows() -> Iterator[tuple[int, list[str]]]:
        for no, values in enumerate(it, 2):
            state["row"] = no
            cells = [_cell(v) for v in values]
            if not any(c.strip() for c in cells):
                continue
            while len(cells) > len(header) and not cells[-1]:
                cells.pop()
            yield no, cells
        wb.close()

    return Table(name, header, rows(), total, lambda: state["row"], "xlsx")


def open_table(
    source: bytes | str | Path | BinaryIO,
    name: str | None = None,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Table:
    """Open CSV or XLSX content (bytes, a path or a binary file); XLSX is recognised by content."""
    if isinstance(source, str | Path):
        p = Path(source)
        if not p.is_file():
            raise InvalidInput(f"File {p} does not exist.", field="file")
        name = name or p.name
        data = p.read_bytes()
    elif isinstance(source, bytes):
        data = source
    else:
        data = source.read()
    name = name or "upload"
    if data.startswith(XLSX_MAGIC) or name.lower().endswith((".xlsx", ".xlsm")):
        return read_xlsx(data, name)
    return read_csv(data, name, encoding=encoding, delimiter=delimiter)
