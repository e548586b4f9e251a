"""QA (English in the Chinese UI): a distribution to chosen customers is counted in the page's
language, and the entry grid names its inputs by the question's text (not its code) in the
reader's language; the builder's dimension tags carry no code as a tooltip."""

from __future__ import annotations

import re

from retento.surveys import distributions
from retento.surveys.schemas import DistributionCreate
from tests.factories import make_customer
from tests.web.conftest import Browser


def _distribute(db, survey, users, n):
    people = [make_customer(db, email=f"q{i}@example.com", consent_email=True) for i in range(n)]
    return distributions.start_distribution(
        db,
        survey.id,
        DistributionCreate(segment={"kind": "customers", "customer_ids": [p.id for p in people]}),
        actor=users["manager"],
    )


def _segment_cells(html: str) -> list[str]:
    table = html[html.index("<table") :]
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", table)]


def test_chosen_customers_are_counted_in_the_page_s_language(client, db, users, small_survey):
    three = _distribute(db, small_survey, users, 3)
    one = _distribute(db, small_survey, users, 1)
    db.commit()
    assert (three.segment_value, one.segment_value) == ("3 customers", "1 customers")  # the API
    web = Browser(client)
    web.login("manager")
    en = " | ".join(_segment_cells(web.get(f"/surveys/{small_survey.id}/distribute").text))
    assert "Chosen customers: 3 customers" in en and "Chosen customers: One customer" in en
    users["manager"].locale = "zh_CN"
    db.commit()
    zh = " | ".join(_segment_cells(web.get(f"/surveys/{small_survey.id}/distribute").text))
    assert "3 位客户" in zh and "1 位客户" in zh
    assert "customers" not in zh and "One customer" not in zh


def test_entry_grid_names_inputs_by_the_question_text(client, db, users, bilingual_survey):
    db.commit()
    web = Browser(client)
    web.login("manager")
    en = web.get(f"/surveys/{bilingual_survey.id}/entry").text
    labels = set(re.findall(r'aria-label="([^"]*)"', en))
    assert {"Satisfied?", "Speed: Expectation", "Speed: Perception", "Where?", "What?"} <= labels
    assert not labels & {"sat", "speed a", "speed b", "where", "what", "note"}
    assert 'title="a = A, b = B, c = C"' in en
    users["manager"].locale = "zh_CN"
    db.commit()
    zh = web.get(f"/surveys/{bilingual_survey.id}/entry").text
    labels = set(re.findall(r'aria-label="([^"]*)"', zh))
    assert {"您满意吗？", "在哪里？", "还有别的吗？"} <= labels
    assert any(x.startswith("速度") and "Expectation" not in x for x in labels)
    assert not labels & {"sat", "speed a", "where", "note", "Satisfied?"}
    assert 'title="a = 甲' in zh


def test_builder_dimension_tags_have_no_code_tooltip(client, db, users, small_survey):
    db.commit()
    web = Browser(client)
    web.login("manager")
    html = web.get(f"/surveys/{small_survey.id}").text
    assert html.count('<span class="tag">') >= 3  # the dimension tags are there, by label
    assert 'title="overall"' not in html and 'title="service.response_time"' not in html
