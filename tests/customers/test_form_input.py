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


def _errors_by_field(html: str) -> dict[str, str]:
    """Each invalid input's name → the message shown right after it (in the same field box)."""
    import html as markup

    found = re.findall(
        r'name="([^"]+)"[^>]*aria-invalid="true"(?:(?!name=").)*?class="field-error"[^>]*>([^<]*)<',
        html,
        re.S,
    )
    return {name: markup.unescape(text) for name, text in found}


# Every field the form can get wrong, in each way it is checked: the form's own parsing (custom
# fields, owner), the schema (email, phone, date) and the stored rows (owner, external id,
# primary contact). The form used to name one of these groups per submission.
_EVERY_MISTAKE = {
    "name": "Many mistakes",
    "email": "not-an-email",
    "phone": "55x5123 call me",
    "acquired_on": "2099-05-01",
    "custom_fields": "vip",
    "external_id": "TAKEN-1",
    "contacts.0.name": "Ann",
    "contacts.0.phone": "ask Ann",
    "contacts.0.is_primary": "1",
    "contacts.1.name": "Bo",
    "contacts.1.is_primary": "1",
}


def _every_mistake_expected(taken_id: int) -> dict[str, str]:
    return {
        "email": "请输入电子邮件地址，例如 name@example.com。",
        "phone": "不是电话号码（由数字组成，可含 + ( ) - . 和空格；分机号前写 x 或“转”）",
        "acquired_on": "不能晚于现在",
        "custom_fields": "第 1 行：请写成“名称: 值”。",
        "external_id": f"外部编号“TAKEN-1”已被客户 {taken_id} 使用。",
        "contacts.0.phone": "不是电话号码（由数字组成，可含 + ( ) - . 和空格；分机号前写 x 或“转”）",
        "contacts.1.is_primary": "只能有一位主要联系人。",
    }


def test_every_mistake_on_the_new_customer_form_is_named_at_once_in_chinese(client, users, db):
    from tests.factories import make_customer

    taken = make_customer(db, name="Has the id", external_id="TAKEN-1")
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.post("/customers/new", {**_EVERY_MISTAKE, "owner_id": "abc"})
    assert r.status_code == 422
    assert _errors_by_field(r.text) == {
        **_every_mistake_expected(taken.id),
        "owner_id": "请从列表中选择。",
    }
    # An owner that is a number but no user is named with the others too.
    r = web.post("/customers/new", {**_EVERY_MISTAKE, "owner_id": "987654"})
    assert r.status_code == 422
    assert _errors_by_field(r.text) == {
        **_every_mistake_expected(taken.id),
        "owner_id": "用户 987654 不存在或已停用。",
    }
    assert db.query(Customer).filter_by(name="Many mistakes").count() == 0


def test_every_mistake_on_the_edit_form_is_named_at_once_and_nothing_is_saved(client, users, db):
    from tests.customers.test_versions import _edit_form
    from tests.factories import make_customer

    taken = make_customer(db, name="Has the id", external_id="TAKEN-1")
    c = make_customer(db, name="Edit me", email="keep@example.com")
    users["manager"].locale = "zh_CN"
    db.commit()
    own_id = c.external_id
    web = Browser(client)
    web.login("manager")
    fields = _edit_form(web, f"/customers/{c.id}/edit")
    r = web.post(f"/customers/{c.id}/edit", {**fields, **_EVERY_MISTAKE, "owner_id": "987654"})
    assert r.status_code == 422
    assert _errors_by_field(r.text) == {
        **_every_mistake_expected(taken.id),
        "owner_id": "用户 987654 不存在或已停用。",
    }
    db.expire_all()
    saved = db.get(Customer, c.id)
    assert (saved.name, saved.email, saved.external_id) == ("Edit me", "keep@example.com", own_id)
