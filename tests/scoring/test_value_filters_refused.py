"""/value/customers and its CSV/XLSX export refuse a filter code they do not know (QA: an unknown
value class or label gave the whole list, and a download of every scored customer) with a 422
naming the filter by its label and listing the codes, in the reader's language."""

from __future__ import annotations

import html
import re

import pytest

from retento.scoring import service
from retento.scoring.schemas import ScoreRunCreate
from tests.scoring.conftest import AS_OF
from tests.web.conftest import Browser

CASES = [
    (
        "value_class=gold",
        "Value class (value_class) must be one of: VIP, Major, Ordinary, Small, Below zero.",
        "价值类别（value_class）必须是以下之一：贵宾型、重要型、普通型、小客户、负值客户。",
    ),
    (
        "label=zz",
        "Label (label) must be one of: Most valuable customer (MVC),",
        "标签（label）必须是以下之一：最有价值客户 (MVC)、",
    ),
    (
        "stage=ancient",
        "Loyalty stage (stage) must be one of: Potential customer,",
        "客户忠诚阶段（stage）必须是以下之一：潜在客户、",
    ),
    (
        "sort=-shoe_size",
        "Sort (sort) must be one of: CLV, highest first,",
        "排序（sort）必须是以下之一：顾客终生价值从高到低、",
    ),
]
PATHS = ("/value/customers", "/value/customers/export.csv", "/value/customers/export.xlsx")


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


@pytest.fixture
def scored(db, users, population):
    run = service.run_scoring(
        db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=26), actor=users["manager"]
    )
    db.commit()
    assert run.status == "succeeded", run.error
    return run


def _message(page: str) -> str:
    m = re.search(r'<p class="error-message">(.*?)</p>', page, re.S)
    assert m, page[:500]
    return html.unescape(m.group(1))


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_an_unknown_code_is_refused_by_the_page_and_its_exports(web, db, scored, lang):
    assert web.login("manager").status_code == 303
    assert web.post("/locale", {"lang": lang, "next": "/"}).status_code == 303
    for query, en, zh in CASES:
        for path in PATHS:
            r = web.get(f"{path}?{query}")
            assert r.status_code == 422, (path, query, r.status_code)
            assert _message(r.text).startswith(en if lang == "en" else zh), (path, query)
            assert "spreadsheetml" not in r.headers["content-type"]
    # The known codes still filter.
    assert web.get("/value/customers?value_class=vip&label=mvc&stage=loyal").status_code == 200
    assert web.get("/value/customers/export.csv?value_class=vip&sort=-clv").status_code == 200


def test_the_htmx_results_refuse_it_too(web, db, scored):
    web.login("analyst")
    r = web.get(
        "/value/customers?value_class=gold",
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert r.status_code == 422 and "value_class" in r.text
