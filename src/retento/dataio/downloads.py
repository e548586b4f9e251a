"""Web list exports: the current filter of a list page as a streamed CSV or XLSX download.

A page hands over a ``produce(session, actor)`` function yielding batches of rows (the header
alone first). The download reads through its own session, because the stream outlives the
request's; CSV goes out batch by batch, XLSX is written by openpyxl's write-only workbook into
a spooled temporary file and then streamed in blocks, so neither holds the list in memory.
Text cells a spreadsheet would run as formulas are neutralised (``dataio.cells``); money stays a
number in XLSX, shown with two decimals (``MONEY_FORMAT``).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.dataio.cells import neutralise
from retento.dataio.exporter import csv_chunks, export_batches

Batches = Iterator[list[list[Any]]]
Producer = Callable[[Session, User], Batches]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BLOCK = 256 * 1024
SPOOL = 16 * 1024 * 1024
# Every ``Decimal`` of an export is an amount of money (the CSV writes them with two decimals,
# ``exporter.cell``); in XLSX it keeps its exact value and carries this format, so 66.00 is shown
# "66.00", not "66" as Excel's General format would.
MONEY_FORMAT = "#,##0.00"
# Control characters XML 1.0 cannot hold (openpyxl refuses them): dropped from XLSX cells.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _in_own_session(request: Request, user: User, produce: Producer) -> Batches:
    user_id = user.id
    factory = request.app.state.session_factory

    def batches() -> Batches:
        s = factory()
        try:
            actor = s.get(User, user_id)
            yield from produce(s, actor)
        finally:
            s.close()

    return batches()


def xlsx_cell(value: Any, tz: ZoneInfo) -> Any:
    """One value as an XLSX cell: numbers stay numbers, times are local and naive (Excel has
    no time zones), formula-looking text is neutralised, control characters are dropped."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        return value.astimezone(tz).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return value
    if isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    text = str(value)
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub("", text)
    return neutralise(text)


def xlsx_row(ws: Any, row: Iterable[Any], tz: ZoneInfo) -> list[Any]:
    """One row for ``ws.append`` of a write-only sheet: values by ``xlsx_cell``, money (a
    ``Decimal``) as a number cell in ``MONEY_FORMAT``."""
    from openpyxl.cell import WriteOnlyCell

    out: list[Any] = []
    for v in row:
        value = xlsx_cell(v, tz)
        if isinstance(value, Decimal) and value.is_finite():
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = MONEY_FORMAT
            value = cell
        out.append(value)
    return out


def xlsx_chunks(batches: Batches, sheet: str, tz: ZoneInfo) -> Iterator[bytes]:
    """The one XLSX writer of every export: ``batches`` (header first) as one sheet, cells by
    ``xlsx_row``, in blocks read from a spooled temporary file."""
    from openpyxl import Workbook

    out = tempfile.SpooledTemporaryFile(max_size=SPOOL)
    with out:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(sheet[:31] or "Sheet1")
        for batch in batches:
            for row in batch:
                ws.append(xlsx_row(ws, row, tz))
        wb.save(out)
        out.seek(0)
        while block := out.read(BLOCK):
            yield block


def download(
    request: Request,
    user: User,
    produce: Producer,
    *,
    fmt: str,
    filename: str,
    sheet: str,
) -> StreamingResponse:
    """The rows of ``produce`` as ``filename.csv`` or ``filename.xlsx`` (``data:export``)."""
    require(user, "data:export")
    batches = _in_own_session(request, user, produce)
    if fmt == "xlsx":
        tz = ZoneInfo(request.app.state.settings.timezone)
        return StreamingResponse(
            xlsx_chunks(batches, sheet, tz),
            media_type=XLSX_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
        )
    return StreamingResponse(
        csv_chunks(batches),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def entity_producer(entity: str, filters: dict[str, Any]) -> Producer:
    """Rows of the importer's format for ``entity`` (products, orders, touchpoints), filtered
    like the list service, so a CSV downloaded from a list page re-imports unchanged."""

    def produce(session: Session, actor: User) -> Batches:
        return export_batches(session, entity, filters)

    return produce


def as_money(value: Any) -> Decimal | None:
    """An amount a page computed (a ``Decimal``, a string or a float from a stored result) as
    an exact 2-place ``Decimal``: floats go through ``repr``, so 0.1 + 0.2 is written 0.30,
    never 0.30000000000000004."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        value = repr(value)
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def as_ratio(value: Any, places: int = 4) -> str | None:
    """A share, rate or statistic rounded to ``places`` decimals as plain text ("0.25" = 25 %,
    trailing zeros dropped); ``cell`` would cut a ``Decimal`` to two places."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        value = repr(value)
    d = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return format(d.normalize(), "f") if d else "0"


def table_download(
    request: Request,
    user: User,
    header: list[str],
    rows: Iterable[Iterable[Any]],
    *,
    filename: str,
) -> StreamingResponse:
    """A table a page computed for its filters as a CSV download (``data:export``), written by
    ``download``: UTF-8 with BOM, ``header`` as given (the caller translates it into the
    reader's language), ``Decimal`` amounts exact, formula-looking text neutralised. The rows
    are computed before the download starts, so a bad filter is a 4xx, not a broken file.

    Money goes through ``as_money`` and shares through ``as_ratio``, never as a float."""
    require(user, "data:export")
    table = [list(r) for r in rows]

    def produce(session: Session, actor: User) -> Batches:
        yield [header]
        if table:
            yield table

    return download(request, user, produce, fmt="csv", filename=filename, sheet=filename)


def export_url(
    request: Request, path: str, keep: tuple[str, ...] | None = None, **params: Any
) -> str:
    """``path`` with the page's query string (only the ``keep`` parameters, if given) and
    ``params`` set on top: a page's "Download CSV" link for the filters it shows."""
    from urllib.parse import urlencode

    pairs = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if (keep is None or k in keep) and k not in params and k != "offset"
    ]
    pairs += [(k, str(v)) for k, v in params.items() if v is not None and v != ""]
    return path + ("?" + urlencode(pairs) if pairs else "")
