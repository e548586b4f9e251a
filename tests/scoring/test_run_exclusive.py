"""At most one scoring run in progress, also when starts arrive together. ``start_run`` read the
runs in progress and then inserted its own: four parallel ``POST /api/v1/scoring/runs`` on
PostgreSQL all started full runs. Now an advisory lock refuses a start while another
transaction is starting one (or running one it has not committed), and a partial unique index
(migration 0055) refuses a second "running" row on every backend."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from retento.core.errors import Conflict
from retento.core.migrate import upgrade
from retento.scoring import service
from retento.scoring.models import ScoreRun
from retento.scoring.schemas import ScoreRunCreate
from tests.scoring.conftest import insert_population


def _running(session) -> int:
    return session.scalar(
        select(func.count()).select_from(ScoreRun).where(ScoreRun.status == "running")
    )


@pytest.mark.parametrize("threads", [4])
def test_parallel_starts_start_one_run_on_postgresql(live_pg, threads):
    with live_pg.session() as s:
        insert_population(s, n_customers=12)
        s.commit()
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []
    lock = threading.Lock()

    def start() -> None:
        with live_pg.session() as s:
            barrier.wait()
            try:
                service.start_run(s, ScoreRunCreate(), actor=None)
                s.commit()
                got = "started"
            except Conflict as exc:
                s.rollback()
                assert "in progress" in str(exc.message)
                got = "refused"
        with lock:
            outcomes.append(got)

    workers = [threading.Thread(target=start) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert sorted(outcomes) == ["refused"] * (threads - 1) + ["started"]
    with live_pg.session() as s:
        assert _running(s) == 1
        assert s.scalar(select(func.count()).select_from(ScoreRun)) == 1


def test_a_run_not_yet_committed_refuses_a_second_start_at_once(live_pg):
    """The API's ``wait=true`` and the CLI score inside the transaction that recorded the run:
    another start is refused at once, not left waiting behind it for the whole run."""
    with live_pg.session() as s:
        insert_population(s, n_customers=12)
        s.commit()
    first = live_pg.session()
    try:
        service.start_run(first, ScoreRunCreate(), actor=None)  # not committed: still scoring
        with live_pg.session() as s:
            s.execute(text("SET lock_timeout = '2s'"))
            started = datetime.now(UTC)
            with pytest.raises(Conflict) as exc:
                service.start_run(s, ScoreRunCreate(), actor=None)
            assert datetime.now(UTC) - started < timedelta(seconds=1)
            assert str(exc.value.message) == (
                "Another scoring run is in progress; wait for it to finish."
            )
        first.commit()
        with live_pg.session() as s:
            with pytest.raises(Conflict, match="still in progress"):
                service.start_run(s, ScoreRunCreate(), actor=None)
    finally:
        first.close()


def test_the_index_refuses_a_second_running_row_on_both_backends(db):
    now = datetime.now(UTC)
    db.add(ScoreRun(model="bgnbd", as_of=now, status="running", started_at=now))
    db.flush()
    with pytest.raises(Exception, match="(?i)unique"):
        with db.begin_nested():
            db.add(ScoreRun(model="bgnbd", as_of=now, status="running", started_at=now))
            db.flush()
    db.add(ScoreRun(model="bgnbd", as_of=now, status="succeeded", started_at=now))
    db.flush()  # finished runs are not limited
    assert _running(db) == 1


def test_a_stale_run_is_closed_and_a_new_one_starts(db, population):
    old = datetime.now(UTC) - timedelta(hours=7)
    db.add(ScoreRun(model="bgnbd", as_of=old, status="running", started_at=old))
    db.flush()
    run = service.start_run(db, ScoreRunCreate(), actor=None)
    assert run.status == "running" and _running(db) == 1
    stale = db.scalar(select(ScoreRun).where(ScoreRun.id != run.id))
    assert (stale.status, stale.error) == ("failed", "Interrupted.")


def test_migration_0055_keeps_the_newest_running_run(scratch_db_url):
    upgrade(scratch_db_url, "0054")
    eng = create_engine(scratch_db_url)
    with eng.begin() as conn:
        for n in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO score_runs (id, model, status, as_of, started_at, "
                    "triggered_by, customers_scored) VALUES (:id, 'bgnbd', :status, "
                    ":at, :at, 'system', 0)"
                ),
                {
                    "id": n,
                    "status": "running" if n < 3 else "succeeded",
                    "at": datetime(2026, 1, n),
                },
            )
    eng.dispose()
    upgrade(scratch_db_url, "0055")
    eng = create_engine(scratch_db_url)
    with eng.begin() as conn:
        rows = conn.execute(text("SELECT id, status, error FROM score_runs ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [
            (1, "failed", "Interrupted."),
            (2, "running", None),
            (3, "succeeded", None),
        ]
        assert (
            conn.execute(text("SELECT finished_at FROM score_runs WHERE id = 1")).scalar()
            is not None
        )
    eng.dispose()
