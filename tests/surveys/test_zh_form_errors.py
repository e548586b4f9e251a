"""Survey forms for a Chinese manager or agent (QA as a survey manager and a phone agent): the
question and section forms' errors stood in the banner only, with no field marked, because the
field was told by English words looked for in the Chinese message; the phone entry showed
"Customer 99999 does not exist." in English; a single response or missing text read "1 completed
responses" / "1 texts missing"."""

from __future__ import annotations

import re

from retento.surveys import distributions, responses
from retento.surveys.schemas import DistributionCreate, ResponseCreate, SegmentIn
from tests.factories import make_customer
from tests.surveys.conftest import SMALL_ZH, translate
from tests.surveys.test_pages import survey_id_from, web  # noqa: F401 (fixture)
from tests.surveys.test_service import _score_run


def _chinese(db, users, role: str) -> None:
    users[role].locale = "zh_CN"
    db.commit()


def _field_error(html: str, field: str) -> str | None:
    """The error shown under the form field ``field``, if it is marked."""
    m = re.search(
        rf'has-error">\s*<label for="f-{field}".*?<p class="field-error"[^>]*>(.*?)</p>', html, re.S
    )
    return m.group(1) if m else None


def test_question_form_errors_stand_at_their_field_in_chinese(web, db, users):  # noqa: F811
    _chinese(db, users, "manager")
    web.login("manager")
    r = web.post("/surveys/new", {"template": "blank", "name": "门店回访", "language": "zh_CN"})
    sid = survey_id_from(r.headers["location"])
    one_option = {"section": "main", "code": "where", "text": "在哪里？", "qtype": "single_choice"}
    r = web.post(f"/surveys/{sid}/questions/new", {**one_option, "options": "store: 门店"})
    assert r.status_code == 422
    assert _field_error(r.text, "options") == "选择题至少需要两个选项"
    assert "请更正标出的字段。" in r.text

    ok = {**one_option, "options": "store: 门店\nweb: 网店"}
    assert web.post(f"/surveys/{sid}/questions/new", ok).status_code == 303
    r = web.post(f"/surveys/{sid}/questions/new", {**ok, "text": "又一题"})
    assert r.status_code == 422
    assert _field_error(r.text, "code") == "问题代码“where”重复"

    r = web.post(f"/surveys/{sid}/sections", {"code": "main", "title": "重复的部分"})
    assert r.status_code == 422
    assert _field_error(r.text, "code") is not None


def test_phone_entry_says_an_unknown_customer_in_chinese(web, db, users, small_survey):  # noqa: F811
    _chinese(db, users, "agent")
    web.login("agent")
    r = web.post(
        f"/surveys/{small_survey.id}/respond",
        {"customer_id": "999999", "channel": "phone", "q.sat": "4"},
    )
    assert r.status_code == 422
    assert "客户 999999 不存在。" in r.text
    assert "does not exist" not in r.text


def test_one_response_and_one_missing_text_are_singular(web, db, users, small_survey):  # noqa: F811
    c = make_customer(db)
    answer = ResponseCreate(
        customer_id=c.id, channel="phone", answers=[{"question": "sat", "number": 4}]
    )
    responses.record_response(db, small_survey.id, answer, actor=users["agent"])
    # Every Chinese text but one question's.
    texts = {**SMALL_ZH, "questions": {k: v for k, v in SMALL_ZH["questions"].items()}}
    del texts["questions"]["note"]
    translate(db, small_survey, users, texts)
    db.commit()
    web.login("manager")
    page = web.get(f"/surveys/{small_survey.id}/results")
    assert "1 completed response" in page.text and "1 completed responses" not in page.text
    builder = web.get(f"/surveys/{small_survey.id}")
    assert "1 text missing" in builder.text and "1 texts missing" not in builder.text
    texts_page = web.get(f"/surveys/{small_survey.id}/translate?lang=zh_CN").text
    assert "1 text missing. Until it is given" in texts_page


def test_past_distribution_names_its_value_class(web, db, users, small_survey):  # noqa: F811
    """The distributions table showed "Value class: vip" (the stored code), on Chinese pages too."""
    c = make_customer(db)
    _score_run(db, {c.id: "vip"})
    distributions.create_distribution(
        db,
        small_survey.id,
        DistributionCreate(segment=SegmentIn(kind="value_class", value="vip")),
        actor=users["manager"],
    )
    db.commit()
    web.login("manager")
    page = web.get(f"/surveys/{small_survey.id}/distribute").text
    assert "Value class: VIP" in page and ": vip<" not in page
    _chinese(db, users, "manager")
    assert "价值类别: 贵宾型" in web.get(f"/surveys/{small_survey.id}/distribute").text


def test_a_survey_with_responses_does_not_send_to_a_copy_that_does_not_exist(
    web,  # noqa: F811
    db,
    users,
    small_survey,
):
    """Changing a question of an answered survey said "copy it to change its questions", with
    no way to copy a survey anywhere."""
    answer = ResponseCreate(channel="phone", answers=[{"question": "sat", "number": 4}])
    responses.record_response(db, small_survey.id, answer, actor=users["agent"])
    _chinese(db, users, "manager")
    web.login("manager")
    form = {"section": "main", "code": "sat", "text": "改过的", "qtype": "rating"}
    r = web.post(f"/surveys/{small_survey.id}/questions/sat/edit", form)
    assert r.status_code == 422
    assert "此问卷已有答卷，问题不能再修改。如需其他问题，请新建一份问卷。" in r.text
    assert "复制" not in r.text
