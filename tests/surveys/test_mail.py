"""Survey invitations and reminders by email: queued per consenting customer, sent over a real
SMTP server on 127.0.0.1, in the customer's language, with a working one-time link."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from retento.core.db import utcnow
from retento.demo import generator
from retento.mail.models import OutboxMessage
from retento.mail.service import send_queued
from retento.surveys import distributions, responses
from retento.surveys.jobs import send_reminders
from retento.surveys.models import SurveyDistribution, SurveyInvitation
from retento.surveys.schemas import AnswerIn, AnswersSubmit, DistributionCreate, SegmentIn
from retento.surveys.tokens import hash_token
from tests.factories import make_customer
from tests.mail.conftest import smtp_fixture, smtp_server_fixture  # noqa: F401 (fixtures)

LINK = re.compile(r"https://shop\.example/s/([A-Za-z0-9_-]+)\?lang=(en|zh_CN)")


def _customers(db):
    return {
        "ann": make_customer(db, name="Ann", email="ann@example.com", consent_email=True),
        "li": make_customer(
            db, name="李雷", email="lilei@example.cn", consent_email=True, country="CN"
        ),
        "noconsent": make_customer(db, email="quiet@example.com", consent_email=False),
        "noemail": make_customer(db, email=None, consent_email=True),
        "bad": make_customer(db, email="not-an-address", consent_email=True),
    }


def _distribute(db, survey, users, customers, channel="online", now=None, send=True):
    return distributions.create_distribution(
        db,
        survey.id,
        DistributionCreate(
            channel=channel,
            send=send,
            segment=SegmentIn(kind="customers", customer_ids=[c.id for c in customers]),
        ),
        actor=users["manager"],
        now=now,
    )


def _outbox(db, kind=None):
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    return list(db.scalars(stmt))


def test_online_distribution_queues_one_email_per_consenting_customer(db, users, bilingual_survey):
    cs = _customers(db)
    dist, links = _distribute(db, bilingual_survey, users, cs.values())
    assert len(links) == 5
    queued = _outbox(db, "survey_invitation")
    assert sorted(m.recipient for m in queued) == ["ann@example.com", "lilei@example.cn"]
    assert all(m.status == "queued" and m.related_type == "survey_invitation" for m in queued)
    by_customer = {m.customer_id: m for m in queued}
    assert by_customer[cs["li"].id].locale == "zh_CN"
    assert by_customer[cs["li"].id].subject == "诚邀您发表意见：小调查"
    assert by_customer[cs["ann"].id].subject == "We would like your opinion: Small survey"
    # The outbox never holds the usable link: it is filled in when sending.
    assert all("[[link]]" in m.body_text and "/s/" not in m.body_text for m in queued)
    emails = distributions.distribution_emails(db, dist)
    assert (emails.queued, emails.not_emailed, emails.invitations["sent"]) == (2, 3, 0)


def test_other_channels_and_unsent_invitations_are_not_emailed(db, users, small_survey):
    cs = _customers(db)
    dist, _ = _distribute(db, small_survey, users, [cs["ann"]], channel="phone")
    assert _outbox(db) == []
    emails = distributions.distribution_emails(db, dist)
    assert not emails.emailed_channel and emails.not_emailed == 0
    dist2, _ = _distribute(db, small_survey, users, [cs["li"]], send=False)
    assert _outbox(db) == []
    assert distributions.distribution_emails(db, dist2).not_emailed == 0


def test_sent_invitation_carries_a_working_link_in_the_customers_language(
    db, users, bilingual_survey, smtp
):
    recorder, settings = smtp
    cs = _customers(db)
    dist, _ = _distribute(db, bilingual_survey, users, [cs["ann"], cs["li"], cs["noconsent"]])
    report = send_queued(db, settings=settings)
    assert report.sent == 2 and report.failed == 0
    got = {m["X-Envelope-To"]: m for m in recorder.messages}
    assert set(got) == {"ann@example.com", "lilei@example.cn"}
    zh = got["lilei@example.cn"]
    assert zh["Subject"] == "诚邀您发表意见：小调查"
    zh_text = zh.get_body(("plain",)).get_content()
    assert "尊敬的李雷：" in zh_text
    token, lang = LINK.search(zh_text).groups()
    assert lang == "zh_CN"
    en_text = got["ann@example.com"].get_body(("plain",)).get_content()
    assert "Dear Ann," in en_text and LINK.search(en_text).group(2) == "en"
    html = got["ann@example.com"].get_body(("html",)).get_content()
    assert 'href="https://shop.example/s/' in html
    # The emailed token opens the customer's own questionnaire, in Chinese.
    ps = responses.public_survey(db, token, lang=lang)
    assert ps.status != "completed" and ps.name == "小调查" and ps.language == "zh_CN"
    inv = db.scalar(
        select(SurveyInvitation).where(
            SurveyInvitation.distribution_id == dist.id,
            SurveyInvitation.customer_id == cs["li"].id,
        )
    )
    assert inv.token_hash == hash_token(token)
    emails = distributions.distribution_emails(db, dist)
    assert (emails.queued, emails.invitations["sent"], emails.not_emailed) == (0, 2, 1)


def test_an_invitation_answered_before_sending_is_not_emailed(db, users, small_survey, smtp):
    recorder, settings = smtp
    cs = _customers(db)
    _, links = _distribute(db, small_survey, users, [cs["ann"]])
    responses.public_submit(
        db,
        links[0].token,
        AnswersSubmit(answers=[AnswerIn(question="sat", number=5)], complete=True),
    )
    report = send_queued(db, settings=settings)
    assert report.cancelled == 1 and report.sent == 0 and recorder.messages == []
    assert _outbox(db)[0].status == "cancelled"


def test_reminders_are_emailed_within_the_reminder_rules(db, users, small_survey, smtp):
    recorder, settings = smtp
    t0 = utcnow()
    cs = _customers(db)
    _, links = _distribute(db, small_survey, users, [cs["ann"], cs["li"], cs["noemail"]], now=t0)
    # While the invitation email itself still waits, no reminder email is added to it.
    assert send_reminders(db, now=t0 + timedelta(days=3)) == 3
    assert _outbox(db, "survey_reminder") == []
    send_queued(db, settings=settings, now=t0 + timedelta(days=3))
    assert len(recorder.messages) == 2
    # Ann answers; Li gets the next reminder, Ann does not.
    ann_link = next(link for link in links if link.customer_id == cs["ann"].id)
    responses.public_submit(
        db,
        ann_link.token,
        AnswersSubmit(answers=[AnswerIn(question="sat", number=4)], complete=True),
    )
    assert send_reminders(db, now=t0 + timedelta(days=6)) == 2  # Li and the one without email
    reminders = _outbox(db, "survey_reminder")
    assert [m.recipient for m in reminders] == ["lilei@example.cn"]
    # The survey has no Chinese texts: the Chinese customer's reminder is wholly English.
    assert reminders[0].subject == "Reminder: Small survey" and reminders[0].locale == "en"
    assert send_reminders(db, now=t0 + timedelta(days=6)) == 0  # idempotent
    assert len(_outbox(db, "survey_reminder")) == 1
    send_queued(db, settings=settings, now=t0 + timedelta(days=6))
    last = recorder.messages[-1]
    assert (
        last["X-Envelope-To"] == "lilei@example.cn" and last["Subject"] == "Reminder: Small survey"
    )
    assert LINK.search(last.get_body(("plain",)).get_content())
    # max_reminders = 2 were used up: no third reminder.
    assert send_reminders(db, now=t0 + timedelta(days=20)) == 0
    assert len(_outbox(db, "survey_reminder")) == 1


def test_api_reports_emails_queued_and_not_emailed(client, db, users, tokens, small_survey):
    cs = _customers(db)
    db.commit()
    r = client.post(
        f"/api/v1/surveys/{small_survey.id}/distributions",
        json={"segment": {"kind": "customers", "customer_ids": [c.id for c in cs.values()]}},
        headers=tokens["manager"],
    )
    # Queued (202); the one-process test app runs the item after the response.
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == r.json()["url"]
    body = client.get(r.json()["url"], headers=tokens["manager"]).json()
    assert body["status"] == "done" and body["progress"] == 1.0
    assert (body["invited"], body["emails_queued"], body["not_emailed"]) == (5, 2, 3)
    assert len(body["links"]) == 5


@pytest.mark.parametrize("enabled", [False, True])
def test_distribution_page_shows_email_figures(client, app, db, users, small_survey, enabled):
    from tests.web.conftest import Browser

    app.state.settings = app.state.settings.model_copy(
        update={"smtp_host": "127.0.0.1" if enabled else ""}
    )
    cs = _customers(db)
    dist, _ = _distribute(db, small_survey, users, cs.values())
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/surveys/{small_survey.id}/distributions/{dist.id}")
    assert page.status_code == 200
    assert 'id="distribution-emails"' in page.text
    assert re.search(r'id="emails-queued">2<', page.text)
    assert re.search(r'id="emails-not-emailed">3<', page.text)
    assert ("RETENTO_SMTP_HOST is not set" in page.text) is not enabled


def test_demo_leaves_queued_invitation_emails_in_the_outbox(db):
    from retento.surveys.demo import step_surveys

    # The demo's own steps and its survey step, which queues the emails: the other domains'
    # steps (scoring, complaints, loyalty, retention, journey) neither read nor send them.
    steps = [*generator.STEPS, step_surveys]
    summary = generator.generate(db, customers=100, seed=3, today=date(2025, 6, 30), steps=steps)
    msgs = _outbox(db, "survey_invitation")
    assert summary["survey_emails_queued"] == len(msgs) > 0
    # No SMTP server in the demo: nothing claims to have been sent.
    assert {m.status for m in msgs} == {"queued"} and all(m.sent_at is None for m in msgs)
    dist = db.scalar(
        select(SurveyInvitation.distribution_id).where(SurveyInvitation.id == msgs[0].related_id)
    )
    emails = distributions.distribution_emails(db, db.get(SurveyDistribution, dist))
    assert emails.queued == len(msgs) and emails.not_emailed > 0


def test_invitation_counts_as_sent_when_its_email_leaves(db, users, small_survey, smtp):
    """With sending disabled for days, reminders must count from the email, not the queueing."""
    recorder, settings = smtp
    t0 = utcnow()
    cs = _customers(db)
    dist, _ = _distribute(db, small_survey, users, [cs["ann"]], now=t0)
    inv = db.scalar(select(SurveyInvitation).where(SurveyInvitation.distribution_id == dist.id))
    assert inv.sent_at == t0
    later = t0 + timedelta(days=small_survey.reminder_after_days + 1)
    send_queued(db, settings=settings, now=later)
    assert len(recorder.messages) == 1
    db.refresh(inv)
    assert inv.sent_at == later
    # The invitation only just arrived: no reminder is due yet, although the distribution is old.
    assert send_reminders(db, now=later + timedelta(hours=1)) == 0
    due = later + timedelta(days=small_survey.reminder_after_days)
    assert send_reminders(db, now=due) == 1
    send_queued(db, settings=settings, now=due + timedelta(minutes=5))
    db.refresh(inv)
    assert inv.reminded_at == due + timedelta(minutes=5) and len(recorder.messages) == 2
