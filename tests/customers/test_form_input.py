"""The customer form's own parsing (owner, custom fields): a bad value is a 422 naming the field,
in the reader's language, and nothing is saved."""

from __future__ import annotations

import re

from retento.customers.models import Customer
from tests.web.conftest import Browser


def _errors(html: str) -> list[str]:
    return re.findall(r'class="field-error"[^>]*>([^<]*)<', html)


def test_an_owner_that_is_not_a_user_id_is_refused_not_dropped(client, users, db):
    web = Browser(client)
    web.login("manager")
    for owner in ("abc", "-3"):
        r = web.post("/customers/new", {"name": "Owner typo", "owner_id": owner})
        assert r.status_code == 422
        assert "Choose one of the listed values." in _errors(r.text)
    assert db.query(Customer).filter_by(name="Owner typo").count() == 0


def test_a_custom_field_line_without_a_colon_is_named_in_chinese(client, users, db):
    users["manager"].locale = "zh_CN"
    db.flush()
    web = Browser(client)
    web.login("manager")
    r = web.post("/customers/new", {"name": "CF typo", "custom_fields": "vip\nsize: L"})
    assert r.status_code == 422
    assert "第 1 行：请写成“名称: 值”。" in _errors(r.text) and "Line 1" not in r.text
    assert db.query(Customer).filter_by(name="CF typo").count() == 0


def test_an_owner_filter_that_is_not_a_user_id_is_named_in_chinese(client, users, db):
    """/customers?owner=abc answered 422 with "owner must be a user id" in English only."""
    from retento.web.i18n import gettext

    users["manager"].locale = "zh_CN"
    db.flush()
    web = Browser(client)
    web.login("manager")
    r = web.get("/customers", params={"owner": "abc"})
    assert r.status_code == 422 and "owner must be a user id" not in r.text
    assert gettext("zh_CN", "Choose one of the listed values.") in r.text


def test_a_blank_name_on_edit_is_refused_in_chinese(client, users, db):
    """Blanking the name of a customer (or product, survey, category) read "must not be blank"
    on the Chinese page."""
    from tests.factories import make_customer

    c = make_customer(db, name="Keep me")
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/customers/{c.id}/edit")
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    r = web.post(f"/customers/{c.id}/edit", {"name": "   ", "version": version})
    assert r.status_code == 422 and "must not be blank" not in r.text
    assert "不能为空" in _errors(r.text)
    db.expire_all()
    assert db.get(Customer, c.id).name == "Keep me"


def test_list_filters_outside_the_choices_are_named_not_dropped(client, users, db):
    """/customers?kind=zzz listed every customer under a "kind" filter the reader thought was
    applied; now each value outside the form's choices is a 422 naming the field."""
    from tests.factories import make_customer

    make_customer(db, name="Any kind")
    db.commit()
    web = Browser(client)
    web.login("manager")
    assert web.get("/customers", params={"kind": "business", "archived": "all"}).status_code == 200
    for field, value in (("kind", "zzz"), ("scope", "outer"), ("archived", "maybe")):
        r = web.get("/customers", params={field: value})
        assert r.status_code == 422, field
        assert "Choose one of the listed values." in r.text and "Any kind" not in r.text
    r = web.get("/customers", params={"sort": "salary"})
    assert r.status_code == 422 and "Choose one of the listed orders." in r.text
    users["manager"].locale = "zh_CN"
    db.commit()
    from retento.web.i18n import gettext

    r = web.get("/customers", params={"kind": "zzz"})
    assert r.status_code == 422
    assert gettext("zh_CN", "Choose one of the listed values.") in r.text


def test_a_name_with_bidirectional_controls_is_refused_in_chinese(client, users, db):
    """'\u202egpj.exe' shows as 'exe.jpg'; the refusal was English on the Chinese form."""
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.post("/customers/new", {"name": "\u202egpj.exe"})
    assert r.status_code == 422
    assert "不能包含双向控制字符（U+202A–U+202E、U+2066–U+2069）" in _errors(r.text)
    assert db.query(Customer).filter(Customer.name.like("%gpj%")).count() == 0
