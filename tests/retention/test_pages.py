"""Retention web pages: the at-risk list (filters, sort by value at risk, CSV/XLSX export), the
retention dashboard, the alerts inbox, the owner's task list and the playbook editor, in English
and Chinese, for the roles that may open them (403 for the others)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from retento.scoring.models import CustomerScore, ScoreRun
from tests.factories import make_customer
from tests.web.conftest import Browser

LAPSED = {"code": "lapsed", "params": {"since": 152.0, "gap": 42.0}}
LAPSED_ONCE = {"code": "lapsed_once", "params": {"since": 240.0}}
SPEND = {"code": "spend_falling", "params": {"recent": 10.0, "prior": 90.0, "window": 91.0}}


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _score(run, customer, value_class, clv, risk, reasons, **over):
    return CustomerScore(
        run_id=run.id,
        customer_id=customer.id,
        order_count=over.get("order_count", 3),
        last_order_on=over.get("last_order_on", date(2025, 1, 10)),
        revenue=Decimal("100.00"),
        profit=Decimal("40.00"),
        monetary=Decimal("30.00"),
        clv=None if clv is None else Decimal(clv),
        p_alive=0.5,
        value_class=value_class,
        label="other",
        loyalty_stage="regular",
        churn_risk=risk,
        churn_reasons=reasons,
    )


def _run(db, as_of, *, horizon=90):
    run = ScoreRun(
        model="mbgnbd",
        status="succeeded",
        as_of=as_of,
        finished_at=as_of,
        customers_scored=0,
        params={"churn": {"horizon_days": horizon}},
        report={},
    )
    db.add(run)
    db.flush()
    return run


@pytest.fixture
def scored(db, users):
    """Two scoring runs with churn risk; the latest has five customers of known value at risk."""
    agent, manager = users["agent"], users["manager"]
    c = {
        "vip": make_customer(db, name="Vera VIP", external_id="R-1", owner_id=agent.id),
        "major": make_customer(db, name="Mark Major", external_id="R-2", owner_id=manager.id),
        "ord": make_customer(db, name="Olga Ordinary", external_id="R-3", owner_id=agent.id),
        "small": make_customer(db, name="=Sam Small", external_id="R-4"),
        "calm": make_customer(db, name="Carl Calm", external_id="R-5", owner_id=agent.id),
    }
    old = _run(db, datetime(2025, 3, 31, tzinfo=UTC))
    for cust in c.values():
        db.add(_score(old, cust, "ordinary", "100.00", 0.2, [LAPSED]))
    new = _run(db, datetime(2025, 6, 30, tzinfo=UTC))
    db.add_all(
        [
            _score(new, c["vip"], "vip", "5000.00", 0.8, [LAPSED, SPEND]),  # 4000.00 at risk
            _score(new, c["major"], "major", "8000.00", 0.25, [SPEND]),  # 2000.00
            _score(new, c["ord"], "ordinary", "900.00", 0.9, [LAPSED_ONCE]),  # 810.00
            _score(new, c["small"], "small", "50.00", 0.6, [LAPSED]),  # 30.00
            _score(new, c["calm"], "ordinary", "3000.00", 0.05, []),  # 150.00
        ]
    )
    db.commit()
    return c


def _names(html: str, names) -> list[str]:
    """The given customer names in the order they appear on the page."""
    found = [(html.find(n), n) for n in names if n in html]
    return [n for _, n in sorted(found)]


ALL = ("Vera VIP", "Mark Major", "Olga Ordinary", "Sam Small", "Carl Calm")


def test_at_risk_list_sorted_by_value_at_risk_with_reasons_in_words(web, scored):
    web.login("analyst")
    page = web.get("/retention/at-risk")
    assert page.status_code == 200
    assert _names(page.text, ALL) == [
        "Vera VIP", "Mark Major", "Olga Ordinary", "Carl Calm", "Sam Small"
    ]  # fmt: skip
    assert "no purchase for 5 months; usually buys every 6 weeks" in page.text
    assert "bought only once" in page.text
    assert "$4,000.00" in page.text and "$6,990.00" in page.text  # row and filtered total
    assert "scoring run #" in page.text and "90 days" in page.text
    assert page.text.count('class="active"') == 1  # one highlighted nav item


def test_at_risk_filters_by_class_owner_reason_and_risk(web, scored, users):
    web.login("manager")
    assert _names(web.get("/retention/at-risk?value_class=vip").text, ALL) == ["Vera VIP"]
    mine = web.get(f"/retention/at-risk?owner={users['agent'].id}").text
    assert _names(mine, ALL) == ["Vera VIP", "Olga Ordinary", "Carl Calm"]
    assert _names(web.get("/retention/at-risk?owner=me").text, ALL) == ["Mark Major"]
    assert _names(web.get("/retention/at-risk?owner=none").text, ALL) == ["Sam Small"]
    by_reason = web.get("/retention/at-risk?reason=spend_falling").text
    assert _names(by_reason, ALL) == ["Vera VIP", "Mark Major"]
    assert _names(web.get("/retention/at-risk?min_risk=0.7").text, ALL) == [
        "Vera VIP", "Olga Ordinary"
    ]  # fmt: skip
    by_risk = web.get("/retention/at-risk?sort=risk").text
    assert _names(by_risk, ALL)[:2] == ["Olga Ordinary", "Vera VIP"]
    part = web.get(
        "/retention/at-risk?value_class=vip", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert part.status_code == 200 and "<html" not in part.text and "Vera VIP" in part.text
    for bad in ("value_class=gold", "owner=x", "reason=moon", "min_risk=2", "sort=name"):
        r = web.get(f"/retention/at-risk?{bad}")
        assert r.status_code == 422, bad
        assert bad.split("=")[0] in r.text


def test_at_risk_csv_and_xlsx_export(web, scored):
    web.login("manager")
    r = web.get("/retention/at-risk/export.csv?value_class=vip")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:8] == [
        "customer_id", "external_id", "name", "value_class", "owner", "clv", "churn_risk",
        "value_at_risk",
    ]  # fmt: skip
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["name"] == "Vera VIP" and row["value_at_risk"] == "4000.00"
    assert row["reason_code_1"] == "lapsed"
    assert row["reason_1"] == "no purchase for 5 months; usually buys every 6 weeks"
    full = web.get("/retention/at-risk/export.csv").content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(full)))) == 6
    assert "'=Sam Small" in full  # a formula-looking name is neutralised

    from openpyxl import load_workbook

    x = web.get("/retention/at-risk/export.xlsx?sort=risk")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    values = list(ws.iter_rows(values_only=True))
    assert values[0][2] == "name" and values[1][2] == "Olga Ordinary" and len(values) == 6

    agent = Browser(web.client)
    web.client.cookies.clear()
    agent.login("agent")
    assert agent.get("/retention/at-risk").status_code == 200
    assert agent.get("/retention/at-risk/export.csv").status_code == 403


def test_at_risk_and_dashboard_in_chinese(web, scored, users, db):
    users["analyst"].locale = "zh_CN"
    db.commit()
    web.login("analyst")
    page = web.get("/retention/at-risk")
    assert page.status_code == 200
    assert "已5个月未购买；通常每6周购买一次" in page.text
    assert "流失风险" in page.text
    d = web.get("/retention/dashboard")
    assert d.status_code == 200 and "风险价值" in d.text


def test_dashboard_value_at_risk_and_trend(web, scored):
    web.login("manager")
    d = web.get("/retention/dashboard")
    assert d.status_code == 200
    assert 'id="kpi-var"' in d.text and "$6,990.00" in d.text
    assert 'id="trend-chart"' in d.text and 'id="var-chart"' in d.text
    # Trend: the March run (mean risk 20 %) and the June run (mean 52 %).
    assert "20.0 %" in d.text and "52.0 %" in d.text
    assert d.text.count('class="active"') == 1


def test_pages_without_a_run_say_so(web, users):
    web.login("manager")
    assert 'id="at-risk-empty"' in web.get("/retention/at-risk").text
    assert 'id="dashboard-empty"' in web.get("/retention/dashboard").text


def test_anonymous_visitors_are_sent_to_login(client):
    r = client.get("/retention/at-risk", follow_redirects=False)
    assert r.status_code in (302, 303, 401)
