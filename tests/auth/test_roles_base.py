"""A custom role's base role ("works like" a built-in role): chosen on the service, API, web
form and CLI (versioned, audited, 422 naming ``base_role``), and followed by every default picked
by role — home dashboard, complaint queue tabs and team, notification kinds, defaults and
recipients, public intake's owner — while permissions stay the role's own."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from retento.audit.models import AuditEntry
from retento.auth import roles
from retento.auth.models import Role
from retento.auth.permissions import BUILTIN_PERMISSIONS, base_role
from retento.auth.schemas import RoleCreate, RoleUpdate
from retento.complaints import public_intake
from retento.complaints.queries import team_lead_for
from retento.complaints.schemas import PublicComplaintIn
from retento.core.versioning import VersionConflict
from retento.home.queries import VIEWS_BY_ROLE, views_for
from retento.notifications.service import preferences
from tests.auth.test_teams import cli_db  # noqa: F401  (fixture)
from tests.factories import make_customer, make_user
from tests.factories.complaints import make_complaint
from tests.notifications.helpers import got

READS = sorted(v for v in BUILTIN_PERMISSIONS["analyst"] if v.endswith(":read"))
WORK = ["customer:update", "complaint:update", "retention:work"]


def _role(db, name, base, scope="own", perms=None):
    data = RoleCreate(name=name, permissions=perms or [*READS, *WORK], scope=scope, base_role=base)
    role = roles.create_role(db, data, actor=None)
    db.commit()
    return role


# --- choosing it -------------------------------------------------------------------------------


def test_service_create_edit_stale_audit_and_built_in_roles(db, users):
    admin = users["admin"]
    role = roles.create_role(
        db, RoleCreate(name="lead", permissions=READS, base_role="manager"), actor=admin
    )
    assert role.base_role == "manager" and base_role("lead") == "manager"
    assert roles.create_role(db, RoleCreate(name="helper"), actor=admin).base_role == "agent"
    roles.update_role(db, "lead", RoleUpdate(version=1, base_role="analyst"), actor=admin)
    assert base_role("lead") == "analyst"  # the cache was reloaded with the change
    with pytest.raises(VersionConflict):
        roles.update_role(db, "lead", RoleUpdate(version=1, base_role="agent"), actor=admin)
    entry = db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "role", AuditEntry.action == "update")
    ).one()
    assert entry.before["base_role"] == "manager" and entry.after["base_role"] == "analyst"
    for bad in ("admin", "boss"):
        with pytest.raises(ValidationError) as exc:
            RoleUpdate(base_role=bad)
        assert exc.value.errors()[0]["loc"] == ("base_role",)
    listed = {r["name"]: r["base_role"] for r in roles.list_roles(db, admin)}
    assert listed == {
        "admin": "admin",
        "manager": "manager",
        "agent": "agent",
        "analyst": "analyst",
        "helper": "agent",
        "lead": "analyst",
    }


def test_api_base_role_create_edit_stale_and_bad_values(client, tokens):
    admin = tokens["admin"]
    r = client.post("/api/v1/roles", json={"name": "lead", "base_role": "manager"}, headers=admin)
    assert r.status_code == 201 and r.json()["base_role"] == "manager"
    bad = client.post("/api/v1/roles", json={"name": "boss", "base_role": "admin"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["field"] == "base_role"
    r = client.patch(
        "/api/v1/roles/lead", json={"base_role": "analyst"}, headers={**admin, "If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json()["base_role"] == "analyst"
    stale = client.patch(
        "/api/v1/roles/lead", json={"base_role": "agent"}, headers={**admin, "If-Match": '"1"'}
    )
    assert stale.status_code == 409
    bad = client.patch("/api/v1/roles/lead", json={"base_role": "chief"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["field"] == "base_role"
    assert client.get("/api/v1/roles/agent", headers=admin).json()["base_role"] == "agent"


def test_web_form_select_create_edit_stale_bad_value_in_both_languages(web, db, users):
    web.login("admin")
    form = web.get("/admin/roles/new").text
    assert 'name="base_role"' in form and "Works like" in form
    r = web.post("/admin/roles/new", {"name": "lead", "base_role": "manager", "scope": "all"})
    assert r.status_code == 303
    role = db.scalar(select(Role).where(Role.name == "lead"))
    assert role.base_role == "manager"
    bad = web.post("/admin/roles/new", {"name": "boss", "base_role": "admin"})
    assert bad.status_code == 422 and 'id="f-base_role" name="base_role" aria-invalid' in bad.text
    ok = web.post("/admin/roles/lead", {"version": "1", "name": "lead", "base_role": "analyst"})
    assert ok.status_code == 303
    stale = web.post("/admin/roles/lead", {"version": "1", "name": "lead", "base_role": "agent"})
    assert stale.status_code == 409
    db.expire_all()
    assert db.get(Role, role.id).base_role == "analyst"
    assert "Analyst" in web.get("/admin/roles").text
    web.post("/locale", {"lang": "zh_CN", "next": "/admin/roles"})
    zh = web.get("/admin/roles/lead").text
    assert "视同角色" in zh and "分析师" in zh


def test_cli_base_role_option(cli_db):  # noqa: F811
    from retento.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["role", "create", "lead", "--base-role", "manager"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["role", "create", "boss", "--base-role", "admin"])
    assert r.exit_code != 0 and "(--base-role)" in r.output
    r = runner.invoke(app, ["role", "update", "lead", "--base-role", "analyst"])
    assert r.exit_code == 0, r.output
    assert "works like analyst" in runner.invoke(app, ["role", "show", "lead"]).output
    assert "analyst" in runner.invoke(app, ["role", "list"], terminal_width=200).output


# --- what follows it ---------------------------------------------------------------------------


def test_a_manager_based_role_gets_the_managers_defaults(web, db, users):
    _role(db, "lead", "manager", scope="all")
    lea = make_user(db, username="lea", role="lead", manager_id=users["manager"].id)
    ann = make_user(db, username="ann", role="agent", manager_id=lea.id)
    db.commit()
    # Home: the manager's views, landing on the manager's dashboard.
    assert views_for(lea) == VIEWS_BY_ROLE["manager"]
    web.login("lea")
    assert "Manager dashboard" in web.get("/").text
    # Complaint queue: starts on all open complaints; "My team" is lea's own team.
    assert team_lead_for(lea) == lea.id
    assert 'href="/complaints?tab=open" aria-current="page"' in web.get("/complaints").text
    mine = make_complaint(db, users["admin"], assignee_id=ann.id, subject="Team case")
    db.commit()
    assert "Team case" in web.get("/complaints?tab=team").text
    # Notifications: the manager-only kinds are offered, with the manager's defaults; an
    # unassigned complaint reaches "every manager", lea too.
    offered = {k.code: channel for k, channel, _ in preferences(db, actor=lea)}
    assert offered["survey_low_answer"] == "in_app" and offered["complaint_new"] == "in_app"
    assert [n.kind for n in got(db, lea)] == ["complaint_new"]  # her team's: ann's complaint
    make_complaint(db, users["admin"])
    assert [n.kind for n in got(db, lea)] == ["complaint_new", "complaint_new"]
    assert roles.users_working_like(db, "manager", verb="survey:read") == [users["manager"], lea]
    assert mine.team_manager_id == lea.id


def test_an_agent_based_role_gets_the_agents_defaults(web, db, users):
    _role(db, "helper", "agent")
    hal = make_user(db, username="hal", role="helper", manager_id=users["manager"].id)
    db.commit()
    assert views_for(hal) == ("agent",)
    assert team_lead_for(hal) == users["manager"].id
    web.login("hal")
    assert 'href="/complaints?tab=mine" aria-current="page"' in web.get("/complaints").text
    offered = {k.code: channel for k, channel, _ in preferences(db, actor=hal)}
    assert "survey_low_answer" not in offered and offered["complaint_assigned"] == "email"
    make_complaint(db, users["admin"])  # unassigned: for the managers, not for hal
    assert got(db, hal) == []
    # The public form gives a complaint of hal's customer to hal, told by e-mail (agent default).
    make_customer(db, email="kim@example.com", owner_id=hal.id)
    c = public_intake.submit_public(
        db,
        PublicComplaintIn(
            name="Kim",
            email="kim@example.com",
            category="delivery",
            subject="Never arrived",
            description="The order never arrived at my door.",
        ),
    )
    assert c.assignee_id == hal.id
    assert [(n.kind, n.delivery) for n in got(db, hal)] == [("complaint_assigned", "email")]


def test_an_analyst_based_or_read_poor_role_keeps_to_the_views_it_may_read(db, users):
    _role(db, "watcher", "analyst", perms=READS)
    _role(db, "narrow", "manager", scope="all", perms=["customer:read", "customer:update"])
    watcher = make_user(db, username="wat", role="watcher")
    narrow = make_user(db, username="nar", role="narrow")
    db.commit()
    assert views_for(watcher) == ("analyst", "manager")
    # Works like a manager but may read no complaints or scores: "My work" only, and none of
    # "every manager's" complaint notifications.
    assert views_for(narrow) == ("agent",)
    assert narrow not in roles.users_working_like(db, "manager", verb="complaint:read")
