"""Privacy requests about one customer (GDPR / PIPL): export everything held, erase personal data.

- ``write_export`` writes one zip: ``data.json`` with every section and one CSV file per section
  (profile, contacts, tags, custom fields, orders with lines and refunds, touchpoints,
  complaints with events, remedies and attachments, survey invitations, responses and answers,
  scores, audit entries, e-mail sent), the complaint attachments themselves and a README.
- ``erase_customer`` anonymises the personal data (names, e-mail addresses, phone numbers,
  addresses, dates of birth, contacts, tags, custom fields, free text, complaint contact details, survey
  free-text answers, e-mail bodies and recipients, the audit log's before/after values) and
  keeps the financial records (amounts, dates, products, quantities) so totals stay correct.
  The customer is marked erased and archived.

docs/privacy.md describes both for users; docs/security.md for reviewers.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Table, event, select, update
from sqlalchemy.orm import Session

from retento.audit.models import AuditEntry
from retento.audit.service import record
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import Base, utcnow
from retento.core.errors import Conflict, Msg, NotFound
from retento.core.locking import lock_row
from retento.core.versioning import check_version
from retento.customers.models import Contact, Customer
from retento.customers.redaction import (
    MARK,
    PERSONAL_KEYS,
    Redactor,
    audit_about,
    domain_models,
    forget_mail,
    holdings,
    redact_audit,
)

log = logging.getLogger(__name__)

FORMAT = "retento-customer-export/1"

# Never exported: secrets, or links that would let the file's reader act as the customer.
SECRET_COLUMNS = {"token_hash", "token_salt", "followup_token", "claim_token", "password_hash"}


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-safe value: money and dates as strings."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _rows(session: Session, table: Table, *where: Any, order: Any = None) -> list[dict]:
    cols = [c for c in table.columns if c.name not in SECRET_COLUMNS]
    stmt = select(*cols).where(*where).order_by(order if order is not None else cols[0])
    return [{k: _plain(v) for k, v in row.items()} for row in session.execute(stmt).mappings()]


def _without_secrets(value: Any) -> Any:
    """A JSON value with the keys of ``SECRET_COLUMNS`` left out, at any depth."""
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if k not in SECRET_COLUMNS}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def _csv_cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(keys)
    for r in rows:
        w.writerow([_csv_cell(r.get(k)) for k in keys])
    return "\ufeff" + buf.getvalue()


COVERED_TABLES = {
    "customers", "customer_contacts", "customer_tags", "customer_assignments", "orders",
    "touchpoints", "complaints", "complaint_events", "survey_invitations", "survey_responses",
    "customer_scores", "mail_outbox",
}  # fmt: skip

# The search index: rows derived from the customer's own name, numbers and contacts (already in
# the export as themselves), not data kept about the customer. Left out of the export; the
# triggers that write them rewrite them from the redacted record on an erasure.
DERIVED_TABLES = {"customer_search", "customer_search_grams", "customer_search_numbers"}


# Other domains add export sections and erasure steps for what they keep about a customer
# (e.g. loyalty: its ledger rows live on accounts, not on the customer); customers never
# imports them. ExportProvider(session, customer_id) -> {section: rows};
# Eraser(session, customer, redactor) -> {what: count}, run inside the erasure transaction.
ExportProvider = Callable[[Session, int], dict[str, list[dict]]]
Eraser = Callable[[Session, Customer, "Redactor"], dict[str, int]]
_EXPORT_PROVIDERS: list[ExportProvider] = []
_ERASERS: list[Eraser] = []


def register_export(fn: ExportProvider) -> None:
    """Add sections to every customer export (once per function)."""
    if fn not in _EXPORT_PROVIDERS:
        _EXPORT_PROVIDERS.append(fn)


def register_erasure(fn: Eraser) -> None:
    """Run ``fn`` in every erasure, after the customer's own data is anonymised."""
    if fn not in _ERASERS:
        _ERASERS.append(fn)


def export_rows(session: Session, table: Table, *where: Any, order: Any = None) -> list[dict]:
    """Rows of ``table`` as JSON-safe dicts without secret columns (for export providers)."""
    return _rows(session, table, *where, order=order)


def collect(session: Session, customer: Customer) -> dict[str, list[dict]]:
    """Every section of the export: section name -> rows (JSON-safe dicts)."""
    m = domain_models()
    cid = customer.id
    held = holdings(session, cid)
    t = {name: model.__table__ for name, model in m.items()}
    profile = _rows(session, Customer.__table__, Customer.id == cid)
    for p in profile:
        p["tags"] = list(customer.tags)
        p["owner"] = customer.owner.username if customer.owner else None
        p["assigned_users"] = [
            u.username
            for u in session.scalars(
                select(User).where(User.id.in_(customer.assigned_user_ids)).order_by(User.id)
            )
        ]
    product = {
        pid: (ext, name)
        for pid, ext, name in session.execute(
            select(m["Product"].id, m["Product"].external_id, m["Product"].name).where(
                m["Product"].id.in_(
                    select(m["OrderLine"].product_id).where(
                        m["OrderLine"].order_id.in_(held.of("order"))
                    )
                )
            )
        )
    }
    lines = _rows(session, t["OrderLine"], m["OrderLine"].order_id.in_(held.of("order")))
    for ln in lines:
        ext, name = product.get(ln["product_id"], (None, None))
        ln["product_external_id"], ln["product_name"] = ext, name
    invitations = _rows(session, t["SurveyInvitation"], m["SurveyInvitation"].customer_id == cid)
    responses = _rows(session, t["SurveyResponse"], m["SurveyResponse"].customer_id == cid)
    survey_ids = {r["survey_id"] for r in invitations + responses}
    survey_names = {
        sid: name
        for sid, name in session.execute(
            select(m["Survey"].id, m["Survey"].name).where(m["Survey"].id.in_(survey_ids))
        )
    }
    for r in invitations + responses:
        r["survey_name"] = survey_names.get(r["survey_id"])
    answers = _rows(
        session, t["SurveyAnswer"], m["SurveyAnswer"].response_id.in_(held.of("survey_response"))
    )
    questions = {
        qid: (code, text)
        for qid, code, text in session.execute(
            select(
                m["SurveyQuestion"].id, m["SurveyQuestion"].code, m["SurveyQuestion"].text
            ).where(m["SurveyQuestion"].id.in_({a["question_id"] for a in answers}))
        )
    }
    for a in answers:
        a["question_code"], a["question_text"] = questions.get(a["question_id"], (None, None))
    scores = _rows(session, t["CustomerScore"], m["CustomerScore"].customer_id == cid)
    runs = {
        rid: (as_of, model)
        for rid, as_of, model in session.execute(
            select(m["ScoreRun"].id, m["ScoreRun"].as_of, m["ScoreRun"].model).where(
                m["ScoreRun"].id.in_({s["run_id"] for s in scores})
            )
        )
    }
    for s in scores:
        as_of, model = runs.get(s["run_id"], (None, None))
        s["run_as_of"], s["run_model"] = _plain(as_of), model
    by_complaint = lambda name: _rows(  # noqa: E731
        session, t[name], m[name].complaint_id.in_(held.of("complaint"))
    )
    audit = [
        {
            "id": e.id,
            "at": _plain(e.at),
            "actor": e.actor_name,
            "action": e.action,
            "entity": e.entity,
            "entity_id": e.entity_id,
            "before": _without_secrets(e.before),
            "after": _without_secrets(e.after),
        }
        for e in session.scalars(
            select(AuditEntry).where(audit_about(held)).order_by(AuditEntry.id)
        )
    ]
    sections: dict[str, list[dict]] = {
        "customer": profile,
        "contacts": _rows(session, Contact.__table__, Contact.customer_id == cid),
        "tags": [{"tag": tag} for tag in customer.tags],
        "custom_fields": [
            {"field": k, "value": v} for k, v in sorted((customer.custom_fields or {}).items())
        ],
        "orders": _rows(session, t["Order"], m["Order"].customer_id == cid),
        "order_lines": lines,
        "refunds": _rows(session, t["Refund"], m["Refund"].order_id.in_(held.of("order"))),
        "touchpoints": _rows(session, t["Touchpoint"], m["Touchpoint"].customer_id == cid),
        "complaints": _rows(session, t["Complaint"], m["Complaint"].customer_id == cid),
        "complaint_events": by_complaint("ComplaintEvent"),
        "complaint_remedies": by_complaint("Remedy"),
        "complaint_attachments": by_complaint("ComplaintAttachment"),
        "survey_invitations": invitations,
        "survey_responses": responses,
        "survey_answers": answers,
        "scores": scores,
        "audit_log": audit,
        "emails": _rows(session, t["OutboxMessage"], m["OutboxMessage"].customer_id == cid),
    }  # fmt: skip
    for att in sections["complaint_attachments"]:
        att.pop("path", None)
    for provider in _EXPORT_PROVIDERS:
        sections.update(provider(session, cid))
    for name, rows in _other_tables(session, cid).items():
        sections.setdefault(name, rows)
    return sections


def _other_tables(session: Session, customer_id: int) -> dict[str, list[dict]]:
    """Tables added by other domains (loyalty, ...) with a foreign key to the customer."""
    out: dict[str, list[dict]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in COVERED_TABLES or table.name in DERIVED_TABLES:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "customers":
                rows = _rows(session, table, fk.parent == customer_id)
                out.setdefault(table.name, []).extend(rows)
    return out


README = """Everything {org} holds about customer {cid}, exported on {at} ({fmt}).

data.json       every section below in one JSON document
<section>.csv   the same sections as CSV (UTF-8, comma separated, one row per record)
attachments/    files attached to the customer's complaints

customer: profile, consent flags, archive/erasure state; contacts; tags; custom_fields;
orders, order_lines, refunds (money as decimal strings, times in UTC ISO 8601);
touchpoints (contacts with us); complaints, complaint_events (the timeline, internal notes
included), complaint_remedies, complaint_attachments; survey_invitations, survey_responses,
survey_answers; scores (value, CLV and P(alive) from each scoring run); audit_log (changes to
these records: who, when, before and after); emails (messages sent or queued to the customer).
Other sections, if present, come from further modules that keep rows about the customer.
Security tokens (survey and follow-up links) are left out.
"""


def write_export(
    session: Session,
    customer_id: int,
    out: BinaryIO,
    *,
    actor: User,
    now: datetime | None = None,
) -> dict[str, int]:
    """Write the zip of everything held about the customer to ``out``; returns rows per section.

    The export itself is audited (who downloaded whose data), without the data.
    """
    require(actor, "customer:export")
    from retento.customers.service import get_customer

    customer = get_customer(session, customer_id, actor=actor)
    now = now or utcnow()
    sections = collect(session, customer)
    attachments = session.execute(
        select(
            domain_models()["ComplaintAttachment"].id,
            domain_models()["ComplaintAttachment"].complaint_id,
            domain_models()["ComplaintAttachment"].filename,
            domain_models()["ComplaintAttachment"].path,
        ).where(
            domain_models()["ComplaintAttachment"].complaint_id.in_(
                [c["id"] for c in sections["complaints"]]
            )
        )
    ).all()
    files = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "README.txt",
            README.format(org="Retento", cid=customer.id, at=now.isoformat(), fmt=FORMAT),
        )
        doc = {"format": FORMAT, "customer_id": customer.id, "exported_at": now.isoformat()}
        zf.writestr(
            "data.json", json.dumps(doc | sections, ensure_ascii=False, indent=2, default=str)
        )
        for name, rows in sections.items():
            zf.writestr(f"{name}.csv", _csv(rows))
        for att_id, complaint_id, filename, path in attachments:
            p = Path(path)
            if p.is_file():
                zf.write(p, f"attachments/complaint-{complaint_id}/{att_id}-{filename}")
                files += 1
            else:
                log.warning(
                    "attachment %s of complaint %s is missing on disk", att_id, complaint_id
                )
    counts = {name: len(rows) for name, rows in sections.items()}
    record(
        session,
        actor,
        "export",
        "customer",
        customer.id,
        None,
        {"sections": {k: v for k, v in counts.items() if v}, "attachment_files": files},
    )
    return counts


def export_filename(customer_id: int, now: datetime | None = None) -> str:
    return f"customer-{customer_id}-{(now or utcnow()).strftime('%Y%m%d')}.zip"


# ---------------------------------------------------------------------------------------------
# Erasure
# ---------------------------------------------------------------------------------------------


def _erased(value: str | None) -> str | None:
    return MARK if value else value


def _unlink_after_commit(session: Session, paths: Iterable[str]) -> None:
    """Delete files once the transaction commits (a rollback keeps them with their rows)."""
    pending: list[str] = session.info.setdefault("privacy_unlink", [])
    pending.extend(paths)
    if session.info.get("privacy_hooked"):
        return
    session.info["privacy_hooked"] = True

    def _commit(sess: Session) -> None:
        for p in sess.info.pop("privacy_unlink", []):
            try:
                Path(p).unlink(missing_ok=True)
            except OSError as exc:  # pragma: no cover - depends on the file system
                log.warning("could not delete erased attachment %s: %s", p, exc)

    def _rollback(sess: Session) -> None:
        sess.info.pop("privacy_unlink", None)

    event.listen(session, "after_commit", _commit)
    event.listen(session, "after_rollback", _rollback)


@dataclass
class ErasureReport:
    """What an erasure changed, per kind of record (also written to the audit log)."""

    customer_id: int
    erased_at: datetime
    counts: dict[str, int]


def _set(rows: Iterable[Any], **changes: Callable[[Any], Any]) -> int:
    """Apply ``field=fn(old)`` to ORM rows (so versions go up); returns how many changed."""
    n = 0
    for row in rows:
        touched = False
        for name, fn in changes.items():
            old = getattr(row, name)
            new = fn(old)
            if new != old:
                setattr(row, name, new)
                touched = True
        n += touched
    return n


def erase_customer(
    session: Session,
    customer_id: int,
    *,
    actor: User,
    reason: str | None = None,
    now: datetime | None = None,
    version: int | None = None,
) -> ErasureReport:
    """Anonymise the customer's personal data, keep the financial records, archive the
    customer and audit it (see the module docstring). Cannot be undone; erasing twice is 409.
    A stale ``version`` (If-Match, the erase page's hidden input) is a 409 ``version_conflict``
    and erases nothing: the customer changed since the page or client read it."""
    require(actor, "customer:erase")
    from retento.customers.service import get_customer, name_key

    get_customer(session, customer_id, actor=actor)
    c = lock_row(session, Customer, customer_id)
    if c is None:
        raise NotFound("Customer", customer_id)
    # Under the lock: of two erasures sent with one version, the second finds the first's.
    check_version(c, version)
    if c.erased_at is not None:
        raise Conflict(
            Msg(
                "Customer %(id)s's personal data was already erased on %(date)s.",
                id=c.id,
                date=c.erased_at.date().isoformat(),
            ),
            field="id",
        )
    m = domain_models()
    now = now or utcnow()
    redactor = Redactor.for_customer(session, c)
    counts: dict[str, int] = {}
    # The audit log first, while the records still show what to look for.
    counts["audit_entries"] = redact_audit(session, c, redactor)
    held = holdings(session, c.id)

    counts["contacts"] = len(c.contacts)
    counts["tags"] = len(c.tag_rows)
    c.contacts = []
    c.tag_rows = []
    c.name = f"Erased customer {c.id}"
    c.name_key = name_key(c.name)
    for attr in ("email", "phone", "address", "city", "external_id", "note", "birth_date"):
        setattr(c, attr, None)
    c.custom_fields = {}
    for attr in ("consent_email", "consent_sms", "consent_phone", "consent_profiling"):
        setattr(c, attr, False)
    c.erased_at = now
    if c.archived_at is None:
        c.archived_at = now
        c.archived_by_id = actor.id

    in_ids = lambda model, entity: model.id.in_(held.of(entity))  # noqa: E731
    counts["orders"] = _set(
        session.scalars(select(m["Order"]).where(in_ids(m["Order"], "order"))), note=_none
    )
    counts["refunds"] = _set(
        session.scalars(select(m["Refund"]).where(in_ids(m["Refund"], "refund"))),
        reason=_none,
    )
    counts["touchpoints"] = _set(
        session.scalars(select(m["Touchpoint"]).where(in_ids(m["Touchpoint"], "touchpoint"))),
        note=_none,
    )
    complaints = list(
        session.scalars(select(m["Complaint"]).where(in_ids(m["Complaint"], "complaint")))
    )
    subjects = {x.subject for x in complaints if x.subject}
    counts["complaints"] = _set(
        complaints,
        subject=_erased,
        description=_erased,
        contact_name=_none,
        contact_email=_none,
        contact_phone=_none,
        feedback=_none,
        followup_token=_none,
    )
    event_keys = PERSONAL_KEYS["complaint"] | PERSONAL_KEYS["customer"]
    counts["complaint_events"] = _set(
        session.scalars(
            select(m["ComplaintEvent"]).where(in_ids(m["ComplaintEvent"], "complaint_event"))
        ),
        body=_erased,
        data=lambda d: redactor.scrub(d, event_keys) if d is not None else None,
        actor_name=lambda name: redactor.text(name) if name else name,
    )
    counts["complaint_remedies"] = _set(
        session.scalars(select(m["Remedy"]).where(in_ids(m["Remedy"], "complaint_remedy"))),
        note=_none,
    )
    attachments = list(
        session.scalars(
            select(m["ComplaintAttachment"]).where(
                in_ids(m["ComplaintAttachment"], "complaint_attachment")
            )
        )
    )
    for att in attachments:
        session.delete(att)
    counts["complaint_attachments"] = len(attachments)
    _unlink_after_commit(session, [a.path for a in attachments])
    notes = Redactor(redactor.values | subjects)
    counts["complaint_notifications"] = _set(
        session.scalars(
            select(m["ComplaintNotification"]).where(
                m["ComplaintNotification"].complaint_id.in_(held.of("complaint"))
            )
        ),
        message=notes.text,
    )
    counts["survey_answers"] = (
        session.execute(
            update(m["SurveyAnswer"])
            .where(
                m["SurveyAnswer"].response_id.in_(held.of("survey_response")),
                m["SurveyAnswer"].text.is_not(None),
            )
            .values(text=None)
        ).rowcount
        or 0
    )
    counts["survey_invitations_closed"] = (
        session.execute(
            update(m["SurveyInvitation"])
            .where(
                m["SurveyInvitation"].customer_id == c.id,
                m["SurveyInvitation"].completed_at.is_(None),
                m["SurveyInvitation"].expires_at > now,
            )
            .values(expires_at=now)
        ).rowcount
        or 0
    )
    counts["emails"] = forget_mail(session, held.of("mail_message"), redactor)
    for eraser in _ERASERS:
        counts.update(eraser(session, c, redactor))
    session.flush()
    record(
        session,
        actor,
        "erase",
        "customer",
        c.id,
        None,
        {"erased_at": now.isoformat(), "reason": reason, "counts": counts},
    )
    return ErasureReport(c.id, now, counts)


def _none(_value: Any) -> None:
    return None
