"""Deactivating a user who manages others moves their reports in the same transaction: to the
manager given (``reports_to``), else to the deactivated user's own manager, else to nobody;
each move is checked like any manager change and audited. Web form, API and CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from retento.audit.models import AuditEntry
from retento.auth.models import User
from retento.auth.schemas import UserUpdate
from retento.auth.service import update_user
from retento.core.errors import InvalidInput
from tests.auth.test_teams import cli_db  # noqa: F401  (fixture)
from tests.factories import make_user
from tests.web.conftest import Browser


@pytest.fixture
def team(db, users):
    """boss ← lead ← (ann, bob): lead manages two agents and reports to boss."""
    boss = make_user(db, username="boss", role="manager")
    lead = make_user(db, username="lead", role="manager", manager_id=boss.id)
    ann = make_user(db, username="ann", manager_id=lead.id)
    bob = make_user(db, username="bob", manager_id=lead.id)
    db.commit()
    return boss, lead, ann, bob


def test_reports_move_to_the_deactivated_users_own_manager_by_default(db, users, team):
    boss, lead, ann, bob = team
    update_user(db, lead.id, UserUpdate(is_active=False), actor=users["admin"])
    assert (ann.manager_id, bob.manager_id) == (boss.id, boss.id)
    moved = db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "user", AuditEntry.entity_id.in_([str(ann.id), str(bob.id)])
        )
    ).all()
    assert {e.after["manager_id"] for e in moved} == {boss.id}


def test_reports_move_to_the_manager_given_or_to_nobody(db, users, team):
    boss, lead, ann, bob = team
    other = users["manager"]
    update_user(db, lead.id, UserUpdate(is_active=False, reports_to=other.id), actor=users["admin"])
    assert (ann.manager_id, bob.manager_id) == (other.id, other.id)
    # A manager without a manager of their own: the reports end with none.
    update_user(db, other.id, UserUpdate(is_active=False), actor=users["admin"])
    assert (ann.manager_id, bob.manager_id) == (None, None)


def test_a_bad_target_is_refused_naming_reports_to_and_nothing_is_saved(db, users, team):
    boss, lead, ann, bob = team
    gone = make_user(db, username="gone", role="manager", is_active=False)
    for target in (gone.id, ann.id, lead.id):
        sp = db.begin_nested()
        with pytest.raises(InvalidInput) as exc:
            update_user(
                db, lead.id, UserUpdate(is_active=False, reports_to=target), actor=users["admin"]
            )
        assert exc.value.field == "reports_to"
        sp.rollback()
    db.expire_all()
    assert db.get(User, lead.id).is_active and db.get(User, ann.id).manager_id == lead.id


def test_api_deactivation_moves_the_team(client, db, users, tokens, team):
    boss, lead, ann, bob = team
    other = users["manager"]
    r = client.patch(
        f"/api/v1/users/{lead.id}",
        json={"is_active": False, "reports_to": other.id},
        headers=tokens["admin"],
    )
    assert r.status_code == 200 and r.json()["is_active"] is False and "reports_to" not in r.json()
    team_now = client.get(f"/api/v1/users?manager_id={other.id}", headers=tokens["admin"]).json()
    assert {u["username"] for u in team_now["items"]} == {"ann", "bob"}
    r = client.patch(
        f"/api/v1/users/{boss.id}",
        json={"is_active": False, "reports_to": 99999},
        headers=tokens["admin"],
    )
    assert r.status_code == 422 and r.json()["field"] == "reports_to"


def test_web_deactivate_offers_where_the_reports_go(client, db, users, team):
    boss, lead, ann, bob = team
    web = Browser(client)
    web.login("admin")
    page = web.get(f"/admin/users/{lead.id}").text
    assert 'name="reports_to"' in page and "Their 2 reports then report to" in page
    assert 'name="reports_to"' not in web.get(f"/admin/users/{ann.id}").text
    r = web.post(
        f"/admin/users/{lead.id}", {"is_active": "0", "reports_to": str(users["manager"].id)}
    )
    assert r.status_code == 303
    db.expire_all()
    assert db.get(User, ann.id).manager_id == users["manager"].id
    assert not db.get(User, lead.id).is_active


def test_cli_user_update_manager_and_deactivation(cli_db):  # noqa: F811
    from retento.cli import app
    from retento.core.db import make_engine, make_session_factory, transaction

    runner = CliRunner()
    pw = ["--password", "ledger-Sesame-42"]
    for name, role in (
        ("root", "admin"),
        ("boss", "manager"),
        ("lead", "manager"),
        ("ann", "agent"),
    ):
        assert runner.invoke(app, ["user", "create", name, "--role", role, *pw]).exit_code == 0
    r = runner.invoke(app, ["user", "update", "ann", "--manager", "lead"])
    assert r.exit_code == 0 and "reports to lead" in r.output, r.output
    r = runner.invoke(app, ["user", "update", "lead", "--manager", "ann"])
    assert r.exit_code != 0 and "ann reports to this user" in r.output
    r = runner.invoke(app, ["user", "update", "ann", "--manager", "x", "--no-manager"])
    assert r.exit_code != 0
    r = runner.invoke(app, ["user", "update", "lead", "--deactivate", "--reports-to", "boss"])
    assert r.exit_code == 0 and "1 report(s) moved" in r.output, r.output
    r = runner.invoke(app, ["user", "update", "ann", "--no-manager"])
    assert r.exit_code == 0 and "reports to nobody" in r.output
    engine = make_engine(cli_db)
    with transaction(make_session_factory(engine)) as s:
        assert s.query(User).filter_by(username="ann").one().manager_id is None
        assert not s.query(User).filter_by(username="lead").one().is_active
    engine.dispose()
