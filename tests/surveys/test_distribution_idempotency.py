"""Sending a survey is idempotent by a key (migration 0038): six identical POSTs sent at once
recorded six distributions and queued six work items. The API's ``Idempotency-Key`` header
and the distribute form's key (drawn with the page) make a retry, a double click or a refresh
return the first distribution; the same key with another body is a 409. Two different
distributions of one survey run one after the other (the survey's row is locked), so a
customer is invited and e-mailed once however they interleave."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select, update

from retento.mail.models import OutboxMessage
from retento.surveys import distributions, service
from retento.surveys.models import Survey, SurveyDistribution, SurveyInvitation
from retento.surveys.schemas import SurveyUpdate
from retento.work import queue
from retento.work.models import WorkItem
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import bearer_headers, statuses
from tests.surveys.conftest import small_survey_data
from tests.web.conftest import Browser

KEY_FIELD = re.compile(r'name="distribution_key" value="([^"]*)"')


def _people(db, n=3):
    return [
        make_customer(db, name=f"P{i}", email=f"p{i}@example.com", consent_email=True)
        for i in range(n)
    ]


def _no_work_in_web(app):
    app.state.settings = app.state.settings.model_copy(update={"run_work_in_web": False})


def _figures(session, survey_id: int) -> tuple[int, int, int, int]:
    """(distributions, work items, invitations, invitation e-mails) of one survey."""
    dists = select(SurveyDistribution.id).where(SurveyDistribution.survey_id == survey_id)
    n_dist = session.scalar(select(func.count()).select_from(dists.subquery()))
    refs = [f"survey_distribution:{d}" for d in session.scalars(dists)]
    n_items = session.scalar(select(func.count()).where(WorkItem.ref.in_(refs))) if refs else 0
    invitations = session.scalar(
        select(func.count()).where(SurveyInvitation.survey_id == survey_id)
    )
    emails = session.scalar(
        select(func.count()).where(
            OutboxMessage.kind == "survey_invitation",
            OutboxMessage.related_id.in_(
                select(SurveyInvitation.id).where(SurveyInvitation.survey_id == survey_id)
            ),
        )
    )
    return n_dist, n_items, invitations, emails


# --- API and web form (the test database: SQLite, and PostgreSQL with --db both) -------------


def test_api_retry_with_one_key_returns_the_first_distribution_and_queues_it_once(
    app, client, db, users, tokens, small_survey, session_factory
):
    _no_work_in_web(app)
    people = _people(db)
    other = service.create_survey(db, small_survey_data(name="Other"), actor=users["manager"])
    service.update_survey(db, other.id, SurveyUpdate(status="active"), actor=users["manager"])
    db.commit()
    url = f"/api/v1/surveys/{small_survey.id}/distributions"
    body = {
        "name": "Spring",
        "segment": {"kind": "customers", "customer_ids": [c.id for c in people]},
    }
    h = {**tokens["manager"], "Idempotency-Key": "spring-1"}

    first = client.post(url, json=body, headers=h)
    assert first.status_code == 202, first.text
    again = client.post(url, json=body, headers=h)
    assert again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert _figures(db, small_survey.id) == (1, 1, 0, 0)

    # The same key with another body, or for another survey: refused, nothing recorded.
    for target, changed in ((url, {**body, "name": "Autumn"}), (url, {**body, "send": False})):
        r = client.post(target, json=changed, headers=h)
        assert r.status_code == 409 and r.json()["field"] == "Idempotency-Key", r.text
    r = client.post(f"/api/v1/surveys/{other.id}/distributions", json=body, headers=h)
    assert r.status_code == 409 and r.json()["field"] == "Idempotency-Key"
    assert _figures(db, small_survey.id) == (1, 1, 0, 0)
    assert _figures(db, other.id) == (0, 0, 0, 0)
    too_long = client.post(url, json=body, headers={**h, "Idempotency-Key": "k" * 121})
    assert too_long.status_code == 422
    assert _figures(db, small_survey.id) == (1, 1, 0, 0)

    # One item, run once: each customer invited and e-mailed once.
    assert queue.WorkRunner(session_factory).run_once() == 1
    assert queue.WorkRunner(session_factory).run_once() == 0
    assert _figures(db, small_survey.id) == (1, 1, 3, 3)

    # A retry after the work (and after the survey was closed) still gets the first answer,
    # now done with its links; nothing is queued again.
    db.execute(update(Survey).where(Survey.id == small_survey.id).values(status="closed"))
    db.commit()
    late = client.post(url, json=body, headers=h)
    assert late.status_code == 202, late.text
    assert late.json()["id"] == first.json()["id"] and late.json()["status"] == "done"
    assert len(late.json()["links"]) == 3
    assert _figures(db, small_survey.id) == (1, 1, 3, 3)


def test_without_a_key_each_request_is_a_new_distribution(
    app, client, db, users, tokens, small_survey
):
    _no_work_in_web(app)
    people = _people(db, 2)
    db.commit()
    url = f"/api/v1/surveys/{small_survey.id}/distributions"
    body = {"segment": {"kind": "customers", "customer_ids": [c.id for c in people]}}
    ids = {client.post(url, json=body, headers=tokens["manager"]).json()["id"] for _ in range(2)}
    assert len(ids) == 2
    assert _figures(db, small_survey.id)[:2] == (2, 2)


def test_service_refuses_a_key_that_is_not_printable(db, users, small_survey):
    from retento.core.errors import InvalidInput
    from retento.surveys.schemas import DistributionCreate

    with pytest.raises(InvalidInput) as exc:
        distributions.start_distribution(
            db,
            small_survey.id,
            DistributionCreate(),
            actor=users["manager"],
            idempotency_key="a\nb",
        )
    assert exc.value.field == "Idempotency-Key"
    dist = distributions.start_distribution(
        db, small_survey.id, DistributionCreate(), actor=users["manager"], idempotency_key="  "
    )
    assert dist.idempotency_key is None  # blank: no key


def test_distribute_form_sent_twice_records_one_distribution(app, client, db, users, small_survey):
    _no_work_in_web(app)
    web = Browser(client)
    assert web.login("manager").status_code == 303
    page_url = f"/surveys/{small_survey.id}/distribute"
    key = KEY_FIELD.search(web.get(page_url).text).group(1)
    assert len(key) == 32
    form = {"distribution_key": key, "name": "Everyone", "channel": "online", "segment_kind": "all"}

    first = web.post(page_url, form)
    assert first.status_code == 303, first.text
    second = web.post(page_url, form)  # a double click, or the page sent again
    assert second.status_code == 303
    assert second.headers["location"] == first.headers["location"]
    assert _figures(db, small_survey.id)[:2] == (1, 1)
    shown = web.get(second.headers["location"]).text
    assert "This form was already sent: here is its distribution." in shown

    # The same page sent back with other choices (the Back button): refused, with a new key.
    changed = web.post(page_url, {**form, "name": "Someone else"})
    assert changed.status_code == 422
    assert "This form was already sent with other choices." in changed.text
    fresh = KEY_FIELD.search(changed.text).group(1)
    assert fresh and fresh != key
    assert _figures(db, small_survey.id)[:2] == (1, 1)
    resent = web.post(page_url, {**form, "name": "Someone else", "distribution_key": fresh})
    assert resent.status_code == 303
    assert _figures(db, small_survey.id)[:2] == (2, 2)

    # A form that comes back with an error keeps its key (nothing was saved under it).
    new_key = KEY_FIELD.search(web.get(page_url).text).group(1)
    assert new_key not in (key, fresh)
    bad = web.post(page_url, {**form, "segment_kind": "tag", "distribution_key": new_key})
    assert bad.status_code == 422
    assert KEY_FIELD.search(bad.text).group(1) == new_key
    fixed = web.post(
        page_url, {**form, "segment_kind": "tag", "tag": "vip", "distribution_key": new_key}
    )
    assert fixed.status_code == 303
    assert _figures(db, small_survey.id)[:2] == (3, 3)


def test_distribute_form_messages_in_chinese(app, client, db, users, small_survey):
    _no_work_in_web(app)
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    page_url = f"/surveys/{small_survey.id}/distribute"
    key = KEY_FIELD.search(web.get(page_url).text).group(1)
    form = {"distribution_key": key, "channel": "online", "segment_kind": "all"}
    assert web.post(page_url, form).status_code == 303
    again = web.post(page_url, form)
    assert "此表单已提交过" in web.get(again.headers["location"]).text
    changed = web.post(page_url, {**form, "name": "x"})
    assert changed.status_code == 422 and "此表单已按其他选项提交过" in changed.text


# --- PostgreSQL races (real commits, threads released together) ------------------------------


def _live_survey(live_pg, n_people: int = 5, n_tokens: int = 6):
    with live_pg.session() as s:
        manager = make_user(s, username="manager", role="manager")
        survey = service.create_survey(s, small_survey_data(), actor=manager)
        service.update_survey(s, survey.id, SurveyUpdate(status="active"), actor=manager)
        people = _people(s, n_people)
        headers = bearer_headers(s, manager, n_tokens)
        s.commit()
        return survey.id, [c.id for c in people], headers


def test_parallel_identical_posts_with_one_key_record_one_distribution(live_pg):
    """Six identical POSTs at once with one key: one distribution, one work item, everybody
    invited and e-mailed once, and every response names that distribution (no 500)."""
    n = 6
    survey_id, people, headers = _live_survey(live_pg, n_tokens=n)
    url = f"/api/v1/surveys/{survey_id}/distributions"
    body = {"name": "Race", "segment": {"kind": "customers", "customer_ids": people}}

    def post(i: int):
        with live_pg.client() as client:  # runs the item after the response (run_work_in_web)
            r = client.post(url, json=body, headers={**headers[i], "Idempotency-Key": "race-1"})
            return r.status_code, r.json().get("id")

    results = run_parallel(n, post)
    assert statuses([code for code, _ in results]) == {202: n}, results
    ids = {dist_id for _, dist_id in results}
    assert len(ids) == 1
    with live_pg.session() as s:
        assert _figures(s, survey_id) == (1, 1, len(people), len(people))
        (dist,) = s.scalars(
            select(SurveyDistribution).where(SurveyDistribution.survey_id == survey_id)
        )
        assert dist.id in ids and dist.status == "done" and dist.invited == len(people)


def test_double_clicked_distribute_form_records_one_distribution(live_pg):
    survey_id, people, _ = _live_survey(live_pg, n_tokens=0)
    web = Browser(live_pg.client())
    assert web.login("manager").status_code == 303
    page_url = f"/surveys/{survey_id}/distribute"
    key = KEY_FIELD.search(web.get(page_url).text).group(1)
    form = {"distribution_key": key, "channel": "online", "segment_kind": "all"}
    n = 6
    results = run_parallel(n, lambda i: web.post(page_url, form))
    assert statuses([r.status_code for r in results]) == {303: n}
    assert len({r.headers["location"] for r in results}) == 1
    with live_pg.session() as s:
        assert _figures(s, survey_id) == (1, 1, len(people), len(people))


def test_two_distributions_of_one_survey_at_once_invite_each_customer_once(live_pg, monkeypatch):
    """Two different distributions (no key) of the same customers, run by two workers at once:
    each read "no open invitation yet" before the other committed, so everybody was invited
    and e-mailed twice. The survey's row lock makes the second run wait and skip them."""
    survey_id, people, headers = _live_survey(live_pg, n_people=20, n_tokens=2)
    url = f"/api/v1/surveys/{survey_id}/distributions"
    body = {"segment": {"kind": "customers", "customer_ids": people}}
    with live_pg.client() as client:
        live_pg.app.state.settings = live_pg.app.state.settings.model_copy(
            update={"run_work_in_web": False}
        )
        for h in headers:
            assert client.post(url, json=body, headers=h).status_code == 202
    barrier = threading.Barrier(2, timeout=30)
    real = distributions.execute_distribution

    def both_at_once(*args, **kwargs):
        barrier.wait()  # both runs are inside the work before either locks anything
        return real(*args, **kwargs)

    monkeypatch.setattr(distributions, "execute_distribution", both_at_once)
    runners = [queue.WorkRunner(live_pg.session_factory) for _ in range(2)]
    assert run_parallel(2, lambda i: runners[i].run_once()) == [1, 1]
    with live_pg.session() as s:
        assert _figures(s, survey_id) == (2, 2, len(people), len(people))
        invited = sorted(
            s.scalars(
                select(SurveyDistribution.invited).where(SurveyDistribution.survey_id == survey_id)
            )
        )
        assert invited == [0, len(people)]
        per_customer = s.execute(
            select(SurveyInvitation.customer_id, func.count())
            .where(SurveyInvitation.survey_id == survey_id)
            .group_by(SurveyInvitation.customer_id)
        ).all()
        assert {n for _, n in per_customer} == {1}


def test_a_run_waits_for_another_run_of_the_survey_longer_than_the_lock_timeout(live_pg):
    """A second run of one survey waits for the first however long it takes: failing it after
    the request lock timeout would fail a distribution that only had to wait its turn. The
    timeout is back in force once the survey's lock is held."""
    from sqlalchemy import text

    from retento.core.db import make_engine, make_session_factory
    from retento.core.locking import lock_row

    survey_id, people, headers = _live_survey(live_pg, n_tokens=1)
    live_pg.app.state.settings = live_pg.app.state.settings.model_copy(
        update={"run_work_in_web": False}
    )
    with live_pg.client() as client:
        r = client.post(
            f"/api/v1/surveys/{survey_id}/distributions",
            json={"segment": {"kind": "customers", "customer_ids": people}},
            headers=headers[0],
        )
        assert r.status_code == 202
    engine = make_engine(live_pg.url, lock_timeout_ms=200)
    try:
        factory = make_session_factory(engine)
        with factory() as s:
            assert distributions._lock_survey(s, survey_id).id == survey_id
            assert s.scalar(text("SHOW lock_timeout")) == "200ms"
            s.rollback()
        holder = live_pg.session()  # another run of the survey, committing after a second
        lock_row(holder, Survey, survey_id)
        release = threading.Timer(1.0, holder.commit)
        release.start()
        try:
            assert queue.WorkRunner(factory).run_once() == 1
        finally:
            release.join()
            holder.close()
    finally:
        engine.dispose()
    with live_pg.session() as s:
        dist = s.get(SurveyDistribution, r.json()["id"])
        assert (dist.status, dist.invited) == ("done", len(people))
        assert _figures(s, survey_id) == (1, 1, len(people), len(people))
