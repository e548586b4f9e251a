"""The import run's shared machinery: header resolution, cell checks, row errors, upserts.

An import validates a whole file, then writes it by ``external_id``. Rows are checked with plain
Python over the ``csv`` module's lists, look-ups are one query each into dicts; with errors and
without ``skip_invalid`` the run raises ``InvalidInput`` listing every bad row (line, column,
reason) and nothing is written: the writes come after the whole file has been checked, or (orders
on PostgreSQL, :mod:`retento.dataio.order_stream`) during the reading inside a savepoint that the
error rolls back. Writes of new rows go through :mod:`retento.dataio.bulk` (``COPY`` on
PostgreSQL, prepared ``executemany`` on SQLite) inside the caller's transaction. The entity parsers live in ``import_records`` and
``import_orders``; :class:`retento.dataio.importer.Importer` joins them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table as SaTable
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.core.errors import FieldError, InvalidInput, Msg, Term
from retento.customers.field_values import definitions, key_problem
from retento.dataio.bulk import insert_rows, paused_gc
from retento.dataio.headers import CUSTOM, custom_field_names, custom_field_of, header_fields
from retento.dataio.mapping import Converter, Mapping
from retento.dataio.messages import FORMULA_PROBLEM, as_msg
from retento.dataio.readers import Table
from retento.dataio.schemas import (
    COLUMNS,
    ENTITY_LABELS,
    IGNORED,
    MAX_FIELD,
    ImportReport,
    RowError,
)
from retento.web.i18n import N_

Progress = Callable[[str, float, float], None]
CHUNK = 20_000
IN_CHUNK = 5_000
MAX_REPORTED = 1_000  # errors carried in the exception / API answer (the rejects file has all)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TAG_SPLIT = re.compile(r"[;|]")


def _noop(_d: str, _c: float, _t: float) -> None:
    return None


def _chunks(seq: Sequence[Any], n: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


NUL_PROBLEM = "contains a NUL character"
SHORT_ROW = 250
"""A row with fewer characters in all can only overflow the columns narrower than this."""


class _Validated(Exception):
    """Raised at the point where a run would start writing, when only validating."""


# A rejected row: its line, its cells as read, and its problems as (column or None, English
# message); the rejects file words them in its reader's language (``service.rejects_csv``).
Problem = tuple[str | None, str]
Reject = tuple[int, list[str], tuple[Problem, ...]]


def custom_key_problem(column: str, key: str) -> Msg | None:
    """Why a customer column feeding ``custom.<key>`` is refused (``None``: it is not): a key
    that is not one a custom field could have, by the rule an administrator's definition keys
    follow (``customers.field_values.key_problem``, which the API and the form apply too). The
    header is loosened before (``custom.Gift-Wrap`` is ``gift_wrap``:
    :func:`headers.custom_field_of`); a target a mapping names (``--map``, the API's mapping, a
    key typed in the wizard) is taken as written. The import wizard's mapping step refuses the
    same columns (it runs this header check)."""
    why = key_problem(key)
    if why is None:
        return None
    return Msg("Column '%(column)s': %(problem)s", column=column, problem=why)


HEADER_LACKS = N_("%(name)s: the header lacks required columns for %(entity)s.")
HEADER_TWICE = N_(
    "%(name)s: more than one column of the header gives the same field for %(entity)s."
)


def _both(first: str, second: str, target: str, row: int = 1) -> FieldError:
    """Two columns of the file feed one field: the header is refused (``row``, its line). Two
    columns of one name cannot be told apart by a mapping (it names columns by their header),
    so the file itself must change."""
    if first == second:
        return FieldError(
            second,
            f"the header has two columns named '{second}'; rename or delete one of them in the "
            "file",
            row=row,
        )
    return FieldError(
        second, f"columns '{first}' and '{second}' both give field '{target}'", row=row
    )


class RowProblem(Exception):
    """Raised inside a row parser: the column and the reason."""

    def __init__(self, column: str | None, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


class ImporterBase:
    """State and helpers of one import run; the entity parsers are mixed in by ``Importer``."""

    def __init__(
        self,
        session: Session,
        entity: str,
        table: Table,
        mapping: Mapping,
        *,
        skip_invalid: bool = False,
        progress: Progress | None = None,
        validate_only: bool = False,
    ):
        if entity not in COLUMNS:
            raise InvalidInput(
                Msg(
                    "Cannot import '%(entity)s'. Choose one of: %(choices)s.",
                    entity=entity,
                    choices=", ".join(COLUMNS),
                ),
                field="entity",
            )
        self.session = session
        self.entity = entity
        self.table = table
        self.conv = Converter(mapping)
        self.skip_invalid = skip_invalid or validate_only
        self.validate_only = validate_only
        self.progress = progress or _noop
        self.errors: list[FieldError] = []
        self.rejects: list[Reject] = []
        self.report = ImportReport(entity=entity, file=table.name)
        self.now = datetime.now(UTC)
        self.spec = {c.name: c for c in COLUMNS[entity]}
        self.idx: dict[str, int] = {}
        self.source: dict[str, str] = {}
        self.custom_idx: dict[str, int] = {}
        # Customers: the custom field definitions, and the header each custom column had.
        self.field_defs: list[Any] = []
        self.field_by_key: dict[str, Any] = {}
        self.custom_source: dict[str, str] = {}
        self._unchanged_ids: set[int] = set()

    # ----------------------------------------------------------------- header and cells
    def _resolve_header(self) -> None:
        errors: list[FieldError] = []
        bad_keys: list[FieldError] = []  # refused before any row is read
        mapping = self.conv.mapping
        ignored = set(IGNORED.get(self.entity, ())) | {"_error"}
        header_line = self.table.header_line  # 2 after Excel's "sep=;" line
        # The one header mapping of the CLI, the API and the wizard (dataio.headers): the
        # mapping's choice, the field's own name loosely, or a header word ("客户编号").
        fields = header_fields(self.entity, self.table.header, mapping.columns)
        names = self._custom_field_names() if self.entity == "customers" else {}
        for i, src in enumerate(self.table.header):
            if not src:
                continue
            target = fields.get(src)
            if target is None and src not in mapping.columns:
                target = mapping.target(src)  # custom.x, a computed column, or ignored
            if target is None:
                continue
            if target not in self.spec and not target.startswith(CUSTOM):
                # A defined custom field named by its key or label, English or Chinese.
                target = custom_field_of(src, names) or target
            if target in self.spec:
                if target in self.idx:
                    errors.append(_both(self.source[target], src, target, header_line))
                    continue
                self.idx[target] = i
                self.source[target] = src
            elif self.entity == "customers" and target.startswith(CUSTOM):
                key = target[len(CUSTOM) :]
                why = custom_key_problem(src, key)
                if why is not None:
                    bad_keys.append(FieldError(src, why, row=header_line))
                    continue
                if key in self.custom_idx:
                    errors.append(_both(self.custom_source[key], src, target, header_line))
                    continue
                self.custom_idx[key] = i
                self.custom_source[key] = src
            elif target not in ignored:
                self.report.ignored_columns.append(src)
        for col in self.spec.values():
            if col.required and col.name not in self.idx:
                mapped = [s for s, t in mapping.columns.items() if t == col.name]
                hint = f" (mapped from '{mapped[0]}', which is not in the header)" if mapped else ""
                errors.append(
                    FieldError(
                        col.name,
                        f"required column '{col.name}' is missing{hint}; the header has: "
                        f"{', '.join(h for h in self.table.header if h)[:300]}",
                        row=header_line,
                    )
                )
        if errors:
            missing = any(e.message.startswith("required column") for e in errors)
            raise InvalidInput(
                Msg(
                    # Only columns that give one field twice: nothing is missing.
                    HEADER_LACKS if missing else HEADER_TWICE,
                    name=self.table.name,
                    entity=Term(self.entity, ENTITY_LABELS[self.entity]),
                ),
                field=errors[0].field,
                errors=errors + bad_keys,
            )
        if bad_keys:
            # The first names its column and reason; with more, every one is listed.
            raise InvalidInput(
                bad_keys[0].message,
                field=bad_keys[0].field,
                errors=bad_keys if len(bad_keys) > 1 else [],
            )
        self.ncols = len(self.table.header)
        # The column index of each column read, by its header: where an XLSX formula cell that
        # has no saved value is (``_formula_problems``).
        self.read_at = {self.source[t]: i for t, i in self.idx.items()}
        self.read_at.update({self.custom_source[k]: i for k, i in self.custom_idx.items()})
        # (field, column index, longest value) of each column read, and of those narrower than
        # a short row (``_shape``).
        self._limits = [(t, i, self.spec[t].max_len) for t, i in self.idx.items()]
        self._narrow = [x for x in self._limits if x[2] < SHORT_ROW]

    def _custom_field_names(self) -> dict[str, str]:
        """Header (case-folded) → key of each custom field definition (``headers``)."""
        self.field_defs = definitions(self.session)
        self.field_by_key = {d.key: d for d in self.field_defs}
        return custom_field_names(self.field_defs)

    def col(self, name: str) -> str:
        """The column name as the file calls it (errors speak the file's language)."""
        return self.source.get(name, name)

    def _shape(self, cells: list[str]) -> list[str]:
        """Pad short rows; reject rows with more values than the header, huge cells, or a NUL
        character in a column that is stored (PostgreSQL text cannot hold one: COPY failed)."""
        n = len(cells)
        if n != self.ncols:
            if n > self.ncols and any(c.strip() for c in cells[self.ncols :]):
                raise RowProblem(None, f"has {n} values but the header has {self.ncols} columns")
            cells = (cells + [""] * self.ncols)[: self.ncols]
        joined = "".join(cells)
        if "\x00" in joined:
            for name, i in self.idx.items():
                if "\x00" in cells[i]:
                    raise RowProblem(self.col(name), NUL_PROBLEM)
            for key, i in self.custom_idx.items():
                if "\x00" in cells[i]:
                    raise RowProblem(self.custom_source[key], NUL_PROBLEM)
        # A short row can still overflow a narrow column (a 100-character external_id, limit
        # 64): those are checked on every row, the others only on long rows. Values are stored
        # stripped, so surrounding space does not count.
        for name, i, limit in self._limits if len(joined) > SHORT_ROW else self._narrow:
            cell = cells[i]
            if len(cell) > limit and len(cell := cell.strip()) > limit:
                raise RowProblem(
                    self.col(name), f"is {len(cell)} characters long; the limit is {limit}"
                )
        if len(joined) > SHORT_ROW:
            for key, i in self.custom_idx.items():
                if len(cells[i]) > MAX_FIELD:
                    raise RowProblem(
                        self.custom_source[key], f"is longer than {MAX_FIELD} characters"
                    )
        return cells

    def _formula_problems(self, line: int) -> list[RowProblem]:
        """The columns read whose cell on ``line`` is an XLSX formula without a saved value
        (``Table.uncalculated``): read as empty, so the row is refused rather than imported
        without the value (an optional column) or said to be empty (a required one)."""
        at = self.table.uncalculated.get(line)
        if not at:
            return []
        return [RowProblem(col, FORMULA_PROBLEM) for col, i in self.read_at.items() if i in at]

    def _bad(self, line: int, cells: list[str], problems: list[RowProblem]) -> None:
        at = self.table.uncalculated.get(line)
        if at:
            # A problem with a formula cell that has no saved value is that: said once a column.
            said: set[str | None] = set()
            kept = []
            for p in problems:
                if self.read_at.get(p.column) in at:  # type: ignore[arg-type]
                    p = RowProblem(p.column, FORMULA_PROBLEM)
                if p.message == FORMULA_PROBLEM:
                    if p.column in said:
                        continue
                    said.add(p.column)
                kept.append(p)
            problems = kept
        for p in problems:
            self.errors.append(FieldError(p.column, p.message, row=line))
        self.rejects.append((line, cells, tuple((p.column, str(p.message)) for p in problems)))

    def _enum(self, cells: list[str], name: str, allowed: Sequence[str], default: str | None):
        i = self.idx.get(name)
        v = cells[i].strip().lower() if i is not None else ""
        if not v:
            if default is None:
                raise RowProblem(self.col(name), "is empty")
            return default
        if v not in allowed:
            raise RowProblem(self.col(name), f"'{v[:40]}' is not one of: {', '.join(allowed)}")
        return v

    def _text(self, cells: list[str], name: str) -> str | None:
        i = self.idx.get(name)
        if i is None:
            return None
        v = cells[i].strip()
        return v or None

    # ----------------------------------------------------------------------- run
    def run(self) -> ImportReport:
        started = time.perf_counter()
        self._resolve_header()
        self.session.flush()
        try:
            with paused_gc():  # millions of short-lived rows: see bulk.paused_gc
                getattr(self, f"_import_{self.entity}")()
        except _Validated:
            pass  # every row was checked; nothing was written
        self.report.rejected = len(self.rejects)
        self.report.errors = [
            RowError(row=e.row, field=e.field, message=e.message)
            for e in self.errors[:MAX_REPORTED]
        ]
        self.report.seconds = round(time.perf_counter() - started, 3)
        # Core statements bypassed the identity map: reload anything the caller holds.
        self.session.expire_all()
        return self.report

    def _rows(self) -> Iterable[tuple[int, list[str]]]:
        table = self.table
        total = float(table.size or 1)
        self.progress("reading", 0, total)
        for n, (line, cells) in enumerate(table.rows, 1):
            if not n % 20_000:
                self.progress("reading", table.position(), total)
            yield line, cells
        self.progress("reading", total, total)

    def _keyed_rows(self) -> Iterable[tuple[int, list[str], str]]:
        """``(line, cells, external_id)`` of each row, counted, shaped and keyed: a row with no
        ``external_id``, or one an earlier row of the file has, is recorded as bad and skipped."""
        seen: dict[str, int] = {}
        for line, cells in self._rows():
            self.report.rows += 1
            try:
                cells = self._shape(cells)
                if formulas := self._formula_problems(line):
                    self._bad(line, cells, formulas)
                    continue
                ext = self._text(cells, "external_id")
                if ext is None:
                    raise RowProblem(self.col("external_id"), "is empty")
                self._dedupe(seen, ext, line, self.col("external_id"))
            except RowProblem as p:
                self._bad(line, cells, [p])
                continue
            yield line, cells, ext

    def _check_errors(self) -> None:
        """All-or-nothing: any bad row stops the run before a single write."""
        if self.errors and not self.skip_invalid:
            bad_rows = len({e.row for e in self.errors})
            first = self.errors[0]
            raise InvalidInput(
                Msg(
                    "%(rows)s row(s) of %(table)s are invalid; nothing was imported (first: line %(line)s, %(field)s: %(message)s). Fix them, or use --skip-invalid to import the good rows.",
                    rows=bad_rows,
                    table=self.table.name,
                    line=first.row,
                    field=first.field or "row",
                    # A row reason of a known shape in the reader's language (dataio.messages).
                    message=as_msg(first.message),
                ),
                field=first.field,
                errors=self.errors[:MAX_REPORTED],
            )
        if self.validate_only:
            raise _Validated

    def _exec_many(self, stmt: Any, rows: list[dict], label: str, done: list[int]) -> None:
        conn = self.session.connection()
        total = float(done[1])
        for chunk in _chunks(rows, CHUNK):
            conn.execute(stmt, list(chunk))
            done[0] += len(chunk)
            self.progress(label, done[0], total)

    def _insert_many(self, table: SaTable, rows: list[dict], done: list[int]) -> None:
        """New rows through the bulk writer (COPY on PostgreSQL, executemany on SQLite)."""
        cols = list(rows[0])
        base, total = done[0], float(done[1])
        insert_rows(
            self.session.connection(),
            table,
            cols,
            ([r[c] for c in cols] for r in rows),
            progress=lambda k: self.progress("writing", base + k, total),
        )
        done[0] += len(rows)

    def _existing(self, table: SaTable, cols: list[Any], keys: set[str]) -> dict[str, Any]:
        """Rows of ``table`` whose external_id is in ``keys``: one query (IN for a few keys)."""
        ext = table.c.external_id
        out: dict[str, Any] = {}
        if not keys:
            return out
        if len(keys) <= IN_CHUNK:
            stmt = select(*cols).where(ext.in_(list(keys)))
        else:
            stmt = select(*cols).where(ext.is_not(None))
        for row in self.session.connection().execute(stmt):
            if row.external_id in keys:
                out[row.external_id] = row
        return out

    def _users(self) -> dict[str, int]:
        return dict(
            self.session.connection().execute(select(User.username, User.id)).tuples().all()
        )

    def _owner(self, cells: list[str], users: dict[str, int]) -> int | None:
        name = self._text(cells, "owner")
        if name is None:
            return None
        uid = users.get(name)
        if uid is None:
            raise RowProblem(self.col("owner"), f"unknown user '{name[:40]}'")
        return uid

    def _upsert_simple(
        self,
        table: SaTable,
        records: list[tuple[int, list[str], dict[str, Any]]],
        compare: list[str],
        insert_defaults: dict[str, Any],
        extra_cols: Sequence[Any] = (),
    ) -> tuple[dict[str, int], list[int]]:
        """Insert new records, update changed ones; returns ids by external id and changed ids."""
        keys = {r[2]["external_id"] for r in records}
        existing = self._existing(
            table,
            [table.c.id, table.c.external_id, *[table.c[c] for c in compare], *extra_cols],
            keys,
        )
        inserts, updates, touched = [], [], []
        for _line, _cells, rec in records:
            old = existing.get(rec["external_id"])
            if old is None:
                row = dict(insert_defaults)
                row.update(rec)
                row.setdefault("created_at", self.now)
                row["updated_at"] = self.now
                inserts.append(row)
                continue
            if any(getattr(old, c) != rec[c] for c in compare):
                upd = {c: rec[c] for c in compare}
                upd["b_id"] = old.id
                upd["updated_at"] = self.now
                updates.append(upd)
                touched.append(old.id)
            else:
                self.report.unchanged += 1
                self._unchanged_ids.add(old.id)
        done = [0, len(inserts) + len(updates)]
        if inserts:
            self._insert_many(table, inserts, done)
        if updates:
            stmt = update(table).where(table.c.id == bindparam("b_id"))
            if "version" in table.c:  # an import is an edit too: open forms become stale
                stmt = stmt.values(version=table.c.version + 1)
            self._exec_many(stmt, updates, "writing", done)
        self.report.created, self.report.updated = len(inserts), len(updates)
        ids = {k: v.id for k, v in existing.items()}
        if inserts:
            ids.update(
                (k, v.id)
                for k, v in self._existing(
                    table, [table.c.id, table.c.external_id], {r["external_id"] for r in inserts}
                ).items()
            )
        return ids, touched

    def _dedupe(self, seen: dict[str, int], key: str, line: int, column: str) -> None:
        first = seen.get(key)
        if first is not None:
            raise RowProblem(column, f"'{key[:40]}' already appears on line {first} of this file")
        seen[key] = line
