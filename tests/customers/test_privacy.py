"""Privacy requests: a customer's data export holds everything about them; erasure leaves no
personal data anywhere in the database (audit log included) and keeps the financial records."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from retento.audit.models import AuditEntry
from retento.complaints import attachments as complaint_attachments
from retento.complaints import remedies
from retento.complaints import service as complaints
from retento.complaints.models import Complaint, ComplaintAttachment, Remedy
from retento.complaints.schemas import NoteIn, RemedyCreate
from retento.core.db import Base
from retento.core.errors import Conflict, Forbidden
from retento.customers import privacy, redaction, service
from retento.customers.models import Customer
from retento.customers.schemas import ContactIn, CustomerCreate, CustomerUpdate
from retento.mail.models import OutboxMessage
from retento.orders import service as orders
from retento.orders.models import Order, OrderLine, Refund
from retento.orders.schemas import OrderCreate, OrderLineIn, RefundCreate
from retento.scoring.models import CustomerScore, ScoreRun
from retento.surveys import distributions as survey_distributions
from retento.surveys import responses as survey_responses
from retento.surveys import service as surveys
from retento.surveys.models import SurveyAnswer, SurveyInvitation
from retento.surveys.schemas import (
    AnswerIn,
    DistributionCreate,
    ResponseCreate,
    SegmentIn,
    SurveyUpdate,
)
from retento.touchpoints import service as touchpoints
from retento.touchpoints.schemas import TouchpointCreate
from tests.factories import make_customer, make_product
from tests.factories.complaints import make_complaint
from tests.surveys.conftest import small_survey_data
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    """A logged-out browser-like client (tests/web/conftest.py)."""
    return Browser(client)


NOW = datetime(2025, 5, 1, 10, tzinfo=UTC)

# Every personal string put into the database about the customer (case-insensitive search).
PERSONAL = [
    "Wang Fang",
    "wangfang@example.cn",
    "old-wang@example.cn",
    "13912345678",
    "12 Long Road",
    "Hangzhou",
    "EXT-WANG-1",
    "Li Ming",
    "liming@example.cn",
    "13700000001",
    "Zhou Contact",
    "wf-complaint@example.cn",
    "13811112222",
    "UNIQUE-CUSTOMER-NOTE",
    "UNIQUE-FIELD-VALUE",
    "uniquetag",
    "UNIQUE-ORDER-NOTE",
    "UNIQUE-REFUND-REASON",
    "UNIQUE-TOUCHPOINT-NOTE",
    "UNIQUE-COMPLAINT-SUBJECT",
    "UNIQUE-COMPLAINT-DESCRIPTION",
    "UNIQUE-INTERNAL-NOTE",
    "UNIQUE-CUSTOMER-REPLY",
    "UNIQUE-REMEDY-NOTE",
    "UNIQUE-SURVEY-TEXT",
    "wang-receipt.txt",
]


@pytest.fixture
def rich(db, users, tmp_path):
    """A customer with something in every domain, plus another customer left untouched."""
    from tests.factories.custom_fields import define_fields

    admin = users["admin"]
    define_fields(db, "favourite", "language")
    c = service.create_customer(
        db,
        CustomerCreate(
            name="Wang Fang",
            email="old-wang@example.cn",
            phone="13912345678",
            address="12 Long Road",
            city="Hangzhou",
            country="CN",
            external_id="EXT-WANG-1",
            note="UNIQUE-CUSTOMER-NOTE",
            custom_fields={"favourite": "UNIQUE-FIELD-VALUE", "language": "zh_CN"},
            tags=["uniquetag"],
            consent_email=True,
            contacts=[ContactIn(name="Li Ming", email="liming@example.cn", phone="13700000001")],
        ),
        actor=admin,
    )
    # The old address stays in the audit log's "before" of this update.
    service.update_customer(db, c.id, CustomerUpdate(email="wangfang@example.cn"), actor=admin)
    p = make_product(db, unit_price=Decimal("40.00"), unit_cost=Decimal("25.00"))
    o = orders.create_order(
        db,
        OrderCreate(
            customer_id=c.id,
            ordered_at=NOW,
            note="UNIQUE-ORDER-NOTE",
            lines=[OrderLineIn(product_id=p.id, quantity=3)],
        ),
        actor=admin,
    )
    orders.add_refund(
        db,
        o.id,
        RefundCreate(amount=Decimal("15.50"), reason="UNIQUE-REFUND-REASON"),
        actor=admin,
    )
    touchpoints.create_touchpoint(
        db,
        TouchpointCreate(
            customer_id=c.id,
            occurred_at=NOW,
            channel="phone",
            stage="information",
            note="UNIQUE-TOUCHPOINT-NOTE",
        ),
        actor=admin,
    )
    cpl = make_complaint(
        db,
        admin,
        customer_id=c.id,
        subject="UNIQUE-COMPLAINT-SUBJECT",
        description="UNIQUE-COMPLAINT-DESCRIPTION from Wang Fang",
        contact_name="Zhou Contact",
        contact_email="wf-complaint@example.cn",
        contact_phone="13811112222",
    )
    complaints.add_note(db, cpl.id, NoteIn(body="UNIQUE-INTERNAL-NOTE"), actor=admin)
    complaints.add_note(
        db, cpl.id, NoteIn(body="UNIQUE-CUSTOMER-REPLY", kind="customer_reply"), actor=None
    )
    remedies.add_remedy(
        db,
        cpl.id,
        RemedyCreate(
            kind="compensation",
            compensation_type="voucher",
            amount=Decimal("20.00"),
            cost=Decimal("8.00"),
            note="UNIQUE-REMEDY-NOTE",
        ),
        actor=admin,
    )
    att = complaint_attachments.add_attachment(
        db,
        cpl.id,
        "wang-receipt.txt",
        "text/plain",
        b"receipt of Wang Fang",
        actor=admin,
        data_dir=str(tmp_path),
    )
    s = surveys.create_survey(db, small_survey_data(), actor=admin)
    surveys.update_survey(db, s.id, SurveyUpdate(status="active"), actor=admin)
    survey_responses.record_response(
        db,
        s.id,
        ResponseCreate(
            customer_id=c.id,
            answers=[
                AnswerIn(question="sat", number=4),
                AnswerIn(question="note", text="UNIQUE-SURVEY-TEXT"),
            ],
        ),
        actor=admin,
    )
    # Invited after answering by phone: the invitation is still open when erasing.
    survey_distributions.create_distribution(
        db,
        s.id,
        DistributionCreate(
            channel="online", send=True, segment=SegmentIn(kind="customers", customer_ids=[c.id])
        ),
        actor=admin,
    )
    run = ScoreRun(model="bgnbd", status="succeeded", as_of=NOW)
    db.add(run)
    db.flush()
    db.add(
        CustomerScore(
            run_id=run.id,
            customer_id=c.id,
            revenue=Decimal("120.00"),
            profit=Decimal("45.00"),
            monetary=Decimal("120.00"),
            value_class="major",
            label="mvc",
            loyalty_stage="new",
        )
    )
    other = make_customer(db, name="Other Person", email="other@example.com", note="OTHER-NOTE")
    db.commit()
    return {"customer": c, "order": o, "complaint": cpl, "attachment": att, "other": other}


def _zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def _export(db, users, cid) -> zipfile.ZipFile:
    buf = io.BytesIO()
    privacy.write_export(db, cid, buf, actor=users["manager"])
    return _zip(buf.getvalue())


def test_export_holds_every_section_as_json_and_csv(db, users, rich):
    c = rich["customer"]
    zf = _export(db, users, c.id)
    names = set(zf.namelist())
    sections = [
        "customer", "contacts", "tags", "custom_fields", "orders", "order_lines", "refunds",
        "touchpoints", "complaints", "complaint_events", "complaint_remedies",
        "complaint_attachments", "survey_invitations", "survey_responses", "survey_answers",
        "scores", "audit_log", "emails",
    ]  # fmt: skip
    assert {"README.txt", "data.json"} | {f"{s}.csv" for s in sections} <= names
    # The search index is derived from the sections above, not kept about the customer.
    assert not {n for n in names if n.startswith("customer_search")}, names
    data = json.loads(zf.read("data.json"))
    assert data["format"] == privacy.FORMAT and data["customer_id"] == c.id
    assert data["customer"][0]["email"] == "wangfang@example.cn"
    assert data["customer"][0]["tags"] == ["uniquetag"]
    assert data["contacts"][0]["name"] == "Li Ming"
    assert {"field": "favourite", "value": "UNIQUE-FIELD-VALUE"} in data["custom_fields"]
    assert data["orders"][0]["note"] == "UNIQUE-ORDER-NOTE"
    assert data["orders"][0]["revenue"] == "104.50"  # 3 x 40.00 less the 15.50 refund
    assert data["order_lines"][0]["quantity"] == 3 and data["order_lines"][0]["product_name"]
    assert data["refunds"][0]["amount"] == "15.50"
    assert data["touchpoints"][0]["note"] == "UNIQUE-TOUCHPOINT-NOTE"
    assert data["complaints"][0]["contact_email"] == "wf-complaint@example.cn"
    bodies = {e["body"] for e in data["complaint_events"]}
    assert {"UNIQUE-INTERNAL-NOTE", "UNIQUE-CUSTOMER-REPLY"} <= bodies
    assert data["complaint_remedies"][0]["amount"] == "20.00"
    texts = {a["question_code"]: a for a in data["survey_answers"]}
    assert texts["note"]["text"] == "UNIQUE-SURVEY-TEXT" and texts["sat"]["number"] == 4
    assert data["scores"][0]["value_class"] == "major" and data["scores"][0]["run_as_of"]
    # The survey invitation to the customer, and the complaint's transactional mail to the
    # address given on the complaint.
    recipients = {e["recipient"] for e in data["emails"]}
    assert {"wangfang@example.cn", "wf-complaint@example.cn"} <= recipients
    audited = {(e["entity"], e["action"]) for e in data["audit_log"]}
    assert {("customer", "create"), ("customer", "update"), ("order", "create")} <= audited
    assert ("complaint", "create") in audited and ("survey_response", "create") in audited
    # The attachment itself travels with the export.
    (att_file,) = [n for n in names if n.startswith("attachments/")]
    assert zf.read(att_file) == b"receipt of Wang Fang"
    # CSV mirrors JSON.
    rows = list(csv.DictReader(io.StringIO(zf.read("orders.csv").decode("utf-8-sig"))))
    assert rows[0]["note"] == "UNIQUE-ORDER-NOTE" and rows[0]["refunded"] == "15.50"
    # Nothing about other customers, and no secrets (link tokens) at all.
    blob = b"".join(zf.read(n) for n in names)
    assert b"Other Person" not in blob and b"OTHER-NOTE" not in blob
    for secret in (b"token_hash", b"token_salt", b"followup_token"):
        assert secret not in blob
    entry = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "export", AuditEntry.entity_id == str(c.id))
    ).one()
    assert entry.actor_name == "manager" and entry.after["sections"]["orders"] == 1


def test_export_csv_neutralises_formulas(db, users):
    c = make_customer(db, name='=HYPERLINK("http://x")', note="@SUM(A1)")
    zf = _export(db, users, c.id)
    row = next(csv.DictReader(io.StringIO(zf.read("customer.csv").decode("utf-8-sig"))))
    assert row["name"].startswith("'=") and row["note"] == "'@SUM(A1)"
    assert json.loads(zf.read("data.json"))["customer"][0]["name"].startswith("=")


def test_export_and_erase_need_manager_or_admin(db, users):
    c = make_customer(db)
    for role in ("agent", "analyst"):
        with pytest.raises(Forbidden):
            privacy.write_export(db, c.id, io.BytesIO(), actor=users[role])
        with pytest.raises(Forbidden):
            privacy.erase_customer(db, c.id, actor=users[role])


def _database_text(db) -> str:
    """Every row of every table, as text (to search for what must be gone)."""
    parts = []
    for table in Base.metadata.sorted_tables:
        for row in db.execute(select(table)).mappings():
            parts.append(json.dumps(dict(row), default=str, ensure_ascii=False))
    return "\n".join(parts).lower()


def _money(db) -> tuple:
    return (
        db.scalar(select(func.sum(Order.revenue))),
        db.scalar(select(func.sum(Order.cost))),
        db.scalar(select(func.sum(Order.refunded))),
        db.scalar(select(func.sum(Refund.amount))),
        db.scalar(select(func.sum(Remedy.amount))),
        db.scalar(select(func.sum(Remedy.cost))),
        db.scalar(select(func.count()).select_from(OrderLine)),
        db.scalar(select(func.count()).select_from(Complaint)),
        db.scalar(select(func.sum(SurveyAnswer.number))),
        db.scalar(select(func.sum(CustomerScore.revenue))),
    )


def test_erasure_leaves_no_personal_data_anywhere_and_keeps_the_money(db, users, rich):
    c, att = rich["customer"], rich["attachment"]
    before_text = _database_text(db)
    assert all(p.lower() in before_text for p in PERSONAL)  # the fixture really stored them
    money = _money(db)
    path = Path(att.path)
    assert path.is_file()

    report = privacy.erase_customer(db, c.id, actor=users["admin"], reason="DSR-2025-17")
    db.commit()

    text = _database_text(db)
    left = [p for p in PERSONAL if p.lower() in text]
    assert left == []
    assert _money(db) == money
    got = db.get(Customer, c.id)
    assert got.name == f"Erased customer {c.id}" and got.erased_at and got.archived_at
    assert got.contacts == [] and got.tags == [] and got.custom_fields == {}
    assert not (got.consent_email or got.consent_sms or got.consent_phone)
    assert got.country == "CN"  # not identifying on its own; reports by country stay right
    assert db.scalar(select(func.count()).select_from(ComplaintAttachment)) == 0
    assert not path.exists()  # deleted once the transaction committed
    # Invitations can no longer be used, queued e-mails will not go out.
    open_links = db.scalar(
        select(func.count()).where(
            SurveyInvitation.customer_id == c.id,
            SurveyInvitation.completed_at.is_(None),
            SurveyInvitation.expires_at > datetime.now(UTC),
        )
    )
    assert open_links == 0
    assert {m.status for m in db.scalars(select(OutboxMessage))} == {"cancelled"}
    # The other customer is untouched.
    other = db.get(Customer, rich["other"].id)
    assert other.name == "Other Person" and other.note == "OTHER-NOTE"
    erase = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "erase", AuditEntry.entity_id == str(c.id))
    ).one()
    assert erase.after["reason"] == "DSR-2025-17" and erase.after["counts"] == report.counts
    assert report.counts["orders"] == 1 and report.counts["complaint_events"] >= 2
    assert report.counts["audit_entries"] > 5


def test_erasing_twice_is_a_conflict_and_a_rollback_keeps_everything(db, users, rich):
    c, att = rich["customer"], rich["attachment"]
    privacy.erase_customer(db, c.id, actor=users["manager"])
    db.rollback()
    # Rolled back: the data and the attachment file are still there.
    assert db.get(Customer, c.id).email == "wangfang@example.cn"
    assert Path(att.path).is_file()
    privacy.erase_customer(db, c.id, actor=users["manager"])
    db.commit()
    with pytest.raises(Conflict):
        privacy.erase_customer(db, c.id, actor=users["manager"])


def test_redactor_replaces_known_values_inside_text_but_not_short_fragments():
    r = redaction.Redactor({"Wang Fang", "wf@example.cn", "Li"})
    assert r.text("Call WANG FANG at wf@example.cn") == "Call [erased] at [erased]"
    assert r.text("Li") == "[erased]"
    assert r.text("Lines and lists") == "Lines and lists"
    assert r.scrub({"note": "x", "n": 3, "tags": ["a"]}, {"tags"}) == {
        "note": "x",
        "n": 3,
        "tags": "[erased]",
    }


def test_api_export_zip_and_erase(client, tokens, db, rich):
    c = rich["customer"]
    r = client.get(f"/api/v1/customers/{c.id}/export", headers=tokens["admin"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert f"customer-{c.id}-" in r.headers["content-disposition"]
    assert json.loads(_zip(r.content).read("data.json"))["customer"][0]["name"] == "Wang Fang"
    assert (
        client.get(f"/api/v1/customers/{c.id}/export", headers=tokens["agent"]).status_code == 403
    )
    assert (
        client.post(f"/api/v1/customers/{c.id}/erase", headers=tokens["analyst"]).status_code == 403
    )
    r = client.post(
        f"/api/v1/customers/{c.id}/erase", json={"reason": "ticket 7"}, headers=tokens["manager"]
    )
    assert r.status_code == 200, r.text
    assert r.json()["customer_id"] == c.id and r.json()["counts"]["contacts"] == 1
    got = client.get(f"/api/v1/customers/{c.id}", headers=tokens["manager"]).json()
    assert got["erased_at"] and got["archived_at"] and got["email"] is None
    assert (
        client.post(f"/api/v1/customers/{c.id}/erase", headers=tokens["manager"]).status_code == 409
    )
    r = client.patch(f"/api/v1/customers/{c.id}", json={"name": "Back"}, headers=tokens["admin"])
    assert r.status_code == 409
    r = client.post(
        f"/api/v1/customers/{c.id}/erase", json={"reason": "x" * 201}, headers=tokens["admin"]
    )
    assert r.status_code in (409, 422)


def test_web_erase_needs_the_typed_customer_number(web, db, users, rich):
    c = rich["customer"]
    web.login("manager")
    page = web.get(f"/customers/{c.id}").text
    assert 'id="erase-link"' in page and 'id="export-data"' in page
    form = web.get(f"/customers/{c.id}/erase")
    assert form.status_code == 200 and 'id="erase-form"' in form.text
    r = web.post(f"/customers/{c.id}/erase", {"confirm": "Wang Fang"})
    assert r.status_code == 422 and f"customer number {c.id}" in r.text
    db.expire_all()
    assert db.get(Customer, c.id).erased_at is None
    r = web.post(f"/customers/{c.id}/erase", {"confirm": str(c.id), "reason": "DSR 9"})
    assert r.status_code == 303 and r.headers["location"] == f"/customers/{c.id}"
    page = web.get(f"/customers/{c.id}").text
    assert "Personal data erased" in page and "Wang Fang" not in page
    assert 'id="restore-button"' not in page and 'id="erase-link"' not in page
    zipped = web.get(f"/customers/{c.id}/export.zip")
    assert zipped.status_code == 200 and b"Wang Fang" not in zipped.content


def test_web_export_and_erase_are_refused_to_agents(web, db, users):
    c = make_customer(db, owner_id=users["agent"].id)
    db.commit()
    web.login("agent")
    assert web.get(f"/customers/{c.id}/export.zip").status_code == 403
    assert web.get(f"/customers/{c.id}/erase").status_code == 403
    assert web.post(f"/customers/{c.id}/erase", {"confirm": str(c.id)}).status_code == 403


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    from retento.core.config import get_settings
    from retento.core.db import make_engine, make_session_factory
    from retento.core.migrate import upgrade
    from tests.factories import make_user

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        make_user(s, username="boss", role="admin")
        c = make_customer(s, name="Cli Person", email="cli@example.com")
        s.commit()
        cid = c.id
    yield factory, cid
    engine.dispose()
    get_settings.cache_clear()


def test_cli_archive_restore_export_and_erase(cli_db, tmp_path):
    from retento.cli import app

    factory, cid = cli_db
    runner = CliRunner()
    r = runner.invoke(app, ["customers", "archive", str(cid)])
    assert r.exit_code == 0, r.output
    with factory() as s:
        assert s.get(Customer, cid).archived_at is not None
    assert runner.invoke(app, ["customers", "restore", str(cid)]).exit_code == 0
    out = tmp_path / "wang.zip"
    r = runner.invoke(app, ["customers", "export", str(cid), "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert (
        json.loads(_zip(out.read_bytes()).read("data.json"))["customer"][0]["name"] == "Cli Person"
    )
    r = runner.invoke(app, ["customers", "erase", str(cid)])
    assert r.exit_code == 1 and "--yes" in r.output
    r = runner.invoke(app, ["customers", "erase", str(cid), "--yes", "--reason", "DSR 3"])
    assert r.exit_code == 0, r.output
    with factory() as s:
        got = s.get(Customer, cid)
        assert got.erased_at is not None and got.email is None
    r = runner.invoke(app, ["customers", "restore", str(cid)])
    assert r.exit_code == 1 and "erased" in r.output
    r = runner.invoke(app, ["customers", "export", "999999", "--output", str(tmp_path / "x.zip")])
    assert r.exit_code == 1 and not (tmp_path / "x.zip").exists()
    assert not list(tmp_path.glob(".retento-export-*"))


def test_an_erasure_keeps_the_counts_of_an_earlier_data_export(db, users, rich):
    """QA: after an erasure, the audit entry of the customer's data export showed
    "contacts": "[erased]", "tags": "[erased]" where it had said how many rows were exported:
    the erasure blanked the customer's personal keys inside the counts too."""
    c = rich["customer"]
    _export(db, users, c.id)
    exported = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "export", AuditEntry.entity_id == str(c.id))
    ).one()
    sections = dict(exported.after["sections"])
    assert sections["contacts"] >= 1 and sections["tags"] >= 1
    privacy.erase_customer(db, c.id, actor=users["admin"])
    db.commit()
    db.expire_all()
    assert db.get(AuditEntry, exported.id).after["sections"] == sections
    assert [p for p in PERSONAL if p.lower() in _database_text(db)] == []
