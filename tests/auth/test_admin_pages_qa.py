"""Users pages, from an administrator's exploratory test (en + zh).

The Users list and a user's page show a custom role by its name, its Chinese name for a Chinese
reader, as the role drop-downs do (QA: both showed the bare code "clerk" in Chinese, where a
built-in role showed "客服专员"); a hand-made ``is_active`` value is refused, not read as
"deactivate"."""

from __future__ import annotations

import re

import pytest

from retento.auth import roles
from retento.auth.schemas import RoleCreate
from tests.factories import make_user
from tests.web.conftest import Browser


@pytest.mark.parametrize(("locale", "shown"), [("zh_CN", "数据录入员 (clerk)"), ("en", "clerk")])
def test_a_custom_role_is_shown_by_its_name(client, db, users, locale, shown):
    roles.create_role(
        db, RoleCreate(name="clerk", name_zh="数据录入员", permissions=["data:import"]), actor=None
    )
    holder = make_user(db, username="lin", role="clerk")
    users["admin"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("admin")
    badges = re.findall(
        r'<span class="badge badge-blue">([^<]*)</span>', web.get("/admin/users").text
    )
    assert shown in badges
    assert ("客服专员" if locale == "zh_CN" else "Service agent") in badges
    partial = web.get(
        "/admin/users?role=clerk", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert re.findall(r'<span class="badge badge-blue">([^<]*)</span>', partial.text) == [shown]
    page = web.get(f"/admin/users/{holder.id}").text
    subtitle = re.search(r'<p class="subtitle">(.*?)</p>', page, re.S).group(1)
    assert f"lin · {shown} ·" in subtitle


@pytest.mark.parametrize(
    ("locale", "shown"), [("en", "Choose one of the listed values."), ("zh_CN", "请从列表中选择。")]
)
def test_an_unknown_active_flag_is_refused_not_read_as_deactivate(client, db, users, locale, shown):
    users["admin"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("admin")
    agent = users["agent"]
    r = web.post(f"/admin/users/{agent.id}", {"is_active": "maybe"})
    assert r.status_code == 422
    assert shown in r.text
    assert "Please correct the highlighted fields." not in r.text  # no field to highlight
    db.expire_all()
    assert db.get(type(agent), agent.id).is_active
    assert web.post(f"/admin/users/{agent.id}", {"is_active": "0"}).status_code == 303
    db.expire_all()
    assert not db.get(type(agent), agent.id).is_active
    assert web.post(f"/admin/users/{agent.id}", {"is_active": "1"}).status_code == 303
    db.expire_all()
    assert db.get(type(agent), agent.id).is_active
