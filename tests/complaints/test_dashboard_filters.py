"""The complaint dashboard's filters (period, value class, channel, category) on the page, the
API and the CSV download: known complaints inside and outside each filter, bad values."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from retento.complaints import analytics, followup, remedies, service
from retento.complaints.schemas import FollowUpIn, RemedyCreate, TransitionIn
from retento.core.errors import InvalidInput
from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser

H = timedelta(hours=1)
MARCH = datetime(2024, 3, 4, 9, tzinfo=UTC)
APRIL = datetime(2024, 4, 13, 9, tzinfo=UTC)
JUNE = datetime(2024, 6, 1, 9, tzinfo=UTC)


@pytest.fixture
def shop(db, users):
    """Four complaints: March (VIP, phone, delivery, won back, 12.00 refund), two in April
    (ordinary; email product quality and phone delivery) and June (VIP, phone, billing)."""
    m = users["manager"]

    def complaint(at, value_class, **over):
        c = make_complaint(db, m, customer_id=make_customer(db).id, received_at=at, **over)
        c.value_class = value_class
        db.flush()
        return c

    c1 = complaint(MARCH, "vip", category="delivery", root_cause="Packaging")
    c2 = complaint(APRIL, "ordinary", category="product_quality", channel="email")
    c3 = complaint(APRIL, "ordinary", category="delivery", root_cause="courier")
    c4 = complaint(JUNE, "vip", category="price_billing", kind="grumble")
    remedies.add_remedy(
        db,
        c1.id,
        RemedyCreate(kind="compensation", compensation_type="refund", amount="12.00", cost="12.00"),
        actor=m,
    )
    for c, won in ((c1, True), (c3, False)):
        for action, hours in (("start", 1), ("resolve", 2)):
            service.apply_transition(
                db,
                c.id,
                TransitionIn(action=action, note="Sorted out"),
                actor=m,
                at=c.received_at + hours * H,
            )
        followup.record_follow_up(db, c.id, FollowUpIn(won_back=won), actor=m)
    db.commit()
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4}


def _n(d) -> int:
    return d["times"]["complaints"]


def test_each_filter_selects_the_known_complaints(db, users, shop):
    a = users["analyst"]
    assert _n(analytics.dashboard(db, actor=a)) == 4
    march = analytics.dashboard(
        db, actor=a, since=datetime(2024, 3, 1, tzinfo=UTC), until=datetime(2024, 4, 1, tzinfo=UTC)
    )
    assert _n(march) == 1 and march["remedies"]["total_cost"] == "12.00"
    assert march["recovery"]["recovery_rate"] == 1.0
    q2 = analytics.dashboard(
        db, actor=a, since=datetime(2024, 4, 1, tzinfo=UTC), until=datetime(2024, 7, 1, tzinfo=UTC)
    )
    assert _n(q2) == 3 and q2["remedies"]["total_cost"] == "0.00"
    assert q2["recovery"]["recovery_rate"] == 0.0
    vip = analytics.dashboard(db, actor=a, value_class="vip")
    assert _n(vip) == 2 and vip["volume"]["by_kind"] == {"complaint": 1, "grumble": 1}
    assert [r["month"] for r in vip["monthly"]] == ["2024-03", "2024-06"]
    email = analytics.dashboard(db, actor=a, channel="email")
    assert _n(email) == 1 and email["volume"]["by_category"][0]["category"] == "product_quality"
    delivery = analytics.dashboard(db, actor=a, category="delivery")
    assert _n(delivery) == 2
    assert {r["root_cause"] for r in delivery["pareto"]} == {"packaging", "courier"}
    both = analytics.dashboard(
        db, actor=a, since=datetime(2024, 4, 1, tzinfo=UTC), value_class="vip"
    )
    assert _n(both) == 1 and both["volume"]["by_category"][0]["category"] == "price_billing"
    assert both["silent_dissatisfied"]["complaints"] == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"value_class": "gold"}, "value_class"),
        ({"channel": "fax"}, "channel"),
        ({"category": "no_such_category"}, "category"),
        ({"since": JUNE, "until": MARCH}, "until"),
    ],
)
def test_bad_filters_name_the_field(db, users, args, field):
    with pytest.raises(InvalidInput) as exc:
        analytics.dashboard(db, actor=users["analyst"], **args)
    assert exc.value.field == field


def test_api_filters_and_422(client, tokens, shop):
    h = tokens["analyst"]
    url = "/api/v1/complaints/analytics"
    r = client.get(url, params={"value_class": "vip", "since": "2024-04-01T00:00:00Z"}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["times"]["complaints"] == 1
    assert body["filters"] == {"value_class": "vip", "channel": None, "category": None}
    r = client.get(url, params={"channel": "email", "category": "product_quality"}, headers=h)
    assert r.json()["times"]["complaints"] == 1
    for params, field in (
        ({"value_class": "gold"}, "value_class"),
        ({"channel": "fax"}, "channel"),
        ({"category": "nope"}, "category"),
        ({"since": "2024-06-01T00:00:00Z", "until": "2024-03-01T00:00:00Z"}, "until"),
        ({"since": "soon"}, "since"),
    ):
        r = client.get(url, params=params, headers=h)
        assert r.status_code == 422, params
        assert field in r.text, params


def _kpi(html: str, kpi: str) -> str:
    return re.search(rf'id="{kpi}">([^<]*)<', html).group(1).strip()


def test_page_filters_every_figure(client, db, users, shop):
    web = Browser(client)
    web.login("manager")
    html = web.get("/complaints/dashboard").text
    assert 'id="dash-filters"' in html and _kpi(html, "kpi-complaints") == "4"
    html = web.get("/complaints/dashboard?period=custom&from=2024-03-01&to=2024-03-31").text
    assert _kpi(html, "kpi-complaints") == "1"
    assert _kpi(html, "kpi-recovery") == "100.0 %"
    assert "<td>Delivery</td><td>1</td>" in html and "<td>Product quality</td>" not in html
    html = web.get("/complaints/dashboard?period=all&segment=value_class:vip").text
    assert _kpi(html, "kpi-complaints") == "2"
    assert 'value="value_class:vip" selected' in html
    html = web.get("/complaints/dashboard?channel=email").text
    assert _kpi(html, "kpi-complaints") == "1" and 'value="email" selected' in html
    html = web.get("/complaints/dashboard?category=delivery").text
    assert _kpi(html, "kpi-complaints") == "2"
    # the CSV link keeps the filters
    assert 'href="/complaints/dashboard/export.csv?period=all&amp;category=delivery"' in html


@pytest.mark.parametrize(
    ("locale", "query", "message"),
    [
        (
            "en",
            "period=custom&from=soon&to=2024-01-01",
            "From (from) must be a date as YYYY-MM-DD.",
        ),
        (
            "zh_CN",
            "period=custom&from=soon&to=2024-01-01",
            "开始日期（from）必须是 YYYY-MM-DD 格式的日期。",
        ),
        ("en", "period=custom&from=2024-05-01&to=2024-04-01", "The last day comes before"),
        ("zh_CN", "period=custom&from=2024-05-01&to=2024-04-01", "最后一天早于第一天。"),
        ("en", "category=nope", "Unknown complaint category"),
        ("zh_CN", "category=nope", "未知的投诉类别"),
        ("en", "segment=value_class:gold", "Segment (segment) must be one of the segments"),
        ("zh_CN", "channel=fax", "渠道（channel）必须是以下之一：电话、电子邮件、"),
        ("en", "channel=fax", "Channel (channel) must be one of: Phone, Email, Web form,"),
    ],
)
def test_bad_filters_give_the_page_back_with_the_error(
    client, db, users, shop, locale, query, message
):
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.get(f"/complaints/dashboard?{query}")
    assert r.status_code == 422
    assert message in r.text
    assert 'class="field-error" id="e-dash-' in r.text and 'id="dash-filter-errors"' in r.text
    # the page is whole: every complaint is counted and the typed dates are shown back
    assert _kpi(r.text, "kpi-complaints") == "4"
    if "from=soon" in query:
        assert 'value="soon"' in r.text
    assert web.get(f"/complaints/dashboard/export.csv?{query}").status_code == 422


def _csv(r) -> list[dict[str, str]]:
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "complaint-dashboard.csv" in r.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def _cell(rows, table, group, measure) -> str:
    (hit,) = [r for r in rows if (r["table"], r["group"], r["measure"]) == (table, group, measure)]
    return hit["value"]


@pytest.mark.parametrize(("locale", "name"), [("en", "Delivery"), ("zh_CN", "配送")])
def test_csv_has_the_filtered_tables(client, db, users, shop, locale, name):
    users["analyst"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("analyst")
    rows = _csv(
        web.get("/complaints/dashboard/export.csv?period=custom&from=2024-03-01&to=2024-04-30")
    )
    assert list(rows[0]) == ["table", "group", "name", "measure", "value"]
    assert _cell(rows, "filter", "", "received_from") == "2024-03-01"
    assert _cell(rows, "filter", "", "received_to") == "2024-04-30"
    assert _cell(rows, "sla", "all", "complaints") == "3"
    (delivery,) = [r for r in rows if r["table"] == "by_category" and r["group"] == "delivery"]
    assert (delivery["name"], delivery["value"]) == (name, "2")
    assert _cell(rows, "by_channel", "email", "complaints") == "1"
    assert _cell(rows, "root_causes", "packaging", "share") == "0.3333"
    assert _cell(rows, "remedies", "compensation", "cost") == "12.00"
    assert _cell(rows, "recovery", "all", "followed_up") == "2"
    assert _cell(rows, "recovery", "all", "recovery_rate") == "0.5"
    assert _cell(rows, "by_month", "2024-04", "complaints") == "2"
    assert not [r for r in rows if r["group"] == "price_billing"]
    vip = _csv(web.get("/complaints/dashboard/export.csv?segment=value_class:vip&channel=phone"))
    assert _cell(vip, "filter", "", "value_class") == "vip"
    assert _cell(vip, "sla", "all", "complaints") == "2"


def test_csv_neutralises_formulas_and_needs_export_permission(client, db, users):
    make_complaint(
        db, users["manager"], customer_id=make_customer(db).id, root_cause="=HYPERLINK(1)"
    )
    db.commit()
    web = Browser(client)
    web.login("analyst")
    rows = _csv(web.get("/complaints/dashboard/export.csv"))
    causes = [r for r in rows if r["table"] == "root_causes"]
    assert causes and all(not r["group"].startswith("=") for r in causes)
    assert all(not r["name"].startswith("=") for r in causes)
    agent = Browser(client)
    agent.login("agent")
    assert agent.get("/complaints/dashboard/export.csv").status_code == 403
