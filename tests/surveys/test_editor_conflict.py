"""The survey editor's stale-edit pages compare three ways (web.conflict): two tabs on one
survey's settings, or on its second-language texts, each changing something. The second save
lists only what the second tab changed, and "Apply my values" keeps the first tab's change."""

from __future__ import annotations

import pytest

from retento.surveys import service
from tests.web.conflict_forms import form_of, rows_of
from tests.web.conftest import Browser


def _tab(client, users, db, locale: str = "en") -> Browser:
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    return web


def _two(tab: Browser, page: str, action: str):
    return form_of(tab.get(page).text, action), form_of(tab.get(page).text, action)


@pytest.mark.parametrize(
    ("locale", "label"), [("en", "Links valid for (days)"), ("zh_CN", "链接有效期（天）")]
)
def test_settings_other_field_listed_alone_and_both_changes_survive(
    client, users, db, small_survey, locale, label
):
    tab = _tab(client, users, db, locale)
    page, action = f"/surveys/{small_survey.id}", f"/surveys/{small_survey.id}/settings"
    first, second = _two(tab, page, action)
    assert second["base.name"] == "Small survey"
    assert tab.post(action, {**first, "name": "Renamed in tab one"}).status_code == 303
    stale = tab.post(action, {**second, "token_days": "45"})
    assert stale.status_code == 409, stale.text
    rows = rows_of(stale.text)
    assert list(rows) == ["token_days"] and rows["token_days"][0] == "45"
    assert f'<th scope="row">{label}</th>' in stale.text
    again = form_of(stale.text, action)
    assert again["name"] == "Renamed in tab one" == again["base.name"]
    assert tab.post(action, again).status_code == 303
    db.expire_all()
    s = service._survey(db, small_survey.id)
    assert (s.name, s.token_days) == ("Renamed in tab one", 45)


def test_settings_same_field_shows_both_values(client, users, db, small_survey):
    tab = _tab(client, users, db)
    page, action = f"/surveys/{small_survey.id}", f"/surveys/{small_survey.id}/settings"
    first, second = _two(tab, page, action)
    one = {**first, "name": "Tab one", "thank_you": "Thanks!"}
    assert tab.post(action, one).status_code == 303
    stale = tab.post(action, {**second, "name": "Tab two"})
    assert stale.status_code == 409
    assert rows_of(stale.text) == {"name": ("Tab two", "Tab one")}
    assert tab.post(action, form_of(stale.text, action)).status_code == 303
    db.expire_all()
    s = service._survey(db, small_survey.id)
    assert (s.name, s.thank_you) == ("Tab two", "Thanks!")


def test_settings_form_with_errors_keeps_the_values_it_was_loaded_with(
    client, users, db, small_survey
):
    tab = _tab(client, users, db)
    page, action = f"/surveys/{small_survey.id}", f"/surveys/{small_survey.id}/settings"
    first, second = _two(tab, page, action)
    assert tab.post(action, {**first, "name": "Tab one"}).status_code == 303
    bad = tab.post(action, {**second, "token_days": "-3", "thank_you": "Thank you."})
    assert bad.status_code == 422
    shown = form_of(bad.text, action)
    assert shown["version"] == second["version"] and shown["base.name"] == "Small survey"
    stale = tab.post(action, {**shown, "token_days": second["token_days"]})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["thank_you"]


def test_translations_merge_text_by_text(client, users, db, small_survey):
    tab = _tab(client, users, db)
    page = f"/surveys/{small_survey.id}/translate?lang=zh_CN"
    action = f"/surveys/{small_survey.id}/translate"
    first, second = _two(tab, page, action)
    assert second["base.s||name"] == ""
    assert tab.post(action, {**first, "s||name": "小调查"}).status_code == 303
    stale = tab.post(action, {**second, "q|sat|text": "您满意吗？"})
    assert stale.status_code == 409
    rows = rows_of(stale.text)
    assert list(rows) == ["q|sat|text"] and rows["q|sat|text"] == ("您满意吗？", "—")
    assert "Satisfied?" in stale.text  # the row names the text it translates
    again = form_of(stale.text, action)
    assert again["s||name"] == "小调查"
    assert tab.post(action, again).status_code == 303
    db.expire_all()
    s = service._survey(db, small_survey.id)
    sat = next(q for q in s.questions if q.code == "sat")
    assert s.translations["zh_CN"]["name"] == "小调查"
    assert sat.translations["zh_CN"]["text"] == "您满意吗？"
