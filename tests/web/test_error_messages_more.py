"""More service errors with values (core.errors.Msg) on pages: loyalty, complaint SLA settings,
insights and the import wizard say them in the reader's language with the values put back; the
API (and an English page) keeps the English text."""

from __future__ import annotations

import pytest

from retento.loyalty import service
from tests.dataio.wizard_support import upload, walk_to_check
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


def _as(client, db, users, role: str, zh: bool) -> Browser:
    users[role].locale = "zh_CN" if zh else "en"
    db.commit()
    web = Browser(client)
    web.login(role)
    return web


def _member(db, users, points: int = 500):
    make_programme(db)
    c = make_customer(db, external_id="M-1")
    service.adjust(db, c.id, points, actor=users["manager"], reason="opening")
    db.commit()
    return c


@pytest.mark.parametrize("zh", [False, True])
def test_a_redemption_beyond_the_balance_names_both_numbers(client, db, users, tokens, zh):
    c = _member(db, users)
    web = _as(client, db, users, "agent", zh)
    r = web.post(f"/loyalty/members/{c.id}/redeem", {"points": "9999"})
    assert r.status_code == 409
    english = "Not enough points: 500 available, 9999 needed."
    assert ("积分不足：可用 500，需要 9999。" in r.text) == zh
    assert (english in r.text) == (not zh)
    api = client.post(
        f"/api/v1/loyalty/members/{c.id}/redemptions",
        json={"points": 9999},
        headers=tokens["agent"],
    )
    assert api.status_code == 409 and api.json()["detail"] == english


def test_a_debit_beyond_the_balance_in_chinese(client, db, users):
    c = _member(db, users, points=40)
    web = _as(client, db, users, "manager", True)
    r = web.post(f"/loyalty/members/{c.id}/adjust", {"adj_points": "-100", "reason": "fix"})
    assert r.status_code == 409 and "最多只能扣减 40 积分。" in r.text
    assert "can be taken off" not in r.text


@pytest.mark.parametrize("zh", [False, True])
def test_member_import_rows_are_listed_in_the_reader_s_language(client, db, users, zh):
    make_programme(db)
    make_customer(db, external_id="M-1")
    db.commit()
    web = _as(client, db, users, "manager", zh)
    bad = b"customer_external_id,tier\nNOPE,\nM-1,platinum\nM-1,\n"
    r = web.post("/loyalty/members/import", {}, files={"file": ("m.csv", bad, "text/csv")})
    assert r.status_code == 422 and 'id="import-errors"' in r.text
    if zh:
        assert "未知的客户“NOPE”" in r.text and "未知的等级“platinum”" in r.text
        assert "unknown customer" not in r.text
    else:
        assert "unknown customer &#39;NOPE&#39;" in r.text
        assert "unknown tier &#39;platinum&#39;" in r.text


@pytest.mark.parametrize("zh", [False, True])
def test_business_calendar_errors_name_the_value(client, db, users, zh):
    web = _as(client, db, users, "manager", zh)
    r = web.post("/complaints/sla/calendars", {"name": "Mars desk", "timezone": "Mars/Base"})
    assert r.status_code == 422
    assert ("未知的时区“Mars/Base”。" in r.text) == zh
    assert ("Unknown time zone &#39;Mars/Base&#39;." in r.text) == (not zh)
    r = web.post("/complaints/sla/calendars", {"name": "Holiday desk", "holidays": "someday"})
    assert r.status_code == 422
    assert ("“someday”不是日期（YYYY-MM-DD）。" in r.text) == zh
    assert ("&#39;someday&#39; is not a date (YYYY-MM-DD)." in r.text) == (not zh)
    form = {"name": "Twice", "timezone": "UTC", "hours_0": "09:00-17:00"}
    assert web.post("/complaints/sla/calendars", form).status_code == 303
    r = web.post("/complaints/sla/calendars", form)
    assert r.status_code == 422
    assert ("工作日历“Twice”已存在。" in r.text) == zh
    assert ("Calendar &#39;Twice&#39; exists already." in r.text) == (not zh)


@pytest.mark.parametrize("zh", [False, True])
def test_basket_parameters_out_of_range_name_the_range(client, db, users, zh):
    web = _as(client, db, users, "analyst", zh)
    r = web.post("/insights/baskets/run", {"level": "product", "min_support": "5"})
    assert r.status_code == 422
    assert ("最小支持度必须大于 0 且不超过 1。" in r.text) == zh
    assert ("Minimum support must be above 0 and at most 1." in r.text) == (not zh)


@pytest.mark.parametrize("zh", [False, True])
def test_an_unreadable_workbook_is_refused_in_the_reader_s_language(client, db, users, zh):
    web = _as(client, db, users, "manager", zh)
    r = upload(web, "products", "prices.xlsx", b"PK\x03\x04 not really a workbook")
    assert r.status_code == 422
    assert ("prices.xlsx 不是 Excel 工作簿（.xlsx）" in r.text) == zh
    assert ("prices.xlsx is not an Excel workbook (.xlsx)" in r.text) == (not zh)


def test_an_unclosed_quote_found_by_the_check_is_explained_in_chinese(client, db, users):
    """The check step's row message is stored with the job and read back by its shape."""
    web = _as(client, db, users, "manager", True)
    good = "".join(f"Z{i},Name {i},1.00,0.50\n" for i in range(8))
    content = (
        "external_id,name,unit_price,unit_cost\n" + good + 'Z9,"Open quote,1.00,0.50\n'
    ).encode()
    job = walk_to_check(web, "products", "quote.csv", content)
    page = web.get(f"/imports/{job}")
    assert "有一个带引号的值没有闭合" in page.text
    assert "a quoted value is never closed" not in page.text
