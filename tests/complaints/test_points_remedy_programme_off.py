"""A points remedy while the loyalty programme is switched off was recorded with nothing posted;
it is refused naming the points (409), nothing recorded. The remedy form offers loyalty points
(the compensation type and its field) only when they can be posted: the programme is on and the
customer is a member. SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

import retento.loyalty  # noqa: F401 - subscribes the complaint hook, registers the provider
from retento.complaints import remedies
from retento.complaints.models import Remedy
from retento.complaints.schemas import RemedyCreate
from retento.core.errors import Conflict
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyJournal
from tests.factories.complaints import make_complaint
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser

POINTS = RemedyCreate(kind="compensation", compensation_type="loyalty_points", points=300)


def _switch_off(db) -> None:
    ledger.programme(db).active = False
    db.flush()


def test_points_remedy_while_the_programme_is_off_is_refused(db, users):
    make_programme(db)
    comp = make_complaint(db, actor=users["manager"])
    ledger.wallet(db, comp.customer_id)  # a member
    _switch_off(db)
    db.commit()
    with pytest.raises(Conflict) as exc:
        remedies.add_remedy(db, comp.id, POINTS, actor=users["manager"])
    assert exc.value.field == "points" and "switched off" in str(exc.value.message)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Remedy)) == 0
    assert db.scalar(select(func.count()).select_from(LoyaltyJournal)) == 0
    # Other compensations are recorded as before.
    voucher = RemedyCreate(kind="compensation", compensation_type="voucher", amount="5", cost="5")
    assert remedies.add_remedy(db, comp.id, voucher, actor=users["manager"]).id


def test_with_no_programme_at_all_a_points_remedy_is_refused(db, users):
    comp = make_complaint(db, actor=users["manager"])
    db.commit()
    with pytest.raises(Conflict) as exc:
        remedies.add_remedy(db, comp.id, POINTS, actor=users["manager"])
    assert exc.value.field == "points"


def _page(client, users, locale, comp_id):
    users["manager"].locale = locale
    web = Browser(client)
    assert web.login("manager").status_code == 303
    return web, web.get(f"/complaints/{comp_id}").text


def _offers_points(page: str) -> bool:
    form = page[page.index('id="remedy-form"') :]
    form = form[: form.index("</form>")]
    return 'value="loyalty_points"' in form or 'name="points"' in form


@pytest.mark.parametrize(
    ("active", "member", "offered"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_the_remedy_form_offers_points_only_where_they_can_be_posted(
    db, client, users, active, member, offered
):
    make_programme(db)
    comp = make_complaint(db, actor=users["manager"])
    if member:
        ledger.wallet(db, comp.customer_id)
    if not active:
        _switch_off(db)
    db.commit()
    _, page = _page(client, users, "en", comp.id)
    assert _offers_points(page) is offered
    assert 'value="voucher"' in page  # the other compensations are always there


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("en", "The loyalty programme is switched off: points cannot be given as a remedy."),
        ("zh_CN", "忠诚计划未启用：不能以积分作为补救。"),
    ],
)
def test_a_points_remedy_sent_while_the_programme_is_off_is_explained(
    db, client, users, locale, said
):
    make_programme(db)
    comp = make_complaint(db, actor=users["manager"])
    ledger.wallet(db, comp.customer_id)
    page_key = None
    db.commit()
    web, page = _page(client, users, locale, comp.id)
    page_key = re.search(r'name="remedy_key" value="([0-9a-f]+)"', page).group(1)
    _switch_off(db)  # switched off after the page was loaded
    db.commit()
    form = {
        "remedy_key": page_key, "remedy_kind": "compensation",
        "compensation_type": "loyalty_points", "amount": "0", "cost": "", "points": "300",
    }  # fmt: skip
    r = web.post(f"/complaints/{comp.id}/remedies", form)
    assert r.status_code == 409
    assert said in r.text
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Remedy)) == 0
