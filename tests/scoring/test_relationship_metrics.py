"""Relationship metrics (issue 13 point 10): retention and repeat-purchase rate per month and
quarter on a hand-made set, share of wallet from recorded category spend, customer delivered
value per customer and per value class, the API, the dashboard section and the 360 panel."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from retento.core.errors import InvalidInput
from retento.customers import panels
from retento.scoring import relationship, service
from retento.scoring.models import CustomerScore, ScoreRun
from retento.scoring.schemas import ScoreRunCreate
from retento.surveys.models import (
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    SurveySection,
)
from tests.factories import make_customer, make_order, make_product
from tests.scoring.conftest import AS_OF
from tests.web.conftest import Browser

END = datetime(2025, 4, 1, tzinfo=UTC)


def _at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


@pytest.fixture
def shop(db, users):
    """Four customers buying in Dec 2024 – Mar 2025, two of them VIP in a (stored) run."""
    p = make_product(db)
    a, b, c, d = (make_customer(db, name=n) for n in ("A", "B", "C", "D"))
    for cust, days in (
        (a, [_at(2025, 1, 10), _at(2025, 2, 5), _at(2025, 3, 20)]),
        (b, [_at(2025, 1, 15), _at(2025, 1, 20), _at(2025, 3, 2)]),
        (c, [_at(2024, 12, 1), _at(2025, 2, 10)]),
        (d, [_at(2025, 2, 1)]),
    ):
        for when in days:
            make_order(db, cust, lines=[(p, 1)], ordered_at=when)
    make_order(db, d, lines=[(p, 1)], ordered_at=_at(2025, 3, 5), status="cancelled")
    run = ScoreRun(
        model="bgnbd",
        status="succeeded",
        as_of=END,
        finished_at=END,
        customers_scored=4,
        report={},
    )
    db.add(run)
    db.flush()
    for cust, cls in ((a, "vip"), (b, "vip"), (c, "ordinary"), (d, "ordinary")):
        db.add(
            CustomerScore(
                run_id=run.id,
                customer_id=cust.id,
                revenue=Decimal("10"),
                profit=Decimal("4"),
                monetary=Decimal("10"),
                value_class=cls,
                label="other",
                loyalty_stage="new",
            )
        )
    db.flush()
    return {"a": a, "b": b, "c": c, "d": d, "run": run}


def _rows(series):
    return {
        p["period"]: (p["buyers"], p["repeat_buyers"], p["base"], p["retained"])
        for p in series["points"]
    }


def test_monthly_retention_and_repeat_rate_by_hand(db, shop):
    s = relationship.rate_series(db, grain="month", periods=3, end=END)
    # (buyers, repeat buyers, buyers the month before, of them bought again)
    assert _rows(s) == {
        "2025-01": (2, 1, 1, 0),  # B bought on two days; C (December) did not come back
        "2025-02": (3, 2, 2, 1),  # A and C had bought before, D is new; A came back from Jan
        "2025-03": (2, 2, 3, 1),  # D's March order was cancelled; only A came back from Feb
    }
    rates = {p["period"]: (p["repeat_rate"], p["retention_rate"]) for p in s["points"]}
    assert rates["2025-02"] == (pytest.approx(2 / 3), pytest.approx(0.5))
    assert rates["2025-03"] == (pytest.approx(1.0), pytest.approx(1 / 3))
    assert not any(p["partial"] for p in s["points"])
    assert s["trend"]["retention_last"] == pytest.approx(1 / 3)
    assert s["trend"]["retention_previous"] == pytest.approx(0.5)
    assert s["trend"]["repeat_slope"] == pytest.approx(0.25)


def test_quarterly_rates_and_a_partial_period(db, shop):
    s = relationship.rate_series(db, grain="quarter", periods=1, end=END)
    assert _rows(s) == {"2025-Q1": (4, 3, 1, 1)}
    mid = relationship.rate_series(db, grain="month", periods=1, end=_at(2025, 3, 25))
    assert mid["points"][0]["partial"] is True


def test_segment_keeps_the_latest_runs_customers(db, shop):
    s = relationship.rate_series(
        db, grain="month", periods=3, end=END, segment=("value_class", "vip")
    )
    assert _rows(s) == {
        "2025-01": (2, 1, 0, 0),
        "2025-02": (1, 1, 2, 1),
        "2025-03": (2, 2, 1, 1),
    }


def test_a_saved_insights_segment_narrows_the_rates(db, shop):
    """A saved segment (Insights, ``insight:<id>:<cluster>``) is one more segment kind here."""
    import retento.insights.pages.segments  # noqa: F401  (registers the "insight" kind)
    from retento.insights.models import InsightSegment, InsightSegmentMember
    from retento.scoring import queries

    seg = InsightSegment(name="t", method="kmeans", k=2, features=["x"], profile={})
    db.add(seg)
    db.flush()
    vips = [
        cid
        for (cid,) in db.execute(
            queries.segment_customers(queries.latest_run_id(db), "value_class", "vip")
        )
    ]
    for cid in vips:
        db.add(InsightSegmentMember(segment_id=seg.id, customer_id=cid, cluster=1))
    db.flush()
    s = relationship.rate_series(
        db, grain="month", periods=3, end=END, segment=("insight", f"{seg.id}:1")
    )
    vip = relationship.rate_series(
        db, grain="month", periods=3, end=END, segment=("value_class", "vip")
    )
    assert _rows(s) == _rows(vip)


def test_bad_grain_and_segment_are_422(db, shop):
    with pytest.raises(InvalidInput) as exc:
        relationship.rate_series(db, grain="week")
    assert exc.value.field == "grain"
    with pytest.raises(InvalidInput) as exc:
        relationship.parse_segment("value_class:gold")
    assert exc.value.field == "segment"


@pytest.fixture
def wallet(db, users):
    now = datetime.now(UTC)
    coffee = make_product(db, category="coffee", unit_price=Decimal("10.00"))
    tea = make_product(db, category="tea", unit_price=Decimal("15.00"))
    c = make_customer(
        db,
        custom_fields={"wallet_spend": "1000", "wallet_spend.coffee": "400", "other": "x"},
    )
    make_order(db, c, lines=[(coffee, 20), (tea, 10)], ordered_at=now - timedelta(days=10))
    # Outside the 365-day window: not counted.
    make_order(db, c, lines=[(coffee, 50)], ordered_at=now - timedelta(days=500))
    over = make_customer(db, custom_fields={"wallet_spend": "100"})
    make_order(db, over, lines=[(tea, 10)], ordered_at=now - timedelta(days=3))
    bad = make_customer(db, custom_fields={"wallet_spend": "lots"})
    none = make_customer(db, custom_fields={})
    return {"c": c, "over": over, "bad": bad, "none": none}


def test_share_of_wallet_per_customer_and_category(db, wallet):
    out = relationship.customer_wallet(db, wallet["c"], window_days=365)
    assert out["ours"] == Decimal("350.00") and out["wallet"] == Decimal("1000")
    assert out["share"] == pytest.approx(0.35)
    assert out["categories"] == [
        {
            "category": "coffee",
            "recorded": "400",
            "wallet": Decimal("400"),
            "ours": Decimal("200.00"),
            "share": pytest.approx(0.5),
        }
    ]
    assert relationship.customer_wallet(db, wallet["none"], window_days=365)["has_data"] is False


def test_share_of_wallet_distribution(db, wallet):
    dist = relationship.wallet_distribution(db, window_days=365)
    assert dist["customers"] == 2 and dist["unreadable"] == 1 and dist["over_100"] == 1
    assert dist["counts"][3] == 1 and sum(dist["counts"]) == 1
    assert dist["mean"] == pytest.approx((0.35 + 1.0) / 2)


@pytest.fixture
def answers(db, shop):
    """A (VIP) answered twice: the latest answer per dimension counts; C (ordinary) once."""
    survey = Survey(name="Value")
    db.add(survey)
    db.flush()
    section = SurveySection(survey_id=survey.id, code="value", title="Value")
    db.add(section)
    db.flush()
    qs = {}
    for dim in ("product", "service", "image", "money", "time"):
        q = SurveyQuestion(
            survey_id=survey.id,
            section_id=section.id,
            code=f"q_{dim}",
            text=dim,
            qtype="rating",
            scale_min=1,
            scale_max=5,
            value_dimension=dim,
        )
        db.add(q)
        qs[dim] = q
    db.flush()

    def respond(cust, when, values):
        r = SurveyResponse(
            survey_id=survey.id,
            customer_id=cust.id,
            channel="phone",
            status="completed",
            completed_at=when,
        )
        db.add(r)
        db.flush()
        for dim, v in values.items():
            db.add(SurveyAnswer(response_id=r.id, question_id=qs[dim].id, number=v))
        db.flush()

    respond(shop["a"], _at(2025, 1, 5), {"product": 5, "image": 5})
    respond(shop["a"], _at(2025, 3, 5), {"product": 2, "service": 4, "money": 3, "time": 1})
    respond(shop["c"], _at(2025, 2, 5), {"product": 5})
    return qs


def test_delivered_value_per_customer_uses_the_latest_answers(db, shop, answers):
    cdv = relationship.customer_delivered_value(db, shop["a"].id)
    assert cdv["dimensions"] == {
        "product": pytest.approx(25.0),
        "service": pytest.approx(75.0),
        "image": pytest.approx(100.0),
        "money": pytest.approx(50.0),
        "time": pytest.approx(0.0),
    }
    assert cdv["total_value"] == pytest.approx(200 / 3)
    assert cdv["total_cost"] == pytest.approx(25.0)
    assert cdv["delivered"] == pytest.approx(200 / 3 - 25)
    assert cdv["weakest"] == "product"
    assert relationship.customer_delivered_value(db, shop["d"].id) is None


def test_delivered_value_per_value_class(db, shop, answers):
    out = relationship.delivered_value_by_class(db)
    by = {r["segment"]: r for r in out["by_segment"]}
    assert out["customers"] == 2 and list(by) == ["vip", "ordinary"]
    assert by["vip"]["delivered"] == pytest.approx(200 / 3 - 25)
    assert by["vip"]["weakest"] == "product"
    assert by["ordinary"]["total_value"] == pytest.approx(100.0)
    assert by["ordinary"]["delivered"] is None  # no cost answered
    only_vip = relationship.delivered_value_by_class(db, segment=("value_class", "vip"))
    assert [r["segment"] for r in only_vip["by_segment"]] == ["vip"]
    # The period filter: answers completed in February only (C's).
    feb = relationship.delivered_value_by_class(db, since=_at(2025, 2, 1), until=_at(2025, 3, 1))
    assert [r["segment"] for r in feb["by_segment"]] == ["ordinary"]


def test_api(client, tokens, db, shop, answers, wallet):
    db.commit()
    h = tokens["analyst"]
    r = client.get("/api/v1/value/relationship", params={"grain": "quarter"}, headers=h)
    assert r.status_code == 200 and r.json()["grain"] == "quarter"
    assert len(r.json()["points"]) == 8
    r = client.get("/api/v1/value/relationship", params={"grain": "week"}, headers=h)
    assert r.status_code == 422
    r = client.get("/api/v1/value/relationship", params={"segment": "tier:gold"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "segment"
    r = client.get("/api/v1/value/delivered-value", headers=h)
    assert r.status_code == 200 and r.json()["by_segment"][0]["weakest"] == "product"
    r = client.get("/api/v1/value/share-of-wallet", headers=h)
    assert r.status_code == 200 and r.json()["customers"] == 2
    r = client.get(f"/api/v1/customers/{wallet['c'].id}/relationship", headers=h)
    assert r.status_code == 200
    assert r.json()["share_of_wallet"]["share"] == pytest.approx(0.35)
    r = client.get(f"/api/v1/customers/{shop['a'].id}/relationship", headers=h)
    assert r.json()["delivered_value"]["weakest"] == "product"
    assert client.get("/api/v1/customers/999999/relationship", headers=h).status_code == 404


def test_360_panel_both_languages(client, db, users, shop, answers, monkeypatch):
    mine = [p for p in panels.CUSTOMER_PANELS if p.key == "relationship_value"]
    assert mine
    monkeypatch.setattr(panels, "CUSTOMER_PANELS", mine)
    shop["a"].custom_fields = {"wallet_spend": "50"}
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/customers/{shop['a'].id}")
    assert page.status_code == 200 and 'id="customer-relationship"' in page.text
    assert 'id="cdv-weakest"' in page.text and "Product value" in page.text
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    zh = web.get(f"/customers/{shop['a'].id}")
    assert "顾客份额" in zh.text and "产品价值" in zh.text and "客户让渡价值" in zh.text


def test_360_panel_names_the_wallet_fields_as_text_in_both_languages(
    client, db, users, shop, monkeypatch
):
    """Without recorded spend the panel says where to record it: ``wallet_spend.<category>``
    reaches the reader as text (escaped), not as an unknown ``<category>`` tag the browser
    drops, and its placeholder is in the reader's language."""
    mine = [p for p in panels.CUSTOMER_PANELS if p.key == "relationship_value"]
    monkeypatch.setattr(panels, "CUSTOMER_PANELS", mine)
    web = Browser(client)
    web.login("agent")

    def note(url: str) -> str:
        m = re.search(r'<p class="muted" id="sow-none">(.*?)</p>', web.get(url).text, re.S)
        assert m, url
        return m.group(1)

    en = note(f"/customers/{shop['a'].id}")
    assert "<category>" not in en
    assert "<code>wallet_spend.&lt;category&gt;</code>" in en
    assert "the custom field <code>wallet_spend</code> (or" in en
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", en))
    assert text == (
        "No category spend recorded. Record it in the custom field wallet_spend "
        "(or wallet_spend.<category>) to see the share of wallet."
    )
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    zh = note(f"/customers/{shop['a'].id}")
    assert "<code>wallet_spend.&lt;品类&gt;</code>" in zh
    assert html_lib.unescape(re.sub(r"<[^>]+>", "", zh)) == (
        "尚未记录品类支出。在自定义字段 wallet_spend（或 wallet_spend.<品类>）中记录后即可查看顾客份额。"
    )


def test_dashboard_section_both_languages(client, db, users, population):
    run = service.run_scoring(db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=0), actor=None)
    db.commit()
    assert run.status == "succeeded"
    web = Browser(client)
    web.login("manager")
    page = web.get("/value")
    assert page.status_code == 200
    for marker in ('id="relationship-rates"', 'id="share-of-wallet"', 'id="delivered-value"'):
        assert marker in page.text
    q = web.get("/value?grain=quarter&period=all&segment=value_class:vip")
    assert q.status_code == 200 and 'id="relationship-rates"' in q.text
    # The population bought until 2025; the default window of 24 months up to now may be empty,
    # a custom period over 2024 is not.
    custom = web.get("/value?period=custom&from=2024-01-01&to=2024-12-31")
    assert 'id="rates-chart"' in custom.text and 'id="rates-table"' in custom.text
    m = re.search(r'id="rates-chart" data-chart="([^"]*)"', custom.text)
    option = json.loads(html_lib.unescape(m.group(1)))
    assert option["xAxis"]["data"][0] == "2024-01" and len(option["xAxis"]["data"]) == 12
    retention = option["series"][0]["data"]
    expected = relationship.rate_series(
        db,
        grain="month",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert retention == [
        None if p["retention_rate"] is None else round(p["retention_rate"] * 100, 1)
        for p in expected["points"]
    ]
    web.post("/locale", {"lang": "zh_CN", "next": "/value"})
    zh = web.get("/value?period=custom&from=2024-01-01&to=2024-12-31")
    assert "客户保持率" in zh.text and "重复购买率" in zh.text and "顾客份额" in zh.text
