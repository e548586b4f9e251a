"""Points belong to a loyalty points compensation: a voucher (or any other compensation) sent
with points was recorded and shown on the timeline ("· 50 points") though no point was ever
posted, and a loyalty points compensation of 0 points was recorded as giving points. Both are
refused naming ``points`` (API 422, the form's field in the reader's language), nothing
recorded. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import retento.loyalty  # noqa: F401 - subscribes the complaint hook, registers the provider
from retento.complaints.models import Remedy
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyPosting
from tests.factories.complaints import make_complaint
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


def _remedies(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Remedy))


@pytest.fixture
def member_complaint(db, users):
    make_programme(db)
    comp = make_complaint(db, actor=users["manager"])
    ledger.wallet(db, comp.customer_id)
    db.commit()
    return comp


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            {"compensation_type": "voucher", "amount": "20.00", "points": 50},
            "only a loyalty points compensation gives points",
        ),
        (
            {"compensation_type": "gift", "points": 1},
            "only a loyalty points compensation gives points",
        ),
        (
            {"compensation_type": "loyalty_points", "points": 0},
            "a loyalty points compensation needs its points (1 or more)",
        ),
        ({"compensation_type": "loyalty_points"}, "needs its points"),
    ],
)
def test_the_api_refuses_points_on_the_wrong_compensation(
    client, tokens, db, member_complaint, body, said
):
    r = client.post(
        f"/api/v1/complaints/{member_complaint.id}/remedies",
        json={"kind": "compensation", **body},
        headers=tokens["manager"],
    )
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["points"]
    assert said in errors[0]["message"]
    assert _remedies(db) == 0
    assert db.scalar(select(func.count()).select_from(LoyaltyPosting)) == 0


def test_a_points_compensation_still_posts_its_points(client, tokens, db, member_complaint):
    r = client.post(
        f"/api/v1/complaints/{member_complaint.id}/remedies",
        json={"kind": "compensation", "compensation_type": "loyalty_points", "points": 120},
        headers=tokens["manager"],
    )
    assert r.status_code == 201, r.text
    assert ledger.wallet(db, member_complaint.customer_id).balance == 120


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("en", "only a loyalty points compensation gives points"),
        ("zh_CN", "只有积分补偿才赠送积分"),
    ],
)
def test_the_form_names_the_points_field_in_the_reader_s_language(
    client, db, users, member_complaint, locale, said
):
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    assert web.login("manager").status_code == 303
    page = web.get(f"/complaints/{member_complaint.id}").text
    key = page.split('name="remedy_key" value="')[1].split('"')[0]
    form = {
        "remedy_key": key, "remedy_kind": "compensation", "compensation_type": "voucher",
        "amount": "20", "cost": "8", "points": "50",
    }  # fmt: skip
    r = web.post(f"/complaints/{member_complaint.id}/remedies", form)
    assert r.status_code == 422
    field = r.text[r.text.index('name="points"') - 600 : r.text.index('name="points"') + 600]
    assert said in field
    assert _remedies(db) == 0
