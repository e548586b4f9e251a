"""Removing a question or section, or deleting a survey, from a builder page loaded before
someone else changed it removes nothing (QA F3). A question's or section's delete form carries
that part as loaded (hidden ``base.*`` inputs; a section's with a fingerprint of each of its
questions), so only a change to *that* part refuses it: 409 saying what changed. The survey's
own delete carries its version. Other stale deletes: tests/web/test_stale_delete.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from retento.surveys import service
from retento.surveys.models import Survey
from retento.surveys.schemas import SurveyCreate
from tests.surveys.conftest import small_survey_data
from tests.web.conflict_forms import form_of, rows_of
from tests.web.conftest import Browser


@contextmanager
def two_sessions(client, db, users, *, b_locale: str = "en") -> Iterator[tuple[Browser, Browser]]:
    """A (the manager) and B (the admin, reading ``b_locale``), each in a browser of its own."""
    users["admin"].locale = b_locale
    db.commit()
    a = Browser(client)
    assert a.login("manager").status_code == 303
    with TestClient(client.app) as other:
        b = Browser(other)
        assert b.login("admin").status_code == 303
        yield a, b


def _codes(db, survey_id: int) -> list[str]:
    db.expire_all()
    return [q.code for q in service._survey(db, survey_id).questions]


def _edit_question(a: Browser, survey_id: int, code: str, **change) -> None:
    url = f"/surveys/{survey_id}/questions/{code}/edit"
    assert a.post(url, {**form_of(a.get(url).text, url), **change}).status_code == 303


def test_question_stale_delete_is_refused_only_for_the_changed_question(
    client, db, users, small_survey
):
    sid = small_survey.id
    builder = f"/surveys/{sid}"
    delete_sat = f"/surveys/{sid}/questions/sat/delete"
    with two_sessions(client, db, users) as (a, b):
        page = b.get(builder).text
        stale_sat = form_of(page, delete_sat)
        stale_rec = form_of(page, f"/surveys/{sid}/questions/rec/delete")
        assert stale_sat["base.text"] == "Satisfied?"
        _edit_question(a, sid, "sat", text="Edited by A just now")

        r = b.post(delete_sat, stale_sat)
        assert r.status_code == 409, r.text
        assert "Question sat was changed after you loaded the page" in r.text
        assert "Nothing was deleted" in r.text
        assert rows_of(r.text) == {"text": ("Satisfied?", "Edited by A just now")}
        db.expire_all()
        s = service._survey(db, sid)
        assert next(q.text for q in s.questions if q.code == "sat") == "Edited by A just now"

        # Another question of the survey changed since, not this one: removed.
        assert b.post(f"/surveys/{sid}/questions/rec/delete", stale_rec).status_code == 303
        assert "rec" not in _codes(db, sid) and "sat" in _codes(db, sid)

        # "Delete it as it is now" on the conflict page, or a fresh page: removed.
        assert b.post(delete_sat, form_of(r.text, delete_sat)).status_code == 303
        assert "sat" not in _codes(db, sid)


def test_question_delete_from_an_old_page_without_base_still_removes(
    client, db, users, small_survey
):
    web = Browser(client)
    web.login("manager")
    sid = small_survey.id
    assert web.post(f"/surveys/{sid}/questions/sat/delete", {}).status_code == 303
    assert "sat" not in _codes(db, sid)


def _two_sections(db, users) -> Survey:
    data = small_survey_data().model_dump()
    data["sections"].append(
        {
            "code": "extra",
            "title": "Extra",
            "questions": [
                {"code": "x_sat", "text": "Satisfied?", "qtype": "rating"},
                {"code": "x_rec", "text": "Anything else?", "qtype": "free_text"},
            ],
        }
    )
    s = service.create_survey(db, SurveyCreate(**data), actor=users["manager"])
    db.commit()
    return s


def test_section_stale_delete_names_the_changed_questions_in_chinese(client, db, users):
    s = _two_sections(db, users)
    sid = s.id
    builder, delete = f"/surveys/{sid}", f"/surveys/{sid}/sections/extra/delete"
    with two_sessions(client, db, users, b_locale="zh_CN") as (a, b):
        stale = form_of(b.get(builder).text, delete)
        assert stale["base.title"] == "Extra" and "x_sat:" in stale["base.questions"]
        _edit_question(a, sid, "x_sat", text="Changed in extra")

        r = b.post(delete, stale)
        assert r.status_code == 409, r.text
        assert "部分 extra" in r.text and "没有删除任何内容" in r.text
        assert rows_of(r.text) == {"questions": ("x_sat, x_rec", "x_sat（已修改）, x_rec")}
        assert "x_sat" in _codes(db, sid)

        # Its title changed and a question was added: both named.
        fresh = form_of(b.get(builder).text, delete)
        edit = form_of(a.get(builder).text, f"/surveys/{sid}/sections", "section-edit-extra")
        assert a.post(f"/surveys/{sid}/sections", {**edit, "title": "Extra!"}).status_code == 303
        add = f"/surveys/{sid}/questions/new"
        new = {**form_of(a.get(f"{add}?section=extra").text, add), "code": "x_new"}
        assert a.post(add, {**new, "text": "New one", "qtype": "free_text"}).status_code == 303
        r = b.post(delete, fresh)
        assert r.status_code == 409
        assert rows_of(r.text) == {
            "title": ("Extra", "Extra!"),
            "questions": ("x_sat, x_rec", "x_sat, x_rec, x_new（新增）"),
        }
        assert "x_new" in _codes(db, sid)

        # A change elsewhere in the survey is no conflict.
        fresh = form_of(b.get(builder).text, delete)
        _edit_question(a, sid, "rec", text="Changed in main")
        assert b.post(delete, fresh).status_code == 303
        db.expire_all()
        assert [sec.code for sec in service._survey(db, sid).sections] == ["main"]


def test_survey_stale_delete_is_refused_and_a_fresh_one_deletes(client, db, users, small_survey):
    sid = small_survey.id
    builder, delete = f"/surveys/{sid}", f"/surveys/{sid}/delete"
    settings = f"/surveys/{sid}/settings"
    with two_sessions(client, db, users) as (a, b):
        stale = form_of(b.get(builder).text, delete)
        mine = form_of(a.get(builder).text, settings)
        assert a.post(settings, {**mine, "name": "Renamed by A"}).status_code == 303

        r = b.post(delete, stale)
        assert r.status_code == 409, r.text
        assert rows_of(r.text)["name"] == ("Small survey", "Renamed by A")
        db.expire_all()
        assert db.get(Survey, sid).name == "Renamed by A"

        # A question edit moves the survey's version on too: its delete is stale as well.
        stale = form_of(b.get(builder).text, delete)
        _edit_question(a, sid, "sat", text="Edited")
        assert b.post(delete, stale).status_code == 409

        assert b.post(delete, form_of(b.get(builder).text, delete)).status_code == 303
        db.expire_all()
        assert db.query(Survey).filter_by(id=sid).count() == 0


def test_survey_api_delete_honours_if_match(client, db, users, tokens, small_survey):
    sid, h = small_survey.id, tokens["manager"]
    url = f"/api/v1/surveys/{sid}"
    seen = client.get(url, headers=h).headers["ETag"]
    assert client.patch(url, json={"name": "Renamed"}, headers=h).status_code == 200
    r = client.delete(url, headers={**h, "If-Match": seen})
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    now = client.get(url, headers=h).headers["ETag"]
    assert client.delete(url, headers={**h, "If-Match": now}).status_code == 204
    db.expire_all()
    assert db.query(Survey).filter_by(id=sid).count() == 0
