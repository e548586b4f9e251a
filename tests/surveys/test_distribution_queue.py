"""Survey distributions run in the worker (issue 15): the request checks and queues, a worker
creates the invitations and e-mails once (a retried or raced item sends nothing twice), and the
page and API show the progress, then the links."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from retento.core.db import transaction, utcnow
from retento.mail.models import OutboxMessage
from retento.surveys import distribution_jobs, distributions
from retento.surveys.models import SurveyDistribution, SurveyInvitation
from retento.surveys.schemas import DistributionCreate, SegmentIn
from retento.work import queue
from retento.work.models import WorkItem
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.surveys.conftest import small_survey_data
from tests.web.conftest import Browser


def _people(db, n=3):
    return [
        make_customer(db, name=f"P{i}", email=f"p{i}@example.com", consent_email=True)
        for i in range(n)
    ]


def _counts(session, dist_id: int) -> tuple[int, int]:
    """(invitations, invitation e-mails in the outbox) of one distribution."""
    invitations = session.scalar(
        select(func.count()).where(SurveyInvitation.distribution_id == dist_id)
    )
    emails = session.scalar(
        select(func.count()).where(
            OutboxMessage.kind == "survey_invitation",
            OutboxMessage.related_id.in_(
                select(SurveyInvitation.id).where(SurveyInvitation.distribution_id == dist_id)
            ),
        )
    )
    return invitations, emails


def _no_work_in_web(app):
    app.state.settings = app.state.settings.model_copy(update={"run_work_in_web": False})


def test_the_request_queues_and_the_worker_invites_with_progress_shown(
    app, client, db, users, tokens, small_survey, session_factory
):
    _no_work_in_web(app)
    people = _people(db)
    db.commit()
    h = tokens["manager"]
    url = f"/api/v1/surveys/{small_survey.id}/distributions"
    body = {"segment": {"kind": "customers", "customer_ids": [c.id for c in people]}}

    # Bad input: 422 naming the field, nothing written, nothing queued.
    bad = client.post(
        url, json={"segment": {"kind": "customers", "customer_ids": [10**8]}}, headers=h
    )
    assert bad.status_code == 422 and bad.json()["field"] == "segment.customer_ids"
    assert db.scalar(select(func.count()).select_from(SurveyDistribution)) == 0
    assert db.scalar(select(func.count()).select_from(WorkItem)) == 0

    r = client.post(url, json=body, headers=h)
    assert r.status_code == 202, r.text
    queued = r.json()
    # The response came before the work: nobody invited or e-mailed yet.
    assert (queued["status"], queued["invited"], queued["links"]) == ("queued", 0, None)
    assert r.headers["Location"] == queued["url"] == f"/api/v1/survey-distributions/{queued['id']}"
    assert _counts(db, queued["id"]) == (0, 0)
    polled = client.get(queued["url"], headers=h).json()
    assert (polled["status"], polled["stage"], polled["progress"]) == ("queued", "queued", 0.0)

    web = Browser(client)
    web.login("manager")
    page = web.get(f"/surveys/{small_survey.id}/distributions/{queued['id']}")
    assert 'id="distribution-progress"' in page.text and "Waiting to start" in page.text
    assert 'id="links-table"' not in page.text
    listing = web.get(f"/surveys/{small_survey.id}/distribute").text
    assert "Being created" in listing
    progress_url = f"/surveys/{small_survey.id}/distributions/{queued['id']}/progress"
    assert 'value="0"' in web.get(progress_url, headers={"HX-Request": "true"}).text
    assert (
        web.get(f"/surveys/{small_survey.id}/distributions/{queued['id']}/links.csv").status_code
        == 409
    )

    assert queue.WorkRunner(session_factory).run_once() == 1
    done = web.get(progress_url, headers={"HX-Request": "true"})
    assert done.headers["HX-Redirect"] == f"/surveys/{small_survey.id}/distributions/{queued['id']}"
    page = web.get(done.headers["HX-Redirect"]).text
    assert 'id="links-table"' in page and "3 customers were invited." in page
    final = client.get(queued["url"], headers=h).json()
    assert (final["status"], final["invited"], final["progress"]) == ("done", 3, 1.0)
    assert sorted(link["customer_id"] for link in final["links"]) == sorted(c.id for c in people)
    assert final["emails_queued"] == 3
    assert _counts(db, queued["id"]) == (3, 3)
    # An analyst reads the distribution's status but never its links (survey:manage saw them).
    as_analyst = client.get(queued["url"], headers=tokens["analyst"]).json()
    assert as_analyst["status"] == "done" and as_analyst["links"] is None
    web.login("analyst")
    assert web.get(done.headers["HX-Redirect"]).status_code == 403
    assert web.get(progress_url, headers={"HX-Request": "true"}).status_code == 403


def test_a_survey_closed_while_queued_fails_the_distribution_without_inviting(
    app, client, db, users, tokens, small_survey, session_factory
):
    from retento.surveys.models import Survey

    _no_work_in_web(app)
    people = _people(db, 2)
    db.commit()
    r = client.post(
        f"/api/v1/surveys/{small_survey.id}/distributions",
        json={"segment": {"kind": "customers", "customer_ids": [c.id for c in people]}},
        headers=tokens["manager"],
    )
    db.execute(update(Survey).where(Survey.id == small_survey.id).values(status="closed"))
    db.commit()
    queue.WorkRunner(session_factory).run_once()
    body = client.get(r.json()["url"], headers=tokens["manager"]).json()
    assert body["status"] == "failed" and "closed" in body["error"]
    assert _counts(db, r.json()["id"]) == (0, 0)
    item = queue.item_for_ref(db, distribution_jobs.work_ref(r.json()["id"]))
    assert item.status == "failed"


def _start(db, survey, people, manager) -> tuple[int, int]:
    data = DistributionCreate(
        segment=SegmentIn(kind="customers", customer_ids=[c.id for c in people])
    )
    dist = distributions.start_distribution(db, survey.id, data, actor=manager)
    item_id = distribution_jobs.enqueue(db, dist, data, manager.id)
    db.commit()
    return dist.id, item_id


def _stale(factory, item_id: int) -> None:
    with transaction(factory) as s:
        s.execute(
            update(WorkItem)
            .where(WorkItem.id == item_id)
            .values(heartbeat_at=utcnow() - timedelta(minutes=10))
        )


def test_a_worker_killed_mid_run_or_after_its_commit_sends_nothing_twice(
    db, users, small_survey, session_factory
):
    people = _people(db, 4)
    db.commit()
    # 1. Killed inside its transaction: the database undid everything it wrote.
    dist_id, item_id = _start(db, small_survey, people, users["manager"])
    assert queue.claim_next(session_factory, "doomed-worker") == item_id
    s = session_factory()
    data = DistributionCreate(
        segment=SegmentIn(kind="customers", customer_ids=[c.id for c in people])
    )
    distributions.execute_distribution(s, dist_id, data, actor=None)
    assert _counts(s, dist_id) == (4, 4)
    s.rollback()  # the process died: its transaction never committed
    s.close()
    _stale(session_factory, item_id)
    assert queue.reap_stale(session_factory, stale_seconds=60, max_attempts=3) == [item_id]
    assert db.get(WorkItem, item_id).status == "queued"
    assert queue.WorkRunner(session_factory).run_once() == 1
    db.expire_all()
    assert _counts(db, dist_id) == (4, 4)
    assert db.get(WorkItem, item_id).attempts == 2

    # 2. Killed after committing the work, before marking its item done: re-run does nothing.
    other = _people(db, 2)
    db.commit()
    dist2, item2 = _start(db, small_survey, other, users["manager"])
    assert queue.claim_next(session_factory, "doomed-worker") == item2
    ctx = queue.WorkContext(session_factory, item2, db.get(WorkItem, item2).payload)
    assert distribution_jobs.run_queued(ctx)["ran"] is True
    _stale(session_factory, item2)
    assert queue.reap_stale(session_factory, stale_seconds=60, max_attempts=3) == [item2]
    assert queue.WorkRunner(session_factory).run_once() == 1
    db.expire_all()
    item = db.get(WorkItem, item2)
    assert item.status == "done" and item.result["ran"] is False and item.attempts == 2
    assert _counts(db, dist2) == (2, 2)


def test_two_workers_running_one_distribution_at_once_invite_once(live_pg, monkeypatch):
    from retento.surveys import service

    with live_pg.session() as s:
        manager = make_user(s, username="manager", role="manager")
        survey = service.create_survey(s, small_survey_data(), actor=manager)
        from retento.surveys.schemas import SurveyUpdate

        service.update_survey(s, survey.id, SurveyUpdate(status="active"), actor=manager)
        people = _people(s, 30)
        s.commit()
        dist_id, first = _start(s, survey, people, manager)
        # A second item for the same distribution (a retry racing a worker thought dead).
        data = DistributionCreate(
            segment=SegmentIn(kind="customers", customer_ids=[c.id for c in people])
        )
        second = distribution_jobs.enqueue(s, s.get(SurveyDistribution, dist_id), data, manager.id)
        s.commit()
    barrier = threading.Barrier(2, timeout=30)
    real = distributions.execute_distribution

    def both_at_once(*args, **kwargs):
        barrier.wait()  # both workers are inside the work before either takes the row lock
        return real(*args, **kwargs)

    monkeypatch.setattr(distributions, "execute_distribution", both_at_once)
    runners = [queue.WorkRunner(live_pg.session_factory) for _ in range(2)]
    ran = run_parallel(2, lambda i: runners[i].run_once())
    assert ran == [1, 1]
    with live_pg.session() as s:
        items = s.scalars(select(WorkItem).where(WorkItem.id.in_([first, second]))).all()
        assert {i.status for i in items} == {"done"}
        assert sorted(i.result["ran"] for i in items) == [False, True]
        assert {i.claimed_by for i in items} == {r.holder for r in runners}
        assert _counts(s, dist_id) == (30, 30)
        assert s.get(SurveyDistribution, dist_id).invited == 30


def test_progress_of_a_distribution_run_by_a_worker_shows_in_a_web_process(live_pg, monkeypatch):
    """The web process runs nothing: the page and Background work read the item's row."""
    from retento.surveys import service
    from retento.surveys.schemas import SurveyUpdate

    with live_pg.session() as s:
        make_user(s, username="admin", role="admin")
        manager = make_user(s, username="manager", role="manager")
        survey = service.create_survey(s, small_survey_data(), actor=manager)
        service.update_survey(s, survey.id, SurveyUpdate(status="active"), actor=manager)
        people = _people(s, 5)
        s.commit()
        dist_id, item_id = _start(s, survey, people, manager)
        survey_id = survey.id
    gate, paused = threading.Event(), threading.Event()
    real = distributions._queue_invitation_emails

    def held(*args, **kwargs):  # hold the worker at the "emails" stage
        paused.set()
        assert gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(distributions, "_queue_invitation_emails", held)
    monkeypatch.setattr(queue, "PROGRESS_EVERY", 0.0)
    runner = queue.WorkRunner(live_pg.session_factory)
    worker = threading.Thread(target=runner.run_once)
    worker.start()
    try:
        assert paused.wait(30)
        queue.LOCAL.pop(item_id, None)  # what this process shows comes from the row
        with live_pg.client() as client:
            web = Browser(client)
            web.login("admin")
            work = web.get("/admin/work").text
            assert "Survey distribution" in work and "Queueing the invitation emails" in work
            assert 'value="75"' in work
            page = web.get(f"/surveys/{survey_id}/distributions/{dist_id}").text
            assert 'id="distribution-progress"' in page and 'value="75"' in page
            assert "Queueing the invitation emails" in page
            gate.set()
            worker.join(30)
            page = web.get(f"/surveys/{survey_id}/distributions/{dist_id}").text
            assert 'id="links-table"' in page and "5 customers were invited." in page
    finally:
        gate.set()
        worker.join(30)
    with live_pg.session() as s:
        assert _counts(s, dist_id) == (5, 5)
