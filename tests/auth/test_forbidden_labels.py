"""A 403 names the role and the permission as people know them, in the reader's language.

The forbidden page read "Role 'analyst' may not customer create." and "角色“agent”无权执行“user
manage”。": the role's and the permission's codes. It now names the role by its label (a custom
role by its name, its Chinese name in Chinese) and the permission by its label on the Roles
page; the API's problem keeps both codes in fields of their own.
"""

from __future__ import annotations

import html
import re

import pytest

from retento.auth import roles
from retento.auth.models import User
from retento.auth.permissions import require
from retento.auth.schemas import RoleCreate
from retento.core.errors import Forbidden
from tests.factories import make_user
from tests.web.conftest import Browser


def _message(page: str) -> str:
    m = re.search(r'<p class="error-message">(.*?)</p>', page, re.S)
    assert m, page[:500]
    return html.unescape(m.group(1))


@pytest.mark.parametrize(
    ("role", "url", "lang", "text"),
    [
        ("agent", "/admin/users", "zh_CN", "角色“客服专员”无权：管理用户和角色。"),
        ("agent", "/admin/users", "en", "The role Service agent may not: Manage users and roles."),
        ("analyst", "/customers/new", "en", "The role Analyst may not: Create customers."),
        ("analyst", "/customers/new", "zh_CN", "角色“分析师”无权：新建客户。"),
    ],
)
def test_the_forbidden_page_names_role_and_permission_by_their_labels(
    web, db, users, role, url, lang, text
):
    users[role].locale = lang
    db.commit()
    assert web.login(role).status_code == 303
    r = web.get(url)
    assert r.status_code == 403
    assert _message(r.text) == text
    assert "user manage" not in r.text and "customer create" not in r.text


def test_a_custom_role_is_named_by_its_own_name_in_each_language(client, db, users):
    roles.create_role(
        db,
        RoleCreate(name="supervisor", name_zh="主管", permissions=["customer:read"]),
        actor=None,
    )
    make_user(db, username="sue", role="supervisor", locale="zh_CN")
    db.commit()
    web = Browser(client)
    assert web.login("sue").status_code == 303
    r = web.get("/admin/users")
    assert r.status_code == 403 and _message(r.text) == "角色“主管”无权：管理用户和角色。"
    web.post("/locale", {"lang": "en", "next": "/"})
    r = web.get("/customers/new")
    assert r.status_code == 403
    assert _message(r.text) == "The role supervisor may not: Create customers."


def test_the_api_problem_keeps_the_codes_next_to_the_labels(client, tokens):
    r = client.post("/api/v1/customers", json={"name": "Zed"}, headers=tokens["analyst"])
    assert r.status_code == 403
    body = r.json()
    assert body["code"] == "forbidden"
    assert body["detail"] == "The role Analyst may not: Create customers."
    assert body["permission"] == "customer:create" and body["role"] == "analyst"


def test_require_raises_forbidden_with_codes(db, users):
    agent: User = users["agent"]
    with pytest.raises(Forbidden) as caught:
        require(agent, "user:manage")
    problem = caught.value.problem()
    assert problem["status"] == 403
    assert (problem["permission"], problem["role"]) == ("user:manage", "agent")
    assert str(caught.value.message) == "The role Service agent may not: Manage users and roles."
