"""Teams: a user's manager (``User.manager_id``) set on the admin form, the API and the CLI,
checked in one place (``auth.service.check_manager``): an active user, not the user themself,
no cycle; listed and filtered on the users page; audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from retento.audit.models import AuditEntry
from retento.auth.models import User
from retento.auth.schemas import UserCreate, UserUpdate
from retento.auth.service import create_user, update_user
from retento.core.errors import InvalidInput
from tests.factories import make_user
from tests.web.conftest import Browser


def _audits(db, user_id):
    return list(
        db.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "user", AuditEntry.entity_id == str(user_id))
            .order_by(AuditEntry.id)
        )
    )


# --- the service: one check for every interface ------------------------------------------------


def test_service_sets_and_clears_a_manager_with_an_audit_entry(db, users):
    admin, lead, agent = users["admin"], users["manager"], users["agent"]
    update_user(db, agent.id, UserUpdate(manager_id=lead.id), actor=admin)
    assert agent.manager_id == lead.id
    entry = _audits(db, agent.id)[-1]
    assert entry.action == "update"
    assert entry.before["manager_id"] is None and entry.after["manager_id"] == lead.id
    update_user(db, agent.id, UserUpdate(manager_id=None), actor=admin)
    assert agent.manager_id is None
    assert _audits(db, agent.id)[-1].after["manager_id"] is None


def test_service_refuses_self_inactive_unknown_and_cycles(db, users):
    admin, lead, agent = users["admin"], users["manager"], users["agent"]
    with pytest.raises(InvalidInput) as exc:
        update_user(db, agent.id, UserUpdate(manager_id=agent.id), actor=admin)
    assert exc.value.field == "manager_id" and "own manager" in str(exc.value)
    gone = make_user(db, username="gone", role="manager", is_active=False)
    with pytest.raises(InvalidInput) as exc:
        update_user(db, agent.id, UserUpdate(manager_id=gone.id), actor=admin)
    assert exc.value.field == "manager_id" and "gone is deactivated" in str(exc.value)
    with pytest.raises(InvalidInput) as exc:
        update_user(db, agent.id, UserUpdate(manager_id=987654), actor=admin)
    assert exc.value.field == "manager_id" and "987654" in str(exc.value)
    # lead → admin → agent would loop back to lead: agent reports to admin, admin to lead.
    update_user(db, agent.id, UserUpdate(manager_id=admin.id), actor=admin)
    update_user(db, admin.id, UserUpdate(manager_id=lead.id), actor=admin)
    with pytest.raises(InvalidInput) as exc:
        update_user(db, lead.id, UserUpdate(manager_id=agent.id), actor=admin)
    assert exc.value.field == "manager_id" and "agent reports to this user" in str(exc.value)
    db.refresh(lead)
    assert lead.manager_id is None


def test_a_deactivated_current_manager_is_kept_when_other_fields_change(db, users):
    admin, lead, agent = users["admin"], users["manager"], users["agent"]
    update_user(db, agent.id, UserUpdate(manager_id=lead.id), actor=admin)
    # Deactivated before deactivation moved the reports (service.move_reports): kept as it is.
    lead.is_active = False
    db.flush()
    # The form sends the unchanged manager with the other fields: no refusal.
    update_user(db, agent.id, UserUpdate(manager_id=lead.id, display_name="Agent A"), actor=admin)
    assert agent.manager_id == lead.id and agent.display_name == "Agent A"


def test_create_checks_the_manager(db, users):
    gone = make_user(db, username="gone", role="manager", is_active=False)
    data = dict(username="newbie", password="ledger-Sesame-42", role="agent")
    with pytest.raises(InvalidInput) as exc:
        create_user(db, UserCreate(**data, manager_id=gone.id), actor=users["admin"])
    assert exc.value.field == "manager_id"
    made = create_user(db, UserCreate(**data, manager_id=users["manager"].id), actor=None)
    assert made.manager_id == users["manager"].id


# --- API ---------------------------------------------------------------------------------------


def test_api_patch_refuses_a_cycle_naming_the_field_and_filters_a_team(client, tokens, users):
    lead, agent = users["manager"], users["agent"]
    url = f"/api/v1/users/{agent.id}"
    r = client.patch(url, json={"manager_id": lead.id}, headers=tokens["admin"])
    assert r.status_code == 200 and r.json()["manager_id"] == lead.id
    r = client.patch(
        f"/api/v1/users/{lead.id}", json={"manager_id": agent.id}, headers=tokens["admin"]
    )
    assert r.status_code == 422 and r.json()["field"] == "manager_id"
    r = client.patch(url, json={"manager_id": agent.id}, headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["field"] == "manager_id"
    team = client.get(f"/api/v1/users?manager_id={lead.id}", headers=tokens["admin"]).json()
    assert [u["username"] for u in team["items"]] == ["agent"] and team["total"] == 1


# --- web ---------------------------------------------------------------------------------------


def test_admin_form_sets_a_manager_and_the_list_shows_and_filters_the_team(web, db, users):
    lead, agent = users["manager"], users["agent"]
    make_user(db, username="gone", role="manager", is_active=False)
    db.commit()
    web.login("admin")
    page = web.get(f"/admin/users/{agent.id}").text
    select_html = page.split('name="manager_id"')[1].split("</select>")[0]
    assert f'value="{lead.id}"' in select_html and "No manager" in select_html
    assert f'value="{agent.id}"' not in select_html  # not themself
    assert "(gone)" not in select_html  # deactivated users are not offered
    r = web.post(
        f"/admin/users/{agent.id}",
        {"version": str(agent.version), "display_name": "", "role": "agent",
         "manager_id": str(lead.id)},
    )  # fmt: skip
    assert r.status_code == 303
    db.expire_all()
    assert db.get(User, agent.id).manager_id == lead.id
    assert _audits(db, agent.id)[-1].after["manager_id"] == lead.id
    assert f"Reports to {lead.display_name}" in web.get(f"/admin/users/{agent.id}").text
    listing = web.get("/admin/users").text
    row = listing.split(f'href="/admin/users/{agent.id}">agent<')[1].split("</tr>")[0]
    assert f'<a href="/admin/users/{lead.id}">{lead.display_name}</a>' in row
    assert "Team of" in listing
    team = web.get(f"/admin/users?manager={lead.id}").text
    assert f'href="/admin/users/{agent.id}">agent<' in team
    assert ">analyst<" not in team
    assert web.get("/admin/users?manager=abc").status_code == 422


def test_admin_form_refuses_a_cycle_with_the_field_error_in_both_languages(client, db, users):
    lead, agent = users["manager"], users["agent"]
    agent.manager_id = lead.id
    db.commit()
    web = Browser(client)
    web.login("admin")
    r = web.post(
        f"/admin/users/{lead.id}",
        {"version": str(lead.version), "role": "manager", "manager_id": str(agent.id)},
    )
    assert r.status_code == 422
    assert "agent reports to this user" in r.text and "field-error" in r.text
    db.expire_all()
    assert db.get(User, lead.id).manager_id is None
    users["admin"].locale = "zh_CN"
    db.commit()
    zh = Browser(client)
    zh.login("admin")
    r = zh.post(
        f"/admin/users/{lead.id}",
        {"version": str(lead.version), "role": "manager", "manager_id": str(agent.id)},
    )
    assert r.status_code == 422 and "agent 是该用户的下属" in r.text
    page = zh.get(f"/admin/users/{agent.id}").text
    assert "上级经理" in page and "汇报给" in page
    assert "上级经理" in zh.get("/admin/users").text


def test_new_user_form_takes_a_manager(web, db, users):
    web.login("admin")
    page = web.get("/admin/users/new").text
    assert 'name="manager_id"' in page
    r = web.post(
        "/admin/users/new",
        {"username": "newbie", "password": "long-enough-1", "role": "agent", "locale": "en",
         "manager_id": str(users["manager"].id)},
    )  # fmt: skip
    assert r.status_code == 303
    db.expire_all()
    newbie = db.scalar(select(User).where(User.username == "newbie"))
    assert newbie.manager_id == users["manager"].id
    r = web.post(
        "/admin/users/new",
        {"username": "newbie2", "password": "long-enough-1", "role": "agent", "locale": "en",
         "manager_id": "x"},
    )  # fmt: skip
    assert r.status_code == 422 and "field-error" in r.text
    assert db.scalar(select(User).where(User.username == "newbie2")) is None


def test_stale_manager_edit_gets_the_conflict_page_with_names(web, db, users):
    lead, agent = users["manager"], users["agent"]
    web.login("admin")
    stale = agent.version
    assert web.post(f"/admin/users/{agent.id}", {"display_name": "First"}).status_code == 303
    r = web.post(f"/admin/users/{agent.id}", {"version": str(stale), "manager_id": str(lead.id)})
    assert r.status_code == 409
    assert "Manager" in r.text
    assert f'<td class="yours">{lead.display_name}</td>' in r.text
    db.expire_all()
    assert db.get(User, agent.id).manager_id is None


# --- CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    from retento.core.config import get_settings
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_cli_user_create_takes_a_manager(cli_db):
    from retento.cli import app
    from retento.core.db import make_engine, make_session_factory, transaction

    runner = CliRunner()
    pw = ["--password", "ledger-Sesame-42"]
    assert runner.invoke(app, ["user", "create", "lead", "--role", "manager", *pw]).exit_code == 0
    r = runner.invoke(app, ["user", "create", "ann", "--role", "agent", *pw, "--manager", "lead"])
    assert r.exit_code == 0, r.output
    assert "reports to lead" in r.output
    r = runner.invoke(app, ["user", "create", "bob", "--role", "agent", *pw, "--manager", "nobody"])
    assert r.exit_code != 0 and "nobody" in r.output and "--manager" in r.output
    listing = runner.invoke(app, ["user", "list"], terminal_width=200).output
    assert "manager" in listing
    engine = make_engine(cli_db)
    with transaction(make_session_factory(engine)) as s:
        lead = s.query(User).filter_by(username="lead").one()
        assert s.query(User).filter_by(username="ann").one().manager_id == lead.id
        assert s.query(User).filter_by(username="bob").one_or_none() is None
    engine.dispose()
