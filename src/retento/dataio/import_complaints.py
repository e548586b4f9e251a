"""Complaints in the shared importer (the web wizard, ``retento import complaints``, the API).

The same rows as ``retento complaints import`` (``complaints.transfer``): the upsert key is the
complaint's ``external_id``; a new one is recorded through ``complaints.service`` (tracking
code, SLA policy and due times, timeline, audit: source "import", no acknowledgement e-mail), a
known one gets its intake fields updated (an unchanged row changes nothing: re-uploading a
file is idempotent). Every row is checked first, with the importer's row and column messages;
any bad row stops the run before a single write (all-or-nothing) unless the valid rows only
are imported. Complaints are few (they are typed by people), so they are written one by one
through the service rather than in bulk.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from retento.core.db import utcnow
from retento.core.errors import FieldError, InvalidInput, Msg, RetentoError
from retento.customers.guard import lock_customers
from retento.customers.models import Customer
from retento.dataio.import_base import ImporterBase, RowProblem

FUTURE_SLACK_MINUTES = 5
# Intake fields a re-upload may change on a known complaint (the CLI's update fields: the
# channel and the time it was received stay as recorded).
UPDATED = ("kind", "category_id", "subject", "description", "severity", "emotion", "purposes",
           "root_cause")  # fmt: skip


class ComplaintsImport(ImporterBase):
    """``_import_complaints``: mixed into ``dataio.importer.Importer``."""

    actor: Any = None

    def _complaint_enums(self) -> dict[str, tuple[str, ...]]:
        from retento.complaints.models import CHANNELS, EMOTIONS, KINDS

        return {"kind": KINDS, "channel": CHANNELS, "emotion": EMOTIONS}

    def _categories(self) -> dict[str, int]:
        """Category code → id, of the categories new complaints may use."""
        from retento.complaints.models import ComplaintCategory
        from retento.complaints.service import category_offered

        cats = self.session.scalars(select(ComplaintCategory)).all()
        return {c.code: c.id for c in cats if category_offered(self.session, c)}

    def _complaint_row(
        self, cells: list[str], enums: dict[str, tuple[str, ...]], cats: dict[str, int]
    ) -> tuple[dict[str, Any], list[RowProblem]]:
        from retento.complaints.models import PURPOSES, SEVERITIES

        rec: dict[str, Any] = {}
        problems: list[RowProblem] = []
        for name in ("customer_external_id", "subject", "description"):
            rec[name] = self._text(cells, name)
            if rec[name] is None:
                problems.append(RowProblem(self.col(name), "is empty"))
        code = (self._text(cells, "category") or "").lower()
        if not code:
            problems.append(RowProblem(self.col("category"), "is empty"))
        elif code not in cats:
            problems.append(
                RowProblem(
                    self.col("category"), f"'{code[:40]}' is not one of: {', '.join(sorted(cats))}"
                )
            )
        else:
            rec["category_id"] = cats[code]
        defaults = {"kind": "complaint", "channel": "phone", "emotion": "calm"}
        for name, allowed in enums.items():
            try:
                rec[name] = self._enum(cells, name, allowed, defaults[name])
            except RowProblem as p:
                problems.append(p)
        severity = self._text(cells, "severity")
        levels = [str(k) for k in SEVERITIES]
        if severity is None:
            rec["severity"] = 1
        elif severity not in levels:
            problems.append(
                RowProblem(
                    self.col("severity"), f"'{severity[:40]}' is not one of: {', '.join(levels)}"
                )
            )
        else:
            rec["severity"] = int(severity)
        purposes = self._text(cells, "purposes") or ""
        rec["purposes"] = []
        for p in (w.strip().lower() for w in purposes.replace(",", ";").split(";")):
            if not p or p in rec["purposes"]:
                continue
            if p not in PURPOSES:
                problems.append(
                    RowProblem(
                        self.col("purposes"), f"'{p[:40]}' is not one of: {', '.join(PURPOSES)}"
                    )
                )
                break
            rec["purposes"].append(p)
        root = self._text(cells, "root_cause")
        rec["root_cause"] = root.lower() if root else None
        received = self._text(cells, "received_at")
        rec["received_at"] = None
        if received is not None:
            try:
                at = self.conv.timestamp(received)
            except ValueError as exc:
                problems.append(RowProblem(self.col("received_at"), str(exc)))
            else:
                if (at - utcnow()).total_seconds() > FUTURE_SLACK_MINUTES * 60:
                    problems.append(RowProblem(self.col("received_at"), "lies in the future"))
                rec["received_at"] = at
        return rec, problems

    def _import_complaints(self) -> None:
        from retento.auth.permissions import require
        from retento.complaints.schemas import ComplaintCreate

        if self.actor is None:
            raise InvalidInput("Complaints are imported by a user.", field="entity")
        require(self.actor, "complaint:create")
        enums = self._complaint_enums()
        cats = self._categories()
        parsed: list[tuple[int, list[str], dict[str, Any]]] = []
        for line, cells, ext in self._keyed_rows():
            rec, problems = self._complaint_row(cells, enums, cats)
            rec["external_id"] = ext
            if problems:
                self._bad(line, cells, problems)
            else:
                parsed.append((line, cells, rec))
        customers = self._existing(
            Customer.__table__,
            [Customer.id, Customer.external_id],
            {r["customer_external_id"] for _l, _c, r in parsed},
        )
        # Locked ``FOR SHARE`` in id order before any complaint is written (``customers.guard``;
        # the service's own per-customer lock then finds them held): a running merge is waited
        # for and its duplicate refused here, with the row and column, not half-way through.
        merged = lock_customers(self.session, {c.id for c in customers.values()})
        records = []
        for line, cells, rec in parsed:
            cext = rec.pop("customer_external_id")
            c = customers.get(cext)
            if c is not None and c.id in merged:
                said = f"customer '{cext[:40]}' was merged into customer {merged[c.id]}"
                self._bad(line, cells, [RowProblem(self.col("customer_external_id"), said)])
                continue
            if c is None:
                value = cells[self.idx["customer_external_id"]].strip()[:40]
                self._bad(
                    line,
                    cells,
                    [
                        RowProblem(
                            self.col("customer_external_id"),
                            f"unknown customer '{value}' (import customers first)",
                        )
                    ],
                )
                continue
            rec["customer_id"] = c.id
            try:
                # The service's own checks of the values (lengths, words), as the CLI and API.
                ComplaintCreate(**rec)
            except ValidationError as exc:
                first = exc.errors()[0]
                name = str(first["loc"][0]) if first["loc"] else None
                column = self.col(name) if name else None
                self._bad(line, cells, [RowProblem(column, str(first["msg"]))])
                continue
            records.append((line, cells, rec))
        self.errors.sort(key=lambda e: e.row or 0)
        self.rejects.sort(key=lambda r: r[0])
        self._check_errors()
        self._write_complaints(records)

    def _write_complaints(self, records: list[tuple[int, list[str], dict[str, Any]]]) -> None:
        from retento.complaints import service
        from retento.complaints.models import Complaint
        from retento.complaints.schemas import ComplaintCreate, ComplaintUpdate

        keys = [r["external_id"] for _l, _c, r in records]
        known: dict[str, Complaint] = {}
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            known.update(
                (c.external_id, c)
                for c in self.session.scalars(
                    select(Complaint).where(Complaint.external_id.in_(chunk))
                )
            )
        total = float(len(records) or 1)
        for n, (line, _cells, rec) in enumerate(records, 1):
            old = known.get(rec["external_id"])
            try:
                if old is None:
                    service.create_complaint(
                        self.session,
                        ComplaintCreate(**rec),
                        actor=self.actor,
                        source="import",
                    )
                    self.report.created += 1
                elif any(getattr(old, k) != rec[k] for k in UPDATED):
                    data = ComplaintUpdate(**{k: rec[k] for k in UPDATED})
                    service.update_complaint(self.session, old.id, data, actor=self.actor)
                    self.report.updated += 1
                else:
                    self.report.unchanged += 1
            except RetentoError as exc:
                # Checked above, so rare (e.g. a customer archived meanwhile): the whole file
                # is refused, naming the row; the caller's transaction writes nothing of it.
                raise InvalidInput(
                    Msg(
                        "Line %(line)s: %(message)s Nothing was imported.",
                        line=line,
                        message=exc.message,
                    ),
                    field=exc.field,
                    errors=[FieldError(exc.field, str(exc.message), row=line)],
                ) from exc
            self.progress("writing", n, total)
