"""A scoring run started on the web page with RETENTO_RUN_WORK_IN_WEB=false waits in the queue,
runs in a worker, and its progress and end are shown by a web process that did not run it."""

from __future__ import annotations

import threading
import time

from retento.scoring import jobs as scoring_jobs
from retento.scoring import service
from retento.scoring.models import ScoreRun
from retento.work import queue
from retento.work.models import WorkItem
from tests.factories import make_user
from tests.scoring.conftest import AS_OF, insert_population
from tests.web.conftest import Browser


def test_a_web_started_run_is_run_by_the_worker_with_progress_in_the_row(live_pg, monkeypatch):
    with live_pg.session() as s:
        make_user(s, username="manager", role="manager")
        insert_population(s)
        s.commit()
    app = live_pg.app
    app.state.settings = app.state.settings.model_copy(update={"run_work_in_web": False})
    gate, paused = threading.Event(), threading.Event()
    real_store = service._store

    def slow_store(session, run_id, scores, progress):  # hold the run at "store"
        progress("store", 0.75)
        paused.set()
        assert gate.wait(30)
        return real_store(session, run_id, scores, progress)

    monkeypatch.setattr(service, "_store", slow_store)
    monkeypatch.setattr(queue, "PROGRESS_EVERY", 0.0)
    with live_pg.client() as client:
        web = Browser(client)
        assert web.login("manager").status_code == 303
        r = web.post("/value/runs", {"model": "bgnbd", "as_of": AS_OF.date().isoformat()})
        assert r.status_code == 303
        with live_pg.session() as s:
            run = s.query(ScoreRun).one()
            item = queue.item_for_ref(s, scoring_jobs.work_ref(run.id))
            assert (run.status, item.status, item.claimed_by) == ("running", "queued", None)
        time.sleep(0.3)  # the web process did not run it
        poll = web.get(f"/value/runs/{run.id}/progress", headers={"HX-Request": "true"})
        assert "Waiting to start" in poll.text and 'value="0"' in poll.text

        runner = queue.WorkRunner(live_pg.session_factory)
        worker = threading.Thread(target=runner.run_once)
        worker.start()
        assert paused.wait(60)
        # This web process runs nothing: what it shows comes from the item's row.
        service.LIVE_PROGRESS.pop(run.id, None)
        queue.LOCAL.pop(item.id, None)
        poll = web.get(f"/value/runs/{run.id}/progress", headers={"HX-Request": "true"})
        assert "Storing the scores" in poll.text and 'value="75"' in poll.text
        api = client.get(f"/api/v1/work/{item.id}").json()
        assert api["status"] == "running" and api["stage"] == "store"
        gate.set()
        worker.join(60)
        done = web.get(f"/value/runs/{run.id}/progress", headers={"HX-Request": "true"})
        assert done.headers["HX-Redirect"] == f"/value?run={run.id}"
    with live_pg.session() as s:
        assert s.get(ScoreRun, run.id).status == "succeeded"
        stored = s.get(WorkItem, item.id)
        assert stored.status == "done" and stored.claimed_by == runner.holder
        assert stored.result["status"] == "succeeded" and stored.result["customers"] > 0


def test_the_nightly_job_queues_the_run_for_the_worker(db, users, session_factory):
    from retento.core.db import transaction

    insert_population(db)
    db.commit()
    with transaction(session_factory) as s:
        run_id = scoring_jobs.nightly_scoring(s)
    assert run_id is not None
    with session_factory() as s:
        assert s.get(ScoreRun, run_id).status == "running"
        item = queue.item_for_ref(s, scoring_jobs.work_ref(run_id))
        assert item.status == "queued" and item.created_by_id is None
    with transaction(session_factory) as s:  # the next tick: a run is already in progress
        assert scoring_jobs.nightly_scoring(s) is None
    assert queue.run_in_web(session_factory, item.id) == "done"
    with session_factory() as s:
        assert s.get(ScoreRun, run_id).status == "succeeded"
    with transaction(session_factory) as s:  # scored less than 20 hours ago: nothing to do
        assert scoring_jobs.nightly_scoring(s) is None
