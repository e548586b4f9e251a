"""CSV downloads of the stored Insights results: segment profiles and k scores (run and saved
segment), basket rules, sequence rules, sequences and hit-rates; headers in the reader's
language, the rows the page shows, ``data:export`` required, a bad filter named."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest

from retento.web.i18n import gettext
from tests.insights.data import build_shop


@pytest.fixture
def shop(db, users):
    out = build_shop(db)
    db.commit()
    return out


def read_csv(response, name: str) -> list[list[str]]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv")
    assert f"{name}.csv" in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def body_rows(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [
        [
            " ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def link(page: str, link_id: str) -> str:
    return html.unescape(re.search(rf'id="{link_id}" href="([^"]+)"', page).group(1))


def pct(share: str, places: int) -> str:
    return f"{float(share) * 100:.{places}f}%"


def _run(client, h, path, **body) -> int:
    r = client.post(f"/api/v1/insights/{path}/runs", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_segment_profiles_and_scores(client, tokens, web, shop, db, users, locale):
    run_id = _run(client, tokens["analyst"], "segments", k_max=4)
    users["analyst"].locale = locale
    db.commit()
    web.login("analyst")
    page = web.get(f"/insights/segments?run={run_id}")
    assert page.status_code == 200
    rows = read_csv(web.get(link(page.text, "profiles-csv")), f"segments-run-{run_id}-profiles")
    header = [gettext(locale, h) for h in ("Segment", "Customers", "Share", "Share of revenue")]
    assert rows[0][1:5] == header
    assert (
        rows[0][5]
        == f"{gettext(locale, 'Days since the last order')} ({gettext(locale, 'median')})"
    )
    if locale == "zh_CN":
        assert rows[0][2] == "客户"
    shown = body_rows(page.text, "profile-table")
    assert len(rows) - 1 == len(shown)
    for got, seen in zip(rows[1:], shown, strict=True):
        assert got[:3] == seen[:3]  # number, name in the reader's language, customers
        assert pct(got[3], 1) == seen[3]
    scores = read_csv(web.get(link(page.text, "scores-csv")), f"segments-run-{run_id}-scores")
    assert scores[0][0] == "k" and scores[0][2] == gettext(locale, "chosen")
    assert [r[0] for r in scores[1:]] == [r[0] for r in body_rows(page.text, "k-table")]
    assert [r[2] for r in scores[1:]].count("true") == 1
    # a saved segment: its profiles with today's sizes
    r = client.post(
        "/api/v1/insights/segments",
        json={"run_id": run_id, "name": f"Export {locale}"},
        headers=tokens["analyst"],
    )
    seg_id = r.json()["id"]
    detail = web.get(f"/insights/segments/{seg_id}")
    saved = read_csv(web.get(link(detail.text, "profiles-csv")), f"segment-{seg_id}")
    assert [r[:3] for r in saved[1:]] == [r[:3] for r in body_rows(detail.text, "profile-table")]


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_basket_rules_every_stored_rule_with_exact_measures(
    client, tokens, web, shop, db, users, locale
):
    run_id = _run(client, tokens["analyst"], "baskets", min_support=0.05, min_confidence=0.2)
    users["analyst"].locale = locale
    db.commit()
    web.login("analyst")
    page = web.get("/insights/baskets")
    rows = read_csv(web.get(link(page.text, "rules-csv")), f"basket-rules-run-{run_id}")
    english = ["If the order holds", "it also holds", "Support", "Confidence", "Lift"]
    assert rows[0][:5] == [gettext(locale, h) for h in english]
    if locale == "zh_CN":
        assert rows[0][:5] != english
    shown = body_rows(page.text, "rules-table")
    r = client.get(f"/api/v1/insights/baskets/runs/{run_id}", headers=tokens["analyst"])
    stored = r.json()["result"]["rules"]
    assert len(rows) - 1 == len(stored) >= len(shown) > 0
    first, seen = rows[1], shown[0]
    assert first[:2] == seen[:2]
    assert pct(first[2], 2) == seen[2] and pct(first[3], 1) == seen[3]
    assert f"{float(first[4]):.2f}" == seen[4]
    assert first[5] == "inf" if seen[5] == "∞" else f"{float(first[5]):.2f}" == seen[5]
    assert f"{float(first[6]):.4f}" == seen[6]


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_sequence_tables(client, tokens, web, shop, db, users, locale):
    run_id = _run(client, tokens["analyst"], "sequences", min_support=0.05, holdout_days=120)
    users["manager"].locale = locale
    db.commit()
    web.login("manager")
    page = web.get("/insights/sequences")
    nxt = read_csv(web.get(link(page.text, "next-csv")), f"sequences-run-{run_id}-next")
    assert nxt[0] == [
        gettext(locale, h) for h in ("Bought first", "Bought next", "Confidence", "Support")
    ]
    shown = body_rows(page.text, "next-table")
    assert nxt[1][:2] == shown[0][:2] and pct(nxt[1][2], 1) == shown[0][2]
    pats = read_csv(web.get(link(page.text, "patterns-csv")), f"sequences-run-{run_id}-patterns")
    assert pats[1][:2] == body_rows(page.text, "sequence-table")[0][:2]
    ev = read_csv(web.get(link(page.text, "evaluation-csv")), f"sequences-run-{run_id}-evaluation")
    assert ev[0][1] == gettext(locale, "Hit-rate@5") and len(ev) == 4
    seen = body_rows(page.text, "hit-table")
    for got, row in zip(ev[1:], seen, strict=True):
        assert row[0].startswith(got[0])
        assert (pct(got[1], 1) if got[1] else "—") == row[1]
    assert [r[2] for r in ev[1:]].count("true") == 1


def test_permission_and_bad_filters(client, tokens, web, shop, db):
    run_id = _run(client, tokens["analyst"], "baskets", min_support=0.05, min_confidence=0.2)
    web.login("agent")
    page = web.get("/insights/baskets")
    assert page.status_code == 200 and "rules-csv" not in page.text
    assert web.get("/insights/baskets/export.csv").status_code == 403
    assert web.get("/insights/segments/export.csv").status_code == 403
    assert web.get("/insights/sequences/export.csv").status_code == 403
    seg = client.post(
        "/api/v1/insights/segments",
        json={"run_id": _run(client, tokens["analyst"], "segments", k_max=3), "name": "Agents"},
        headers=tokens["analyst"],
    ).json()["id"]
    detail = web.get(f"/insights/segments/{seg}")
    assert detail.status_code == 200 and "profiles-csv" not in detail.text
    assert web.get(f"/insights/segments/{seg}/export.csv").status_code == 403
    web.client.cookies.clear()
    web.login("analyst")
    as_json = {"accept": "application/json"}
    for url, status, field in (
        ("/insights/baskets/export.csv?run=abc", 422, "run"),
        ("/insights/baskets/export.csv?run=99999", 404, "run"),
        (f"/insights/sequences/export.csv?run={run_id}", 404, "run"),  # a basket run
        ("/insights/sequences/export.csv?table=nope", 422, "table"),
        ("/insights/segments/export.csv?table=members", 422, "table"),
    ):
        r = web.get(url, headers=as_json)
        assert r.status_code == status, url
        assert r.json()["field"] == field, url
    assert web.get("/insights/baskets/export.csv?run=abc").status_code == 422
