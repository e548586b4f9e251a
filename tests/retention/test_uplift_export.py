"""The win-back uplift report on the web: its CSV download (/retention/uplift.csv) and the Qini
curve of a playbook on the retention dashboard, both from ``report.uplift_report``."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from retento.core.db import utcnow
from retento.retention import report
from retento.retention.defaults import ensure_defaults
from retento.retention.models import RetentionCase, RetentionPlaybook
from retento.retention.pages_uplift import HEADER
from retento.web.i18n import gettext
from tests.factories import make_customer
from tests.retention.helpers import make_alert
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


@pytest.fixture
def campaign(db, users) -> RetentionPlaybook:
    """60 settled cases of the ordinary playbook: 40 treated, 20 control; the treated at high
    risk came back most, each return brought 37.10 and each treated case cost 1.15."""
    ensure_defaults(db)
    pb = db.scalar(
        select(RetentionPlaybook).where(
            RetentionPlaybook.value_class == "ordinary", RetentionPlaybook.reason == "*"
        )
    )
    pb.name_en, pb.name_zh = "Win back ordinary customers", "挽回普通客户"
    past = utcnow() - timedelta(days=90)
    for i in range(60):
        c = make_customer(db)
        alert = make_alert(db, c.id, value_class="ordinary", cause=f"u{i}")
        treated = i % 3 != 0
        risk = (i % 20) / 20
        came = (risk > 0.5) if treated else (i % 2 == 0 and risk > 0.7)
        db.add(
            RetentionCase(
                alert_id=alert.id,
                playbook_id=pb.id,
                customer_id=c.id,
                value_class="ordinary",
                seq=i + 1,
                arm="treated" if treated else "control",
                action=pb.action,
                risk=risk,
                assigned_at=past,
                window_ends_at=past + timedelta(days=30),
                outcome="came_back" if came else "lost",
                revenue=Decimal("37.10") if came else Decimal("0.00"),
                cost=Decimal("1.15") if treated else Decimal("0.00"),
            )
        )
    db.commit()
    return pb


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv")
    assert "winback-uplift.csv" in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def cells(page: str, row_id: str) -> list[str]:
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S).group(1)
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def pp(share: str) -> str:
    """A CSV fraction written as the page writes percentage points."""
    return "%+.1f" % (float(share) * 100)


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_csv_has_the_pages_numbers_in_the_readers_language(web, db, users, campaign, locale):
    users["analyst"].locale = locale
    db.commit()
    web.login("analyst")
    page = web.get("/retention")
    assert page.status_code == 200
    link = html.unescape(re.search(r'id="uplift-csv" href="([^"]+)"', page.text).group(1))
    rows = read_csv(web.get(link))
    assert rows[0] == [gettext(locale, h) for h in HEADER]
    if locale == "zh_CN":
        assert rows[0][:2] == ["挽回策略", "客户类别"] and rows[0][8] == "提升"
    name = "挽回普通客户" if locale == "zh_CN" else "Win back ordinary customers"
    (row,) = [r for r in rows[1:] if r[0] == name]
    shown = cells(page.text, f"winback-{campaign.id}")
    assert shown[0] == name
    assert row[4:6] == [shown[3].split()[0], shown[4]]  # treated, control
    assert row[4:6] == ["40", "20"]
    assert pp(row[6]) == f"{float(shown[5].rstrip(' %')):+.1f}"
    assert gettext(locale, "%(n)s pp") % {"n": pp(row[8])} == shown[7]
    interval = gettext(locale, "%(low)s … %(high)s pp") % {"low": pp(row[9]), "high": pp(row[10])}
    assert shown[8].startswith(interval)
    # money: exact decimals, the API's strings
    (api,) = [
        r
        for r in report.uplift_report(db, actor=users["analyst"])
        if r["playbook_id"] == campaign.id
    ]
    assert row[11] == api["revenue"]["incremental_revenue"]
    assert row[12] == api["cost"] == "46.00"
    assert row[13] == api["revenue"]["net"]
    assert Decimal(row[11]) - Decimal(row[12]) == Decimal(row[13])
    assert all(re.fullmatch(r"-?\d+\.\d\d", row[i]) for i in (11, 12, 13, 14, 15))
    assert Decimal(row[16]) == round(Decimal(repr(api["qini_coefficient"])), 4)
    assert row[17] == "0.3" and Decimal(row[18]) == round(Decimal(repr(api["top_k"]["uplift"])), 4)


def test_top_k_follows_the_page_and_a_bad_one_names_the_field(web, db, users, campaign):
    web.login("manager")
    rows = read_csv(web.get("/retention/uplift.csv?top_k=0.5"))
    (row,) = [r for r in rows[1:] if r[0] == "Win back ordinary customers"]
    assert row[17] == "0.5"
    page = web.get("/retention?top_k=0.5")
    assert 'href="/retention/uplift.csv?top_k=0.5"' in page.text
    as_json = {"accept": "application/json"}
    for url, field in (
        ("/retention/uplift.csv?top_k=2", "top_k"),
        ("/retention/uplift.csv?top_k=abc", "top_k"),
        ("/retention?top_k=0", "top_k"),
        ("/retention?playbook=abc", "playbook"),
        ("/retention?playbook=999999", "playbook"),
    ):
        r = web.get(url, headers=as_json)
        assert r.status_code == 422, url
        assert r.json()["field"] == field, url
    assert web.get("/retention/uplift.csv?top_k=2").status_code == 422
    other = db.scalar(select(RetentionPlaybook.id).where(RetentionPlaybook.id != campaign.id))
    page = web.get(f"/retention?playbook={other}")
    assert page.status_code == 200 and 'id="qini-chart"' not in page.text
    assert "This playbook has no settled cases in both groups yet." in page.text


def test_needs_the_export_permission(web, db, users, campaign):
    web.login("agent")
    page = web.get("/retention")
    assert page.status_code == 200 and "/retention/uplift.csv" not in page.text
    assert 'id="qini-chart"' in page.text  # reading the report needs no export right
    assert web.get("/retention/uplift.csv").status_code == 403


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_qini_chart_with_random_diagonal_and_top_k_numbers(web, db, users, campaign, locale):
    users["manager"].locale = locale
    db.commit()
    web.login("manager")
    page = web.get(f"/retention?playbook={campaign.id}&top_k=0.2")
    assert page.status_code == 200
    raw = re.search(r'id="qini-chart" data-chart="([^"]+)"', page.text).group(1)
    option = json.loads(html.unescape(raw))
    (api,) = report.uplift_report(db, actor=users["manager"], playbook_id=campaign.id, top_k=0.2)
    curve, diagonal = option["series"]
    assert curve["data"] == [
        [round(p["fraction"] * 100, 1), round(p["value"], 2)] for p in api["qini"]
    ]
    assert curve["markLine"]["data"] == [{"xAxis": 20.0}]
    # random targeting: a straight line from nothing to the whole campaign's incremental count
    assert diagonal["data"][0] == [0.0, 0.0]
    end = diagonal["data"][-1]
    assert end[0] == 100.0 and end[1] == pytest.approx(curve["data"][-1][1], abs=0.01)
    for x, y in diagonal["data"][1:-1]:
        assert y == pytest.approx(end[1] * x / 100, abs=0.02)
    names = (option["xAxis"]["name"], option["yAxis"]["name"], diagonal["name"])
    english = (
        "Share of cases targeted, highest churn risk first (%)",
        "Incremental customers won back",
        "Random targeting",
    )
    assert names == tuple(gettext(locale, n) for n in english)
    if locale == "zh_CN":
        assert all(n != e for n, e in zip(names, english, strict=True))
    numbers = re.search(r'id="qini-numbers".*?</dl>', page.text, re.S).group(0)
    top = " ".join(
        re.sub(
            r"<[^>]+>", " ", re.search(r'id="qini-uplift-top">(.*?)</dd>', numbers, re.S).group(1)
        ).split()
    )
    tk = api["top_k"]
    # percentage points in the page's language: "+3.8 pp" / "+3.8 个百分点"
    uplift = gettext(locale, "%(n)s pp") % {"n": f"{tk['uplift'] * 100:+.1f}"}
    interval = gettext(locale, "%(low)s … %(high)s pp") % {
        "low": f"{tk['ci_low'] * 100:+.1f}",
        "high": f"{tk['ci_high'] * 100:+.1f}",
    }
    assert top == f"{uplift} ({interval})"
    if locale == "zh_CN":
        assert "个百分点" in top and not re.search(r"\d pp\b", page.text)  # the table too
    assert f"{api['qini_coefficient']:.3f}" in numbers
    assert f'value="{campaign.id}" selected' in page.text
