"""Products, customers (with tags and custom fields) and touchpoints: one record per row."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import delete, insert, select

from retento.core.countries import check_country
from retento.core.db import utcnow
from retento.core.errors import InvalidInput, Msg
from retento.core.limits import check_custom_fields, check_json_depth
from retento.core.validation import FUTURE_SLACK, check_day, check_phone, not_after_tomorrow
from retento.customers.field_values import convert, defined_for, key_problem, shown_text
from retento.customers.guard import lock_customers
from retento.customers.models import KINDS, PARTY_TYPES, Customer, CustomerTag
from retento.dataio.import_base import (
    CHUNK,
    EMAIL,
    IN_CHUNK,
    TAG_SPLIT,
    ImporterBase,
    RowProblem,
    _chunks,
)
from retento.dataio.mapping import money
from retento.products.models import Product
from retento.touchpoints.models import CHANNELS, DIRECTIONS, OUTCOMES, STAGES, Touchpoint

# A key set aside for ``_check_legacy``: the key, its column, its value as read, and why it cannot be
# stored unless the customer already stores it (``None``: no active field governs it; else the
# key no field could have, or the value not of its field's type).
Legacy = tuple[str, str, Any, Msg | str | None]

# A date as the XLSX reader writes a spreadsheet's date cell (``readers._cell``: the cell is a
# datetime at midnight), and as imports before custom fields were typed stored it as read.
XLSX_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})T00:00:00")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def xlsx_date(value: str) -> str:
    """``value`` with a spreadsheet date cell read as a date (``2024-02-29T00:00:00`` is
    ``2024-02-29``): what a date custom field's ``convert`` reads; anything else unchanged."""
    m = XLSX_DATE.fullmatch(value.strip())
    return m.group(1) if m else value


# An organisation has no date of birth (customers.service.birth_date_problem): the row's
# date of birth column, or its party type column when the stored customer has a date of birth.
ORGANISATION_BORN = "an organisation has no date of birth"
ORGANISATION_HAS_BIRTH_DATE = (
    "an organisation has no date of birth, but this customer has one (add an empty date of "
    "birth column)"
)


class RecordsImport(ImporterBase):
    """The one-row-per-record entities, upserted by external id."""

    # ------------------------------------------------------------------ products
    def _import_products(self) -> None:
        conv = self.conv
        present = [
            c for c in ("name", "category", "unit_price", "unit_cost", "is_active") if c in self.idx
        ]
        records = []
        for line, cells, ext in self._keyed_rows():
            problems: list[RowProblem] = []
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
                "birth_date",
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
        records = []
        held: list = []  # rows refused whose custom values are checked with the stored ones
        for line, cells, ext in self._keyed_rows():
            problems: list[RowProblem] = []
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
                        # The checks of the form and the API (core.validation), one of each.
                        rec[name] = not_after_tomorrow(conv.date(raw)) if raw else None
                    elif name == "birth_date":
                        # As the form and the API: 1900-01-01 at the earliest, not in the future.
                        rec[name] = not_after_tomorrow(check_day(conv.date(raw))) if raw else None
                    elif name == "phone":
                        rec[name] = check_phone(raw)
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
            if rec.get("party_type") == "organisation" and rec.get("birth_date") is not None:
                problems.append(RowProblem(self.col("birth_date"), ORGANISATION_BORN))
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
                custom, extra, legacy = self._typed_custom(custom, extra)
                rec["_custom"] = (custom, extra)
                rec["_legacy"] = legacy
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
            if problems and any(w is not None for *_kcv, w in rec.get("_legacy", ())):
                held.append((line, cells, rec, problems))  # its custom values' problems too
            elif problems:
                self._bad(line, cells, problems)
            else:
                records.append((line, cells, rec))
        t = Customer.__table__
        if ("party_type" in self.idx) != ("birth_date" in self.idx):
            records = self._check_organisation_birth_dates(records)
        if has_custom:
            ids = {r[2]["external_id"] for r in records}
            ids |= {h[2]["external_id"] for h in held if h[2].get("external_id")}
            existing = self._existing(t, [t.c.external_id, t.c.custom_fields], ids)
            records = self._check_legacy(records, existing, held)
        self._check_errors()
        compare = [("owner_id" if c == "owner" else c) for c in simple]
        if "name" in compare:
            compare.append("name_key")
        if has_custom:
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
            "birth_date": None,
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

    def _check_organisation_birth_dates(self, records: list) -> list:
        """A file with a party type or a date of birth column but not both: the other one is
        the stored customer's (a new one is a person without a date of birth), and an
        organisation still has no date of birth. Refused rows name the column the file has."""
        t = Customer.__table__
        stored = self._existing(
            t,
            [t.c.external_id, t.c.party_type, t.c.birth_date],
            {r[2]["external_id"] for r in records},
        )
        kept = []
        for line, cells, rec in records:
            old = stored.get(rec["external_id"])
            problem = None
            if old is not None and "birth_date" in rec:
                if old.party_type == "organisation" and rec["birth_date"] is not None:
                    problem = RowProblem(self.col("birth_date"), ORGANISATION_BORN)
            elif old is not None and rec["party_type"] == "organisation" and old.birth_date:
                problem = RowProblem(self.col("party_type"), ORGANISATION_HAS_BIRTH_DATE)
            if problem is None:
                kept.append((line, cells, rec))
            else:
                self._bad(line, cells, [problem])
        if len(kept) < len(records):
            self.errors.sort(key=lambda e: e.row or 0)
            self.rejects.sort(key=lambda r: r[0])
        return kept

    def _custom_column(self, key: str) -> str:
        """A custom field's column as the file calls it (its label, 等级, custom.tier)."""
        return self.custom_source.get(key, f"custom.{key}")

    def _typed_custom(
        self, custom: dict[str, Any] | None, extra: dict[str, str]
    ) -> tuple[dict[str, Any] | None, dict[str, Any], list[Legacy]]:
        """Convert the values of active fields to their stored shape (a choice may be given by
        its label in either language), and those of their breakdown keys ``<key>.<part>`` with
        the field's type, as the API does (``field_values.defined_for``: ``wallet_spend.coffee``
        is a number when ``wallet_spend`` is one).

        A key of the JSON column (``custom``) is checked as the API checks it
        (``field_values.key_problem``; a ``custom.<key>`` column's key was checked with the
        header). Keys of no active definition, keys no field could have and values not of their
        field's type are set aside as ``(key, column, value, problem)`` (``_check_legacy``:
        what the customer already stores, unchanged, is kept; otherwise the problem names its
        column)."""
        by_key = self.field_by_key
        legacy: list[Legacy] = []

        def typed(values: dict[str, Any], column, *, check_keys: bool) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, value in values.items():
                if check_keys and (why := key_problem(key)) is not None:
                    legacy.append((key, column(key), value, why))
                    continue
                d = defined_for(by_key, key)
                if d is None or not d.active:
                    legacy.append((key, column(key), value, None))
                    continue
                if d.field_type == "date" and isinstance(value, str):
                    value = xlsx_date(value)
                    if self.conv.mapping.date_format and not ISO_DATE.fullmatch(value.strip()):
                        # The mapping's date format, as for the customer's own date columns.
                        try:
                            value = self.conv.date(value).isoformat()
                        except ValueError as exc:
                            legacy.append((key, column(key), value, str(exc.args[0])))
                            continue
                try:
                    converted = convert(d, value, lenient=True)
                except ValueError as exc:
                    # Refused unless the customer already stores this very value (an export of
                    # what an earlier import stored as read, imported again), as the API keeps it.
                    legacy.append((key, column(key), value, str(exc.args[0])))
                    continue
                if converted is not None:
                    out[key] = converted
            return out

        if custom:
            custom = typed(custom, lambda k: f"{self.col('custom_fields')}.{k}", check_keys=True)
        return custom, typed(extra, self._custom_column, check_keys=False), legacy

    def _check_legacy(self, records: list, existing: dict[str, Any], held: list) -> list:
        """Keys of no active field, keys no field could have, and values not of their field's
        type. What the customer already stores under the key, unchanged, is kept as stored (an
        exported file imported again, as the API keeps it): a retired field's value (or its
        breakdown key's), or a key or value an earlier import stored as read. Otherwise a key no
        field could have is refused (the key named, as the API refuses it), as are a value not
        of its type and a retired field's value; keys no definition governs at
        all are stored as "other fields", as text as read, as imports always did
        (``custom.<key>`` columns of existing files and mappings keep working; the API and the
        form refuse them)."""
        kept = []
        by_key = self.field_by_key
        # Rows already refused for another cell (``held``: their problems so far) are checked
        # too, so one pass names every bad cell of a row.
        rows = [(*r, []) for r in records] + held
        for line, cells, rec, problems in sorted(rows, key=lambda r: r[0]):
            legacy = rec.pop("_legacy", None) or []
            old = existing.get(rec.get("external_id"))
            stored = dict(old.custom_fields or {}) if old is not None else {}
            problems = list(problems)
            for key, column, value, why in legacy:
                if key in stored and (
                    stored[key] == value
                    or (isinstance(value, str) and shown_text(stored[key]) == value)
                ):
                    rec["_custom"][1][key] = stored[key]  # kept as stored (a number stays one)
                    continue
                if why is not None:
                    problems.append(RowProblem(column, why))
                    continue
                if defined_for(by_key, key) is None:
                    rec["_custom"][1][key] = value
                    continue
                why = Msg("This field is retired: its value can be kept or removed only.")
                problems.append(RowProblem(column, str(why)))
            if problems:
                self._bad(line, cells, problems)
            else:
                kept.append((line, cells, rec))
        if held or len(kept) < len(records):
            self.errors.sort(key=lambda e: e.row or 0)
            self.rejects.sort(key=lambda r: r[0])
        return kept

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
        parsed = []
        for line, cells, ext in self._keyed_rows():
            problems: list[RowProblem] = []
            rec: dict[str, Any] = {"external_id": ext}
            cext = self._text(cells, "customer_external_id")
            if cext is None:
                problems.append(RowProblem(self.col("customer_external_id"), "is empty"))
            rec["_customer"] = cext
            for name in present:
                try:
                    if name == "occurred_at":
                        rec[name] = conv.timestamp(cells[self.idx[name]])
                        if rec[name] is not None and rec[name] > utcnow() + FUTURE_SLACK:
                            raise RowProblem(self.col(name), "lies in the future")
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
        # Locked ``FOR SHARE`` before anything is written (``customers.guard``): a merge running
        # now is waited for and its duplicate refused, not given touchpoints after its move.
        merged = lock_customers(self.session, {c.id for c in customers.values()})
        records = []
        for line, cells, rec in parsed:
            cext = rec.pop("_customer")
            c = customers.get(cext)
            if c is not None and c.id in merged:
                said = f"customer '{cext[:40]}' was merged into customer {merged[c.id]}"
                self._bad(line, cells, [RowProblem(self.col("customer_external_id"), said)])
                continue
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
