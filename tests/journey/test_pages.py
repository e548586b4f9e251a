"""Journey and experience web pages: the Insights pages, the record form, the 360 panel, both
languages; the survey question editor's experience mode."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from retento.journey.models import ExperienceRecord
from tests.factories import make_customer, make_touchpoint
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _data(db, users):
    ada = make_customer(db, name="Ada Lovelace", owner_id=users["agent"].id)
    bob = make_customer(db, name="Bob Stone")
    make_touchpoint(db, ada, stage="desire", channel="ads",
                    occurred_at=datetime(2025, 1, 2, tzinfo=UTC))  # fmt: skip
    tp = make_touchpoint(db, ada, stage="receipt", channel="store",
                         occurred_at=datetime(2025, 1, 20, tzinfo=UTC))  # fmt: skip
    make_touchpoint(db, bob, stage="information", channel="web",
                    occurred_at=datetime(2025, 1, 5, tzinfo=UTC))  # fmt: skip
    db.add(ExperienceRecord(customer_id=ada.id, touchpoint_id=tp.id, mode="sense", stage="receipt",
                            rating=2, note="Dented box", occurred_at=tp.occurred_at))  # fmt: skip
    db.commit()
    return ada, bob, tp


def test_journey_insight_page(web, db, users):
    _data(db, users)
    web.login("analyst")
    r = web.get("/insights/journey?period=all")
    assert r.status_code == 200
    assert 'data-tab="journey"' in r.text and 'aria-current="page"' in r.text
    assert 'id="funnel-chart"' in r.text and "data-chart=" in r.text
    row = re.search(r'<tr data-stage="desire">(.*?)</tr>', r.text, re.S).group(1)
    assert ">2<" in row  # both customers reached desire (Bob's furthest is information)
    assert 'data-stage="information" data-channel="web"' in r.text
    assert 'id="gap-table"' in r.text
    # The Insights index has the card.
    assert 'data-insight="journey"' in web.get("/insights").text
    # An empty period shows the empty state, bad input names the field.
    r = web.get("/insights/journey?period=custom&from=1990-01-01&to=1990-01-31")
    assert r.status_code == 200 and 'id="journey-empty"' in r.text
    r = web.get("/insights/journey?period=forever")
    assert r.status_code == 422


def test_journey_page_counts_orders_and_complaints_on_request(web, db, users):
    from tests.factories import make_order
    from tests.factories.complaints import make_complaint

    ada, bob, _tp = _data(db, users)
    carol = make_customer(db, name="Carol Order")
    make_order(db, carol, ordered_at=datetime(2025, 1, 7, tzinfo=UTC), channel="store")
    make_complaint(db, customer_id=bob.id, received_at=datetime(2025, 1, 9, tzinfo=UTC))
    db.commit()
    web.login("analyst")

    def reached(html: str, stage: str) -> str:
        row = re.search(rf'<tr data-stage="{stage}">(.*?)</tr>', html, re.S).group(1)
        return re.findall(r'<td class="num">([^<]*)</td>', row)[0]

    r = web.get("/insights/journey?period=all")
    assert 'id="f-include-orders"' in r.text and 'id="journey-sources"' not in r.text
    assert reached(r.text, "after_sales") == "0"
    r = web.get("/insights/journey?period=all&include=orders&include=complaints")
    assert r.status_code == 200
    assert 'id="journey-sources"' in r.text
    assert re.search(r'id="f-include-orders"\s+checked', r.text)
    assert reached(r.text, "after_sales") == "1"  # Bob's complaint
    assert reached(r.text, "order") == "3"  # Ada (receipt), Carol's order, Bob (after-sales)
    # The JSON link keeps the choice.
    assert "include=orders&amp;include=complaints" in r.text
    assert web.get("/insights/journey?include=payments").status_code == 422
    web.post("/locale", data={"lang": "zh_CN", "next": "/insights"})
    r = web.get("/insights/journey?period=all&include=orders")
    assert "将订单计为“订货与定金”" in r.text and "除客户触点外，漏斗还计入" in r.text


def test_experience_insight_page_and_filters(web, db, users):
    ada, bob, _tp = _data(db, users)
    web.login("analyst")
    r = web.get("/insights/experience?period=all")
    assert r.status_code == 200
    assert 'id="heatmap-chart"' in r.text and '"type": "heatmap"' in r.text.replace("&#34;", '"')
    assert "data-experience=" in r.text and "Dented box" in r.text
    mode_row = re.search(r'<tr data-mode="sense">(.*?)</tr>', r.text, re.S).group(1)
    assert "2.00" in mode_row
    r = web.get("/insights/experience?period=all&mode=feel")
    assert "Dented box" not in r.text and "No experience records match." in r.text
    r = web.get(f"/insights/experience?period=all&customer_id={ada.id}&rating=2")
    assert "Dented box" in r.text
    assert web.get("/insights/experience?mode=smell").status_code == 422
    assert web.get("/insights/experience?rating=9").status_code == 422
    # Analysts read but do not edit.
    assert "/experiences/" not in re.search(r'id="record-table".*?</table>', r.text, re.S).group(0)


def test_both_pages_in_chinese(web, db, users):
    _data(db, users)
    web.login("analyst")
    web.post("/locale", data={"lang": "zh_CN", "next": "/insights"})
    r = web.get("/insights/journey?period=all")
    assert r.status_code == 200
    assert "客户旅程漏斗" in r.text and "各阶段的转化与流失" in r.text
    r = web.get("/insights/experience?period=all")
    assert "按体验模式的客户体验" in r.text and "感官" in r.text and "情感" in r.text


def test_panel_and_record_form(web, db, users):
    ada, bob, tp = _data(db, users)
    web.login("agent")
    r = web.get(f"/customers/{ada.id}")
    assert r.status_code == 200
    panel = re.search(r'id="panel-journey".*?</section>', r.text, re.S).group(0)
    assert 'data-stage="desire"' in panel and 'data-stage="receipt"' in panel
    assert "Dented box" in panel and "2 / 5" in panel
    assert f'href="/customers/{ada.id}/experiences/new"' in panel
    # Bob is not the agent's: the panel shows his journey but offers no form.
    panel = re.search(
        r'id="panel-journey".*?</section>', web.get(f"/customers/{bob.id}").text, re.S
    )
    assert 'data-stage="information"' in panel.group(0) and "experiences/new" not in panel.group(0)
    assert web.get(f"/customers/{bob.id}/experiences/new").status_code == 403

    r = web.get(f"/customers/{ada.id}/experiences/new?touchpoint={tp.id}")
    assert r.status_code == 200 and 'id="experience-form"' in r.text
    # Bad input comes back next to the field.
    r = web.post(f"/customers/{ada.id}/experiences/new",
                 {"mode": "feel", "rating": "9", "stage": "", "touchpoint_id": str(tp.id)})  # fmt: skip
    assert r.status_code == 422 and 'id="f-rating"' in r.text and "has-error" in r.text
    r = web.post(f"/customers/{ada.id}/experiences/new", {"mode": "feel", "rating": "5"})
    assert r.status_code == 422  # no touchpoint and no stage
    r = web.post(
        f"/customers/{ada.id}/experiences/new",
        {"mode": "feel", "rating": "5", "touchpoint_id": str(tp.id), "note": "Friendly driver"},
    )
    assert r.status_code == 303, r.text
    rec = db.query(ExperienceRecord).filter_by(note="Friendly driver").one()
    assert rec.stage == "receipt" and rec.created_by_id == users["agent"].id
    rec_id = rec.id

    # Edit with the version; a second edit from the same stale form gets the conflict page.
    r = web.get(f"/experiences/{rec.id}/edit")
    assert r.status_code == 200 and 'name="version" value="1"' in r.text
    form = {"mode": "feel", "rating": "4", "stage": "receipt", "touchpoint_id": str(tp.id),
            "occurred_at": "2025-01-20T08:00", "note": "Friendly driver", "version": "1"}  # fmt: skip
    assert web.post(f"/experiences/{rec.id}/edit", form).status_code == 303
    r = web.post(f"/experiences/{rec.id}/edit", dict(form, rating="3"))
    assert r.status_code == 409
    db.expire_all()
    assert db.get(ExperienceRecord, rec_id).rating == 4
    assert web.post(f"/experiences/{rec_id}/delete").status_code == 303
    db.expire_all()
    assert db.get(ExperienceRecord, rec_id) is None


def test_panel_in_chinese(web, db, users):
    ada, _bob, _tp = _data(db, users)
    web.login("agent")
    web.post("/locale", data={"lang": "zh_CN", "next": f"/customers/{ada.id}"})
    r = web.get(f"/customers/{ada.id}")
    panel = re.search(r'id="panel-journey".*?</section>', r.text, re.S).group(0)
    assert "旅程与体验" in panel and "感官" in panel and "收货与试用" in panel
    r = web.get(f"/customers/{ada.id}/experiences/new")
    assert "记录客户体验" in r.text


def test_experience_export(web, db, users):
    import csv
    import io

    from openpyxl import load_workbook

    ada, _bob, tp = _data(db, users)
    db.add(ExperienceRecord(customer_id=ada.id, mode="feel", stage="order", rating=5,
                            note='=HYPERLINK("http://evil")', occurred_at=tp.occurred_at))  # fmt: skip
    db.commit()
    web.login("manager")
    page = web.get("/insights/experience?period=all&mode=sense")
    assert 'id="export-csv"' in page.text
    r = web.get("/insights/experience/export.csv?period=all&mode=sense")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["id", "external_id", "customer_id"]
    assert len(rows) == 2 and rows[1][6] == "sense" and rows[1][12] == "Dented box"
    r = web.get("/insights/experience/export.csv?period=all")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 3 and not any(c.startswith("=") for row in rows for c in row)
    r = web.get("/insights/experience/export.xlsx?period=all&rating=5")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws.max_row == 2
    assert web.get("/insights/experience/export.csv?mode=smell").status_code == 422


def test_the_heatmap_colours_each_cell_by_its_mean_rating(web, db, users):
    """The cells are [stage, mode, mean, count]; ECharts colours by the *last* value unless the
    visual map names one, so every cell (counts above 5) came out the same green."""
    import html
    import json

    ada, _bob, tp = _data(db, users)
    for rating in (5, 5, 2):  # sense × receipt: 2, 5, 5, 2 → mean 3.5 over 4 ratings
        db.add(ExperienceRecord(customer_id=ada.id, touchpoint_id=tp.id, mode="sense",
                                stage="receipt", rating=rating, occurred_at=tp.occurred_at))  # fmt: skip
    db.commit()
    web.login("analyst")
    page = web.get("/insights/experience?period=all&source=record").text
    raw = re.search(r'id="heatmap-chart"[^>]*data-chart="([^"]*)"', page).group(1)
    chart = json.loads(html.unescape(raw))
    vmap = chart["visualMap"]
    cells = chart["series"][0]["data"]
    assert cells and all(len(c) == 4 for c in cells)
    coloured = [c[vmap.get("dimension", len(c) - 1)] for c in cells]
    means = [c[2] for c in cells]
    assert coloured == means and [3.5] == means
    assert all(vmap["min"] <= v <= vmap["max"] for v in coloured)
