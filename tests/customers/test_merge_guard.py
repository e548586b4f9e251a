"""A merged duplicate takes nothing new: every writer that attaches records or points to a
customer refuses it with 409 naming the field and the survivor (customers/guard.py), in English
and Chinese, and writes nothing; an archived customer that was not merged still takes them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.complaints.models import Complaint
from retento.core.db import utcnow
from retento.customers import merge
from retento.customers.models import Customer, CustomerTag
from retento.dataio import messages
from retento.journey.models import ExperienceRecord
from retento.loyalty import ledger
from retento.loyalty import service as loyalty
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal
from retento.orders.models import Order
from retento.surveys.models import SurveyResponse
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer, make_product
from tests.factories.loyalty import make_programme

SAID = {
    "en": "Customer {dup} was merged into customer {keep}.",
    "zh_CN": "客户 {dup} 已合并到客户 {keep}。",
}
LANG = {"en": "en", "zh_CN": "zh-CN"}


def _merged_pair(db, users):
    """A survivor and a duplicate with points, merged; the product an order would take."""
    make_programme(db)
    keep = make_customer(db, name="Keep")
    dup = make_customer(db, name="Dup", external_id="DUP-1")
    loyalty.adjust(db, dup.id, 80, actor=users["manager"], reason="welcome")
    merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])
    product = make_product(db, unit_price=Decimal("20.00"))
    db.commit()
    return keep, dup, product


def _counts(db, dup_id: int) -> dict[str, int]:
    def n(model, col):
        return db.scalar(select(func.count()).select_from(model).where(col == dup_id))

    return {
        "orders": n(Order, Order.customer_id),
        "touchpoints": n(Touchpoint, Touchpoint.customer_id),
        "complaints": n(Complaint, Complaint.customer_id),
        "experiences": n(ExperienceRecord, ExperienceRecord.customer_id),
        "responses": n(SurveyResponse, SurveyResponse.customer_id),
        "journals": n(LoyaltyJournal, LoyaltyJournal.customer_id),
        "tags": n(CustomerTag, CustomerTag.customer_id),
    }


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_every_writer_refuses_a_merged_customer(client, tokens, db, users, locale):
    keep, dup, product = _merged_pair(db, users)
    before = _counts(db, dup.id)
    balance = ledger.get_wallet(db, dup.id).balance
    assert balance == 0
    said = SAID[locale].format(dup=dup.id, keep=keep.id)
    h = {**tokens["manager"], "Accept-Language": LANG[locale]}
    r = client.post(
        "/api/v1/surveys/from-template", json={"template": "standard"}, headers=tokens["manager"]
    )
    sid = r.json()["id"]
    client.patch(f"/api/v1/surveys/{sid}", json={"status": "active"}, headers=tokens["manager"])
    at = "2026-01-05T10:00:00Z"
    calls = [
        ("post", "/api/v1/orders", {"customer_id": dup.id, "ordered_at": at,
                                    "lines": [{"product_id": product.id, "quantity": 1}]},
         "customer_id"),
        ("post", "/api/v1/touchpoints", {"customer_id": dup.id, "occurred_at": at,
                                         "channel": "phone", "stage": "after_sales",
                                         "direction": "inbound", "note": "hello"},
         "customer_id"),
        ("post", "/api/v1/complaints", {"customer_id": dup.id, "subject": "Late",
                                        "description": "Late delivery", "category": "delivery",
                                        "channel": "phone"},
         "customer_id"),
        ("post", "/api/v1/experiences", {"customer_id": dup.id, "mode": "sense", "rating": 2,
                                         "stage": "receipt"},
         "customer_id"),
        ("post", f"/api/v1/surveys/{sid}/responses",
         {"customer_id": dup.id, "channel": "phone",
          "answers": [{"question": "overall_satisfaction", "number": 5}]},
         "customer_id"),
        ("post", f"/api/v1/loyalty/members/{dup.id}/adjustments",
         {"points": 50, "reason": "late"}, "customer_id"),
        ("post", f"/api/v1/loyalty/members/{dup.id}/adjustments",
         {"points": -1, "reason": "late"}, "customer_id"),
        ("post", f"/api/v1/loyalty/members/{dup.id}/redemptions", {"points": 1}, "customer_id"),
        ("post", f"/api/v1/loyalty/members/{dup.id}/holds", {"points": 1}, "customer_id"),
        ("patch", f"/api/v1/customers/{dup.id}", {"tags": ["b4"]}, "id"),
    ]  # fmt: skip
    for method, url, body, field in calls:
        r = getattr(client, method)(url, json=body, headers=h)
        assert r.status_code == 409, (url, r.status_code, r.text)
        assert r.json()["field"] == field and r.json()["detail"] == said, (url, r.json())
    # The points batch names the item, in the language asked for like every other answer.
    r = client.post(
        "/api/v1/loyalty/batch",
        json={
            "items": [
                {"customer_id": dup.id, "op": "earn", "points": 5, "key": "b-1", "reason": "x"}
            ]
        },  # fmt: skip
        headers=h,
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "items.0.customer_id"
    merged = {
        "en": "customer {dup} was merged into customer {keep}",
        "zh_CN": "客户 {dup} 已合并到客户 {keep}",
    }
    assert r.json()["errors"][0]["message"] == merged[locale].format(dup=dup.id, keep=keep.id)
    db.expire_all()
    assert _counts(db, dup.id) == before
    assert ledger.get_wallet(db, dup.id).balance == 0
    assert check_ledger(db).ok


def test_services_refuse_too_and_the_survivor_takes_them(db, users):
    keep, dup, product = _merged_pair(db, users)
    from retento.core.errors import Conflict
    from retento.orders import service as orders
    from retento.orders.schemas import OrderCreate

    body = {"ordered_at": utcnow(), "lines": [{"product_id": product.id, "quantity": 1}]}
    with pytest.raises(Conflict) as e:
        orders.create_order(db, OrderCreate(customer_id=dup.id, **body), actor=users["admin"])
    assert e.value.field == "customer_id" and e.value.message.params == {
        "id": dup.id,
        "survivor": keep.id,
    }
    with pytest.raises(Conflict):
        loyalty.redeem(db, dup.id, actor=users["manager"], points=1)
    o = orders.create_order(db, OrderCreate(customer_id=keep.id, **body), actor=users["admin"])
    assert o.customer_id == keep.id
    assert loyalty.adjust(db, keep.id, 5, actor=users["manager"], reason="ok").id


def test_an_archived_customer_that_was_not_merged_still_takes_records(client, tokens, db, users):
    """docs/privacy.md: orders, complaints and touchpoints can still be recorded for an archived
    customer (a late order import does not fail); only a merge refuses."""
    c = make_customer(db, name="Gone")
    p = make_product(db, unit_price=Decimal("5.00"))
    c.archived_at = utcnow()
    db.commit()
    body = {"customer_id": c.id, "ordered_at": "2026-01-05T10:00:00Z",
            "lines": [{"product_id": p.id, "quantity": 1}]}  # fmt: skip
    assert client.post("/api/v1/orders", json=body, headers=tokens["admin"]).status_code == 201
    tp = {"customer_id": c.id, "occurred_at": "2026-01-05T10:00:00Z", "channel": "phone",
          "stage": "after_sales", "direction": "inbound"}  # fmt: skip
    assert client.post("/api/v1/touchpoints", json=tp, headers=tokens["admin"]).status_code == 201
    r = client.patch(f"/api/v1/customers/{c.id}", json={"tags": ["x"]}, headers=tokens["admin"])
    assert r.status_code == 200, r.text
    db.expire_all()


def test_a_restored_duplicate_is_an_ordinary_customer_again(client, tokens, db, users):
    from retento.customers import service

    keep, dup, product = _merged_pair(db, users)
    service.restore_customer(db, dup.id, actor=users["manager"])
    db.commit()
    assert db.get(Customer, dup.id).custom_fields["merged_into"] == keep.id  # the key stays
    body = {"customer_id": dup.id, "ordered_at": "2026-01-05T10:00:00Z",
            "lines": [{"product_id": product.id, "quantity": 1}]}  # fmt: skip
    assert client.post("/api/v1/orders", json=body, headers=tokens["admin"]).status_code == 201
    r = client.patch(f"/api/v1/customers/{dup.id}", json={"tags": ["x"]}, headers=tokens["admin"])
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/loyalty/members/{dup.id}/adjustments",
        json={"points": 5, "reason": "back"},
        headers=tokens["manager"],
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("kind", ["orders", "touchpoints", "complaints"])
def test_a_file_import_naming_a_merged_customer_gets_a_row_error(db, users, kind, tmp_path):
    from retento.core.errors import InvalidInput
    from retento.dataio import service as dataio

    keep, dup, product = _merged_pair(db, users)
    product.external_id = "P-1"
    db.commit()
    rows = {
        "orders": "order_external_id,customer_external_id,ordered_at,product_external_id,"
        "quantity,unit_price\nO-1,DUP-1,2026-01-05 10:00,P-1,1,20.00\n",
        "touchpoints": "external_id,customer_external_id,occurred_at,channel,stage\n"
        "T-1,DUP-1,2026-01-05 10:00,phone,after_sales\n",
        "complaints": "external_id,customer_external_id,subject,description,category,channel\n"
        "C-1,DUP-1,Late,Late delivery,delivery,phone\n",
    }[kind]
    path = tmp_path / f"{kind}.csv"
    path.write_text(rows)
    with pytest.raises(InvalidInput) as e:
        dataio.import_file(db, kind, path, actor=users["admin"])
    said = [(x.row, x.message) for x in e.value.errors]
    assert (2, f"customer 'DUP-1' was merged into customer {keep.id}") in said, said
    db.rollback()
    assert _counts(db, dup.id)[kind] == 0


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("en", "customer 'DUP-1' was merged into customer 7"),
        ("zh_CN", "客户 'DUP-1' 已合并到客户 7"),
    ],
)
def test_the_import_row_error_reads_in_both_languages(locale, said):
    from retento.web.i18n import gettext

    text = messages.translate(
        "customer 'DUP-1' was merged into customer 7", lambda m: gettext(locale, m)
    )
    assert text == said


def test_an_answer_that_stayed_with_a_merged_duplicate_is_kept_and_earns_nothing(db, users):
    """An invitation of a distribution the survivor was also invited by stays with the
    duplicate; its customer may still answer through the link: kept, no points, no 409."""
    from retento.core.hooks import emit
    from retento.loyalty.models import LoyaltyRule
    from retento.surveys.models import Survey

    keep, dup, _product = _merged_pair(db, users)
    db.add(LoyaltyRule(name="Answer", kind="event", event="survey_answered", fixed_points=10))
    s = Survey(name="After sale", status="active")
    db.add(s)
    db.flush()
    r = SurveyResponse(survey_id=s.id, customer_id=dup.id, channel="online", status="completed")
    db.add(r)
    db.flush()
    journals = _counts(db, dup.id)["journals"]
    emit("survey.answered", db, response=r, actor=None)
    assert _counts(db, dup.id)["journals"] == journals
    assert ledger.get_wallet(db, dup.id).balance == 0


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_web_order_form_says_the_customer_was_merged(client, db, users, locale):
    import html

    from tests.web.conftest import Browser

    keep, dup, product = _merged_pair(db, users)
    users["admin"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("admin")
    form = {
        "ordered_at": "2026-01-05T10:00", "status": "completed", "channel": "store",
        "lines.0.product_id": str(product.id), "lines.0.quantity": "1",
    }  # fmt: skip
    r = web.post(f"/customers/{dup.id}/orders/new", form)
    assert r.status_code == 422
    assert SAID[locale].format(dup=dup.id, keep=keep.id) in html.unescape(r.text)
    assert _counts(db, dup.id)["orders"] == 0


def test_the_public_complaint_form_files_under_the_survivor(db, users):
    """The duplicate keeps its e-mail address and may have the lower id: the public form's
    complaint goes to the survivor, not a 409 to the visitor."""
    from retento.complaints import public_intake
    from retento.complaints.schemas import PublicComplaintIn

    dup = make_customer(db, name="Vera (old)", email="vera@example.com")
    keep = make_customer(db, name="Vera", email="vera@example.com")
    merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])
    db.commit()
    data = PublicComplaintIn(
        name="Vera", email="vera@example.com", category="delivery", subject="Parcel lost",
        description="The parcel never arrived.",
    )  # fmt: skip
    c = public_intake.submit_public(db, data)
    assert c.customer_id == keep.id
