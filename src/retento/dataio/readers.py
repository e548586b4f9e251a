"""Reading CSV and XLSX files into (line number, cells) rows, as streams, within limits."""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from retento.core.errors import FieldError, InvalidInput, Msg
from retento.core.limits import LimitExceeded, Limits, current_limits, human_size
from retento.dataio.cells import restore_row
from retento.dataio.schemas import MAX_FIELD
from retento.web.i18n import N_

# The csv module's own guard; our per-column limits (MAX_FIELD and narrower) come after it.
csv.field_size_limit(max(MAX_FIELD * 10, 1_000_000))

XLSX_MAGIC = b"PK\x03\x04"
# A Compound File (OLE2): an Excel 97-2003 workbook (.xls), or an encrypted (password) .xlsx.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Why a file named or looking like a workbook cannot be read, in words rather than the library's
# exception text ("File is not a zip file", "There is no item named 'xl/workbook.xml' …").
NOT_A_WORKBOOK = N_(
    "%(name)s is not an Excel workbook (.xlsx): its content is of another kind (a CSV file "
    "renamed to .xlsx, or a damaged copy?). Save it from Excel as an Excel workbook (.xlsx), or "
    "import it as CSV."
)
OLD_OR_LOCKED_WORKBOOK = N_(
    "%(name)s is an Excel 97-2003 workbook (.xls) or a password-protected workbook, which "
    "cannot be read. Save it from Excel as an Excel workbook (.xlsx) without a password, or as "
    "CSV."
)
NOT_A_WORKBOOK_ARCHIVE = N_(
    "%(name)s is not an Excel workbook (.xlsx): it is a zip archive without a workbook's parts "
    "(another kind of document renamed to .xlsx, or a damaged copy?). Save it from Excel as an "
    "Excel workbook (.xlsx), or import it as CSV."
)
DAMAGED_WORKBOOK = N_(
    "%(name)s is damaged and cannot be read as an Excel workbook (.xlsx). Open it in Excel and "
    "save it again, or import it as CSV."
)
NO_WORKSHEET = N_("%(name)s has no worksheet.")


@dataclass
class Table:
    """A file opened for reading: its header and an iterator of ``(line, cells)``."""

    name: str
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    size: int = 0
    position: Callable[[], int] = field(default=lambda: 0)
    kind: str = "csv"
    release: Callable[[], None] = field(default=lambda: None)
    # XLSX: line → the column indexes whose cell holds a formula without a saved value (read as
    # empty; the importer says so instead: ``messages.FORMULA_PROBLEM``). Filled while reading.
    uncalculated: dict[int, set[int]] = field(default_factory=dict)
    # The line of the header: 2 in a CSV file that opens with Excel's "sep=;" line.
    header_line: int = 1

    def close(self) -> None:
        """Let go of the file (closed if this module opened it); safe to call twice."""
        self.release()


CHUNK = 64 * 1024


def _line_of_bad_bytes(fh: BinaryIO, encoding: str) -> tuple[int, str]:
    """Find the first line that does not decode (re-reading the file), for the error message."""
    fh.seek(0)
    dec = codecs.getincrementaldecoder(encoding)()
    for no, raw in enumerate(fh, 1):
        try:
            dec.decode(raw)
        except UnicodeDecodeError as exc:
            return no, raw[max(0, exc.start - 8) : exc.end + 8].hex(" ")
    return 1, ""


def _encoding_error(fh: BinaryIO, encoding: str) -> InvalidInput:
    line, near = _line_of_bad_bytes(fh, encoding)
    hint = (
        " Save the file as UTF-8, or pass --encoding gb18030 (or the file's real encoding)."
        if encoding.replace("-", "").lower().startswith("utf8")
        else ""
    )
    msg = f"Line {line} is not valid {encoding} text (bytes {near}).{hint}"
    return InvalidInput(msg, errors=[FieldError(None, msg, row=line)])


def undecodable_line(fh: BinaryIO, encoding: str | None = None) -> int | None:
    """The first line of ``fh`` (read from its start, in chunks) that is not ``encoding`` text
    (None: what ``read_csv`` reads by default: UTF-8, BOM optional, or UTF-16 with a BOM), or
    None when all of it is: for an import that tries another encoding before reading."""
    fh.seek(0)
    enc = _encoding_of(fh.read(4), encoding)
    fh.seek(0)
    dec = codecs.getincrementaldecoder(enc)()
    try:
        while chunk := fh.read(CHUNK):
            dec.decode(chunk)
        dec.decode(b"", final=True)
        return None
    except UnicodeDecodeError:
        return _line_of_bad_bytes(fh, enc)[0]
    finally:
        fh.seek(0)


def _encoding_of(head: bytes, encoding: str | None) -> str:
    """UTF-8 (BOM optional, UTF-16 with BOM) unless an encoding is given."""
    if encoding is None:
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        return "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise InvalidInput(
            Msg("Unknown encoding '%(name)s'.", name=encoding), field="encoding"
        ) from exc
    if encoding.replace("-", "").lower() in ("utf8", "utf8sig"):
        return "utf-8-sig"
    return encoding


def decode(data: bytes, encoding: str | None) -> str:
    """Bytes to text as ``read_csv`` decodes them; errors name the first bad line."""
    enc = _encoding_of(data[:4], encoding)
    try:
        return data.decode(enc)
    except UnicodeDecodeError:
        raise _encoding_error(io.BytesIO(data), enc) from None


# Excel's first line naming the file's separator ("sep=;"), written by some programs' "CSV
# (semicolon)" exports and read by Excel, which takes the separator from it and hides the line.
_SEP_LINE = re.compile(r'^"?sep=([^"\r\n])"?$', re.IGNORECASE)


def declared_delimiter(first_line: str) -> str | None:
    """The separator an Excel ``sep=X`` first line declares, or None for any other line."""
    m = _SEP_LINE.match(first_line.rstrip("\r\n"))
    return m.group(1) if m else None


def _guess_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _quote_column(fh: BinaryIO, encoding: str, delim: str, line: int) -> int | None:
    """The index of the field whose quote breaks the record starting on ``line`` (the last one
    the line opens), found by re-reading that line leniently."""
    try:
        fh.seek(0)
        for no, raw in enumerate(fh, 1):
            if no == line:
                text = raw.decode(encoding, errors="replace")
                return len(next(csv.reader([text], delimiter=delim), [""])) - 1
    except (OSError, csv.Error):
        return None
    return None


def _seekable(source: BinaryIO) -> BinaryIO:
    """``source`` itself if it can seek, else a temporary copy (spilled to disk past 8 MB)."""
    try:
        if source.seekable():
            return source
    except (AttributeError, ValueError):
        pass
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    shutil.copyfileobj(source, spool, CHUNK)
    spool.seek(0)
    return spool


def too_long(exc: csv.Error) -> bool:
    """Whether the csv module refused a value past its size limit (``field_size_limit``)."""
    return "field larger than field limit" in str(exc)


def too_long_reason() -> Msg:
    """Why a value past the csv module's size limit was refused, in words, with the limit."""
    return Msg(
        "a value is longer than %(limit)s characters; shorten it or split it",
        limit=f"{csv.field_size_limit():,}",
    )


# Why the csv module refused a record, in words (its own messages are English and name C
# characters: "',' expected after '\"'"); the row and column are said around them.
NEVER_CLOSED = N_(
    "a quoted value is never closed, so the quote swallows the rest of the file; close the "
    'quote (write a quote inside a value as two quotes: "")'
)
TEXT_AFTER_QUOTE = N_(
    "text follows a closing quote where the separator '%(separator)s' or the end of the line "
    "must come; quote the whole value"
)
TEXT_AFTER_QUOTE_TAB = N_(
    "text follows a closing quote where the separator (a tab) or the end of the line must come; "
    "quote the whole value"
)
LINE_BREAK_UNQUOTED = N_("a value that is not quoted holds a line break; quote the whole value")
NUL_IN_LINE = N_("the line holds a NUL character (is it a text file?)")
UNREADABLE_RECORD = N_("the line cannot be read as CSV (%(error)s)")


def csv_reason(exc: csv.Error, delimiter: str) -> Msg:
    """Why the csv module refused a record (``exc``), as a translatable message."""
    text = str(exc)
    if "end of data" in text:
        return Msg(NEVER_CLOSED)
    if too_long(exc):
        return too_long_reason()
    if re.fullmatch(r"'.' expected after '.'", text, re.S):
        if delimiter == "\t":
            return Msg(TEXT_AFTER_QUOTE_TAB)
        return Msg(TEXT_AFTER_QUOTE, separator=delimiter)
    if text.startswith("new-line character seen in unquoted field"):
        return Msg(LINE_BREAK_UNQUOTED)
    if "NUL" in text:
        return Msg(NUL_IN_LINE)
    return Msg(UNREADABLE_RECORD, error=text)


def read_csv(
    source: bytes | BinaryIO,
    name: str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    owned: bool = False,
) -> Table:
    """Stream CSV records from bytes or a binary file (closed at the end if ``owned``); ``line``
    is the physical line where each record starts (header = 1, or 2 after Excel's ``sep=;``
    line, which gives the separator unless ``delimiter`` does, and is skipped). The file is
    decoded as it is read, never held whole in memory. A quote left open (which would swallow
    the rest of the file into one value) or text after a closing quote is refused with its line
    and column; bytes that do not decode name their line.
    """
    fh: BinaryIO = _seekable(io.BytesIO(source) if isinstance(source, bytes) else source)
    start_pos = fh.tell()
    size = fh.seek(0, io.SEEK_END) - start_pos
    fh.seek(start_pos)
    head = fh.read(CHUNK)
    fh.seek(start_pos)
    enc = _encoding_of(head[:4], encoding)
    sample = head.decode(enc, errors="replace").lstrip("\ufeff")
    if not sample.strip() and size <= len(head):
        raise InvalidInput(
            Msg("%(name)s is empty: expected a header line and at least one row.", name=name),
            errors=[FieldError(None, "The file is empty.", row=1)],
        )
    lines = sample.split("\n", 2)
    declared = declared_delimiter(lines[0])
    skipped = 0 if declared is None else 1
    first = lines[skipped] if len(lines) > skipped else ""
    delim = delimiter or declared or _guess_delimiter(first)
    text = io.TextIOWrapper(fh, encoding=enc, errors="strict", newline="")
    if skipped:
        try:
            text.readline()
        except UnicodeDecodeError:
            raise _encoding_error(fh, enc) from None
    reader = csv.reader(text, delimiter=delim, strict=True)
    header_line = 1 + skipped

    def release() -> None:
        try:  # a caller's file stays open; the wrapper lets go of it
            text.close() if owned else text.detach()
        except (ValueError, OSError):
            pass

    header_cells: list[str] = []

    def bad_record(start: int, exc: csv.Error) -> InvalidInput:
        col = _quote_column(fh, enc, delim, start)
        column = None
        if col is not None and 0 <= col < len(header_cells):
            column = header_cells[col] or None
        where = (
            Msg("line %(line)s, column %(column)s", line=start, column=column)
            if column
            else Msg("line %(line)s", line=start)
        )
        reason = csv_reason(exc, delim)
        return InvalidInput(
            Msg("%(name)s: %(where)s: %(reason)s.", name=name, where=where, reason=reason),
            field=column,
            errors=[FieldError(column, reason, row=start)],
        )

    try:
        try:
            header = next(reader)
        except StopIteration:
            header = []
        except UnicodeDecodeError:
            raise _encoding_error(fh, enc) from None
        except csv.Error as exc:
            why = csv_reason(exc, delim)
            raise InvalidInput(
                Msg("The header line cannot be read: %(error)s.", error=why),
                errors=[FieldError(None, why, row=header_line)],
            ) from None
        header = [h.strip() for h in header]
        header_cells.extend(header)
        if not any(header):
            raise InvalidInput(
                Msg("%(name)s is empty: expected a header line and at least one row.", name=name),
                errors=[FieldError(None, "The file is empty.", row=header_line)],
            )
    except BaseException:
        release()
        raise

    def rows() -> Iterator[tuple[int, list[str]]]:
        last = reader.line_num + skipped
        try:
            while True:
                start = last + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except UnicodeDecodeError:
                    raise _encoding_error(fh, enc) from None
                except csv.Error as exc:
                    raise bad_record(start, exc) from None
                last = reader.line_num + skipped
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                yield start, restore_row(cells)
        finally:
            release()

    return Table(
        name, header, rows(), size, lambda: fh.tell() - start_pos, "csv", release,
        header_line=header_line,
    )  # fmt: skip


class _Uncalculated:
    """The value read for a formula cell without a saved value (``<f>`` but no ``<v>``): what
    Excel writes is calculated and saved with it; a file written by a program (or saved with
    manual calculation) may carry only the formula."""

    def __str__(self) -> str:
        return ""

    def __repr__(self) -> str:
        return "UNCALCULATED"


UNCALCULATED = _Uncalculated()
MAX_UNCALCULATED = 100_000  # rows whose formula cells are remembered (the rest read as empty)


def _cell(value: object) -> str:
    if value is None or value is UNCALCULATED:
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


_WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_GRACE_BYTES = 1024 * 1024  # entries smaller than this inflate too little to matter


def _too_large(msg: str, row: int | None = None, **params: object) -> LimitExceeded:
    return LimitExceeded(msg, field="file", row=row, **params)


def _worksheet_parts(zf: zipfile.ZipFile, limits: Limits) -> set[str]:
    """Parts declared only as worksheets ([Content_Types].xml): openpyxl streams those in
    read-only mode; every other part (shared strings, styles …) it reads whole into memory."""
    from xml.etree import ElementTree

    try:
        info = zf.getinfo("[Content_Types].xml")
    except KeyError:
        return set()
    if info.file_size > limits.xlsx_part_bytes:
        return set()  # refused below as an oversized part
    kinds: dict[str, set[str]] = {}
    try:
        root = ElementTree.fromstring(zf.read(info))
    except (ElementTree.ParseError, zipfile.BadZipFile, OSError, EOFError):
        return set()
    for el in root:
        part = el.get("PartName")
        if el.tag.endswith("Override") and part:
            kinds.setdefault(part.lstrip("/"), set()).add(el.get("ContentType", ""))
    return {part for part, types in kinds.items() if types == {_WORKSHEET_TYPE}}


def check_xlsx_archive(fh: BinaryIO, name: str, limits: Limits | None = None) -> None:
    """Refuse a zip bomb before openpyxl inflates anything: the sizes the zip directory declares
    bound what ``zipfile`` will ever return, so they are checked first (413, field ``file``)."""
    limits = limits or current_limits()
    start = fh.tell()
    magic = fh.read(len(OLE2_MAGIC))
    fh.seek(start)
    if magic == OLE2_MAGIC:
        raise InvalidInput(Msg(OLD_OR_LOCKED_WORKBOOK, name=name), field="file")
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise InvalidInput(Msg(NOT_A_WORKBOOK, name=name), field="file") from None
    infos = zf.infolist()
    if len(infos) > limits.xlsx_entries:
        raise _too_large(
            N_("%(name)s holds %(n)s files; an XLSX workbook may hold at most %(max)s."),
            name=name,
            n=f"{len(infos):,}",
            max=f"{limits.xlsx_entries:,}",
        )
    sheets = _worksheet_parts(zf, limits)
    total = 0
    for info in infos:
        total += info.file_size
        packed = max(info.compress_size, 1)
        if info.file_size > _GRACE_BYTES and info.file_size > limits.xlsx_ratio * packed:
            raise _too_large(
                N_(
                    "%(name)s looks like a zip bomb: %(part)s would inflate to %(size)s (%(ratio)s "
                    "times its packed size; the limit is %(max)s times)."
                ),
                name=name,
                part=info.filename,
                size=human_size(info.file_size),
                ratio=f"{info.file_size // packed:,}",
                max=limits.xlsx_ratio,
            )
        if info.filename not in sheets and info.file_size > limits.xlsx_part_bytes:
            raise _too_large(
                N_(
                    "%(name)s: %(part)s would inflate to %(size)s, and it is read whole into "
                    "memory; the limit is %(max)s."
                ),
                name=name,
                part=info.filename,
                size=human_size(info.file_size),
                max=human_size(limits.xlsx_part_bytes),
            )
    if total > limits.xlsx_uncompressed_bytes:
        raise _too_large(
            N_(
                "%(name)s would inflate to %(size)s; the limit is %(max)s. Split the workbook or "
                "import CSV."
            ),
            name=name,
            size=human_size(total),
            max=human_size(limits.xlsx_uncompressed_bytes),
        )


def open_xlsx(source: bytes | BinaryIO, name: str) -> Any:
    """The first worksheet of a workbook (read-only, values only), after the archive checks."""
    import openpyxl

    fh = _seekable(io.BytesIO(source) if isinstance(source, bytes) else source)
    start = fh.tell()
    check_xlsx_archive(fh, name)
    fh.seek(start)
    try:
        wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except KeyError:  # a part every workbook has is missing ("There is no item named …")
        raise InvalidInput(Msg(NOT_A_WORKBOOK_ARCHIVE, name=name), field="file") from None
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise InvalidInput(Msg(DAMAGED_WORKBOOK, name=name), field="file") from None
    if not wb.worksheets:
        wb.close()
        raise InvalidInput(Msg(NO_WORKSHEET, name=name), field="file")
    return wb, wb.worksheets[0]


@cache
def _formula_aware_parser() -> type:
    """openpyxl's worksheet parser, reading a formula cell without a saved value as
    ``UNCALCULATED`` rather than as empty (``None``, like a blank cell): a formula with no
    ``<v>``, or an empty one (as openpyxl writes formulas), unless its saved result is text
    (``t="str"``: a formula that gave "" was calculated)."""
    from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

    class Parser(WorkSheetParser):
        def parse_cell(self, element: Any) -> dict[str, Any]:
            cell = super().parse_cell(element)
            if (
                cell["value"] is None
                and element.get("t") != "str"
                and element.find(FORMULA_TAG) is not None
            ):
                cell["value"] = UNCALCULATED
            return cell

    return Parser


def _sheet_values(ws: Any, width: int, name: str) -> Iterator[tuple[Any, ...]]:
    """The rows of a read-only worksheet as value tuples of ``width`` (a missing row is all
    ``None``), as ``ws.iter_rows(values_only=True, max_col=width)`` after
    ``reset_dimensions`` gives them, but with formula cells lacking a saved value read as
    ``UNCALCULATED``. A sheet that breaks off (damaged XML or zip data) is refused in words."""
    if not (hasattr(ws, "_get_source") and hasattr(ws, "_get_row")):
        yield from ws.iter_rows(values_only=True, max_col=width)  # not openpyxl's read-only sheet
        return
    parent = ws.parent
    empty = (None,) * width
    counter = 1
    try:
        with ws._get_source() as src:
            parser = _formula_aware_parser()(
                src,
                ws._shared_strings,
                data_only=True,
                epoch=parent.epoch,
                date_formats=parent._date_formats,
                timedelta_formats=parent._timedelta_formats,
            )
            for idx, row in parser.parse():
                while counter < idx:
                    counter += 1
                    yield empty
                counter += 1
                yield ws._get_row(row, 1, width, True)
    except InvalidInput:
        raise
    except Exception:  # noqa: BLE001 - XML or zip errors of a damaged sheet
        raise InvalidInput(Msg(DAMAGED_WORKBOOK, name=name), field="file") from None


def xlsx_rows(ws: Any, name: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(row number, values)`` of a read-only worksheet within the row and column limits.

    The dimension a sheet declares only sets the row width when it is within the limits; it is
    otherwise ignored (a tiny sheet claiming ``A1:XFD1048576`` would be padded to 17 billion
    empty cells), and the rows and columns actually present are counted instead.
    """
    limits = current_limits()
    max_rows, max_cols = limits.xlsx_rows, limits.xlsx_columns
    declared = ws.max_column
    # One column more than allowed, so a value there can be noticed and refused.
    width = declared if declared and declared <= max_cols else max_cols + 1
    ws.reset_dimensions()
    for no, values in enumerate(_sheet_values(ws, width, name), 1):
        if no > max_rows:
            raise _too_large(
                N_(
                    "%(name)s has more than %(max)s rows; the limit is %(max)s rows. Split the file "
                    "or import it as CSV."
                ),
                row=no,
                name=name,
                max=f"{max_rows:,}",
            )
        if len(values) > max_cols and values[max_cols] is not None:
            raise _too_large(
                N_(
                    "%(name)s: row %(line)s has more than %(max)s columns; the limit is %(max)s "
                    "columns."
                ),
                row=no,
                name=name,
                line=no,
                max=max_cols,
            )
        yield no, values


def read_xlsx(source: bytes | BinaryIO, name: str, owned: bool = False) -> Table:
    """The first worksheet of an XLSX workbook; ``line`` is the sheet's row number."""
    try:
        wb, ws = open_xlsx(source, name)
    except BaseException:
        if owned and not isinstance(source, bytes):
            source.close()
        raise

    def release() -> None:
        wb.close()
        if owned and not isinstance(source, bytes):
            source.close()

    total = ws.max_row or 0
    it = xlsx_rows(ws, name)
    header_row = None
    try:
        for _, header_row in it:
            if any(v is not None and str(v).strip() for v in header_row):
                break
        else:
            header_row = None
    except BaseException:
        release()
        raise
    if header_row is None:
        release()
        raise InvalidInput(
            Msg("%(name)s is empty: expected a header row and at least one row.", name=name),
            errors=[FieldError(None, "The worksheet is empty.", row=1)],
        )
    header = [_cell(v).strip() for v in header_row]
    while header and not header[-1]:
        header.pop()
    state = {"row": 1}
    uncalculated: dict[int, set[int]] = {}

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for no, values in it:
                state["row"] = no
                cells = [_cell(v) for v in values]
                if UNCALCULATED in values:
                    if len(uncalculated) < MAX_UNCALCULATED:
                        uncalculated[no] = {i for i, v in enumerate(values) if v is UNCALCULATED}
                elif not any(c.strip() for c in cells):
                    continue
                while len(cells) > len(header) and not cells[-1]:
                    cells.pop()
                yield no, restore_row(cells)
        finally:
            release()

    return Table(name, header, rows(), total, lambda: state["row"], "xlsx", release, uncalculated)


def open_table(
    source: bytes | str | Path | BinaryIO,
    name: str | None = None,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Table:
    """Open CSV or XLSX content (bytes, a path or a binary file, read as a stream); XLSX is
    recognised by its content or its name."""
    if isinstance(source, str | Path):
        p = Path(source)
        if not p.is_file():
            raise InvalidInput(Msg("File %(path)s does not exist.", path=p), field="file")
        name = name or p.name
        fh: BinaryIO = p.open("rb")
    elif isinstance(source, bytes):
        fh = io.BytesIO(source)
    else:
        fh = _seekable(source)
    name = name or "upload"
    start = fh.tell()
    magic = fh.read(len(OLE2_MAGIC))
    fh.seek(start)
    owned = isinstance(source, str | Path)
    try:
        # An old .xls (or a password-protected workbook) is refused as one (check_xlsx_archive),
        # not read as CSV text that does not decode; a text file named .xls (an export in tab-
        # separated text) is read as the text it is.
        workbook = magic.startswith(XLSX_MAGIC) or magic == OLE2_MAGIC
        if workbook or name.lower().endswith((".xlsx", ".xlsm")):
            return read_xlsx(fh, name, owned=owned)
        return read_csv(fh, name, encoding=encoding, delimiter=delimiter, owned=owned)
    except BaseException:
        if owned:
            fh.close()
        raise
