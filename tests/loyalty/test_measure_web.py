"""Loyalty measurement through the API, the "Loyalty types" page, the 360 panel and the CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from retento.web import panels
from tests.loyalty.measure_data import AS_OF, build_base
from tests.web.conftest import Browser

AS_OF_Q = AS_OF.isoformat().replace("+00:00", "Z")


@pytest.fixture
def base(db, users):
    made = build_base(db)
    db.commit()
    return made


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


# --- API ---------------------------------------------------------------------------------------


def test_api_lists_the_trap_with_reasons(client, tokens, base):
    r = client.get(
        "/api/v1/loyalty/measurement",
        params={"trap": "true", "as_of": AS_OF_Q},
        headers=tokens["analyst"],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["summary"]["trap"] == 1
    item = body["items"][0]
    assert item["customer_id"] == base["trap"].id
    assert item["satisfaction_trap"] is True and item["trap_signal"] == "overdue"
    assert "Satisfaction trap" in item["reason_en"] and "满意陷阱" in item["reason_zh"]
    counts = {t["type"]: t["customers"] for t in body["summary"]["types"]}
    assert counts["monopoly"] == 1 and counts["potential"] == 1


def test_api_one_customer(client, tokens, base):
    cid = base["inertia"].id
    r = client.get(
        "/api/v1/loyalty/measurement",
        params={"customer_id": cid, "as_of": AS_OF_Q},
        headers=tokens["agent"],
    )
    assert r.status_code == 200, r.text
    item = r.json()["items"][0]
    assert (item["loyalty_type"], item["rule"]) == ("inertia", "R5a")
    assert item["loyalty_index"] is not None and 0 <= item["loyalty_index"] <= 100
    assert item["median_gap_days"] == 28


def test_api_type_filter_weights_and_paging(client, tokens, base):
    h = tokens["manager"]
    r = client.get(
        "/api/v1/loyalty/measurement",
        params={"type": "kinship", "as_of": AS_OF_Q, "limit": 1},
        headers=h,
    )
    assert r.status_code == 200
    assert r.json()["total"] == 2 and len(r.json()["items"]) == 1
    r = client.get(
        "/api/v1/loyalty/measurement",
        params={"customer_id": base["trust"].id, "weights": "1,0,0", "as_of": AS_OF_Q},
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
        ({"as_of": "2025-06-01T00:00:00"}, "as_of", 422),
    ],
)
def test_api_bad_input_names_the_field(client, tokens, base, params, field, status):
    r = client.get("/api/v1/loyalty/measurement", params=params, headers=tokens["manager"])
    assert r.status_code == status, r.text
    assert field in r.text


def test_api_needs_a_login(client, base):
    assert client.get("/api/v1/loyalty/measurement").status_code == 401


# --- pages -------------------------------------------------------------------------------------


def test_page_shows_distribution_histogram_and_trap_list(web, base, db):
    web.login("analyst")
    r = web.get("/loyalty/types")
    assert r.status_code == 200, r.text
    assert 'id="types-chart"' in r.text and 'id="index-chart"' in r.text
    assert 'id="type-inertia"' in r.text and "Inertia loyalty" in r.text
    assert 'href="/loyalty/types"' in r.text  # the nav entry
    # As of today the hand-made buyers are long overdue; the satisfied ones are in the trap.
    assert 'id="loyalty-table"' in r.text


def test_page_type_filter_and_htmx_rows(web, base):
    web.login("manager")
    r = web.get("/loyalty/types?show=all")
    assert r.status_code == 200
    assert base["trust"].name in r.text and base["kinship"].name in r.text
    rows = web.get(
        "/loyalty/types?show=kinship",
        headers={"HX-Request": "true", "HX-Target": "loyalty-results"},
    )
    assert rows.status_code == 200 and "<html" not in rows.text
    assert "Branch" in rows.text and "Relative" in rows.text and "Trust" not in rows.text
    bad = web.get("/loyalty/types?show=devoted")
    assert bad.status_code == 422


def test_page_in_chinese(web, base, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    web.login("manager")
    r = web.get("/loyalty/types?show=all")
    assert r.status_code == 200
    assert "忠诚类型" in r.text and "惰性忠诚" in r.text
    assert "购买" in r.text  # the reasons in Chinese


def test_export_csv(web, base):
    web.login("manager")
    r = web.get("/loyalty/types/export.csv?show=all")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("customer_id,name,segment,loyalty_type,rule,loyalty_index")
    assert len(lines) == 1 + 12  # every non-archived customer
    web.login("agent")
    assert web.get("/loyalty/types/export.csv").status_code == 403  # data:export only


def test_export_neutralises_formulas(web, db, users):
    from tests.factories import make_customer

    make_customer(db, name='=HYPERLINK("http://x")')
    db.commit()
    web.login("manager")
    r = web.get("/loyalty/types/export.csv?show=all")
    assert "'=HYPERLINK" in r.text


def test_empty_page(web, users):
    web.login("manager")
    r = web.get("/loyalty/types")
    assert r.status_code == 200 and 'id="loyalty-empty"' in r.text


def test_customer_360_panel(web, base, monkeypatch):
    mine = [p for p in panels.CUSTOMER_PANELS if p.key == "loyalty_type"]
    assert mine, "the loyalty type panel is not registered"
    monkeypatch.setattr(panels, "CUSTOMER_PANELS", mine)
    web.login("agent")
    r = web.get(f"/customers/{base['monopoly'].id}")
    assert r.status_code == 200
    assert 'id="customer-loyalty-type"' in r.text and 'id="loyalty-reason"' in r.text
    assert "has no alternative supplier" in r.text


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_measure_writes_csv(tmp_path, monkeypatch):
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
        out = tmp_path / "loyalty.csv"
        r = runner.invoke(app, ["loyalty", "measure", "--output", str(out)])
        assert r.exit_code == 0, r.output
        assert "12 customers measured" in r.output and "inertia" in r.output
        assert out.read_text(encoding="utf-8").count("\n") == 13
        r = runner.invoke(app, ["loyalty", "measure", "--type", "devoted"])
        assert r.exit_code == 1 and "type must be one of" in " ".join(r.output.split())
        r = runner.invoke(app, ["loyalty", "measure", "--weights", "1,2"])
        assert r.exit_code == 1
    finally:
        get_settings.cache_clear()


def test_loyalty_dashboard_loads_the_types_box_after_the_page(web, base):
    web.login("manager")
    dash = web.get("/loyalty")
    assert dash.status_code == 200, dash.text
    assert 'hx-get="/loyalty/types/summary"' in dash.text
    frag = web.get("/loyalty/types/summary", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text
    assert 'id="loyalty-types-counts"' in frag.text and "Kinship loyalty" in frag.text
    assert 'id="loyalty-trap-link"' in frag.text
