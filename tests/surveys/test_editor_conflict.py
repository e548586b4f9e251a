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


# --- Questions and sections: only the part a form edits is compared --------------------------


def _question_tabs(tab: Browser, survey_id: int, code: str):
    page = action = f"/surveys/{survey_id}/questions/{code}/edit"
    return action, *_two(tab, page, action)


def _question(db, survey_id: int, code: str):
    db.expire_all()
    return next(q for q in service._survey(db, survey_id).questions if q.code == code)


@pytest.mark.parametrize(("locale", "label"), [("en", "Help text"), ("zh_CN", "提示文字")])
def test_question_other_field_listed_alone_and_both_changes_survive(
    client, users, db, small_survey, locale, label
):
    tab = _tab(client, users, db, locale)
    action, first, second = _question_tabs(tab, small_survey.id, "sat")
    assert second["base.text"] == "Satisfied?" and second["base.required"] == "1"
    assert tab.post(action, {**first, "text": "Satisfied with us?"}).status_code == 303
    stale = tab.post(action, {**second, "help_text": "One star is the lowest."})
    assert stale.status_code == 409, stale.text
    rows = rows_of(stale.text)
    assert list(rows) == ["help_text"] and rows["help_text"] == ("One star is the lowest.", "—")
    assert f'<th scope="row">{label}</th>' in stale.text
    again = form_of(stale.text, action)
    assert again["text"] == "Satisfied with us?" == again["base.text"]
    assert tab.post(action, again).status_code == 303
    q = _question(db, small_survey.id, "sat")
    assert (q.text, q.help_text, q.required) == (
        "Satisfied with us?",
        "One star is the lowest.",
        True,
    )


def test_question_same_field_shows_both_values(client, users, db, small_survey):
    tab = _tab(client, users, db)
    action, first, second = _question_tabs(tab, small_survey.id, "rec")
    assert tab.post(action, {**first, "text": "Tab one"}).status_code == 303
    stale = tab.post(action, {**second, "text": "Tab two"})
    assert stale.status_code == 409
    assert rows_of(stale.text) == {"text": ("Tab two", "Tab one")}
    assert _question(db, small_survey.id, "rec").text == "Tab one"  # nothing of tab two saved
    assert tab.post(action, form_of(stale.text, action)).status_code == 303
    assert _question(db, small_survey.id, "rec").text == "Tab two"


def test_an_edit_of_another_question_is_no_conflict(client, users, db, small_survey):
    """The survey's version moved on, but the save rewrites only its own question."""
    tab = _tab(client, users, db)
    sat_action, sat_form, _ = _question_tabs(tab, small_survey.id, "sat")
    rec_action, rec_form, _ = _question_tabs(tab, small_survey.id, "rec")
    assert tab.post(sat_action, {**sat_form, "text": "Changed first"}).status_code == 303
    assert tab.post(rec_action, {**rec_form, "text": "Changed second"}).status_code == 303
    assert _question(db, small_survey.id, "sat").text == "Changed first"
    assert _question(db, small_survey.id, "rec").text == "Changed second"


def test_choice_options_typed_with_crlf_compare_equal(client, users, db, small_survey):
    """Browsers post textareas with CRLF: a choice question's options left as loaded are not
    "changed" (neither by the other tab nor by this one)."""
    tab = _tab(client, users, db)
    choice = next(q for q in small_survey.questions if q.options)
    action, first, second = _question_tabs(tab, small_survey.id, choice.code)
    crlf = {k: v.replace("\n", "\r\n") for k, v in second.items()}
    assert tab.post(action, {**first, "help_text": "First"}).status_code == 303
    stale = tab.post(action, {**crlf, "text": "Reworded"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["text"]


def test_question_form_with_errors_keeps_the_values_it_was_loaded_with(
    client, users, db, small_survey
):
    tab = _tab(client, users, db)
    action, first, second = _question_tabs(tab, small_survey.id, "sat")
    bad = tab.post(action, {**second, "text": "", "help_text": "Mine"})
    assert bad.status_code == 422
    shown = form_of(bad.text, action)
    assert shown["base.text"] == "Satisfied?" and shown["version"] == second["version"]
    assert shown["help_text"] == "Mine"
    assert tab.post(action, {**first, "text": "Tab one"}).status_code == 303
    stale = tab.post(action, {**shown, "text": "Satisfied?"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["help_text"]


def test_section_edit_three_way(client, users, db, small_survey):
    tab = _tab(client, users, db)
    page, action = f"/surveys/{small_survey.id}", f"/surveys/{small_survey.id}/sections"
    first = form_of(tab.get(page).text, action, "section-edit-main")
    second = form_of(tab.get(page).text, action, "section-edit-main")
    assert second["base.title"] == "Main" and second["original"] == "main"
    assert tab.post(action, {**first, "title": "Main part"}).status_code == 303
    stale = tab.post(action, {**second, "description": "About the visit"})
    assert stale.status_code == 409
    assert list(rows_of(stale.text)) == ["description"]
    again = form_of(stale.text, action)
    assert again["title"] == "Main part" and again["original"] == "main"
    assert tab.post(action, again).status_code == 303
    db.expire_all()
    sec = service._survey(db, small_survey.id).sections[0]
    assert (sec.title, sec.description) == ("Main part", "About the visit")


def test_parallel_saves_of_different_questions_all_survive(live_pg):
    """Each save rewrites the questionnaire from what it read: read under the survey's lock,
    four editors saving four questions at once keep all four changes (PostgreSQL)."""
    from tests.factories import make_user
    from tests.factories.concurrency import run_parallel
    from tests.surveys.conftest import small_survey_data

    with live_pg.session() as s:
        mgr = make_user(s, role="manager")
        survey = service.create_survey(s, small_survey_data(), actor=mgr)
        s.commit()
        survey_id, username = survey.id, mgr.username
        codes = [q.code for q in survey.questions][:4]
    tabs, forms = [], []
    for code in codes:
        tab = Browser(live_pg.client())
        assert tab.login(username).status_code == 303
        action = f"/surveys/{survey_id}/questions/{code}/edit"
        tabs.append(tab)
        forms.append((action, form_of(tab.get(action).text, action)))

    def save(i: int) -> int:
        action, form = forms[i]
        return tabs[i].post(action, {**form, "help_text": f"Help {i}"}).status_code

    assert run_parallel(len(codes), save) == [303] * len(codes)
    with live_pg.session() as s:
        saved = {q.code: q.help_text for q in service._survey(s, survey_id).questions}
    assert [saved[c] for c in codes] == [f"Help {i}" for i in range(len(codes))]
