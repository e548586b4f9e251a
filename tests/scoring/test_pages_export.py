"""CSV/XLSX export of the scored-customer list (/value/customers): filter, roles, formulas."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from retento.customers.models import Customer
from retento.scoring import service
from retento.scoring.models import CustomerScore, ScoreRun
from retento.scoring.schemas import ScoreRunCreate
from tests.scoring.conftest import AS_OF
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


@pytest.fixture
def scored(db, users, population) -> ScoreRun:
    run = service.run_scoring(
        db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=26), actor=users["manager"]
    )
    db.commit()
    assert run.status == "succeeded", run.error
    return run


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text[:300]
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_links_only_for_exporters_and_the_agent_is_refused(web, db, scored):
    for role, allowed in (("agent", False), ("analyst", True), ("manager", True)):
        web.client.cookies.clear()
        web.login(role)
        page = web.get("/value/customers")
        assert page.status_code == 200
        assert ("/value/customers/export.xlsx" in page.text) is allowed, role
        code = web.get("/value/customers/export.csv").status_code
        assert code == (200 if allowed else 403), role


def test_csv_follows_the_filter_and_sort_and_neutralises_names(web, db, scored):
    target = (
        db.query(CustomerScore)
        .filter(CustomerScore.run_id == scored.id, CustomerScore.value_class == "below_zero")
        .all()
    )
    assert target
    victim = db.get(Customer, target[0].customer_id)
    victim.name = '=HYPERLINK("http://evil/","x")'
    db.commit()
    web.login("analyst")
    rows = _csv(web.get("/value/customers/export.csv?value_class=below_zero&sort=customer_id"))
    assert rows[0][:4] == ["run_id", "customer_id", "customer_external_id", "customer_name"]
    ids = [int(r[1]) for r in rows[1:]]
    assert ids == sorted(s.customer_id for s in target)
    assert {r[4] for r in rows[1:]} == {"below_zero"}
    evil = next(r for r in rows[1:] if int(r[1]) == victim.id)
    assert evil[3] == '\'=HYPERLINK("http://evil/","x")'
    everyone = _csv(web.get("/value/customers/export.csv"))
    assert len(everyone) - 1 == db.query(CustomerScore).filter_by(run_id=scored.id).count()
    assert web.get("/value/customers/export.csv?p_alive_lt=2").status_code == 422


def test_xlsx_keeps_numbers_and_neutralises_text(web, db, scored):
    s = db.query(CustomerScore).filter_by(run_id=scored.id).order_by(CustomerScore.id).first()
    db.get(Customer, s.customer_id).name = "+1 555 0100"
    db.commit()
    web.login("manager")
    r = web.get("/value/customers/export.xlsx?sort=customer_id")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.values)
    assert rows[0][1] == "customer_id"
    row = next(v for v in rows[1:] if v[1] == s.customer_id)
    assert row[3] == "'+1 555 0100"
    assert isinstance(row[10], int | float) and isinstance(row[12], float | type(None))
    assert len(rows) - 1 == db.query(CustomerScore).filter_by(run_id=scored.id).count()


def test_no_run_answers_404_not_a_broken_file(web, db, users):
    web.login("manager")
    assert web.get("/value/customers/export.csv").status_code == 404
