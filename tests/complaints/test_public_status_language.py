"""The public status page speaks one language throughout: the one it is rendered in (``?lang=``,
else the customer's). Its reply form's errors followed the browser's Accept-Language instead,
and the notes the system writes into the timeline are stored in the installation's language."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from retento.complaints import followup, jobs, service
from retento.complaints.models import Complaint, ComplaintEvent
from retento.complaints.public import RateLimiter
from retento.complaints.schemas import SurveyAnswerIn, TransitionIn
from retento.core.db import utcnow
from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.web.conftest import csrf_of

EN_BROWSER = {"Accept-Language": "en-US,en;q=0.9"}
ZH_BROWSER = {"Accept-Language": "zh-CN,zh;q=0.9"}

# (customer's language, query, browser) → the page's language; the browser never decides.
CASES = [
    pytest.param("zh_CN", "", EN_BROWSER, "zh_CN", id="customer-zh-browser-en"),
    pytest.param("en", "", ZH_BROWSER, "en", id="customer-en-browser-zh"),
    pytest.param("en", "?lang=zh_CN", EN_BROWSER, "zh_CN", id="lang-zh"),
    pytest.param("zh_CN", "?lang=en", ZH_BROWSER, "en", id="lang-en"),
]

WORDS = {
    "zh_CN": {
        "empty": "此项为必填。",
        "long": "最多填写 5000 个字符。",
        "bot": "表单无法受理。",
        "closed": "这条投诉已关闭，请提交新的投诉。",
        "key": "此表单已用其他内容提交过；请检查后再次提交。",
        "sent": "谢谢，您的消息已发送。",
    },
    "en": {
        "empty": "This field is required.",
        "long": "Write at most 5000 characters.",
        "bot": "The form could not be accepted.",
        "closed": "This complaint is closed; submit a new one.",
        "key": "This form was already sent with other details; check them and send it again.",
        "sent": "Thank you, your message was sent.",
    },
}


def _shown(page: str) -> str:
    """The page's content as a person reads it (tags out, entities decoded)."""
    main = page.split("<main", 1)[1]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)))


def _complaint(db, users, language: str) -> Complaint:
    customer = make_customer(db, custom_fields={"language": language})
    c = make_complaint(db, users["manager"], customer_id=customer.id)
    db.commit()
    return c


def _replies(db, c: Complaint) -> int:
    return db.scalar(
        select(func.count()).where(
            ComplaintEvent.complaint_id == c.id, ComplaintEvent.kind == "customer_reply"
        )
    )


@pytest.mark.parametrize(("customer_lang", "query", "browser", "page_lang"), CASES)
def test_reply_errors_follow_the_page_s_language_not_the_browser_s(
    client, db, users, customer_lang, query, browser, page_lang
):
    client.app.state.complaint_rate_limiter = RateLimiter(max_events=100)
    c = _complaint(db, users, customer_lang)
    status_url = f"/complain/status/{c.tracking_code}{query}"
    page = client.get(status_url, headers=browser)
    token = csrf_of(page.text)
    url = f"/complain/status/{c.tracking_code}/reply{query}"
    other = WORDS["en" if page_lang == "zh_CN" else "zh_CN"]

    def send(**form):
        data = {"csrf_token": token, "reply_key": "", **form}
        return client.post(url, data=data, headers=browser, follow_redirects=False)

    for form, word in (
        ({"body": "   "}, "empty"),
        ({"body": "x" * 5001}, "long"),
        ({"body": "Hello", "website": "http://spam"}, "bot"),
    ):
        r = send(**form)
        assert r.status_code == 422, r.text
        shown = _shown(r.text)
        assert WORDS[page_lang][word] in shown, (word, shown)
        assert other[word] not in shown
    assert _replies(db, c) == 0  # nothing half-written

    # The same key with another text (Back, edit, send again): said in the page's language.
    assert send(body="First words", reply_key="k-1").status_code == 303
    thanks = client.get(status_url, headers=browser)
    assert WORDS[page_lang]["sent"] in _shown(thanks.text)
    r = send(body="Other words", reply_key="k-1")
    assert r.status_code == 422 and WORDS[page_lang]["key"] in _shown(r.text)

    # Closed meanwhile (a reply from an old tab): the reason is shown, in the page's language.
    for action in ("start", "resolve", "follow_up", "close"):
        service.apply_transition(
            db, c.id, TransitionIn(action=action, note="Refunded."), actor=users["manager"]
        )
    db.commit()
    r = send(body="Are you there?", reply_key="k-2")
    assert r.status_code == 422
    shown = _shown(r.text)
    assert WORDS[page_lang]["closed"] in shown and other["closed"] not in shown
    assert 'id="public-reply-form"' not in r.text
    assert _replies(db, c) == 1


# --- notes the system writes into the timeline -------------------------------------------------

NOTE = {"en": "Customer not satisfied (CSAT 2).", "zh_CN": "客户不满意（满意度 2）。"}
REASSIGNED = {
    "en": "Reassigned automatically after an SLA breach.",
    "zh_CN": "超出服务时限后已自动改派。",
}
IN_PROGRESS = {"en": "In progress", "zh_CN": "处理中"}


def _timeline(page: str) -> str:
    found = re.search(r'<ul class="timeline" id="public-timeline">(.*?)</ul>', page, re.S)
    assert found, "no timeline on the page"
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))))


@pytest.mark.parametrize("customer_lang", ["zh_CN", "en"])
def test_the_system_s_own_notes_about_a_reopen_and_a_reassignment_stay_internal(
    client, db, users, customer_lang
):
    """A low answer reopens the complaint with a note and the SLA job reassigns it with one;
    both are written in the installation's language and are for the agents: the customer sees
    the status changes, as labels in the page's language, and neither note."""
    c = _complaint(db, users, customer_lang)
    m = users["manager"]
    service.apply_transition(db, c.id, TransitionIn(action="start"), actor=m)
    service.apply_transition(db, c.id, TransitionIn(action="resolve", note="Refunded."), actor=m)
    followup.answer_survey(db, c.followup_token, SurveyAnswerIn(csat=2, would_buy_again=False))
    jobs._reassign(db, c, users["agent"].id, utcnow())
    db.commit()
    notes = {e.body for e in c.events if e.actor_id is None and e.internal}
    assert {NOTE["en"], REASSIGNED["en"]} <= notes  # the installation's language (English)
    for browser in (EN_BROWSER, ZH_BROWSER):
        timeline = _timeline(
            client.get(f"/complain/status/{c.tracking_code}", headers=browser).text
        )
        assert timeline.count(IN_PROGRESS[customer_lang]) == 2  # started, then reopened
        for lang in ("en", "zh_CN"):
            assert NOTE[lang] not in timeline and REASSIGNED[lang] not in timeline


@pytest.mark.parametrize(("customer_lang", "query", "browser", "page_lang"), CASES)
def test_a_system_note_shown_to_the_customer_reads_in_the_page_s_language(
    client, db, users, customer_lang, query, browser, page_lang
):
    """A note the system wrote where the customer sees it (none of today's flows writes one:
    here it is put on the timeline directly) is stored in the installation's language, whichever
    that was when it was written, and shown in the page's; the customer's own words are shown as
    typed, even when they read like a system note. The API keeps the stored text."""
    c = _complaint(db, users, customer_lang)
    for stored in NOTE.values():
        db.add(
            ComplaintEvent(
                complaint_id=c.id,
                customer_id=c.customer_id,
                kind="message",
                internal=False,
                actor_name="system",
                body=stored,
            )
        )
    service.public_reply(db, c.tracking_code, REASSIGNED["en"])
    service.public_reply(db, c.tracking_code, REASSIGNED["zh_CN"])
    db.commit()
    page = client.get(f"/complain/status/{c.tracking_code}{query}", headers=browser)
    timeline = _timeline(page.text)
    other = "en" if page_lang == "zh_CN" else "zh_CN"
    assert timeline.count(NOTE[page_lang]) == 2 and NOTE[other] not in timeline
    assert REASSIGNED["en"] in timeline and REASSIGNED["zh_CN"] in timeline  # as typed
    api = client.get(f"/api/v1/public/complaints/{c.tracking_code}").json()
    assert {NOTE["en"], NOTE["zh_CN"]} <= {e["body"] for e in api["events"]}
