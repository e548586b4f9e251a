"""Names are one line, and an e-mail subject written around a name is always one line.

QA (security test): a customer named "Evil\\nline2" (API, import, or the public complaint form,
anonymously) made every retention evaluation fail while that customer's alert was pending
("The subject must be one line…" from the owner's notification), and a survey whose name had a
line break failed each of its distributions. Names now refuse control characters (422 naming
``name``, English and Chinese), and subjects collapse white space, so a name stored before this
rule no longer takes a batch down. SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select, update

from retento.customers.models import Customer
from retento.mail.models import OutboxMessage
from retento.mail.service import SUBJECT_MAX, Email, one_line_subject, queue_email
from retento.web.i18n import gettext
from tests.retention.test_routes import _lapsed_vip
from tests.web.conftest import Browser

BAD = ("Evil\nline2", "Evil\r\nBcc: x@example.com", "Tab\tname", "Bell\x07")


def test_names_with_control_characters_are_422_naming_the_field(client, tokens):
    for name in BAD:
        for url, body in (
            ("/api/v1/customers", {"name": name}),
            ("/api/v1/products", {"name": name}),
            (
                "/api/v1/public/complaints",
                {
                    "name": name,
                    "email": "pub@example.com",
                    "subject": "Late delivery",
                    "description": "The parcel came two weeks late.",
                },
            ),
        ):
            r = client.post(url, json=body, headers=tokens["admin"])
            assert r.status_code == 422, (url, name, r.text)
            assert r.json()["field"].endswith("name"), r.json()
            assert "one line" in r.json()["detail"], r.json()


def test_the_customer_form_says_it_in_chinese(client, users, db):
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.post("/customers/new", {"name": "王\n芳"})
    assert r.status_code == 422
    said = gettext(
        "zh_CN", "must be one line, without line breaks, tabs or other control characters"
    )
    assert said != "must be one line, without line breaks, tabs or other control characters"
    assert said in r.text
    assert db.scalar(select(Customer).where(Customer.name.like("王%"))) is None


def test_subjects_are_one_line_and_bounded():
    assert one_line_subject("  Retention warning:\r\n Evil\nline2\t ") == (
        "Retention warning: Evil line2"
    )
    long = one_line_subject("x" * 400)
    assert len(long) == SUBJECT_MAX and long.endswith("…")
    assert one_line_subject(" \n ") == ""


def test_a_queued_subject_with_a_line_break_is_stored_as_one_line(db):
    msg = queue_email(
        db,
        Email(recipient="a@example.com", subject="Hello\r\nBcc: x@example.com", body_text="Hi",
              kind="notification"),
        actor=None,
    )  # fmt: skip
    assert msg.subject == "Hello Bcc: x@example.com"


def test_a_stored_name_with_a_line_break_no_longer_fails_the_evaluation(client, db, users, tokens):
    users["manager"].email = "manager@example.com"
    c = _lapsed_vip(db, users["manager"].id)
    db.commit()
    # Written before names were checked (or straight into the database).
    db.execute(update(Customer).where(Customer.id == c.id).values(name="Evil\nline2"))
    db.commit()
    r = client.post(
        "/api/v1/retention/evaluate", json={"rules": ["churn_risk"]}, headers=tokens["admin"]
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] >= 1
    subjects = db.scalars(select(OutboxMessage.subject)).all()
    assert any("Evil line2" in s for s in subjects), subjects
    assert not any("\n" in s or "\r" in s for s in subjects)
