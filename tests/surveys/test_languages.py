"""Surveys in two languages (issue 14 point 10): a customer gets a language only when the survey
has it complete, otherwise the survey's own language — questions and buttons alike; the same
rule for e-mails; files and the API carry both languages; the editor marks missing texts."""

from __future__ import annotations

import copy
import io
import re

import pytest
from sqlalchemy import select

from retento.core.errors import InvalidInput
from retento.mail.models import OutboxMessage
from retento.surveys import distributions, fileio, languages, responses, service
from retento.surveys.models import SurveyResponse
from retento.surveys.schemas import (
    AnswerIn,
    DistributionCreate,
    ResponseCreate,
    SegmentIn,
    SurveyUpdate,
    TranslationIn,
)
from tests.factories import make_customer
from tests.surveys.conftest import SMALL_ZH, small_survey_data, translate
from tests.web.conftest import Browser, csrf_of


@pytest.fixture
def web(client, users) -> Browser:
    """A browser-like client; log in with ``web.login(role)``."""
    return Browser(client)


CJK = re.compile(r"[\u4e00-\u9fff]")
EN_QUESTIONS = ("Satisfied?", "Recommend?", "Anything else?", "Store", "Web")
ZH_QUESTIONS = ("您满意吗？", "您会推荐吗？", "还有别的吗？", "门店", "网站")


def _invite(db, survey, users, customers):
    _, links = distributions.create_distribution(
        db,
        survey.id,
        DistributionCreate(
            segment=SegmentIn(kind="customers", customer_ids=[c.id for c in customers])
        ),
        actor=users["manager"],
    )
    db.commit()
    return {link.customer_id: link for link in links}


def _form(page: str) -> str:
    """The public page's <main> without the language switch (which names both languages)."""
    main = page.split("<main", 1)[1]
    return re.sub(r'<nav class="langswitch".*?</nav>', "", main, flags=re.S)


def _incomplete():
    texts = copy.deepcopy(SMALL_ZH)
    del texts["questions"]["note"]  # one question left in English only
    texts["questions"]["where"]["options"].pop("web")  # and one option label
    return texts


def test_bilingual_survey_is_wholly_chinese_for_a_chinese_customer_and_english_for_others(
    client, db, users, bilingual_survey
):
    li = make_customer(db, name="李雷", country="CN")
    ann = make_customer(db, name="Ann", country="GB")
    links = _invite(db, bilingual_survey, users, [li, ann])

    zh = client.get(links[li.id].path)
    assert zh.status_code == 200 and 'lang="zh-CN"' in zh.text
    body = _form(zh.text)
    assert all(t in body for t in ZH_QUESTIONS) and "提交答卷" in body and "小调查" in body
    assert not any(t in body for t in EN_QUESTIONS) and "Send my answers" not in body
    assert "Save for later" not in body

    en = client.get(links[ann.id].path)
    assert 'lang="en"' in en.text
    body = _form(en.text)
    assert all(t in body for t in EN_QUESTIONS) and "Send my answers" in body
    assert not CJK.search(body)
    # Both languages are complete, so the switch offers both.
    assert en.text.count('class="lang ') == 2


def test_incomplete_chinese_leaves_the_whole_form_in_the_surveys_own_language(
    client, db, users, small_survey
):
    translate(db, small_survey, users, _incomplete())
    missing = languages.missing_texts(small_survey, "zh_CN")
    assert {(m.code, m.key) for m in missing} == {("note", "text"), ("where", "option:web")}
    li = make_customer(db, name="李雷", country="CN")
    link = _invite(db, small_survey, users, [li])[li.id]
    for url in (link.path, link.path + "?lang=zh_CN"):
        page = client.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert 'lang="en"' in page.text
        body = _form(page.text)
        assert all(t in body for t in EN_QUESTIONS) and "Send my answers" in body
        assert not CJK.search(body)
        assert 'class="langswitch"' not in page.text  # nothing to switch to
    # The API answers the same way and says which language it used.
    token = link.path.rsplit("/", 1)[1]
    api = client.get(f"/api/v1/public/surveys/{token}?lang=zh_CN").json()
    assert api["language"] == "en" and api["languages"] == ["en"] and api["name"] == "Small survey"


def test_browser_language_decides_for_a_customer_without_one(client, db, users, bilingual_survey):
    anon = make_customer(db, name="Someone")  # no language, not in China
    link = _invite(db, bilingual_survey, users, [anon])[anon.id]
    zh = client.get(link.path, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert 'lang="zh-CN"' in zh.text and "您满意吗？" in zh.text
    en = client.get(link.path, headers={"Accept-Language": "en-GB"})
    assert 'lang="en"' in en.text and "Satisfied?" in en.text
    # The respondent's own switch wins over the browser.
    switched = client.get(link.path + "?lang=en", headers={"Accept-Language": "zh-CN"})
    assert 'lang="en"' in switched.text


def test_chinese_answers_post_and_thank_in_chinese(client, db, users, bilingual_survey):
    service.update_survey(
        db,
        bilingual_survey.id,
        SurveyUpdate(thank_you="Thanks a lot!"),
        actor=users["manager"],
    )
    texts = copy.deepcopy(SMALL_ZH)
    texts["survey"]["thank_you"] = "非常感谢！"
    translate(db, bilingual_survey, users, texts)
    li = make_customer(db, name="李雷", country="CN")
    link = _invite(db, bilingual_survey, users, [li])[li.id]
    page = client.get(link.path)
    r = client.post(
        link.path,
        data={
            "csrf_token": csrf_of(page.text),
            "q.sat": "5",
            "q.where": "store",
            "action": "complete",
        },
        follow_redirects=True,
    )
    assert r.status_code == 200 and "非常感谢！" in r.text and 'lang="zh-CN"' in r.text
    db.expire_all()
    response = db.scalar(select(SurveyResponse).where(SurveyResponse.customer_id == li.id))
    assert response.status == "completed"


def _subjects(db):
    return {
        m.customer_id: (m.locale, m.subject)
        for m in db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "survey_invitation"))
    }


def test_invitation_email_language_follows_the_same_rule(db, users, small_survey):
    li = make_customer(db, name="李雷", email="li@example.cn", consent_email=True, country="CN")
    ann = make_customer(db, name="Ann", email="ann@example.com", consent_email=True)
    # Chinese incomplete: Li's invitation is wholly English.
    translate(db, small_survey, users, _incomplete())
    _invite(db, small_survey, users, [li])
    assert _subjects(db)[li.id] == ("en", "We would like your opinion: Small survey")
    # Complete: Chinese chrome and the Chinese survey name; Ann stays English.
    translate(db, small_survey, users)
    other = service.create_survey(db, small_survey_data(name="Second"), actor=users["manager"])
    service.update_survey(db, other.id, SurveyUpdate(status="active"), actor=users["manager"])
    texts = copy.deepcopy(SMALL_ZH)
    texts["survey"]["name"] = "第二次调查"
    translate(db, other, users, texts)
    _invite(db, other, users, [li, ann])
    subjects = {
        m.customer_id: (m.locale, m.subject)
        for m in db.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "survey_invitation",
                OutboxMessage.subject.contains("第二") | OutboxMessage.subject.contains("Second"),
            )
        )
    }
    assert subjects[li.id] == ("zh_CN", "诚邀您发表意见：第二次调查")
    assert subjects[ann.id] == ("en", "We would like your opinion: Second")


def test_response_file_round_trip_with_labels_in_both_languages(db, users, bilingual_survey):
    c = make_customer(db, external_id="BL1")
    responses.record_response(
        db,
        bilingual_survey.id,
        ResponseCreate(
            customer_id=c.id,
            answers=[
                AnswerIn(question="sat", number=4),
                AnswerIn(question="where", choices=["web"]),
                AnswerIn(question="what", choices=["a", "c"]),
            ],
        ),
        actor=users["agent"],
    )
    header, rows = fileio.export_rows(
        db, bilingual_survey.id, actor=users["analyst"], labels="zh_CN"
    )
    row = dict(zip(header, rows[0], strict=True))
    assert (row["where"], row["what"]) == ("网站", "甲|丙")
    header_en, rows_en = fileio.export_rows(
        db, bilingual_survey.id, actor=users["analyst"], labels="en"
    )
    assert dict(zip(header_en, rows_en[0], strict=True))["what"] == "A|C"
    for labels in ("zh_CN", "en", None):
        for fmt, name in (("csv", "out.csv"), ("xlsx", "out.xlsx")):
            data = fileio.export_bytes(
                db, bilingual_survey.id, actor=users["analyst"], fmt=fmt, labels=labels
            )
            rep = fileio.import_responses(
                db, bilingual_survey.id, data, name, actor=users["manager"]
            )
            assert (rep["created"], rep["updated"], rep["errors"]) == (0, 1, [])
            db.expire_all()
            answers = {
                a.question.code: a.choices
                for a in db.scalar(select(SurveyResponse)).answers
                if a.choices
            }
            assert answers == {"where": ["web"], "what": ["a", "c"]}
    # A paper file typed with the Chinese labels imports as new responses.
    body = "customer_external_id,sat,where,what\nBL1,5,门店,乙;丙\n".encode()
    rep = fileio.import_responses(
        db, bilingual_survey.id, io.BytesIO(body), "paper.csv", actor=users["manager"]
    )
    assert rep["created"] == 1 and rep["errors"] == []


def test_api_round_trip_of_both_languages(client, db, users, tokens):
    data = small_survey_data(
        name="API survey",
        description="About your visit",
        thank_you="Thanks!",
        translations={
            "zh_CN": {"name": "接口调查", "description": "关于您的来访", "thank_you": "谢谢！"}
        },
    ).model_dump(mode="json", exclude_none=True)
    section = data["sections"][0]
    section["translations"] = {"zh_CN": {"title": "主要问题"}}
    for q in section["questions"]:
        t = SMALL_ZH["questions"][q["code"]]
        q["translations"] = {"zh_CN": t}
    db.commit()
    created = client.post("/api/v1/surveys", json=data, headers=tokens["manager"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["languages"] == ["en", "zh_CN"] and body["missing"] == {"zh_CN": []}
    assert body["translations"]["zh_CN"]["thank_you"] == "谢谢！"
    got = client.get(f"/api/v1/surveys/{body['id']}", headers=tokens["analyst"]).json()
    where = next(q for q in got["sections"][0]["questions"] if q["code"] == "where")
    assert where["translations"]["zh_CN"]["options"] == {"store": "门店", "web": "网站"}
    assert got["sections"][0]["translations"]["zh_CN"]["title"] == "主要问题"

    # PUT replaces the language's texts: a blank one is removed and reported missing.
    texts = copy.deepcopy(SMALL_ZH)
    texts["survey"].update({"description": "关于您的来访", "thank_you": ""})
    put = client.put(
        f"/api/v1/surveys/{body['id']}/translations/zh_CN",
        json={**texts, "version": got["version"]},
        headers=tokens["manager"],
    )
    assert put.status_code == 200, put.text
    assert put.json()["languages"] == ["en"]
    assert put.json()["missing"] == {"zh_CN": ["survey::thank_you"]}
    stale = client.put(
        f"/api/v1/surveys/{body['id']}/translations/zh_CN",
        json={**texts, "version": got["version"]},
        headers=tokens["manager"],
    )
    assert stale.status_code == 409
    own = client.put(
        f"/api/v1/surveys/{body['id']}/translations/en", json=texts, headers=tokens["manager"]
    )
    assert own.status_code == 422 and own.json()["field"] == "language"
    bad = copy.deepcopy(texts)
    bad["questions"]["where"]["options"]["nowhere"] = "无"
    r = client.put(
        f"/api/v1/surveys/{body['id']}/translations/zh_CN", json=bad, headers=tokens["manager"]
    )
    assert r.status_code == 422 and r.json()["field"] == "questions.where.options"
    agent = client.put(
        f"/api/v1/surveys/{body['id']}/translations/zh_CN", json=texts, headers=tokens["agent"]
    )
    assert agent.status_code == 403


def test_translation_is_allowed_after_answers_but_not_for_the_own_language(db, users, small_survey):
    responses.record_response(
        db,
        small_survey.id,
        ResponseCreate(answers=[AnswerIn(question="sat", number=3)]),
        actor=users["agent"],
    )
    translate(db, small_survey, users)
    assert languages.complete_languages(small_survey) == ["en", "zh_CN"]
    with pytest.raises(InvalidInput):
        service.set_translation(db, small_survey.id, "en", TranslationIn(), actor=users["manager"])


def test_editor_marks_missing_texts_and_saves_side_by_side(web, db, users, small_survey):
    db.commit()
    web.login("manager")
    builder = web.get(f"/surveys/{small_survey.id}")
    assert 'id="survey-languages"' in builder.text and "lang-missing" in builder.text
    page = web.get(f"/surveys/{small_survey.id}/translate?lang=zh_CN")
    assert page.status_code == 200
    total = int(re.search(r'data-missing="(\d+)"', page.text).group(1))
    # name, section title, 9 question texts, 5 option labels
    assert total == 16 and page.text.count('class="missing"') == 16
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    form = {"lang": "zh_CN", "version": version, "s||name": "小调查", "q|sat|text": "您满意吗？"}
    r = web.post(f"/surveys/{small_survey.id}/translate", form)
    assert r.status_code == 303
    again = web.get(r.headers["location"])
    assert 'data-missing="14"' in again.text
    # The rest, so the survey becomes complete.
    form = {
        "lang": "zh_CN",
        "version": re.search(r'name="version" value="(\d+)"', again.text).group(1),
    }
    form["s||name"] = SMALL_ZH["survey"]["name"]
    form["c|main|title"] = SMALL_ZH["sections"]["main"]["title"]
    for code, t in SMALL_ZH["questions"].items():
        form[f"q|{code}|text"] = t["text"]
        for value, label in (t.get("options") or {}).items():
            form[f"q|{code}|opt|{value}"] = label
    r = web.post(f"/surveys/{small_survey.id}/translate", form)
    assert r.status_code == 303
    done = web.get(r.headers["location"])
    assert 'data-missing="0"' in done.text
    db.expire_all()
    assert languages.complete_languages(service._survey(db, small_survey.id)) == ["en", "zh_CN"]
    # A stale form is refused with the typed texts kept.
    stale = web.post(f"/surveys/{small_survey.id}/translate", {**form, "s||name": "旧的"})
    assert stale.status_code == 409 and "旧的" in stale.text
    # Editing a question in the builder keeps its Chinese texts.
    edit = web.post(
        f"/surveys/{small_survey.id}/questions/where/edit",
        {"section": "main", "code": "where", "text": "Where did you buy?", "qtype": "single_choice",
         "options": "store: Store\nweb: Web"},
    )  # fmt: skip
    assert edit.status_code == 303
    db.expire_all()
    q = next(q for q in service._survey(db, small_survey.id).questions if q.code == "where")
    assert q.translations["zh_CN"]["options"] == {"store": "门店", "web": "网站"}


def test_editor_translate_page_is_for_managers_only(web, db, users, small_survey):
    db.commit()
    web.login("agent")
    assert web.get(f"/surveys/{small_survey.id}/translate").status_code == 403
    web.login("manager")
    bad = web.get(f"/surveys/{small_survey.id}/translate?lang=en")
    assert bad.status_code == 422


def test_results_show_option_labels_in_the_viewers_language(web, db, users, bilingual_survey):
    responses.record_response(
        db,
        bilingual_survey.id,
        ResponseCreate(
            answers=[
                AnswerIn(question="sat", number=4),
                AnswerIn(question="where", choices=["store"]),
            ]
        ),
        actor=users["agent"],
    )
    db.commit()
    web.login("analyst")
    en = web.get(f"/surveys/{bilingual_survey.id}/results")
    chart = re.search(r'id="dist-chart-where" data-chart="([^"]*)"', en.text).group(1)
    assert "Store" in chart and "store" not in chart.replace("Store", "")
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    zh = web.get(f"/surveys/{bilingual_survey.id}/results")
    chart = re.search(r'id="dist-chart-where" data-chart="([^"]*)"', zh.text).group(1)
    assert "门店" in chart and "网站" in chart and "在哪里？" in zh.text


def test_distribution_list_shows_the_emails_in_the_outbox(web, db, users, small_survey):
    cs = [
        make_customer(db, email="a@example.com", consent_email=True),
        make_customer(db, email=None, consent_email=True),
        make_customer(db, email="c@example.com", consent_email=False, consent_sms=True),
    ]
    dist, _ = distributions.create_distribution(
        db,
        small_survey.id,
        DistributionCreate(segment=SegmentIn(kind="customers", customer_ids=[c.id for c in cs])),
        actor=users["manager"],
    )
    db.commit()
    assert distributions.emailed_per_distribution(db, small_survey.id) == {dist.id: 1}
    web.login("manager")
    page = web.get(f"/surveys/{small_survey.id}/distribute")
    row = re.search(r'<td class="emailed">([^<]*)</td>', page.text).group(1)
    assert row.strip() == "1" and 'id="invited-vs-outbox"' in page.text
    detail = web.get(f"/surveys/{small_survey.id}/distributions/{dist.id}")
    text = re.search(r'id="invited-vs-outbox">([^<]*)<', detail.text).group(1)
    assert "Invited: 3" in text and "outbox 1" in text and "not emailed 2" in text
