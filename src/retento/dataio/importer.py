"""Validate a whole file, then upsert it by ``external_id`` with bulk Core statements.

Speed matters (a million order lines in well under a minute on SQLite), so rows are checked
with plain Python over the ``csv`` module's lists, look-ups are one query each into dicts, and
writes are ``executemany`` in chunks inside the caller's transaction. Nothing is written until
the whole file has been checked: with errors and without ``skip_invalid`` the run raises
``InvalidInput`` listing every bad row (line, column, reason).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table as SaTable
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.core.countries import check_country
from retento.core.errors import FieldError, InvalidInput
from retento.core.hooks import emit
from retento.core.limits import check_custom_fields, check_json_depth
from retento.customers.models import KINDS, PARTY_TYPES, Customer, CustomerTag
from retento.dataio.mapping import Converter, Mapping, money
from retento.dataio.readers import Table
from retento.dataio.schemas import COLUMNS, IGNORED, MAX_FIELD, Column, ImportReport, RowError
from retento.orders.models import ORDER_CHANNELS, ORDER_STATUSES, Order, OrderLine, Refund
from retento.orders.totals import LineFigures, RefundFigures, order_totals
from retento.products.models import Product
from retento.touchpoints.models import CHANNELS, DIRECTIONS, OUTCOMES, STAGES, Touchpoint

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


class _Validated(Exception):
    """Raised at the point where a run would start writing, when only validating."""


class RowProblem(Exception):
    """Raised inside a row parser: the column and the reason."""

    def __init__(self, column: str | None, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


class Importer:
    """One import run over an opened table; ``run()`` returns the report."""

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
                f"Cannot import '{entity}'. Choose one of: {', '.join(COLUMNS)}.", field="entity"
            )
        self.session = session
        self.entity = entity
        self.table = table
        self.conv = Converter(mapping)
        self.skip_invalid = skip_invalid or validate_only
        self.validate_only = validate_only
        self.progress = progress or _noop
        self.errors: list[FieldError] = []
        self.rejects: list[tuple[int, list[str], str]] = []
        self.report = ImportReport(entity=entity, file=table.name)
        self.now = datetime.now(UTC)
        self.spec = {c.name: c for c in COLUMNS[entity]}
        self.idx: dict[str, int] = {}
        self.source: dict[str, str] = {}
        self.custom_idx: dict[str, int] = {}
        self._unchanged_ids: set[int] = set()

    # ----------------------------------------------------------------- header and cells
    def _resolve_header(self) -> None:
        errors: list[FieldError] = []
        mapping = self.conv.mapping
        ignored = set(IGNORED.get(self.entity, ())) | {"_error"}
        for i, src in enumerate(self.table.header):
            if not src:
                continue
            target = mapping.target(src)
            if target is None:
                continue
            if target in self.spec:
                if target in self.idx:
                    errors.append(
                        FieldError(
                            src,
                            f"columns '{self.source[target]}' and '{src}' both give field '{target}'",
                            row=1,
                        )
                    )
                    continue
                self.idx[target] = i
                self.source[target] = src
            elif self.entity == "customers" and target.startswith("custom."):
                self.custom_idx[target[len("custom.") :]] = i
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
                        row=1,
                    )
                )
        if errors:
            raise InvalidInput(
                f"{self.table.name}: the header lacks required columns for {self.entity}.",
                field=errors[0].field,
                errors=errors,
            )
        self.ncols = len(self.table.header)

    def col(self, name: str) -> str:
        """The column name as the file calls it (errors speak the file's language)."""
        return self.source.get(name, name)

    def _shape(self, cells: list[str]) -> list[str]:
        """Pad short rows; reject rows with more values than the header, or huge cells."""
        n = len(cells)
        if n != self.ncols:
            if n > self.ncols and any(c.strip() for c in cells[self.ncols :]):
                raise RowProblem(None, f"has {n} values but the header has {self.ncols} columns")
            cells = (cells + [""] * self.ncols)[: self.ncols]
        if sum(map(len, cells)) > 250:
            for name, i in self.idx.items():
                limit = self.spec[name].max_len
                if len(cells[i]) > limit:
                    raise RowProblem(
                        self.col(name),
                        f"is {len(cells[i])} characters long; the limit is {limit}",
                    )
            for key, i in self.custom_idx.items():
                if len(cells[i]) > MAX_FIELD:
                    raise RowProblem(f"custom.{key}", f"is longer than {MAX_FIELD} characters")
        return cells

    def _bad(self, line: int, cells: list[str], problems: list[RowProblem]) -> None:
        for p in problems:
            self.errors.append(FieldError(p.column, p.message, row=line))
        text = "; ".join(f"{p.column}: {p.message}" if p.column else p.message for p in problems)
        self.rejects.append((line, cells, text))

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

    def _check_errors(self) -> None:
        """All-or-nothing: any bad row stops the run before a single write."""
        if self.errors and not self.skip_invalid:
            bad_rows = len({e.row for e in self.errors})
            first = self.errors[0]
            raise InvalidInput(
                f"{bad_rows} row(s) of {self.table.name} are invalid; nothing was imported "
                f"(first: line {first.row}, {first.field or 'row'}: {first.message}). "
                "Fix them, or use --skip-invalid to import the good rows.",
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
            self._exec_many(insert(table), inserts, "writing", done)
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

    # ------------------------------------------------------------------ products
    def _import_products(self) -> None:
        conv = self.conv
        present = [
            c for c in ("name", "category", "unit_price", "unit_cost", "is_active") if c in self.idx
        ]
        seen: dict[str, int] = {}
        records = []
        for line, cells in self._rows():
            self.report.rows += 1
            problems: list[RowProblem] = []
            try:
                cells = self._shape(cells)
                ext = self._text(cells, "external_id")
                if ext is None:
                    raise RowProblem(self.col("external_id"), "is empty")
                self._dedupe(seen, ext, line, self.col("external_id"))
            except RowProblem as p:
                self._bad(line, cells, [p])
                continue
            rec: dict[str, Any] = {"external_id": ext}
            for name in present:
                try:
                    raw = cells[self.idx[name]]
                    if name == "name":
                        v = raw.strip()
                        if not v:
                            raise RowProblem(self.col(name), "is empty")
                        rec[name] = v
                    elif name == "category":
                        rec[name] = raw.strip() or None
                    elif name == "is_active":
                        rec[name] = conv.boolean(raw) if raw.strip() else True
                    else:
                        c = conv.cents(raw)
                        if c < 0:
                            raise RowProblem(self.col(name), "must not be negative")
                        rec[name] = money(c)
                except RowProblem as p:
                    problems.append(p)
                except ValueError as exc:
                    problems.append(RowProblem(self.col(name), str(exc)))
            if problems:
                self._bad(line, cells, problems)
            else:
                records.append((line, cells, rec))
        self._check_errors()
        self._upsert_simple(
            Product.__table__, records, present, {"is_active": True, "category": None}
        )

    # ----------------------------------------------------------------- customers
    def _import_customers(self) -> None:
        conv = self.conv
        simple = [
            c
            for c in (
                "name",
                "party_type",
                "kind",
                "email",
                "phone",
                "address",
                "city",
                "country",
                "acquired_on",
                "consent_email",
                "consent_sms",
                "consent_phone",
                "consent_profiling",
                "note",
                "owner",
            )
            if c in self.idx
        ]
        has_custom = "custom_fields" in self.idx or bool(self.custom_idx)
        has_tags = "tags" in self.idx
        users = self._users() if "owner" in self.idx else {}
        seen: dict[str, int] = {}
        records = []
        for line, cells in self._rows():
            self.report.rows += 1
            problems: list[RowProblem] = []
            try:
                cells = self._shape(cells)
                ext = self._text(cells, "external_id")
                if ext is None:
                    raise RowProblem(self.col("external_id"), "is empty")
                self._dedupe(seen, ext, line, self.col("external_id"))
            except RowProblem as p:
                self._bad(line, cells, [p])
                continue
            rec: dict[str, Any] = {"external_id": ext}
            for name in simple:
                raw = cells[self.idx[name]].strip()
                try:
                    if name == "name":
                        if not raw:
                            raise RowProblem(self.col(name), "is empty")
                        rec["name"], rec["name_key"] = raw, raw.lower()
                    elif name == "party_type":
                        rec[name] = self._enum(cells, name, PARTY_TYPES, "person")
                    elif name == "kind":
                        rec[name] = self._enum(cells, name, KINDS, "consumer")
                    elif name.startswith("consent_"):
                        rec[name] = conv.boolean(raw)
                    elif name == "acquired_on":
                        rec[name] = conv.date(raw) if raw else None
                    elif name == "owner":
                        rec["owner_id"] = self._owner(cells, users)
                    elif name == "email":
                        if raw and not EMAIL.match(raw):
                            raise RowProblem(
                                self.col(name), f"'{raw[:40]}' is not an e-mail address"
                            )
                        rec[name] = raw.lower() or None
                    elif name == "country":
                        try:
                            rec[name] = check_country(raw)
                        except ValueError:
                            raise RowProblem(
                                self.col(name), "must be a two-letter country code"
                            ) from None
                    else:
                        rec[name] = raw or None
                except RowProblem as p:
                    problems.append(p)
                except ValueError as exc:
                    problems.append(RowProblem(self.col(name), str(exc)))
            if has_custom:
                custom: dict[str, Any] | None = None
                if "custom_fields" in self.idx:
                    raw = cells[self.idx["custom_fields"]].strip()
                    try:
                        check_json_depth(raw, self.col("custom_fields"))
                        custom = json.loads(raw) if raw else {}
                        if not isinstance(custom, dict):
                            raise ValueError
                    except InvalidInput as exc:
                        problems.append(RowProblem(exc.field, exc.message.split(": ", 1)[-1]))
                    except ValueError:
                        problems.append(
                            RowProblem(
                                self.col("custom_fields"),
                                'must be a JSON object like {"size": "L"}',
                            )
                        )
                extra = {
                    k: cells[i].strip() for k, i in self.custom_idx.items() if cells[i].strip()
                }
                if custom or extra:
                    try:
                        check_custom_fields({**(custom or {}), **extra}, self.col("custom_fields"))
                    except InvalidInput as exc:
                        problems.append(RowProblem(exc.field, exc.message.split(": ", 1)[-1]))
                rec["_custom"] = (custom, extra)
            if has_tags:
                tags: list[str] = []
                for t in TAG_SPLIT.split(cells[self.idx["tags"]]):
                    t = t.strip().lower()
                    if len(t) > 50:
                        problems.append(
                            RowProblem(
                                self.col("tags"), f"tag '{t[:20]}…' is longer than 50 characters"
                            )
                        )
                    elif t and t not in tags:
                        tags.append(t)
                rec["_tags"] = tags
            if problems:
                self._bad(line, cells, problems)
            else:
                records.append((line, cells, rec))
        self._check_errors()
        t = Customer.__table__
        compare = [("owner_id" if c == "owner" else c) for c in simple]
        if "name" in compare:
            compare.append("name_key")
        if has_custom:
            existing = self._existing(
                t, [t.c.external_id, t.c.custom_fields], {r[2]["external_id"] for r in records}
            )
            for _l, _c, rec in records:
                base, extra = rec.pop("_custom")
                if base is None:
                    old = existing.get(rec["external_id"])
                    base = dict(old.custom_fields or {}) if old is not None else {}
                rec["custom_fields"] = {**base, **extra}
            compare.append("custom_fields")
        tags_by_ext = {r[2]["external_id"]: r[2].pop("_tags") for r in records} if has_tags else {}
        defaults = {
            "party_type": "person",
            "kind": "consumer",
            "email": None,
            "phone": None,
            "address": None,
            "city": None,
            "country": None,
            "owner_id": None,
            "acquired_on": None,
            "consent_email": False,
            "consent_sms": False,
            "consent_phone": False,
            "consent_profiling": False,
            "custom_fields": {},
            "note": None,
        }
        ids, _touched = self._upsert_simple(t, records, compare, defaults)
        if has_tags:
            self._replace_tags(ids, tags_by_ext)

    def _replace_tags(self, ids: dict[str, int], tags_by_ext: dict[str, list[str]]) -> None:
        conn = self.session.connection()
        by_id = {ids[e]: set(tags) for e, tags in tags_by_ext.items()}
        current: dict[int, set[str]] = {}
        id_list = list(by_id)
        for chunk in _chunks(id_list, IN_CHUNK):
            for cid, tag in conn.execute(
                select(CustomerTag.customer_id, CustomerTag.tag).where(
                    CustomerTag.customer_id.in_(chunk)
                )
            ):
                current.setdefault(cid, set()).add(tag)
        changed = [cid for cid, tags in by_id.items() if current.get(cid, set()) != tags]
        for chunk in _chunks(changed, IN_CHUNK):
            conn.execute(delete(CustomerTag.__table__).where(CustomerTag.customer_id.in_(chunk)))
        rows = [{"customer_id": cid, "tag": tag} for cid in changed for tag in sorted(by_id[cid])]
        for chunk in _chunks(rows, CHUNK):
            conn.execute(insert(CustomerTag.__table__), list(chunk))
        # A customer whose only change is its tags counts as updated, not unchanged.
        moved = len([cid for cid in changed if cid in self._unchanged_ids])
        self.report.unchanged -= moved
        self.report.updated += moved

    # -------------------------------------------------------------- touchpoints
    def _import_touchpoints(self) -> None:
        conv = self.conv
        present = [
            c
            for c in ("occurred_at", "channel", "stage", "direction", "outcome", "owner", "note")
            if c in self.idx
        ]
        users = self._users() if "owner" in self.idx else {}
        cust_keys: set[str] = set()
        seen: dict[str, int] = {}
        parsed = []
        for line, cells in self._rows():
            self.report.rows += 1
            problems: list[RowProblem] = []
            try:
                cells = self._shape(cells)
                ext = self._text(cells, "external_id")
                if ext is None:
                    raise RowProblem(self.col("external_id"), "is empty")
                self._dedupe(seen, ext, line, self.col("external_id"))
            except RowProblem as p:
                self._bad(line, cells, [p])
                continue
            rec: dict[str, Any] = {"external_id": ext}
            cext = self._text(cells, "customer_external_id")
            if cext is None:
                problems.append(RowProblem(self.col("customer_external_id"), "is empty"))
            rec["_customer"] = cext
            for name in present:
                try:
                    if name == "occurred_at":
                        rec[name] = conv.timestamp(cells[self.idx[name]])
                    elif name == "channel":
                        rec[name] = self._enum(cells, name, CHANNELS, None)
                    elif name == "stage":
                        rec[name] = self._enum(cells, name, STAGES, None)
                    elif name == "direction":
                        rec[name] = self._enum(cells, name, DIRECTIONS, "inbound")
                    elif name == "outcome":
                        rec[name] = self._enum(cells, name, OUTCOMES, "neutral")
                    elif name == "owner":
                        rec["owner_id"] = self._owner(cells, users)
                    else:
                        rec[name] = self._text(cells, name)
                except RowProblem as p:
                    problems.append(p)
                except ValueError as exc:
                    problems.append(RowProblem(self.col(name), str(exc)))
            if problems:
                self._bad(line, cells, problems)
            else:
                cust_keys.add(cext)  # type: ignore[arg-type]
                parsed.append((line, cells, rec))
        customers = self._existing(
            Customer.__table__, [Customer.id, Customer.external_id], cust_keys
        )
        records = []
        for line, cells, rec in parsed:
            c = customers.get(rec.pop("_customer"))
            if c is None:
                self._bad(
                    line,
                    cells,
                    [
                        RowProblem(
                            self.col("customer_external_id"),
                            f"unknown customer '{cells[self.idx['customer_external_id']].strip()[:40]}' (import customers first)",
                        )
                    ],
                )
                continue
            rec["customer_id"] = c.id
            records.append((line, cells, rec))
        self.errors.sort(key=lambda e: e.row or 0)
        self.rejects.sort(key=lambda r: r[0])
        self._check_errors()
        compare = ["customer_id"] + [("owner_id" if c == "owner" else c) for c in present]
        defaults = {"direction": "inbound", "outcome": "neutral", "owner_id": None, "note": None}
        self._upsert_simple(Touchpoint.__table__, records, compare, defaults)

    # -------------------------------------------------------------------- orders
    def _import_orders(self) -> None:  # noqa: C901 - one tight pass, kept in one place on purpose
        conv, idx = self.conv, self.idx
        i_ord, i_cust = idx["order_external_id"], idx["customer_external_id"]
        i_at, i_prod = idx["ordered_at"], idx["product_external_id"]
        i_qty, i_price = idx["quantity"], idx["unit_price"]
        i_ldisc, i_cost = idx.get("line_discount"), idx.get("unit_cost")
        i_odisc, i_lno = idx.get("order_discount"), idx.get("line_no")
        i_chan, i_stat = idx.get("channel"), idx.get("status")
        conn = self.session.connection()
        customers: dict[str, int] = {
            ext: cid
            for cid, ext in conn.execute(
                select(Customer.id, Customer.external_id).where(Customer.external_id.is_not(None))
            )
        }
        products: dict[str, tuple[int, int]] = {
            ext: (pid, int(cost * 100))
            for pid, ext, cost in conn.execute(
                select(Product.id, Product.external_id, Product.unit_cost).where(
                    Product.external_id.is_not(None)
                )
            )
        }
        c_ord, c_cust, c_at, c_prod = (
            self.col("order_external_id"),
            self.col("customer_external_id"),
            self.col("ordered_at"),
            self.col("product_external_id"),
        )
        c_qty, c_price, c_ldisc, c_cost = (
            self.col("quantity"),
            self.col("unit_price"),
            self.col("line_discount"),
            self.col("unit_cost"),
        )
        c_odisc, c_chan, c_stat, c_lno = (
            self.col("order_discount"),
            self.col("channel"),
            self.col("status"),
            self.col("line_no"),
        )
        keep_raw = self.skip_invalid
        orders: dict[str, _Order] = {}
        cur: _Order | None = None
        cents = conv.cents
        n = 0
        for line, cells in self._rows():
            n += 1
            problems: list[RowProblem] = []
            try:
                cells = self._shape(cells)
            except RowProblem as p:
                self._bad(line, cells, [p])
                if cur is not None:
                    cur.bad_line = cur.bad_line or line
                continue
            oext = cells[i_ord].strip()
            if cur is None or oext != cur.ext:
                if not oext:
                    self._bad(line, cells, [RowProblem(c_ord, "is empty")])
                    continue
                prev = orders.get(oext)
                if prev is not None:
                    self._bad(
                        line,
                        cells,
                        [
                            RowProblem(
                                c_ord,
                                f"order '{oext[:40]}' already appeared on lines "
                                f"{prev.first}–{prev.last}; an order's lines must be together "
                                "(is the order duplicated?)",
                            )
                        ],
                    )
                    continue
                cur = _Order(oext, line)
                orders[oext] = cur
                # Order-level values are read from the order's first line.
                cur.cust_raw = craw = cells[i_cust].strip()
                cid = customers.get(craw)
                if cid is None:
                    problems.append(
                        RowProblem(
                            c_cust,
                            f"unknown customer '{craw[:40]}' (import customers first)"
                            if craw
                            else "is empty",
                        )
                    )
                cur.customer_id = cid
                cur.at_raw = cells[i_at]
                try:
                    cur.ordered_at = conv.timestamp(cur.at_raw)
                except ValueError as exc:
                    problems.append(RowProblem(c_at, str(exc)))
                if i_chan is not None:
                    cur.chan_raw = cells[i_chan]
                    try:
                        cur.channel = self._enum(cells, "channel", ORDER_CHANNELS, "store")
                    except RowProblem as p:
                        problems.append(p)
                if i_stat is not None:
                    cur.stat_raw = cells[i_stat]
                    try:
                        cur.status = self._enum(cells, "status", ORDER_STATUSES, "completed")
                    except RowProblem as p:
                        problems.append(p)
            else:
                for i, raw, column in (
                    (i_cust, cur.cust_raw, c_cust),
                    (i_at, cur.at_raw, c_at),
                    (i_chan, cur.chan_raw, c_chan),
                    (i_stat, cur.stat_raw, c_stat),
                ):
                    if i is not None and cells[i] != raw and cells[i].strip() != raw.strip():
                        problems.append(
                            RowProblem(
                                column,
                                f"'{cells[i].strip()[:40]}' differs from line {cur.first} of the "
                                f"same order ('{raw.strip()[:40]}')",
                            )
                        )
            cur.last = line
            if i_odisc is not None:
                raw = cells[i_odisc].strip()
                if raw:
                    if cur.odisc_raw is None:
                        try:
                            d = cents(raw)
                            if d < 0:
                                raise ValueError("must not be negative")
                            cur.odisc_raw, cur.odisc = raw, d
                        except ValueError as exc:
                            problems.append(RowProblem(c_odisc, str(exc)))
                    elif raw != cur.odisc_raw:
                        problems.append(
                            RowProblem(
                                c_odisc,
                                f"'{raw[:40]}' differs from the order discount given earlier for "
                                f"this order ('{cur.odisc_raw}')",
                            )
                        )
            # Line-level values.
            pext = cells[i_prod].strip()
            prod = products.get(pext)
            if prod is None:
                problems.append(
                    RowProblem(
                        c_prod,
                        f"unknown product '{pext[:40]}' (import products first)"
                        if pext
                        else "is empty",
                    )
                )
            qty = 0
            try:
                qty = int(cells[i_qty])
                if qty <= 0 or qty > 1_000_000:
                    problems.append(
                        RowProblem(c_qty, f"{qty} is not allowed: must be between 1 and 1000000")
                    )
            except ValueError:
                problems.append(
                    RowProblem(c_qty, f"'{cells[i_qty].strip()[:40]}' is not a whole number")
                )
            price = 0
            try:
                price = cents(cells[i_price])
                if price < 0:
                    problems.append(RowProblem(c_price, "must not be negative"))
            except ValueError as exc:
                problems.append(RowProblem(c_price, str(exc)))
            ldisc = 0
            if i_ldisc is not None and cells[i_ldisc].strip():
                try:
                    ldisc = cents(cells[i_ldisc])
                    if ldisc < 0:
                        problems.append(RowProblem(c_ldisc, "must not be negative"))
                    elif ldisc > qty * price and qty > 0:
                        problems.append(RowProblem(c_ldisc, "exceeds the line amount"))
                except ValueError as exc:
                    problems.append(RowProblem(c_ldisc, str(exc)))
            cost = prod[1] if prod is not None else 0
            if i_cost is not None and cells[i_cost].strip():
                try:
                    cost = cents(cells[i_cost])
                    if cost < 0:
                        problems.append(RowProblem(c_cost, "must not be negative"))
                except ValueError as exc:
                    problems.append(RowProblem(c_cost, str(exc)))
            line_no = len(cur.lines) + 1
            if i_lno is not None and cells[i_lno].strip():
                try:
                    line_no = int(cells[i_lno])
                    if line_no <= 0:
                        raise ValueError
                    if line_no in cur.line_nos:
                        problems.append(
                            RowProblem(
                                c_lno,
                                f"line {line_no} of order '{oext[:40]}' already appears on line "
                                f"{cur.line_nos[line_no]} of this file",
                            )
                        )
                    cur.line_nos[line_no] = line
                except ValueError:
                    problems.append(RowProblem(c_lno, "must be a whole number > 0"))
            if problems:
                self._bad(line, cells, problems)
                cur.bad_line = cur.bad_line or line
                continue
            cur.lines.append((line_no, prod[0], qty, price, cost, ldisc))  # type: ignore[index]
            if keep_raw:
                cur.raw.append((line, cells))
        self.report.rows = n
        self._finish_orders(orders)

    def _finish_orders(self, orders: dict[str, _Order]) -> None:
        conn = self.session.connection()
        t = Order.__table__
        existing = self._existing(
            t,
            [
                t.c.id,
                t.c.external_id,
                t.c.customer_id,
                t.c.ordered_at,
                t.c.status,
                t.c.channel,
                t.c.discount,
            ],
            set(orders),
        )
        old_ids = [o.id for o in existing.values()]
        old_lines: dict[int, list[tuple]] = {}
        lt = OrderLine.__table__
        for chunk in _chunks(old_ids, IN_CHUNK):
            for oid, *vals in conn.execute(
                select(
                    lt.c.order_id,
                    lt.c.line_no,
                    lt.c.product_id,
                    lt.c.quantity,
                    lt.c.unit_price,
                    lt.c.unit_cost,
                    lt.c.discount,
                )
                .where(lt.c.order_id.in_(chunk))
                .order_by(lt.c.order_id, lt.c.line_no)
            ):
                ln, pid, q, p, c, d = vals
                old_lines.setdefault(oid, []).append(
                    (ln, pid, q, int(p * 100), int(c * 100), int(d * 100))
                )
        refunds: dict[int, list[RefundFigures]] = {}
        if old_ids:
            old_set = set(old_ids)
            for oid, amount, qty, unit_cost in conn.execute(
                select(
                    Refund.order_id, Refund.amount, Refund.quantity, OrderLine.unit_cost
                ).outerjoin(OrderLine, Refund.line_id == OrderLine.id)
            ):
                if oid in old_set:
                    refunds.setdefault(oid, []).append(
                        RefundFigures(
                            amount, unit_cost * qty if unit_cost is not None else Decimal("0.00")
                        )
                    )
        new_orders: list[dict] = []
        new_lines: list[list[tuple]] = []
        updates: list[dict] = []
        replace: list[tuple[int, list[tuple]]] = []
        unchanged = 0
        now = self.now
        for o in orders.values():
            if o.bad_line:
                self._reject_order(
                    o, f"order '{o.ext[:40]}' has an invalid line (line {o.bad_line})"
                )
                continue
            o.lines.sort()
            old = existing.get(o.ext)
            discount = money(o.odisc)
            if old is not None:
                lines_same = old_lines.get(old.id, []) == o.lines
                head_same = (
                    old.customer_id == o.customer_id
                    and old.ordered_at == o.ordered_at
                    and old.status == o.status
                    and old.channel == o.channel
                    and old.discount == discount
                )
                if lines_same and head_same:
                    unchanged += 1
                    continue
                if not lines_same and refunds.get(old.id):
                    self._reject_order(
                        o,
                        f"order '{o.ext[:40]}' has refunds, so its lines cannot be replaced",
                        column=self.col("order_external_id"),
                    )
                    continue
            tot = order_totals(
                [LineFigures(q, money(p), money(c), money(d)) for _n, _pid, q, p, c, d in o.lines],
                discount,
                refunds.get(old.id, ()) if old is not None else (),
            )
            if tot.gross < 0:
                self._reject_order(
                    o,
                    "the order discount is larger than the order's lines",
                    column=self.col("order_discount"),
                    error=True,
                )
                continue
            row = {
                "customer_id": o.customer_id,
                "ordered_at": o.ordered_at,
                "status": o.status,
                "channel": o.channel,
                "discount": discount,
                "revenue": tot.revenue,
                "cost": tot.cost,
                "profit": tot.profit,
                "refunded": tot.refunded,
                "updated_at": now,
            }
            if old is None:
                row.update(external_id=o.ext, note=None, created_at=now)
                new_orders.append(row)
                new_lines.append(o.lines)
            else:
                row["b_id"] = old.id
                updates.append(row)
                if not lines_same:
                    replace.append((old.id, o.lines))
        self.errors.sort(key=lambda e: e.row or 0)
        self.rejects.sort(key=lambda r: r[0])
        self._check_errors()
        n_lines = sum(map(len, new_lines)) + sum(len(ls) for _i, ls in replace)
        done = [0, len(new_orders) + len(updates) + n_lines]
        # New orders: ids come back in parameter order, so lines can point at them.
        stmt = insert(t).returning(t.c.id, sort_by_parameter_order=True)
        line_rows: list[dict] = []
        created_ids: list[int] = []
        for start in range(0, len(new_orders), CHUNK):
            chunk = new_orders[start : start + CHUNK]
            ids = conn.execute(stmt, chunk).scalars().all()
            created_ids.extend(ids)
            for oid, lines in zip(ids, new_lines[start : start + CHUNK], strict=True):
                line_rows.extend(_line_rows(oid, lines))
            done[0] += len(chunk)
            self.progress("writing", done[0], done[1])
        if updates:
            stmt = update(t).where(t.c.id == bindparam("b_id")).values(version=t.c.version + 1)
            self._exec_many(stmt, updates, "writing", done)
        replaced_ids = [oid for oid, _l in replace]
        for chunk in _chunks(replaced_ids, IN_CHUNK):
            conn.execute(delete(lt).where(lt.c.order_id.in_(chunk)))
        for oid, lines in replace:
            line_rows.extend(_line_rows(oid, lines))
        if line_rows:
            self._exec_many(insert(lt), line_rows, "writing", done)
        # New orders earn loyalty points like orders made in the API or web (one code path).
        emit("orders.imported", self.session, order_ids=created_ids, actor=None)
        # Updated orders (cancelled, lines changed) reverse what they earned, like a refund.
        emit("orders.updated", self.session, order_ids=[u["b_id"] for u in updates], actor=None)
        self.report.created = len(new_orders)
        self.report.updated = len(updates)
        self.report.unchanged = unchanged
        self.report.lines = len(line_rows)

    def _reject_order(
        self, o: _Order, message: str, *, column: str | None = None, error: bool = False
    ) -> None:
        """Reject every line of an order; ``error`` also reports it (else a line already did)."""
        if error or column is not None:
            self.errors.append(FieldError(column, message, row=o.first))
        for line, cells in o.raw:
            self.rejects.append((line, cells, message))


def _line_rows(order_id: int, lines: list[tuple]) -> list[dict]:
    return [
        {
            "order_id": order_id,
            "line_no": n,
            "product_id": pid,
            "quantity": q,
            "unit_price": money(p),
            "unit_cost": money(c),
            "discount": money(d),
        }
        for n, pid, q, p, c, d in lines
    ]


class _Order:
    """An order being assembled from consecutive lines of the file."""

    __slots__ = (
        "ext",
        "first",
        "last",
        "cust_raw",
        "customer_id",
        "at_raw",
        "ordered_at",
        "chan_raw",
        "channel",
        "stat_raw",
        "status",
        "odisc_raw",
        "odisc",
        "lines",
        "line_nos",
        "raw",
        "bad_line",
    )

    def __init__(self, ext: str, line: int):
        self.ext = ext
        self.first = self.last = line
        self.cust_raw = self.at_raw = self.chan_raw = self.stat_raw = ""
        self.customer_id: int | None = None
        self.ordered_at: datetime | None = None
        self.channel, self.status = "store", "completed"
        self.odisc_raw: str | None = None
        self.odisc = 0
        self.lines: list[tuple] = []
        self.line_nos: dict[int, int] = {}
        self.raw: list[tuple[int, list[str]]] = []
        self.bad_line = 0


def run_import(
    session: Session,
    entity: str,
    table: Table,
    mapping: Mapping,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    validate_only: bool = False,
) -> tuple[ImportReport, list[tuple[int, list[str], str]]]:
    """Check and upsert one table; returns the report and the rejected rows (line, cells, reason).
    With ``validate_only`` every row is checked (as with ``skip_invalid``) and nothing is written."""
    imp = Importer(
        session,
        entity,
        table,
        mapping,
        skip_invalid=skip_invalid,
        progress=progress,
        validate_only=validate_only,
    )
    report = imp.run()
    return report, imp.rejects


__all__ = ["Column", "Importer", "run_import"]
