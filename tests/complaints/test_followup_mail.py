"""Resolving a complaint emails the resolution and the follow-up question link (resolution CSAT,
buy again) to every complainant with an address (transactional: no marketing consent needed);
the link opens the public follow-up page in the customer's language."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from retento.complaints import followup, service
from retento.complaints.schemas import SurveyAnswerIn, TransitionIn
from retento.mail.models import OutboxMessage
from retento.mail.service import send_queued
from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.mail.conftest import smtp_fixture, smtp_server_fixture  # noqa: F401 (fixtures)

LINK = re.compile(r"https://shop\.example/complain/followup/([A-Za-z0-9_-]+)\?lang=(zh_CN|en)\b")


def _resolve(db, c, actor):
    service.apply_transition(db, c.id, TransitionIn(action="start"), actor=actor)
    return service.apply_transition(
        db, c.id, TransitionIn(action="resolve", note="Replacement sent."), actor=actor
    )


def _followups(db):
    return list(
        db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "complaint_followup")
            .order_by(OutboxMessage.id)
        )
    )


def test_resolving_queues_and_sends_the_follow_up_link(db, users, smtp):
    recorder, settings = smtp
    agent = users["agent"]
    cust = make_customer(
        db, name="王芳", email="wangfang@example.cn", consent_email=True, country="CN"
    )
    c = make_complaint(db, agent, customer_id=cust.id)
    _resolve(db, c, agent)
    [msg] = _followups(db)
    assert msg.recipient == "wangfang@example.cn" and msg.locale == "zh_CN"
    assert msg.related_type == "complaint" and msg.related_id == c.id
    assert c.followup_token not in msg.body_text  # filled in only when sending
    assert send_queued(db, settings=settings).sent == 2  # the acknowledgement and the follow-up
    [mail] = [m for m in recorder.messages if "满意" in m["Subject"]]
    assert mail["Subject"] == f"您对投诉 {c.tracking_code} 的处理满意吗？"
    text = mail.get_body(("plain",)).get_content()
    link = LINK.search(text)
    token = link.group(1)
    assert token == c.followup_token and link.group(2) == "zh_CN"  # the page in her language
    assert f"https://shop.example/complain/status/{c.tracking_code}" in text
    answered = followup.answer_survey(db, token, SurveyAnswerIn(csat=5, would_buy_again=True))
    assert answered.survey_answered_at is not None


def test_no_email_without_an_address_but_consent_is_not_needed(db, users):
    agent = users["agent"]
    for cust in (
        make_customer(db, email="no-consent@example.com", consent_email=False),
        make_customer(db, email=None, consent_email=True),
    ):
        c = make_complaint(db, agent, customer_id=cust.id)
        _resolve(db, c, agent)
        assert c.followup_token
    assert [m.recipient for m in _followups(db)] == ["no-consent@example.com"]


def test_a_follow_up_answered_before_sending_is_not_emailed(db, users, smtp):
    recorder, settings = smtp
    agent = users["agent"]
    cust = make_customer(db, name="Ann", email="ann@example.com", consent_email=True)
    c = make_complaint(db, agent, customer_id=cust.id)
    _resolve(db, c, agent)
    followup.answer_survey(db, c.followup_token, SurveyAnswerIn(csat=4, would_buy_again=True))
    report = send_queued(db, settings=settings)
    assert report.cancelled == 1 and [m["Subject"] for m in recorder.messages] == [
        f"We received your complaint {c.tracking_code}"
    ]
    assert _followups(db)[0].status == "cancelled"


def test_a_reopened_complaint_does_not_ask_about_the_resolution_it_no_longer_has(db, users, smtp):
    """Reopening before the follow-up went out sent "Are you happy with how we handled it?"
    anyway, and the link took an answer about a resolution that no longer stood: now the
    queued e-mail is cancelled and the link stops working; resolving again asks anew."""
    from retento.core.errors import NotFound

    recorder, settings = smtp
    agent = users["agent"]
    cust = make_customer(db, name="Bo", email="bo@example.com", consent_email=True)
    c = make_complaint(db, agent, customer_id=cust.id)
    _resolve(db, c, agent)
    old_token = c.followup_token
    service.apply_transition(
        db, c.id, TransitionIn(action="reopen", note="Still broken."), actor=agent
    )
    assert c.followup_token is None
    report = send_queued(db, settings=settings)
    [first] = _followups(db)
    assert first.status == "cancelled" and report.cancelled == 1
    assert not [m for m in recorder.messages if "followup" in m.get_body(("plain",)).get_content()]
    with pytest.raises(NotFound):
        followup.followup_question(db, old_token)
    # Resolved again: a new link and a new e-mail, which is sent.
    service.apply_transition(
        db, c.id, TransitionIn(action="resolve", note="Replaced again."), actor=agent
    )
    assert c.followup_token and c.followup_token != old_token
    send_queued(db, settings=settings)
    second = _followups(db)[-1]
    assert second.id != first.id and second.status == "sent"
