"""Drivers and propensity: the JSON API, the pages in English and Chinese, the CSV invite list,
a survey distribution from the invite list, and bad input answered with 422 naming the field."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from retento.customers.models import Customer
from retento.demo import generator
from retento.insights import drivers_queries as q
from retento.surveys.demo import step_surveys
from retento.surveys.models import Survey, SurveyDistribution, SurveyInvitation
from retento.web.i18n import gettext
from tests.factories import make_order, make_touchpoint
from tests.shared_world import World, make_users


def _build_shop(db) -> None:
    make_users(db)
    db.commit()
    generator.generate(
        db, customers=300, seed=7, today=date(2026, 6, 30), steps=[*generator.STEPS, step_surveys]
    )
    db.commit()


@pytest.fixture(scope="module")
def world_demo():
    """The users and a demo of 300 customers with surveys, built once per module and backend;
    each test that takes ``shop`` runs in a SAVEPOINT on it (tests/shared_world.py)."""
    with World.for_module(_build_shop) as world:
        yield world


@pytest.fixture
def shop(world_demo, db):
    return db


def test_online_share_counts_web_orders(db):
    """The share of a customer's orders placed in the web shop (it compared the channel with
    "online", which no order has, so the feature was 0 for everyone and dropped).

    No shop: before the tests that take it, so that the shared demo is built once."""
    from datetime import UTC, datetime

    from tests.factories import make_customer, make_order

    c = make_customer(db)
    for day, channel in ((1, "web"), (2, "store"), (3, "web"), (4, "phone")):
        make_order(db, c, ordered_at=datetime(2025, 3, day, tzinfo=UTC), channel=channel)
    db.flush()
    f = q.behaviour_features(db, datetime(2025, 4, 1, tzinfo=UTC))
    assert f.loc[c.id, "online_share"] == 0.5


def test_driver_api_ranks_spend_drivers_with_intervals(shop, client, tokens):
    r = client.get(
        "/api/v1/insights/drivers?outcome=spend&n_bootstrap=50", headers=tokens["analyst"]
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rows"] >= 100 and body["n_test"] > 0
    assert body["r2_test"] is not None and body["r2_test"] > 0
    d = body["drivers"]
    assert d[0]["importance"] == max(x["importance"] for x in d)
    assert all(x["ci_lower"] <= x["ci_upper"] for x in d)
    assert {x["feature"] for x in d} >= {"orders", "spend", "days_since_last"}
    assert "complaints" in body["dropped"]  # no complaints in this demo: the same for everyone
    assert any(x["label"] == "Spend to date" for x in d)
    # plain labels follow the user's language, and the survey-item outcome gives the matrix
    sid = shop.scalar(select(Survey.id).order_by(Survey.id))
    r = client.get(
        f"/api/v1/insights/drivers?outcome=survey_items&survey_id={sid}&ci=ols",
        headers=tokens["analyst"],
    )
    assert r.status_code == 200, r.text
    items = r.json()
    assert items["r2_test"] > 0.3
    assert any(x.get("quadrant") == "concentrate here" for x in items["drivers"])
    r = client.get(
        "/api/v1/insights/drivers?outcome=satisfaction&n_bootstrap=20", headers=tokens["analyst"]
    )
    assert r.status_code == 200, r.text
    # cached per data fingerprint: the same answer again; a new contact makes it stale
    before = q._driver_fingerprint(shop)
    again = client.get(
        "/api/v1/insights/drivers?outcome=spend&n_bootstrap=50", headers=tokens["analyst"]
    )
    assert again.json() == body
    make_touchpoint(shop)
    shop.commit()
    assert q._driver_fingerprint(shop) != before


def test_driver_api_bad_input_names_the_field(shop, client, tokens):
    h = tokens["analyst"]
    for url, field in (
        ("/api/v1/insights/drivers?outcome=happiness", "outcome"),
        ("/api/v1/insights/drivers?period_days=5", "period_days"),
        ("/api/v1/insights/drivers?ci=magic", "ci"),
        ("/api/v1/insights/drivers?outcome=survey_items", "survey_id"),
        ("/api/v1/insights/drivers?outcome=survey_items&survey_id=999999", "survey_id"),
        ("/api/v1/insights/propensity?target=nothing", "target"),
        ("/api/v1/insights/propensity?target=tea&horizon_days=3", "horizon_days"),
        ("/api/v1/insights/propensity?target=tea&kind=brand", "kind"),
        ("/api/v1/insights/propensity", "target"),
    ):
        r = client.get(url, headers=h)
        assert r.status_code in (404, 422), (url, r.status_code, r.text)
        assert field in r.text, (url, r.text)
    assert client.get("/api/v1/insights/drivers").status_code == 401


def test_propensity_api_beats_baseline_and_gives_the_invite_list_as_csv(shop, client, tokens):
    h = tokens["analyst"]
    cats = client.get("/api/v1/insights/propensity/targets", headers=h).json()["category"]
    assert "teaware" in cats
    r = client.get("/api/v1/insights/propensity?target=teaware&top_k=30", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    hold = body["holdout"]
    assert hold["trained_until"] == hold["cutoff"] < hold["period_end"] == body["as_of"]
    assert all(w["label_end"] <= hold["cutoff"] for w in hold["windows"])
    assert hold["model"]["roc_auc"] > 0.6
    assert len(hold["lift"]) == 10
    inv = body["invite"]
    assert [x["rank"] for x in inv] == list(range(1, 31))
    assert inv[0]["propensity"] >= inv[-1]["propensity"]
    r = client.get("/api/v1/insights/propensity/invite.csv?target=teaware&top_k=30", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(x["customer_id"]) for x in rows] == [x["customer_id"] for x in inv]
    # the report is cached per data fingerprint: a new order makes it stale
    before = q._purchase_fingerprint(shop)
    make_order(shop, shop.get(Customer, inv[0]["customer_id"]))
    shop.commit()
    assert q._purchase_fingerprint(shop) != before


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_pages_in_both_languages(shop, web, users, lang):
    if lang == "zh-CN":
        users["analyst"].locale = "zh_CN"
        shop.commit()
    web.login("analyst")
    hdr = {"accept-language": lang}
    r = web.get("/insights/drivers?outcome=spend", headers=hdr)
    assert r.status_code == 200, r.text
    assert 'id="drivers-chart"' in r.text and 'id="drivers-table"' in r.text
    assert 'data-tab="drivers"' in r.text
    # every driver, and every fact left out, by its business label, never its column name
    locale = "zh_CN" if lang == "zh-CN" else "en"
    rows = re.findall(r'<tr data-feature="(\w+)"[^>]*>\s*<td>([^<]*)', r.text)
    assert rows and all(shown.strip() == gettext(locale, q.FEATURE_LABELS[f]) for f, shown in rows)
    left_out = re.search(r"(Left out because|因所有人取值相同而略去)[^<]*", r.text)
    assert left_out is not None and gettext(locale, "Complaints") in left_out.group(0)
    assert "complaints" not in left_out.group(0)
    r = web.get("/insights/propensity?kind=category&target=teaware&top_k=20", headers=hdr)
    assert r.status_code == 200, r.text
    assert 'id="propensity-lift-chart"' in r.text and r.text.count("data-customer=") == 20
    assert "/insights/propensity/invite.csv?" in r.text
    if lang == "zh-CN":
        assert "驱动因素" in r.text and "购买倾向" in r.text
        assert "Invite list" not in r.text and "邀请名单" in r.text
    r = web.get("/insights/drivers?outcome=spend&period_days=abc", headers=hdr)
    assert r.status_code == 422 and 'aria-invalid="true"' in r.text
    r = web.get("/insights/propensity?kind=product&target=teaware&top_k=5", headers=hdr)
    assert r.status_code == 200 and r.text.count("data-customer=") == 5  # kind switched
    r = web.get("/insights/propensity?target=teaware&horizon_days=1", headers=hdr)
    assert r.status_code == 422
    r = web.get("/insights/propensity/invite.csv?target=teaware&top_k=5", headers=hdr)
    assert r.status_code == 200 and len(r.text.strip().splitlines()) == 6
    r = web.get("/insights", headers=hdr)
    assert 'data-insight="drivers"' in r.text and 'data-insight="propensity"' in r.text


def test_invite_list_becomes_a_survey_distribution(shop, web):
    web.login("manager")
    page = web.get("/insights/propensity?target=teaware&top_k=15")
    assert 'id="propensity-distribute"' in page.text
    sid = shop.scalar(select(Survey.id).where(Survey.status == "active").order_by(Survey.id))
    import re

    ids = re.search(r'name="customer_ids" value="([0-9,]+)"', page.text).group(1)
    r = web.post(
        "/insights/propensity/distribute",
        {"survey_id": str(sid), "customer_ids": ids, "name": "Teaware buyers"},
    )
    assert r.status_code == 303, r.text
    dist = shop.scalars(
        select(SurveyDistribution).where(SurveyDistribution.name == "Teaware buyers")
    ).one()
    assert dist.segment_kind == "customers"
    invited = set(
        shop.scalars(
            select(SurveyInvitation.customer_id).where(SurveyInvitation.distribution_id == dist.id)
        )
    )
    assert invited and invited <= {int(x) for x in ids.split(",")}
    r = web.post("/insights/propensity/distribute", {"survey_id": str(sid), "customer_ids": "x"})
    assert r.status_code == 422 and "customer_ids" in r.text or "invite list" in r.text


def test_invite_list_ids_outside_the_id_range_are_refused_on_their_field(shop, web):
    """A survey id past 2^63 reached PostgreSQL ("bigint out of range": a bare 'A value is
    outside what the database can store.'), and a customer id past it was reported under the
    channel field; both name their own field and nothing is distributed."""
    web.login("manager")
    sid = shop.scalar(select(Survey.id).where(Survey.status == "active").order_by(Survey.id))
    before = shop.scalar(select(func.count(SurveyDistribution.id)))
    for form, message in (
        ({"survey_id": "9223372036854775808", "customer_ids": "1,2"}, "Choose a survey."),
        ({"survey_id": "0", "customer_ids": "1,2"}, "Choose a survey."),
        (
            {"survey_id": str(sid), "customer_ids": "1,9223372036854775808"},
            "The invite list is not a list of customer ids.",
        ),
        ({"survey_id": str(sid), "customer_ids": "1,0"}, "not a list of customer ids"),
    ):
        r = web.post("/insights/propensity/distribute", form)
        assert r.status_code == 422, form
        assert message in r.text and "outside what the database" not in r.text
        assert "less than or equal to" not in r.text
    assert shop.scalar(select(func.count(SurveyDistribution.id))) == before


def test_invite_list_sent_twice_is_one_distribution(shop, web):
    """The form's key (drawn with the page): a double click or a resubmitted page records one
    distribution; the same page sent back with another name is refused."""
    import re

    web.login("manager")
    page = web.get("/insights/propensity?target=teaware&top_k=15").text
    sid = shop.scalar(select(Survey.id).where(Survey.status == "active").order_by(Survey.id))
    ids = re.search(r'name="customer_ids" value="([0-9,]+)"', page).group(1)
    key = re.search(r'name="distribution_key" value="([0-9a-f]+)"', page).group(1)
    before = shop.scalar(select(func.count(SurveyDistribution.id)))
    form = {"survey_id": str(sid), "customer_ids": ids, "name": "Twice", "distribution_key": key}
    first = web.post("/insights/propensity/distribute", form)
    second = web.post("/insights/propensity/distribute", form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert shop.scalar(select(func.count(SurveyDistribution.id))) == before + 1
    changed = web.post("/insights/propensity/distribute", {**form, "name": "Other"})
    assert changed.status_code == 409
    assert "This form was already sent with other choices" in changed.text
    assert shop.scalar(select(func.count(SurveyDistribution.id))) == before + 1


def _cells(page: str, table_id: str) -> list[list[str]]:
    import html

    body = re.search(rf'id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [
        [
            " ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def _download(web, page: str, link_id: str) -> list[list[str]]:
    import html

    url = html.unescape(re.search(rf'id="{link_id}" href="([^"]+)"', page).group(1))
    r = web.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_driver_and_lift_tables_download_as_shown(shop, web, users, locale):
    users["analyst"].locale = locale
    shop.commit()
    web.login("analyst")
    page = web.get("/insights/drivers?outcome=spend").text
    rows = _download(web, page, "drivers-csv")
    assert rows[0][:2] == [gettext(locale, "Driver"), gettext(locale, "Coefficient")]
    shown = _cells(page, "drivers-table")
    assert len(rows) - 1 == len(shown)
    for got, seen in zip(rows[1:], shown, strict=True):
        assert seen[0].startswith(got[0])  # the driver's business label
        assert f"{float(got[1]):.3f}" == seen[1]
        assert f"{float(got[2]):.3f} … {float(got[3]):.3f}" == seen[2]
        assert f"{float(got[5]) * 100:.0f} %" == seen[4]
    page = web.get("/insights/propensity?kind=category&target=teaware&top_k=20").text
    lift = _download(web, page, "lift-csv")
    assert lift[0][:4] == [gettext(locale, h) for h in ("Decile", "Customers", "Buyers", "Lift")]
    shown = _cells(page, "propensity-lift-table")
    assert len(lift) - 1 == len(shown) == 10
    for got, seen in zip(lift[1:], shown, strict=True):
        assert got[:3] == [s.replace(",", "") for s in seen[:3]]
        assert (f"{float(got[3]):.2f}" if got[3] else "—") == seen[3]


def test_driver_and_lift_downloads_need_export_and_name_bad_filters(shop, web):
    web.login("agent")
    page = web.get("/insights/propensity?kind=category&target=teaware&top_k=5")
    assert page.status_code == 200 and "lift-csv" not in page.text and "invite-csv" not in page.text
    assert web.get("/insights/drivers/export.csv?outcome=spend").status_code == 403
    assert web.get("/insights/propensity/lift.csv?target=teaware").status_code == 403
    assert web.get("/insights/propensity/invite.csv?target=teaware").status_code == 403
    web.client.cookies.clear()
    web.login("analyst")
    as_json = {"accept": "application/json"}
    for url, field in (
        ("/insights/drivers/export.csv?outcome=height", "outcome"),
        ("/insights/drivers/export.csv?period_days=abc", "period_days"),
        ("/insights/propensity/lift.csv?target=teaware&method=svm", "method"),
        ("/insights/propensity/lift.csv?target=teaware&top_k=x", "top_k"),
    ):
        r = web.get(url, headers=as_json)
        assert r.status_code == 422, url
        assert r.json()["field"] == field, url
