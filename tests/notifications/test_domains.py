"""Survey, scoring and import notifications: raised once, for the right people, per preference."""

from __future__ import annotations

from types import SimpleNamespace

from retento.core.db import utcnow
from retento.core.hooks import emit
from retento.dataio.notifications import import_failed, import_finished
from retento.notifications.service import save_preferences
from retento.scoring.jobs import execute_started_run
from retento.scoring.models import ScoreRun
from retento.scoring.schemas import ScoreRunCreate
from retento.surveys import responses as survey_responses
from retento.surveys import service as surveys
from retento.surveys.schemas import ResponseCreate, SurveyCreate, SurveyUpdate
from tests.factories import make_customer, make_user
from tests.notifications.helpers import got, outbox


def _survey(db, users):
    data = SurveyCreate(
        name="After the visit",
        sections=[
            {
                "code": "main",
                "title": "Main",
                "questions": [
                    {"code": "sat", "text": "Satisfied?", "qtype": "rating"},
                    {"code": "rec", "text": "Recommend?", "qtype": "nps"},
                ],
            }
        ],
    )
    s = surveys.create_survey(db, data, actor=users["admin"])
    surveys.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    return s


def _answer(db, users, s, **numbers):
    return survey_responses.record_response(
        db,
        s.id,
        ResponseCreate(
            customer_id=make_customer(db, name="Mia Wong").id,
            answers=[{"question": k, "number": v} for k, v in numbers.items()],
        ),
        actor=users["agent"],
    )


def test_detractor_tells_the_author_and_the_managers_once(db, users):
    s = _survey(db, users)
    second = make_user(db, role="manager", username="lead2")
    _answer(db, users, s, sat=4, rec=9)  # a promoter: nothing
    assert got(db, users["manager"]) == []
    r = _answer(db, users, s, sat=4, rec=3)
    for u in (users["manager"], second, users["admin"]):  # managers and the survey's author
        notes = got(db, u, "survey_low_answer")
        assert len(notes) == 1, u
        assert notes[0].message == "Low answer on After the visit: NPS 3/10"
        assert notes[0].link == f"/customers/{r.customer_id}"
    assert got(db, users["agent"]) == []  # who typed it in
    assert got(db, users["analyst"]) == []  # not the author, not a manager
    assert got(db, users["admin"])[0].delivery == "digest"  # the admins' default
    emit("survey.answered", db, response=r, actor=users["agent"])  # delivered again
    assert len(got(db, users["manager"], "survey_low_answer")) == 1


def test_low_rating_respects_off(db, users):
    s = _survey(db, users)
    save_preferences(db, {"survey_low_answer": "off"}, actor=users["manager"])
    _answer(db, users, s, sat=1, rec=8)
    assert got(db, users["manager"]) == []
    [n] = got(db, users["admin"], "survey_low_answer")
    assert n.params["answer"] == "1/5 (sat)"


def test_failed_scoring_run_tells_the_starter_analysts_and_admins(db, users, session_factory):
    run = ScoreRun(model="bgnbd", as_of=utcnow(), status="running", started_at=utcnow())
    db.add(run)
    users["analyst"].email = "ana@example.com"
    db.commit()
    # Fewer than 10 buyers: the run fails and the failure is recorded, then notified.
    execute_started_run(session_factory, run.id, ScoreRunCreate(), users["manager"].id)
    db.expire_all()
    assert db.get(ScoreRun, run.id).status == "failed"
    for u in (users["manager"], users["analyst"], users["admin"]):
        [n] = got(db, u, "scoring_failed")
        assert n.message.startswith(f"Scoring run #{run.id} failed: At least 10 customers")
    assert got(db, users["agent"]) == []
    # Analysts and admins default to "e-mail at once"; only the analyst has an address.
    assert [m.recipient for m in outbox(db, "notification")] == ["ana@example.com"]


def test_finished_scoring_run_defaults_and_once(db, users):
    run = ScoreRun(
        model="bgnbd", as_of=utcnow(), status="succeeded", started_at=utcnow(), customers_scored=42
    )
    db.add(run)
    db.flush()
    emit("scoring.run_finished", db, run=run, actor=None)
    emit("scoring.run_finished", db, run=run, actor=None)
    [n] = got(db, users["analyst"], "scoring_finished")
    assert n.message == f"Scoring run #{run.id} finished: 42 customers scored."
    assert got(db, users["admin"]) == []  # admins: off by default
    assert got(db, users["manager"]) == []  # did not start it


def test_import_outcomes_reach_the_uploader_once(db, users):
    job = SimpleNamespace(
        id=7, filename="orders.csv", rows=120, rejected=3, message=None, created_by_id=None
    )
    job.created_by_id = users["manager"].id
    emit("import.finished", db, job=job, actor=users["manager"])
    emit("import.finished", db, job=job, actor=users["manager"])
    [n] = got(db, users["manager"], "import_finished")
    assert n.message == "Import of orders.csv finished: 120 rows, 3 rejected."
    assert n.link == "/imports/7"
    failed = SimpleNamespace(
        id=8, filename="bad.xlsx", message="Row 4: price is not a number.", created_by_id=None
    )
    failed.created_by_id = users["manager"].id
    emit("import.failed", db, job=failed, actor=None)
    [f] = got(db, users["manager"], "import_failed")
    assert f.message == "Import of bad.xlsx failed: Row 4: price is not a number."
    # The functions behind the events, for other import paths.
    assert import_finished(db, users["admin"], key="cli-1", file_name="c.csv", rows=5) == 1
    assert import_finished(db, users["admin"], key="cli-1", file_name="c.csv", rows=5) == 0
    save_preferences(db, {"import_failed": "off"}, actor=users["admin"])
    assert import_failed(db, users["admin"], key="cli-2", file_name="c.csv", reason="x") == 0
    assert got(db, users["agent"]) == [] and got(db, users["analyst"]) == []


def test_the_browser_import_wizard_notifies_the_uploader(db, users):
    from retento.dataio import wizard

    csv = b"external_id,name,email\nW-1,Wizard One,w1@example.com\nW-2,Wizard Two,w2@example.com\n"
    job = wizard.create_job(db, "customers", "people.csv", csv, actor=users["manager"])
    assert wizard.claim(db, job, "validating")
    wizard.execute(db, job, users["manager"])
    assert job.status == "validated" and got(db, users["manager"]) == []  # a check is not news
    assert wizard.claim(db, job, "running")
    wizard.execute(db, job, users["manager"])
    assert job.status == "done"
    [n] = got(db, users["manager"], "import_finished")
    assert n.message == "Import of people.csv finished: 2 rows, 0 rejected."
    assert n.link == f"/imports/{job.id}"
    bad = wizard.create_job(
        db, "customers", "bad.csv", b"external_id,name\nW-3,\n", actor=users["manager"]
    )
    assert wizard.claim(db, bad, "validating")
    wizard.execute(db, bad, users["manager"])
    assert bad.status == "validated" and got(db, users["manager"], "import_failed") == []
    assert wizard.claim(db, bad, "running")  # all or nothing: the invalid row refuses the file
    wizard.execute(db, bad, users["manager"])
    assert bad.status == "failed"
    [f] = got(db, users["manager"], "import_failed")
    assert f.message.startswith("Import of bad.csv failed: ")
