"""Loyalty measurement through the API, the "Loyalty types" page, the 360 panel and the CLI:
every view reads the stored run; recomputing is one run at a time."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select
from typer.testing import CliRunner

from retento.auth.models import User
from retento.customers import panels
from retento.customers.models import Customer
from retento.loyalty import measure
from retento.loyalty import measure_store as store
from retento.loyalty.measure_models import LoyaltyMeasurement, LoyaltyMeasurementRun
from tests.loyalty.measure_data import AS_OF, build_base
from tests.shared_world import (  # noqa: F401 (fixtures)
    World,
    make_users,
    session_factory_fixture,
    users_fixture,
)
from tests.web.conftest import Browser

AS_OF_Q = AS_OF.isoformat().replace("+00:00", "Z")


def _build_unmeasured(session) -> dict[str, int]:
    """The users and the hand-made customers, before any run (their ids by role)."""
    make_users(session)
    session.commit()
    made = build_base(session)
    session.commit()
    return {k: c.id for k, c in made.items()}


def _build_base(session) -> dict[str, int]:
    """``_build_unmeasured``, then a stored run as of AS_OF (by the admin)."""
    made = _build_unmeasured(session)
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    run = store.run_measurement(session, actor=admin, as_of=AS_OF)
    assert run.status == "succeeded", run.error
    session.commit()
    return made


# Each data set is built once per backend for the module; a test that takes it runs in a
# SAVEPOINT on it (tests/shared_world.py). Only one is open at a time: keep their tests together.
@pytest.fixture(scope="module")
def world_unmeasured():
    with World.for_module(_build_unmeasured) as world:
        yield world


@pytest.fixture(scope="module")
def world_base():
    with World.for_module(_build_base) as world:
        yield world


def _customers(db, ids: dict[str, int]) -> dict[str, Customer]:
    return {k: db.get(Customer, cid) for k, cid in ids.items()}


@pytest.fixture
def unmeasured(world_unmeasured, db):
    """The hand-made customers, before any run."""
    return _customers(db, world_unmeasured.data)


@pytest.fixture
def base(world_base, db):
    """The hand-made customers with a stored run as of AS_OF."""
    return _customers(db, world_base.data)


def _no_computation(monkeypatch) -> None:
    """Reading views must not compute features or measure anyone."""

    def boom(*args, **kwargs):
        raise AssertionError("a read path computed the measurement")

    for name in ("customer_features", "measure_customers", "loyalty_measurement", "_measure"):
        monkeypatch.setattr(measure, name, boom)


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


@pytest.fixture
def only_my_panel(monkeypatch):
    mine = [p for p in panels.CUSTOMER_PANELS if p.key == "loyalty_type"]
    assert mine, "the loyalty type panel is not registered"
    monkeypatch.setattr(panels, "CUSTOMER_PANELS", mine)
    return mine[0]


# --- a stored run: the API, the pages, the 360 panel, the dashboard -------------------------------


def test_api_lists_the_trap_with_reasons(client, tokens, base, monkeypatch):
    _no_computation(monkeypatch)
    r = client.get(
        "/api/v1/loyalty/measurement", params={"trap": "true"}, headers=tokens["analyst"]
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["summary"]["trap"] == 1
    assert body["run"]["status"] == "succeeded" and body["run"]["customers"] == 12
    assert body["items"][0]["computed_at"].startswith("2025-06-01")
    item = body["items"][0]
    assert item["customer_id"] == base["trap"].id
    assert item["satisfaction_trap"] is True and item["trap_signal"] == "overdue"
    assert "Satisfaction trap" in item["reason_en"] and "满意陷阱" in item["reason_zh"]
    counts = {t["type"]: t["customers"] for t in body["summary"]["types"]}
    assert counts["monopoly"] == 1 and counts["potential"] == 1


def test_api_one_customer_stored_and_live(client, tokens, base):
    cid = base["inertia"].id
    r = client.get(
        "/api/v1/loyalty/measurement", params={"customer_id": cid}, headers=tokens["agent"]
    )
    assert r.status_code == 200, r.text
    item = r.json()["items"][0]
    assert (item["loyalty_type"], item["rule"]) == ("inertia", "R5a")
    assert item["loyalty_index"] is not None and 0 <= item["loyalty_index"] <= 100
    assert item["median_gap_days"] == 28
    fresh = client.get(
        "/api/v1/loyalty/measurement",
        params={"customer_id": cid, "live": "true", "as_of": AS_OF_Q},
        headers=tokens["agent"],
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["run"] is None  # computed now, not read from a run
    live_item = fresh.json()["items"][0]
    assert live_item["loyalty_index"] == pytest.approx(item["loyalty_index"])
    assert live_item["reason_zh"] == item["reason_zh"]


def test_api_type_filter_weights_and_paging(client, tokens, base):
    h = tokens["manager"]
    r = client.get("/api/v1/loyalty/measurement", params={"type": "kinship", "limit": 1}, headers=h)
    assert r.status_code == 200
    assert r.json()["total"] == 2 and len(r.json()["items"]) == 1
    r = client.get(
        "/api/v1/loyalty/measurement",
        params={"customer_id": base["trust"].id, "weights": "1,0,0"},
        headers=h,
    )
    item = r.json()["items"][0]
    assert item["loyalty_index"] == pytest.approx(item["behavioural"])


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({"type": "devoted"}, "type", 422),
        ({"weights": "1,2"}, "weights", 422),
        ({"weights": "a,b,c"}, "weights", 422),
        ({"customer_id": 0}, "customer_id", 422),
        ({"customer_id": 999999}, "customer_id", 404),
        ({"limit": 0}, "limit", 422),
        ({"as_of": "2025-06-01T00:00:00Z"}, "as_of", 422),  # stored rows are as of their run
        ({"live": "true"}, "live", 422),  # live measures one customer
    ],
)
def test_api_bad_input_names_the_field(client, tokens, base, params, field, status):
    r = client.get("/api/v1/loyalty/measurement", params=params, headers=tokens["manager"])
    assert r.status_code == status, r.text
    assert field in r.text


def test_api_live_needs_a_zone(client, tokens, base):
    r = client.get(
        "/api/v1/loyalty/measurement",
        params={"customer_id": base["trust"].id, "live": "true", "as_of": "2025-06-01T00:00:00"},
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and "as_of" in r.text


def test_api_needs_a_login(client, base):
    assert client.get("/api/v1/loyalty/measurement").status_code == 401


def test_page_shows_distribution_histogram_and_trap_list(web, base, monkeypatch):
    _no_computation(monkeypatch)
    web.login("analyst")
    r = web.get("/loyalty/types")
    assert r.status_code == 200, r.text
    assert 'id="types-chart"' in r.text and 'id="index-chart"' in r.text
    assert 'id="type-inertia"' in r.text and "Inertia loyalty" in r.text
    # reached from the loyalty dashboard; the menu highlights "Loyalty" only
    assert 'class="active" href="/loyalty"' in r.text or 'href="/loyalty" class="active"' in r.text
    assert 'href="/loyalty/types"' in web.get("/loyalty").text
    assert 'id="loyalty-table"' in r.text and "Trap" in r.text  # the stored trap list
    assert 'id="loyalty-computed"' in r.text and "12 customers measured" in r.text
    assert 'id="loyalty-recompute"' in r.text  # analysts run the models too (score:run)


def test_page_type_filter_weights_and_htmx_rows(web, base, monkeypatch):
    _no_computation(monkeypatch)
    web.login("manager")
    r = web.get("/loyalty/types?show=all")
    assert r.status_code == 200
    assert base["trust"].name in r.text and base["kinship"].name in r.text
    assert 'id="loyalty-recompute"' in r.text
    rows = web.get(
        "/loyalty/types?show=kinship",
        headers={"HX-Request": "true", "HX-Target": "loyalty-results"},
    )
    assert rows.status_code == 200 and "<html" not in rows.text
    assert "Branch" in rows.text and "Relative" in rows.text and "Trust" not in rows.text
    # Only behaviour in the index: the satisfied customer without orders scores 0.
    stored = web.get("/loyalty/types?show=potential")
    assert "re-weighted" not in stored.text and '<td class="num">0</td>' not in stored.text
    weighted = web.get("/loyalty/types?show=potential&weights=1,0,0")
    assert weighted.status_code == 200 and "re-weighted with your weights" in weighted.text
    assert "No orders yet" in weighted.text and '<td class="num">0</td>' in weighted.text
    bad = web.get("/loyalty/types?show=devoted")
    assert bad.status_code == 422
    assert web.get("/loyalty/types?weights=1,2").status_code == 422


def test_page_in_chinese(web, base, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    web.login("manager")
    r = web.get("/loyalty/types?show=all")
    assert r.status_code == 200
    assert "忠诚类型" in r.text and "惰性忠诚" in r.text
    assert "购买" in r.text  # the stored reasons in Chinese
    assert "重新计算" in r.text and "计算于" in r.text


def test_export_csv(web, base, monkeypatch):
    _no_computation(monkeypatch)
    web.login("manager")
    r = web.get("/loyalty/types/export.csv?show=all")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("customer_id,name,segment,loyalty_type,rule,loyalty_index")
    assert lines[0].endswith(",computed_at")
    assert len(lines) == 1 + 12  # every non-archived customer of the run
    weighted = web.get("/loyalty/types/export.csv?show=all&weights=1,0,0")
    assert weighted.status_code == 200 and len(weighted.text.splitlines()) == 13
    web.login("agent")
    assert web.get("/loyalty/types/export.csv").status_code == 403  # data:export only


def test_customer_360_panel_reads_one_stored_row(web, base, db, only_my_panel, monkeypatch):
    _no_computation(monkeypatch)
    web.login("agent")
    statements: list[str] = []
    real_load = only_my_panel.load

    def counted(request, session, customer, user):
        conn = session.connection()

        def seen(_conn, _cursor, statement, *_args):
            statements.append(statement)

        event.listen(conn, "before_cursor_execute", seen)
        try:
            return real_load(request, session, customer, user)
        finally:
            event.remove(conn, "before_cursor_execute", seen)

    monkeypatch.setattr(
        panels, "CUSTOMER_PANELS", [panels.Panel(**{**only_my_panel.__dict__, "load": counted})]
    )
    r = web.get(f"/customers/{base['monopoly'].id}")
    assert r.status_code == 200
    assert 'id="customer-loyalty-type"' in r.text and 'id="loyalty-reason"' in r.text
    assert "has no alternative supplier" in r.text
    assert 'id="loyalty-computed"' in r.text and "2025" in r.text
    # The stored row and its run, each by primary key: no aggregation, no feature SQL.
    assert len(statements) <= 2 and "loyalty_measurements" in statements[0]
    assert all("GROUP BY" not in q and "FROM orders" not in q for q in statements)


def test_customer_360_panel_in_chinese(web, base, db, users, only_my_panel):
    users["agent"].locale = "zh_CN"
    db.commit()
    web.login("agent")
    r = web.get(f"/customers/{base['monopoly'].id}")
    assert "垄断忠诚" in r.text and "没有其他可选的供应商" in r.text and "计算于" in r.text


def test_customer_360_panel_for_a_customer_added_after_the_run(web, base, db, only_my_panel):
    from tests.factories import make_customer

    late = make_customer(db, name="Late")
    db.commit()
    web.login("agent")
    r = web.get(f"/customers/{late.id}")
    assert "measured at the next run" in r.text


def test_loyalty_dashboard_loads_the_types_box_after_the_page(web, base, monkeypatch):
    _no_computation(monkeypatch)
    web.login("manager")
    dash = web.get("/loyalty")
    assert dash.status_code == 200, dash.text
    assert 'hx-get="/loyalty/types/summary"' in dash.text
    frag = web.get("/loyalty/types/summary", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text
    assert 'id="loyalty-types-counts"' in frag.text and "Kinship loyalty" in frag.text
    assert 'id="loyalty-trap-link"' in frag.text


# --- before the first run -------------------------------------------------------------------------


def test_api_before_the_first_run(client, tokens, unmeasured):
    r = client.get("/api/v1/loyalty/measurement", headers=tokens["analyst"])
    assert r.status_code == 200
    assert r.json()["run"] is None and r.json()["items"] == [] and r.json()["total"] == 0


def test_api_starts_a_run_once_at_a_time(client, tokens, unmeasured, db):
    r = client.post("/api/v1/loyalty/measurement/runs", headers=tokens["agent"])
    assert r.status_code == 403
    r = client.post("/api/v1/loyalty/measurement/runs", headers=tokens["manager"])
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    done = client.get(f"/api/v1/loyalty/measurement/runs/{run_id}", headers=tokens["analyst"])
    assert done.status_code == 200 and done.json()["status"] == "succeeded"  # ran after the reply
    assert done.json()["customers"] == 12
    assert db.scalar(select(func.count()).select_from(LoyaltyMeasurement)) == 12
    store.start_run(db, actor=None)  # one in progress ...
    db.commit()
    busy = client.post("/api/v1/loyalty/measurement/runs", headers=tokens["manager"])
    assert busy.status_code == 409 and "in progress" in busy.text  # ... so a second is refused
    missing = client.get("/api/v1/loyalty/measurement/runs/999999", headers=tokens["analyst"])
    assert missing.status_code == 404


def test_page_before_the_first_run(web, unmeasured, users):
    web.login("agent")  # may not run models (score:run)
    r = web.get("/loyalty/types")
    assert r.status_code == 200 and 'id="loyalty-not-computed"' in r.text
    assert 'id="loyalty-recompute"' not in r.text and "Ask a retention manager" in r.text
    web.login("manager")
    r = web.get("/loyalty/types")
    assert 'id="loyalty-recompute"' in r.text


def test_recompute_runs_after_the_response(web, unmeasured, db):
    web.login("manager")
    r = web.post("/loyalty/types/runs")
    assert r.status_code == 303 and r.headers["location"] == "/loyalty/types"
    run = store.latest_run(db)
    assert run is not None and run.triggered_by == "manager" and run.customers == 12
    page = web.get("/loyalty/types")
    assert f"Loyalty measurement run #{run.id} started." in page.text
    assert 'id="loyalty-computed"' in page.text
    again = web.post("/loyalty/types/runs")  # nothing running any more: a second run is fine
    assert again.status_code == 303
    assert db.scalar(select(func.count()).select_from(LoyaltyMeasurementRun)) == 2
    assert db.scalar(select(func.count()).select_from(LoyaltyMeasurement)) == 12


def test_recompute_needs_a_manager_and_one_run_at_a_time(web, unmeasured, db):
    web.login("agent")  # may not run models (score:run)
    assert web.post("/loyalty/types/runs").status_code == 403
    running = store.start_run(db, actor=None)
    store.LIVE_PROGRESS[running.id] = ("features", 0.05)
    db.commit()
    try:
        web.login("manager")
        busy = web.post("/loyalty/types/runs")
        assert busy.status_code == 409 and "in progress" in busy.text
        page = web.get("/loyalty/types")
        assert 'id="loyalty-run-progress"' in page.text
        assert 'id="loyalty-recompute"' not in page.text  # no second start while it runs
        bar = web.get(f"/loyalty/types/runs/{running.id}/progress", headers={"HX-Request": "1"})
        assert bar.status_code == 200 and 'value="5"' in bar.text
        store.execute_run(db, running)
        db.commit()
        done = web.get(f"/loyalty/types/runs/{running.id}/progress", headers={"HX-Request": "1"})
        assert done.headers["HX-Redirect"] == "/loyalty/types"
        assert "12 customers measured" in web.get("/loyalty/types").text
    finally:
        store.LIVE_PROGRESS.pop(running.id, None)


def test_customer_360_panel_before_any_run(web, unmeasured, only_my_panel):
    web.login("agent")
    r = web.get(f"/customers/{unmeasured['trust'].id}")
    assert 'id="loyalty-not-measured"' in r.text
    assert "have not been computed yet" in r.text and 'id="loyalty-recompute-link"' not in r.text
    web.login("manager")
    r = web.get(f"/customers/{unmeasured['trust'].id}")
    assert 'id="loyalty-recompute-link"' in r.text


def test_loyalty_dashboard_box_before_any_run(web, unmeasured):
    web.login("manager")
    frag = web.get("/loyalty/types/summary", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and 'id="loyalty-types-none"' in frag.text


@pytest.mark.parametrize(
    "locale,quoted,not_quoted",
    [("en", "tier Gold", "金卡"), ("zh_CN", "会员等级 金卡", "Gold")],
)
def test_the_reason_quotes_the_tier_in_the_readers_language(
    web, db, users, unmeasured, only_my_panel, locale, quoted, not_quoted
):
    """A member of a tier with a Chinese name: a run stores both names and the 360 panel's
    reason quotes the tier as the reader reads it ("会员等级 金卡", not "会员等级 Gold")."""
    from retento.loyalty import models as lm

    gold = lm.LoyaltyTier(code="gold", name="Gold", name_zh="金卡", rank=1, threshold=0)
    db.add(gold)
    db.flush()
    cust = unmeasured["inertia"]  # stays out of habit: the reason names the tier
    db.add(lm.LoyaltyAccount(kind="wallet", customer_id=cust.id, tier_id=gold.id, balance=0))
    run = store.run_measurement(db, actor=users["admin"], as_of=AS_OF)
    assert run.status == "succeeded", run.error
    users["agent"].locale = locale
    db.commit()
    row = db.get(LoyaltyMeasurement, cust.id)
    assert (row.tier_name, row.tier_name_zh) == ("Gold", "金卡")
    web.login("agent")
    page = web.get(f"/customers/{cust.id}")
    assert page.status_code == 200
    reason = page.text.split('id="loyalty-reason">', 1)[1].split("</dd>", 1)[0]
    assert quoted in reason and not_quoted not in reason, reason


# --- without the hand-made customers; the CLI -----------------------------------------------------


def test_export_neutralises_formulas(web, db, users):
    from tests.factories import make_customer

    make_customer(db, name='=HYPERLINK("http://x")')
    store.run_measurement(db, actor=None)
    db.commit()
    web.login("manager")
    r = web.get("/loyalty/types/export.csv?show=all")
    assert "'=HYPERLINK" in r.text


def test_empty_page(web, users, db):
    store.run_measurement(db, actor=None)
    db.commit()
    web.login("manager")
    r = web.get("/loyalty/types")
    assert r.status_code == 200 and 'id="loyalty-empty"' in r.text


def test_cli_measure_stores_then_reads(tmp_path, monkeypatch):
    from retento.cli import app
    from retento.core.config import get_settings
    from retento.core.db import make_engine, make_session_factory
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        build_base(s)
        s.commit()
    engine.dispose()
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        r = runner.invoke(
            app, ["user", "create", "boss", "--role", "admin", "--password", "long-password-1"]
        )
        assert r.exit_code == 0, r.output
        r = runner.invoke(app, ["loyalty", "measure"])
        assert r.exit_code == 1 and "--store" in r.output  # nothing stored yet
        r = runner.invoke(app, ["loyalty", "measure", "--store", "--as-of", "2025-06-01"])
        assert r.exit_code == 0, r.output
        assert "Run #1 stored" in r.output and "12 customers measured" in r.output
        assert "2025-06-01" in r.output
        monkeypatch.setattr(measure, "customer_features", None)  # reading computes nothing
        out = tmp_path / "loyalty.csv"
        r = runner.invoke(app, ["loyalty", "measure", "--output", str(out)])
        assert r.exit_code == 0, r.output
        assert "12 customers measured" in r.output and "inertia" in r.output
        assert out.read_text(encoding="utf-8").count("\n") == 13
        r = runner.invoke(app, ["loyalty", "measure", "--trap", "--output", str(out)])
        assert r.exit_code == 0 and out.read_text(encoding="utf-8").count("\n") == 2
        r = runner.invoke(app, ["loyalty", "measure", "--type", "devoted"])
        assert r.exit_code == 1 and "type must be one of" in " ".join(r.output.split())
        r = runner.invoke(app, ["loyalty", "measure", "--weights", "1,2"])
        assert r.exit_code == 1
        r = runner.invoke(app, ["loyalty", "measure", "--as-of", "2025-06-01"])
        assert r.exit_code == 1 and "--store" in r.output
    finally:
        get_settings.cache_clear()
