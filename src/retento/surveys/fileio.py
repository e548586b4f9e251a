"""Survey responses in and out of CSV/XLSX files, with row-level validation (line + column)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.config import get_settings
from retento.core.errors import FieldError, InvalidInput, Msg
from retento.core.types import ID_MAX
from retento.customers.models import Customer
from retento.dataio.cells import neutralise, neutralise_row, restore
from retento.dataio.readers import open_xlsx, read_csv, undecodable_line, xlsx_rows
from retento.surveys.ingest import EXPORT_ID_PREFIX, IngestRow, ingest
from retento.surveys.languages import option_labels
from retento.surveys.models import CHANNELS, Survey, SurveyQuestion, SurveyResponse
from retento.surveys.schemas import AnswerIn
from retento.surveys.service import _survey

MAX_ROWS = 100_000
META_COLUMNS = (
    "response_id",
    "customer_id",
    "customer_external_id",
    "channel",
    "status",
    "completed_at",
)
EXPECTATION_SUFFIXES = (".expectation", ".a")
PERCEPTION_SUFFIXES = (".perception", ".b")
MULTI_SEPARATORS = ("|", ";")


# Rows of a file as read: ``(line, cells)``, the header first (line 2 after Excel's "sep=;").
Lines = list[tuple[int, list[Any]]]


def read_table(content: bytes | BinaryIO, filename: str) -> Lines:
    """The rows of the first sheet of an XLSX file or of a CSV file, each with its line.

    Both go through the readers every import uses (``dataio.readers``): XLSX through the same
    archive and size checks; CSV through ``read_csv`` (BOM, UTF-16, Excel's ``sep=;`` line, a
    broken quote refused naming its line and column in the reader's words), as UTF-8 or else as
    GB18030 (Excel's CSV on a Chinese Windows). Text cells lose the quote that exports put
    before formula-like text (``dataio.cells``)."""
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")):
        wb, ws = open_xlsx(content, filename)
        try:
            out: Lines = []
            for line, values in xlsx_rows(ws, filename):
                out.append((line, [restore(v) if isinstance(v, str) else v for v in values]))
                if len(out) > MAX_ROWS + 1:  # parse_rows reports the row limit
                    break
            return out
        finally:
            wb.close()
    if not name.endswith((".csv", ".txt")):
        raise InvalidInput("Send a .csv or .xlsx file.", field="file")
    fh: BinaryIO = io.BytesIO(content) if isinstance(content, bytes) else content
    if not fh.seekable():
        fh = io.BytesIO(fh.read())
    encoding = None  # read_csv's own: UTF-8 (BOM optional), UTF-16 with a BOM
    line = undecodable_line(fh)
    if line is not None:
        if undecodable_line(fh, "gb18030") is not None:
            raise InvalidInput(
                Msg("Line %(line)s of the CSV file is neither UTF-8 nor GB18030 text.", line=line),
                field="file",
                errors=[FieldError("file", "is neither UTF-8 nor GB18030 text", line)],
            )
        encoding = "gb18030"
    try:
        table = read_csv(fh, filename, encoding=encoding)
        try:
            out = [(table.header_line, list(table.header))]
            for row in table.rows:
                out.append(row)
                if len(out) > MAX_ROWS + 1:
                    break
            return out
        finally:
            table.close()
    except InvalidInput as exc:
        if exc.field is not None:  # a broken quote: its column, with the line in ``errors``
            raise
        # An empty file, a header the csv module refuses: the file is what is wrong.
        raise InvalidInput(exc.message, field="file", errors=exc.errors) from None


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _number(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("is not a number")
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v).strip().replace(",", "."))
    except ValueError:
        raise ValueError(Msg("'%(v)s' is not a number", v=v)) from None


def _timestamp(v: Any) -> datetime:
    local = ZoneInfo(get_settings().timezone)
    if isinstance(v, datetime):
        dt = v
    elif isinstance(v, date):
        dt = datetime.combine(v, time())
    else:
        text = str(v).strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                Msg("'%(value)s' is not a date (use YYYY-MM-DD or ISO 8601)", value=text)
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=local)
    return dt.astimezone(UTC)


def _choice(q: SurveyQuestion, raw: str) -> str:
    """An option value from a cell holding the value or a label in any of the survey's
    languages (an export with labels in Chinese imports back to the same answers)."""
    text = raw.strip()
    for o in q.options or []:
        if text == o["value"]:
            return o["value"]
    labels = [(o["value"], o["label"]) for o in q.options or []]
    for t in (q.translations or {}).values():
        labels += [(v, label) for v, label in (t.get("options") or {}).items()]
    for value, label in labels:
        if text.lower() in (value.lower(), label.lower()):
            return value
    return text


def _map_header(
    header: list[Any], questions: dict[str, SurveyQuestion], line: int = 1
) -> tuple[dict[int, tuple[str, SurveyQuestion | None, str]], list[FieldError]]:
    """Column index -> (column name, question or None for meta columns, part); problems are
    said on the header's ``line``."""
    out: dict[int, tuple[str, SurveyQuestion | None, str]] = {}
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, cell in enumerate(header):
        name = "" if cell is None else str(cell).strip()
        if not name:
            continue
        if name in seen:
            errors.append(FieldError(name, "This column appears twice.", line))
            continue
        seen.add(name)
        if name in META_COLUMNS:
            out[i] = (name, None, "meta")
        elif name in questions and questions[name].qtype != "expectation_perception":
            out[i] = (name, questions[name], "value")
        elif name in questions:
            errors.append(
                FieldError(
                    name,
                    f"'{name}' is an expectation/perception pair: use the columns "
                    f"'{name}.expectation' and '{name}.perception'.",
                    line,
                )
            )
        else:
            for part, suffixes in (("a", EXPECTATION_SUFFIXES), ("b", PERCEPTION_SUFFIXES)):
                base = next((name[: -len(s)] for s in suffixes if name.endswith(s)), None)
                q = questions.get(base) if base else None
                if q is not None and q.qtype == "expectation_perception":
                    out[i] = (name, q, part)
                    break
            else:
                errors.append(
                    FieldError(
                        name, "Unknown column: neither a question code nor a known field.", line
                    )
                )
    parts: dict[str, set[str]] = {}
    for _, q, part in out.values():
        if q is not None and part in ("a", "b"):
            parts.setdefault(q.code, set()).add(part)
    for code, got in parts.items():
        if got != {"a", "b"}:
            errors.append(
                FieldError(code, "Both the expectation and the perception column are needed.", line)
            )
    if not any(q is not None for _, q, _ in out.values()):
        errors.append(FieldError(None, "The header names no question of this survey.", line))
    return out, errors


def parse_rows(survey: Survey, table: Lines) -> list[IngestRow]:
    """Turn a table (header + rows, each with its line: ``read_table``) into responses to
    ingest; cell problems stay on their row."""
    if not table:
        raise InvalidInput("The file is empty.", field="file")
    if len(table) - 1 > MAX_ROWS:
        raise InvalidInput(
            Msg("At most %(max)s rows can be imported at once.", max=MAX_ROWS), field="file"
        )
    questions = {q.code: q for q in survey.questions}
    header_line, header = table[0]
    columns, header_errors = _map_header(header, questions, header_line)
    if header_errors:
        raise InvalidInput(
            Msg("The header row has %(n)s problem(s); nothing was imported.", n=len(header_errors)),
            field=header_errors[0].field,
            errors=header_errors,
        )
    rows: list[IngestRow] = []
    for n, cells in table[1:]:
        if all(_blank(c) for c in cells):
            continue
        row = IngestRow(row=n)
        pairs: dict[str, dict[str, float]] = {}
        for i, (name, q, part) in columns.items():
            value = cells[i] if i < len(cells) else None
            if _blank(value):
                continue
            if isinstance(value, str) and "\x00" in value:
                # PostgreSQL text cannot hold it: the lookup or the insert failed field-less.
                row.errors.append(FieldError(name, "contains a NUL character", n))
                continue
            try:
                if q is None:
                    _set_meta(row, name, value)
                elif part in ("a", "b"):
                    pairs.setdefault(q.code, {})[part] = _number(value)
                elif q.qtype in ("rating", "nps", "ces"):
                    row.answers.append(AnswerIn(question=q.code, number=_number(value)))
                elif q.qtype == "free_text":
                    row.answers.append(AnswerIn(question=q.code, text=str(value)))
                else:
                    raw = str(value)
                    if q.qtype == "multiple_choice":
                        for sep in MULTI_SEPARATORS[1:]:
                            raw = raw.replace(sep, MULTI_SEPARATORS[0])
                        picked = [
                            _choice(q, p) for p in raw.split(MULTI_SEPARATORS[0]) if p.strip()
                        ]
                    else:
                        picked = [_choice(q, raw)]
                    row.answers.append(AnswerIn(question=q.code, choices=picked))
            except ValidationError as exc:
                row.errors.append(FieldError(name, exc.errors()[0]["msg"], n))
            except ValueError as exc:
                row.errors.append(FieldError(name, str(exc), n))
        for code, got in pairs.items():
            if set(got) != {"a", "b"}:
                missing = "perception" if "a" in got else "expectation"
                row.errors.append(FieldError(f"{code}.{missing}", "This cell is empty.", n))
                continue
            row.answers.append(AnswerIn(question=code, expectation=got["a"], number=got["b"]))
        rows.append(row)
    if not rows:
        raise InvalidInput("The file has a header but no data rows.", field="file")
    return rows


def _set_meta(row: IngestRow, name: str, value: Any) -> None:
    text = str(value).strip()
    if name == "response_id":
        if len(text) > 64:
            raise ValueError("is longer than 64 characters")
        row.external_id = text
    elif name == "customer_id":
        number = _number(value)
        if number != int(number):
            raise ValueError(Msg("'%(v)s' is not a whole number", v=text))
        if not 1 <= int(number) <= ID_MAX:  # past 2^63 the database refuses the lookup
            raise ValueError(Msg("'%(value)s' is not a customer id", value=text))
        row.customer_id = int(number)
    elif name == "customer_external_id":
        row.customer_external_id = text
    elif name == "channel":
        if text not in CHANNELS:
            raise ValueError(
                Msg(
                    "'%(value)s' is not a channel (%(choices)s)",
                    value=text,
                    choices=", ".join(CHANNELS),
                )
            )
        row.channel = text
    elif name == "status":
        if text not in ("completed", "partial"):
            raise ValueError("status must be 'completed' or 'partial'")
        row.status = text
    elif name == "completed_at":
        row.completed_at = _timestamp(value)


def import_responses(
    session: Session,
    survey_id: int,
    content: bytes | BinaryIO,
    filename: str,
    *,
    actor: User,
    skip_invalid: bool = False,
    channel: str = "mail",
) -> dict[str, Any]:
    """Import a CSV/XLSX of responses: all rows or none, unless ``skip_invalid``."""
    require(actor, "survey:import")
    if channel not in CHANNELS:
        raise InvalidInput(Msg("'%(channel)s' is not a channel.", channel=channel), field="channel")
    survey = _survey(session, survey_id)
    rows = parse_rows(survey, read_table(content, filename))
    return ingest(
        session,
        survey,
        rows,
        actor=actor,
        channel=channel,
        source="import",
        skip_invalid=skip_invalid,
    )


def export_columns(survey: Survey) -> list[str]:
    cols = list(META_COLUMNS)
    for q in survey.questions:
        if q.qtype == "expectation_perception":
            cols += [f"{q.code}.expectation", f"{q.code}.perception"]
        else:
            cols.append(q.code)
    return cols


def export_rows(
    session: Session, survey_id: int, *, actor: User, labels: str | None = None
) -> tuple[list[str], list[list]]:
    """The survey's responses as a header and rows, in the import format (round-trips).

    Choices are option values, or with ``labels`` (``en`` / ``zh_CN``) option labels in that
    language where the survey has them; both import back to the same answers."""
    require(actor, "survey:read")
    require(actor, "data:export")
    survey = _survey(session, survey_id)
    header = export_columns(survey)
    codes = {q.id: q for q in survey.questions}
    ext = dict(
        session.execute(
            select(Customer.id, Customer.external_id)
            .join(SurveyResponse, SurveyResponse.customer_id == Customer.id)
            .where(SurveyResponse.survey_id == survey.id)
        ).all()
    )
    rows = []
    stmt = (
        select(SurveyResponse)
        .where(SurveyResponse.survey_id == survey.id)
        .order_by(SurveyResponse.id)
        .options(selectinload(SurveyResponse.answers))
        .execution_options(yield_per=1000)
    )
    for r in session.scalars(stmt):
        values: dict[str, Any] = {
            "response_id": r.external_id or f"{EXPORT_ID_PREFIX}{r.id}",
            "customer_id": r.customer_id,
            "customer_external_id": ext.get(r.customer_id) if r.customer_id else None,
            "channel": r.channel,
            "status": r.status,
            "completed_at": r.completed_at.isoformat() if r.completed_at else None,
        }
        for a in r.answers:
            q = codes.get(a.question_id)
            if q is None:
                continue
            if q.qtype == "expectation_perception":
                values[f"{q.code}.expectation"] = _plain(a.expectation)
                values[f"{q.code}.perception"] = _plain(a.number)
            elif q.qtype in ("rating", "nps", "ces"):
                values[q.code] = _plain(a.number)
            elif q.qtype == "free_text":
                values[q.code] = a.text
            elif labels:
                names = option_labels(q, labels)
                values[q.code] = MULTI_SEPARATORS[0].join(names.get(c, c) for c in a.choices or [])
            else:
                values[q.code] = MULTI_SEPARATORS[0].join(a.choices or [])
        rows.append([values.get(c) for c in header])
    return header, rows


def _plain(v: float | None) -> int | float | None:
    if v is None:
        return None
    return int(v) if float(v).is_integer() else v


def export_bytes(
    session: Session, survey_id: int, *, actor: User, fmt: str = "csv", labels: str | None = None
) -> bytes:
    """The export as CSV (UTF-8 with BOM, opens in Excel) or XLSX bytes."""
    header, rows = export_rows(session, survey_id, actor=actor, labels=labels)
    # Free-text answers come from customers: no text cell may open as a live formula.
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("responses")
        ws.append(header)
        for r in rows:
            cells = []
            for v in r:
                cell = WriteOnlyCell(ws, value=neutralise(v))
                if isinstance(v, str):
                    cell.data_type = "s"  # text, never a formula
                cells.append(cell)
            ws.append(cells)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    if fmt != "csv":
        raise InvalidInput("format must be 'csv' or 'xlsx'.", field="format")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(neutralise_row(header))
    w.writerows(neutralise_row(["" if v is None else v for v in r]) for r in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
