"""The survey results filters: responses completed in a period, on a channel, from customers
of a value class (latest scoring run), on the page (with the split by channel and class, the
comments and the cache), on the API and in the CSI; bad values give the page back or a 422."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from retento.core.errors import InvalidInput
from retento.surveys import csi_report, reports, responses, results_cache, service
from retento.surveys.models import SurveyResponse
from retento.surveys.schemas import ResponseCreate, SurveyCreate, SurveyUpdate
from tests.factories import make_customer
from tests.retention.helpers import make_run
from tests.web.conftest import Browser

JAN = datetime(2026, 1, 10, 9, tzinfo=UTC)
JAN_LATE = datetime(2026, 1, 20, 9, tzinfo=UTC)
MARCH = datetime(2026, 3, 5, 9, tzinfo=UTC)
MARCH_LATE = datetime(2026, 3, 10, 9, tzinfo=UTC)
QUESTIONS = [
    {"code": "sat", "text": "Satisfied?", "qtype": "rating", "satisfaction_dimension": "overall"},
    {"code": "rec", "text": "Recommend?", "qtype": "nps"},
    {"code": "note", "text": "Anything else?", "qtype": "free_text"},
]


@pytest.fixture(autouse=True)
def _fresh_cache():
    results_cache.clear()
    yield
    results_cache.clear()


@pytest.fixture
def survey(db, users):
    """Four responses: January VIP by phone (10) and ordinary by mail (8); March VIP on site
    (9) and anonymous by phone (0). NPS: all 25, January 50, VIP 100, phone 0."""
    s = service.create_survey(
        db,
        SurveyCreate(
            name="Filtered", sections=[{"code": "m", "title": "M", "questions": QUESTIONS}]
        ),
        actor=users["manager"],
    )
    service.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    vip1, vip2, plain = (make_customer(db) for _ in range(3))
    make_run(db, {vip1.id: {"value_class": "vip"}, vip2.id: {"value_class": "vip"}, plain.id: {}})
    for customer, channel, at, sat, rec, note in (
        (vip1, "phone", JAN, 5, 10, "vip phone january"),
        (plain, "mail", JAN_LATE, 2, 8, "ordinary mail january"),
        (vip2, "onsite", MARCH, 4, 9, "vip onsite march"),
        (None, "phone", MARCH_LATE, 1, 0, "anonymous phone march"),
    ):
        respond(db, users, s, customer, channel, at, sat=sat, rec=rec, note=note)
    db.commit()
    return s


def respond(db, users, s, customer, channel, at, *, sat, rec, note):
    answers = [
        {"question": "sat", "number": sat},
        {"question": "rec", "number": rec},
        {"question": "note", "text": note},
    ]
    responses.record_response(
        db,
        s.id,
        ResponseCreate(
            customer_id=customer.id if customer else None, channel=channel, answers=answers
        ),
        actor=users["agent"],
        now=at,
    )


def test_report_counts_only_the_selected_responses(db, users, survey):
    a = users["analyst"]

    def res(**kw):
        return reports.survey_results(db, survey.id, actor=a, **kw)

    everyone = res()
    assert everyone["responses"] == 4 and everyone["nps"]["headline"]["score"] == 25
    jan = res(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 2, 1, tzinfo=UTC))
    assert jan["responses"] == 2 and jan["nps"]["headline"]["score"] == 50
    assert [t["month"] for t in jan["nps"]["trend"]] == ["2026-01"]
    vip = res(value_class="vip")
    assert vip["responses"] == 2 and vip["nps"]["headline"]["score"] == 100
    assert vip["csat"]["headline"]["top_box_share"] == 1.0
    phone = res(channel="phone")
    assert phone["responses"] == 2 and phone["nps"]["headline"]["score"] == 0
    assert phone["response_rates"]["completed_by_channel"] == {"phone": 2}
    both = res(value_class="vip", since=datetime(2026, 3, 1, tzinfo=UTC))
    assert both["responses"] == 1 and both["filters"]["value_class"] == "vip"
    assert res(value_class="small")["responses"] == 0
    split = everyone["split"]
    assert {r["group"]: r["responses"] for r in split["by_channel"]} == {
        "mail": 1,
        "onsite": 1,
        "phone": 2,
    }
    by_class = {r["group"]: r for r in split["by_value_class"]}
    assert [r["group"] for r in split["by_value_class"]] == ["vip", "ordinary", "unscored"]
    assert by_class["vip"]["responses"] == 2 and by_class["vip"]["nps"] == 100
    assert by_class["unscored"]["nps"] == -100 and by_class["ordinary"]["csat"] == 0.0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"value_class": "gold"}, "value_class"),
        ({"since": MARCH, "until": JAN}, "until"),
    ],
)
def test_bad_report_filters_name_the_field(db, users, survey, args, field):
    with pytest.raises(InvalidInput) as exc:
        reports.survey_results(db, survey.id, actor=users["analyst"], **args)
    assert exc.value.field == field


def test_api_filters(client, tokens, survey):
    url = f"/api/v1/surveys/{survey.id}/results"
    h = tokens["analyst"]
    for params, n in (
        ({"value_class": "vip"}, 2),
        ({"channel": "phone"}, 2),
        ({"since": "2026-03-01T00:00:00Z"}, 2),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z", "channel": "mail"}, 1),
    ):
        r = client.get(url, params=params, headers=h)
        assert r.status_code == 200, params
        assert r.json()["responses"] == n, params
    for params, field in (
        ({"channel": "fax"}, "channel"),
        ({"value_class": "gold"}, "value_class"),
        ({"since": "2026-03-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"since": "yesterday"}, "since"),
    ):
        r = client.get(url, params=params, headers=h)
        assert r.status_code == 422, params
        assert field in r.text, params


def _kpi(text: str, kpi: str) -> str:
    return re.search(rf'id="{kpi}">([^<]*)<', text).group(1).strip()


def _web(client, db, users, locale="en", role="analyst") -> Browser:
    users[role].locale = locale
    db.commit()
    web = Browser(client)
    assert web.login(role).status_code == 303
    return web


@pytest.mark.parametrize(
    ("locale", "heading", "vip"),
    [("en", "Results by channel", "VIP"), ("zh_CN", "按渠道", "贵宾型")],
)
def test_page_filters_figures_split_and_comments(client, db, users, survey, locale, heading, vip):
    web = _web(client, db, users, locale)
    url = f"/surveys/{survey.id}/results"
    page = web.get(url).text
    assert 'id="dash-filters"' in page and _kpi(page, "kpi-nps") == "25"
    assert heading in page
    split = page[page.index('id="split-by_value_class"') :]
    split = split[: split.index("</table>")]
    assert re.search(rf'data-group="vip"><td>{vip}</td><td class="split-responses">2</td>', split)
    assert "vip onsite march" in page and "anonymous phone march" in page
    jan = web.get(f"{url}?period=custom&from=2026-01-01&to=2026-01-31").text
    assert _kpi(jan, "kpi-nps") == "50"
    assert "ordinary mail january" in jan and "vip onsite march" not in jan
    vip_page = web.get(f"{url}?segment=value_class:vip").text
    assert _kpi(vip_page, "kpi-nps") == "100" and "anonymous phone march" not in vip_page
    assert 'value="value_class:vip" selected' in vip_page
    phone = web.get(f"{url}?channel=phone").text
    assert _kpi(phone, "kpi-nps") == "0" and "ordinary mail january" not in phone
    assert f'href="/surveys/{survey.id}/comments.csv?period=all&amp;channel=phone"' in phone
    none = web.get(f"{url}?period=custom&from=2025-01-01&to=2025-01-31&channel=phone").text
    assert 'id="no-results"' in none and _kpi(none, "kpi-nps") == "—"


def test_comments_csv_keeps_the_filters(client, db, users, survey):
    web = _web(client, db, users)
    r = web.get(
        f"/surveys/{survey.id}/comments.csv?segment=value_class:vip&period=custom&from=2026-03-01&to=2026-03-31"
    )
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["comment"] for row in rows] == ["vip onsite march"]
    assert web.get(f"/surveys/{survey.id}/comments.csv?channel=fax").status_code == 422


@pytest.mark.parametrize(
    ("locale", "query", "message"),
    [
        (
            "en",
            "period=custom&from=2026-02-01&to=2026-01-01",
            "The last day comes before the first day.",
        ),
        ("zh_CN", "period=custom&from=2026-02-01&to=2026-01-01", "最后一天早于第一天。"),
        (
            "en",
            "period=custom&from=someday&to=2026-01-01",
            "From (from) must be a date as YYYY-MM-DD.",
        ),
        (
            "en",
            "channel=fax",
            "Channel (channel) must be one of: Online link, Phone, Mail / paper, On site.",
        ),
        (
            "zh_CN",
            "channel=fax",
            "渠道（channel）必须是以下之一：在线链接、电话、邮寄 / 纸质、现场。",
        ),
        ("en", "segment=value_class:gold", "Segment (segment) must be one of the segments"),
        ("en", "period=7", "Period (period) must be one of: Last 30 days, Last 90 days,"),
    ],
)
def test_bad_page_filters_give_the_page_back(client, db, users, survey, locale, query, message):
    web = _web(client, db, users, locale)
    r = web.get(f"/surveys/{survey.id}/results?{query}")
    assert r.status_code == 422
    assert message in r.text
    assert 'id="dash-filter-errors"' in r.text and 'class="field-error"' in r.text
    assert _kpi(r.text, "kpi-nps") == "25"  # every response, until the filters are corrected


def test_cache_keeps_each_filter_apart_and_current(client, db, users, survey):
    web = _web(client, db, users)
    url = f"/surveys/{survey.id}/results"
    vip = f"{url}?segment=value_class:vip"
    assert _kpi(web.get(url).text, "kpi-nps") == "25"
    assert _kpi(web.get(vip).text, "kpi-nps") == "100"
    misses = results_cache.stats["misses"]
    assert _kpi(web.get(url).text, "kpi-nps") == "25"
    assert _kpi(web.get(vip).text, "kpi-nps") == "100"
    assert results_cache.stats["misses"] == misses  # both served from the cache
    # a new VIP detractor: the filtered view is recomputed, not served stale
    vip3 = make_customer(db)
    make_run(db, {vip3.id: {"value_class": "vip"}})
    respond(db, users, survey, vip3, "phone", MARCH_LATE, sat=1, rec=0, note="late vip")
    db.commit()
    # the latest run now scores only vip3 (a detractor): NPS -100, not the stored 100
    assert _kpi(web.get(vip).text, "kpi-nps") == "-100"


def test_csi_follows_the_filter(db, users, single_item_csi_survey):
    ids = db.scalars(
        select(SurveyResponse.id)
        .where(SurveyResponse.survey_id == single_item_csi_survey.id)
        .order_by(SurveyResponse.id)
    ).all()
    db.execute(
        update(SurveyResponse).where(SurveyResponse.id.in_(ids[:12])).values(channel="phone")
    )
    db.flush()
    a = users["analyst"]
    assert csi_report.csi_report(db, single_item_csi_survey.id, actor=a)["n"] == 24
    phone = reports.response_filter(db, channel="phone")
    assert csi_report.csi_report(db, single_item_csi_survey.id, actor=a, flt=phone)["n"] == 12
    online = reports.response_filter(db, channel="online")
    with pytest.raises(InvalidInput, match="Only 0 completed responses"):
        csi_report.csi_report(db, single_item_csi_survey.id, actor=a, flt=online)
