"""Custom roles (auth.roles): created, edited and deleted by administrators on the service, API,
web page and CLI; honoured by every permission check through a per-process cache refreshed by
the stamp read with the user; never deleted while a user holds them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select
from typer.testing import CliRunner

from retento.audit.models import AuditEntry
from retento.auth import roles
from retento.auth.models import Role, User
from retento.auth.permission_labels import LABELS
from retento.auth.permissions import MATRIX, ROLES, can, role_permissions
from retento.auth.schemas import RoleCreate, RoleUpdate, UserCreate, UserUpdate
from retento.auth.service import create_user, update_user
from retento.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from retento.core.versioning import VersionConflict
from retento.customers import service as customers
from retento.customers.schemas import CustomerUpdate
from tests.auth.test_teams import cli_db  # noqa: F401  (fixture)
from tests.factories import make_customer, make_user
from tests.web.conftest import Browser

SUPERVISOR = ["customer:read", "customer:update", "score:read", "complaint:read"]  # matrix order


def _role(db, name="supervisor", perms=None, scope="own", **over):
    data = RoleCreate(name=name, permissions=SUPERVISOR if perms is None else perms, scope=scope)
    role = roles.create_role(db, data.model_copy(update=over), actor=None)
    db.commit()
    return role


def _audits(db, entity="role"):
    return list(
        db.scalars(select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id))
    )


# --- the service -------------------------------------------------------------------------------


def test_create_edit_rename_and_delete_with_audit_entries(db, users):
    admin = users["admin"]
    role = roles.create_role(
        db,
        RoleCreate(
            name="supervisor", name_zh="主管", description="Floor lead", permissions=SUPERVISOR
        ),
        actor=admin,
    )
    assert role.permissions == SUPERVISOR and role.version == 1 and role.scope == "own"
    holder = make_user(db, username="sue", role="supervisor")
    assert can(holder, "customer:read") and not can(holder, "customer:create")

    changed = roles.update_role(
        db, "supervisor", RoleUpdate(version=1, permissions=["customer:read"]), actor=admin
    )
    assert changed.version == 2 and not can(holder, "customer:update")
    # Renaming carries every holder with it (and bumps their version: stale forms get 409).
    v = holder.version
    roles.update_role(db, "supervisor", RoleUpdate(name="lead"), actor=admin)
    db.expire_all()
    assert db.get(User, holder.id).role == "lead" and db.get(User, holder.id).version == v + 1
    assert can(db.get(User, holder.id), "customer:read")
    with pytest.raises(Conflict) as exc:
        roles.delete_role(db, "lead", actor=admin)
    assert "1 user(s) hold the role 'lead'" in str(exc.value)
    update_user(db, holder.id, UserUpdate(role="agent"), actor=admin)
    roles.delete_role(db, "lead", actor=admin)
    assert db.scalar(select(Role).where(Role.name == "lead")) is None
    assert [e.action for e in _audits(db)] == ["create", "update", "update", "delete"]
    assert _audits(db)[2].after["users_renamed"] == 1


def test_stale_version_conflicts_and_built_in_roles_are_read_only(db, users):
    admin = users["admin"]
    _role(db)
    roles.update_role(db, "supervisor", RoleUpdate(description="x"), actor=admin)
    with pytest.raises(VersionConflict):
        roles.update_role(db, "supervisor", RoleUpdate(version=1, description="y"), actor=admin)
    with pytest.raises(VersionConflict):
        roles.delete_role(db, "supervisor", actor=admin, expected_version=1)
    for name in ROLES:
        with pytest.raises(Conflict):
            roles.update_role(db, name, RoleUpdate(description="x"), actor=admin)
        with pytest.raises(Conflict):
            roles.delete_role(db, name, actor=admin)
        with pytest.raises(Conflict):
            roles.create_role(db, RoleCreate(name=name.upper()), actor=admin)
    with pytest.raises(Conflict):
        roles.create_role(db, RoleCreate(name="Supervisor"), actor=admin)
    with pytest.raises(NotFound):
        roles.delete_role(db, "nobody", actor=admin)


def test_user_manage_and_unknown_permissions_are_refused_and_only_admins_manage_roles(db, users):
    with pytest.raises(InvalidInput) as exc:
        roles.create_role(db, RoleCreate(name="boss", permissions=["user:manage"]), actor=None)
    assert exc.value.field == "permissions" and "admin role" in str(exc.value)
    with pytest.raises(InvalidInput) as exc:
        roles.create_role(db, RoleCreate(name="boss", permissions=["customer:fly"]), actor=None)
    assert exc.value.field == "permissions"
    _role(db, "boss", ["customer:read"])
    with pytest.raises(InvalidInput):
        roles.update_role(db, "boss", RoleUpdate(permissions=["user:manage"]), actor=None)
    for r in ("manager", "agent", "analyst"):
        with pytest.raises(Forbidden):
            roles.create_role(db, RoleCreate(name="x" + r), actor=users[r])
        with pytest.raises(Forbidden):
            roles.list_roles(db, users[r])


def test_admin_always_holds_every_permission_and_every_permission_has_a_label():
    assert role_permissions("admin") == frozenset(MATRIX)
    assert all("admin" in holders for holders in MATRIX.values())
    assert set(LABELS) == set(MATRIX)


def test_a_user_is_given_only_an_existing_role(db, users):
    with pytest.raises(InvalidInput) as exc:
        create_user(
            db,
            UserCreate(username="newbie", password="ledger-Sesame-42", role="ghost"),
            actor=users["admin"],
        )
    assert exc.value.field == "role" and "ghost" in str(exc.value)
    _role(db)
    made = create_user(
        db,
        UserCreate(username="newbie", password="ledger-Sesame-42", role="supervisor"),
        actor=users["admin"],
    )
    assert made.role == "supervisor"
    with pytest.raises(InvalidInput):
        update_user(db, users["agent"].id, UserUpdate(role="ghost"), actor=users["admin"])


def test_scope_own_works_on_own_customers_and_scope_all_on_every_one(db, users):
    _role(db, "own_editor", ["customer:read", "customer:update"], scope="own")
    _role(db, "all_editor", ["customer:read", "customer:update"], scope="all")
    mine = make_user(db, username="mine", role="own_editor")
    every = make_user(db, username="every", role="all_editor")
    own_c = make_customer(db, owner_id=mine.id)
    other = make_customer(db, owner_id=users["agent"].id)
    customers.update_customer(db, own_c.id, CustomerUpdate(note="ok"), actor=mine)
    with pytest.raises(Forbidden):
        customers.update_customer(db, other.id, CustomerUpdate(note="no"), actor=mine)
    customers.update_customer(db, other.id, CustomerUpdate(note="ok"), actor=every)
    with pytest.raises(Forbidden):
        customers.delete_customer(db, other.id, actor=every)  # not among its permissions


# --- the cache ---------------------------------------------------------------------------------


def test_each_process_reloads_only_when_the_stamp_changes(db, users):
    _role(db, perms=["customer:read"])
    stamp = db.scalar(select(roles.RoleStamp.stamp))
    assert roles.permissions.custom_roles().stamp == stamp
    # Another process changes the role: a new stamp in the database, this cache is stale.
    db.get(Role, db.scalar(select(Role.id))).permissions = ["customer:read", "order:read"]
    db.execute(roles.update(roles.RoleStamp).values(stamp="elsewhere"))
    db.flush()
    holder = make_user(db, username="sue", role="supervisor")
    assert not can(holder, "order:read")
    roles.seen(db, stamp)  # the same stamp: nothing is read
    assert not can(holder, "order:read")
    roles.seen(db, "elsewhere")
    assert can(holder, "order:read")


def test_an_authenticated_request_reads_the_roles_only_when_they_changed(
    client, db, session_factory, users, tokens
):
    role = _role(db, perms=["customer:read"])
    holder = make_user(db, username="sue", role="supervisor")
    from retento.auth.service import issue_token

    _, plain = issue_token(db, holder, name="t", actor=None)
    db.commit()
    head = {"Authorization": f"Bearer {plain}"}
    seen: list[str] = []

    def log(conn, cursor, statement, *args):
        seen.append(statement)

    client.get("/api/v1/me", headers=head)  # warm: the cache is current
    conn = session_factory.kw["bind"]  # the connection every session of the test uses
    event.listen(conn, "before_cursor_execute", log)
    try:
        assert client.get("/api/v1/customers", headers=head).status_code == 200
        quiet = list(seen)
        roles.update_role(db, "supervisor", RoleUpdate(permissions=["order:read"]), actor=None)
        db.commit()
        # Simulate another process: forget what this one loaded.
        roles.permissions.install_custom_roles("old", {"supervisor": frozenset()}, {})
        seen.clear()
        assert client.get("/api/v1/customers", headers=head).status_code == 403
        reloaded = list(seen)
    finally:
        event.remove(conn, "before_cursor_execute", log)
    reads_roles = re.compile(r"\bFROM roles\b")
    assert not any(reads_roles.search(s) for s in quiet)
    assert sum("role_stamp" in s for s in quiet) == 1  # joined into the token's statement
    assert sum(bool(reads_roles.search(s)) for s in reloaded) == 1
    assert role.id


# --- API ---------------------------------------------------------------------------------------


def test_api_role_crud_versions_and_delete_in_use(client, db, users, tokens):
    admin = tokens["admin"]
    r = client.post(
        "/api/v1/roles",
        json={"name": "supervisor", "name_zh": "主管", "permissions": SUPERVISOR},
        headers=admin,
    )
    assert r.status_code == 201 and r.headers["ETag"] == '"1"'
    assert r.json()["permissions"] == SUPERVISOR and r.json()["builtin"] is False
    listed = client.get("/api/v1/roles", headers=admin).json()
    assert [x["name"] for x in listed[:4]] == list(ROLES) and listed[4]["name"] == "supervisor"
    assert all(x["builtin"] for x in listed[:4])
    r = client.patch(
        "/api/v1/roles/supervisor", json={"description": "d"}, headers={**admin, "If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    r = client.patch(
        "/api/v1/roles/supervisor", json={"description": "e"}, headers={**admin, "If-Match": '"1"'}
    )
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    assert (
        client.patch("/api/v1/roles/agent", json={"description": "x"}, headers=admin).status_code
        == 409
    )
    assert client.delete("/api/v1/roles/admin", headers=admin).status_code == 409
    bad = client.post(
        "/api/v1/roles", json={"name": "boss", "permissions": ["user:manage"]}, headers=admin
    )
    assert bad.status_code == 422 and bad.json()["field"] == "permissions"
    # Give a user the role through the users API, then deletion is refused naming the count.
    r = client.patch(
        f"/api/v1/users/{users['agent'].id}", json={"role": "supervisor"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["role"] == "supervisor"
    r = client.delete("/api/v1/roles/supervisor", headers=admin)
    assert r.status_code == 409 and "1 user(s)" in r.json()["detail"]
    client.patch(f"/api/v1/users/{users['agent'].id}", json={"role": "agent"}, headers=admin)
    assert client.delete("/api/v1/roles/supervisor", headers=admin).status_code == 204
    assert client.get("/api/v1/roles/supervisor", headers=admin).status_code == 404
    for who in ("manager", "agent", "analyst"):
        assert client.get("/api/v1/roles", headers=tokens[who]).status_code == 403
        assert (
            client.post("/api/v1/roles", json={"name": "xy"}, headers=tokens[who]).status_code
            == 403
        )


def test_api_permissions_lists_labels_in_both_languages(client, tokens):
    perms = client.get("/api/v1/permissions", headers=tokens["admin"]).json()
    assert [p["name"] for p in perms] == list(MATRIX)
    cr = next(p for p in perms if p["name"] == "customer:read")
    assert cr["label"] == "See customers" and cr["label_zh"] == "查看客户"
    assert next(p for p in perms if p["name"] == "user:manage")["grantable"] is False


def test_a_custom_role_user_does_exactly_what_its_permissions_allow(client, db, users):
    _role(db, perms=["customer:read", "complaint:read", "score:read"])
    make_user(db, username="sue", role="supervisor")
    db.commit()
    web = Browser(client)
    assert web.login("sue").status_code == 303
    home = web.get("/")  # lands on "My work" (home.queries.views_for)
    assert home.status_code == 200
    # Its complaint queue, but no retention tasks: the role may not open them.
    assert 'id="home-queue"' in home.text and 'href="/retention/tasks"' not in home.text
    assert web.get("/customers").status_code == 200
    assert web.get("/complaints").status_code == 200
    assert web.get("/admin/users").status_code == 403
    assert web.get("/loyalty/counter").status_code == 403
    from retento.auth.service import issue_token

    _, plain = issue_token(db, db.scalar(select(User).where(User.username == "sue")), actor=None)
    db.commit()
    head = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/customers", headers=head).status_code == 200
    r = client.post("/api/v1/customers", json={"name": "Zed"}, headers=head)
    assert r.status_code == 403 and "supervisor" in r.json()["detail"]
    # The navigation offers what the role may open and nothing else.
    page = web.get("/customers").text
    assert 'href="/complaints"' in page and 'href="/admin/users"' not in page


def test_analyst_starts_a_scoring_run_but_does_not_change_value_settings(client, tokens):
    r = client.post("/api/v1/scoring/runs", json={}, headers=tokens["analyst"])
    assert r.status_code != 403
    r = client.put("/api/v1/value/settings", json={}, headers=tokens["analyst"])
    assert r.status_code == 403
    assert client.post("/api/v1/scoring/runs", json={}, headers=tokens["agent"]).status_code == 403


# --- web ---------------------------------------------------------------------------------------


def test_roles_page_matrix_and_form_in_both_languages(web, db, users):
    _role(db, name_zh="主管")
    web.login("admin")
    page = web.get("/admin/roles")
    assert page.status_code == 200
    assert "permission-matrix" in page.text and "supervisor" in page.text
    assert 'href="/admin/roles"' in page.text  # in the Administration menu
    built_in = web.get("/admin/roles/agent")
    assert built_in.status_code == 200 and "cannot be renamed" in built_in.text
    assert 'id="delete-role"' not in built_in.text
    web.post("/locale", {"lang": "zh_CN", "next": "/admin/roles"})
    zh = web.get("/admin/roles").text
    assert "角色" in zh and "主管" in zh and "查看客户" in zh and "权限矩阵" in zh


def test_web_create_edit_stale_and_delete_in_use(web, db, users):
    web.login("admin")
    r = web.post(
        "/admin/roles/new",
        {"name": "supervisor", "name_zh": "主管", "scope": "all", "permissions": SUPERVISOR},
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/roles/supervisor"
    role = db.scalar(select(Role).where(Role.name == "supervisor"))
    assert role.permissions == SUPERVISOR and role.scope == "all"
    bad = web.post("/admin/roles/new", {"name": "boss", "permissions": ["user:manage"]})
    assert bad.status_code == 422 and "field-error" in bad.text
    ok = web.post(
        "/admin/roles/supervisor",
        {"version": "1", "name": "supervisor", "permissions": ["customer:read"]},
    )
    assert ok.status_code == 303
    stale = web.post(
        "/admin/roles/supervisor",
        {"version": "1", "name": "supervisor", "permissions": ["order:read"]},
    )
    assert stale.status_code == 409 and "Someone else changed supervisor" in stale.text
    assert '<tr data-field="permissions">' in stale.text  # the conflict page, field by field
    db.expire_all()
    assert db.get(Role, role.id).permissions == ["customer:read"]
    # The user form offers the custom role; deletion is refused while a user holds it.
    form = web.get("/admin/users/new").text
    assert 'value="supervisor"' in form
    agent = users["agent"]
    r = web.post(f"/admin/users/{agent.id}", {"version": str(agent.version), "role": "supervisor"})
    assert r.status_code == 303
    r = web.post("/admin/roles/supervisor/delete", {"version": "2"})
    assert r.status_code == 409 and "1 user(s) hold the role" in r.text
    db.expire_all()
    agent = db.get(User, agent.id)
    web.post(f"/admin/users/{agent.id}", {"version": str(agent.version), "role": "agent"})
    assert web.post("/admin/roles/supervisor/delete", {"version": "2"}).status_code == 303
    assert db.scalar(select(Role).where(Role.name == "supervisor")) is None
    assert web.get("/admin/roles/supervisor").status_code == 404


def test_non_admins_cannot_open_the_roles_or_settings_pages(web, users):
    web.login("manager")
    assert web.get("/admin/roles").status_code == 403
    assert web.get("/admin/settings").status_code == 403
    assert web.post("/admin/roles/new", {"name": "x"}).status_code == 403


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_role_commands_and_user_with_a_custom_role(cli_db):  # noqa: F811
    from retento.cli import app

    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "role",
            "create",
            "supervisor",
            "--permissions",
            "customer:read,complaint:read",
            "--name-zh",
            "主管",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["role", "create", "boss", "--permissions", "user:manage"])
    assert r.exit_code != 0 and "user:manage" in r.output
    pw = ["--password", "ledger-Sesame-42"]
    assert runner.invoke(app, ["user", "create", "root", "--role", "admin", *pw]).exit_code == 0
    r = runner.invoke(app, ["user", "create", "sue", "--role", "supervisor", *pw])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["user", "create", "bob", "--role", "ghost", *pw])
    assert r.exit_code != 0 and "ghost" in r.output
    listing = runner.invoke(app, ["role", "list"], terminal_width=200).output
    assert "supervisor" in listing and "analyst" in listing
    shown = runner.invoke(app, ["role", "show", "supervisor"]).output
    assert "customer:read" in shown and "complaint:read" in shown
    r = runner.invoke(app, ["role", "update", "supervisor", "--permissions", "customer:read"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["role", "delete", "supervisor"])
    assert r.exit_code != 0 and "1 user(s)" in r.output
    assert runner.invoke(app, ["user", "update", "sue", "--role", "agent"]).exit_code == 0
    r = runner.invoke(app, ["role", "delete", "supervisor"])
    assert r.exit_code == 0, r.output
    assert "supervisor" not in runner.invoke(app, ["role", "list"], terminal_width=200).output
