"""CSV downloads of the value dashboard's tables (/value/tables.csv): pyramid, 8/2/3 labels,
Pareto curve and loyalty stages, as the dashboard shows them, in the reader's language."""

from __future__ import annotations

import csv
import html
import io
import re
from decimal import Decimal

import pytest

from retento.scoring.models import ScoreRun
from tests.shared_world import session_factory_fixture, users_fixture  # noqa: F401 (fixtures)
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


@pytest.fixture
def scored(world_scored, db) -> ScoreRun:
    """One successful run over the population by the manager (26 weeks held out), made once
    for the module (``world_scored``); each test runs in a SAVEPOINT on it."""
    return db.get(ScoreRun, world_scored.data["run_id"])


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The cells of a page table's body, as text."""
    body = re.search(rf'id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        ]
        for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def number(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.\-]", "", text))


def same_percent(share: str, shown: str) -> bool:
    """A CSV share (4 decimals) is the page's percentage (1 decimal), up to the rounding."""
    return abs(Decimal(share) * 100 - number(shown)) <= Decimal("0.051")


HEADERS = {
    "en": ["Value class", "Customers", "Share of customers", "Rule", "Profit", "Share of profit"],
    "zh_CN": None,  # filled from the catalogue below
}


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_pyramid_csv_matches_the_page_in_the_readers_language(web, db, users, scored, locale):
    from retento.web.i18n import gettext

    users["analyst"].locale = locale
    db.commit()
    web.login("analyst")
    page = web.get("/value")
    assert page.status_code == 200
    assert 'id="pyramid-csv"' in page.text and 'id="labels-csv"' in page.text
    assert 'id="stages-csv"' in page.text and 'id="pareto-csv"' in page.text
    link = html.unescape(re.search(r'id="pyramid-csv" href="([^"]+)"', page.text).group(1))
    assert f"run={scored.id}" in link and "table=pyramid" in link
    rows = read_csv(web.get(link))
    expected = [gettext(locale, h) for h in HEADERS["en"]]
    assert rows[0] == expected
    if locale == "zh_CN":
        assert rows[0][:2] == ["价值类别", "客户"]
    shown = table_rows(page.text, "pyramid-table")
    assert len(rows) - 1 == len(shown)
    for got, seen in zip(rows[1:], shown, strict=True):
        assert got[0] == seen[0]  # the class in the reader's language
        assert Decimal(got[1]) == number(seen[1])
        assert same_percent(got[2], seen[2])
        assert Decimal(got[4]) == number(seen[-2])  # profit, exact to the cent
        assert re.fullmatch(r"-?\d+\.\d\d", got[4])
        assert same_percent(got[5], seen[-1])
    run = db.get(ScoreRun, scored.id)
    assert sum(int(r[1]) for r in rows[1:]) == run.report["pyramid"]["customers"]


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_labels_stages_and_pareto_csv(web, db, users, scored, locale):
    from retento.scoring.models import LABELS, STAGES
    from retento.web.i18n import gettext
    from retento.web.labels import label_msgid

    users["manager"].locale = locale
    db.commit()
    web.login("manager")
    run = db.get(ScoreRun, scored.id)
    labels = read_csv(web.get(f"/value/tables.csv?table=labels&run={run.id}"))
    assert labels[0] == [gettext(locale, m) for m in ("Label", "Customers", "Share of customers")]
    assert [r[0] for r in labels[1:]] == [
        gettext(locale, label_msgid("value_label", c)) for c in LABELS
    ]
    assert [int(r[1]) for r in labels[1:]] == [run.report["labels"].get(c, 0) for c in LABELS]
    stages = read_csv(web.get(f"/value/tables.csv?table=stages&run={run.id}"))
    assert stages[0][0] == gettext(locale, "Loyalty stage")
    assert [int(r[1]) for r in stages[1:]] == [run.report["stages"].get(s, 0) for s in STAGES]
    assert sum(Decimal(r[2]) for r in stages[1:]) == pytest.approx(Decimal(1), abs=Decimal("0.001"))
    pareto = read_csv(web.get(f"/value/tables.csv?table=pareto&run={run.id}"))
    assert len(pareto) - 1 == len(run.report["pareto"]["customer_share"])
    assert [Decimal(x) for x in pareto[-1]] == [Decimal(1), Decimal(1)]


def test_filters_follow_the_dashboard_and_bad_ones_name_the_field(web, db, users, scored):
    web.login("analyst")
    vip = read_csv(
        web.get(f"/value/tables.csv?table=pyramid&segment=value_class:vip&run={scored.id}")
    )
    assert len(vip) == 2 and vip[1][0] == "VIP" and vip[1][2] == "1"
    page = web.get(f"/value?segment=value_class:vip&run={scored.id}")
    assert "segment=value_class%3Avip" in page.text
    json = {"accept": "application/json"}
    for query, field in (
        ("table=pyramid&period=soon", "period"),
        ("table=pyramid&segment=value_class:gold", "segment"),
        ("table=pyramid&run=x", "run"),
        ("table=cohorts", "table"),
    ):
        r = web.get(f"/value/tables.csv?{query}", headers=json)
        assert r.status_code == 422, query
        assert r.json()["field"] == field, query
        assert web.get(f"/value/tables.csv?{query}").status_code == 422


def test_needs_the_export_permission(web, db, users, scored):
    web.login("agent")
    page = web.get("/value")
    assert page.status_code == 200 and "/value/tables.csv" not in page.text
    assert web.get("/value/tables.csv?table=pyramid").status_code == 403


def test_the_api_gives_the_same_filtered_tables(client, tokens, web, db, users, scored):
    h = tokens["analyst"]
    r = client.get(f"/api/v1/value/pyramid?run_id={scored.id}&segment=value_class:vip", headers=h)
    assert r.status_code == 200, r.text
    classes = r.json()["pyramid"]["classes"]
    assert [c["value_class"] for c in classes] == ["vip"]
    web.login("analyst")
    rows = read_csv(
        web.get(f"/value/tables.csv?table=pyramid&run={scored.id}&segment=value_class:vip")
    )
    assert int(rows[1][1]) == classes[0]["customers"]
    assert Decimal(rows[1][4]) == Decimal(repr(classes[0]["profit"])).quantize(Decimal("0.01"))
    everyone = client.get(f"/api/v1/value/stages?run_id={scored.id}", headers=h).json()["stages"]
    assert everyone == db.get(ScoreRun, scored.id).report["stages"]
    r = client.get("/api/v1/value/pyramid?segment=value_class:gold", headers=h)
    assert r.status_code == 422 and r.json()["field"] == "segment"
