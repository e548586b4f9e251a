"""Birthday points: the daily job awards the ``birthday`` event rules to the members whose
birthday it is (29 February birthdays on 28 February in common years), once per member and
year however often it runs — in parallel too (PostgreSQL, threads released by a barrier) — and
only while the programme is active."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.db import make_engine, make_session_factory, transaction, utcnow
from retento.core.migrate import upgrade
from retento.customers.models import Customer
from retento.jobs import Scheduler, load_jobs
from retento.loyalty import events, ledger, service
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal, LoyaltyRule
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme

DAY = date(2026, 6, 15)


def _setup(db, points: int = 100, **programme) -> None:
    make_programme(db, **programme)
    db.add(
        LoyaltyRule(name="Birthday", kind="event", event="birthday", fixed_points=points, rate=0)
    )
    db.flush()


def _member(db, actor, born: date | None, **over):
    c = make_customer(db, birth_date=born, **over)
    service.adjust(db, c.id, 10, actor=actor, reason="welcome")
    return c


def _birthday_journals(db, customer_id=None) -> int:
    stmt = (
        select(func.count())
        .select_from(LoyaltyJournal)
        .where(LoyaltyJournal.source_type == "birthday")
    )
    if customer_id is not None:
        stmt = stmt.where(LoyaltyJournal.customer_id == customer_id)
    return db.scalar(stmt)


@pytest.mark.parametrize(
    ("born", "day", "celebrates"),
    [
        (date(1990, 6, 15), date(2026, 6, 15), True),
        (date(1990, 6, 15), date(2026, 6, 14), False),
        (date(2000, 2, 29), date(2027, 2, 28), True),  # common year: on the 28th
        (date(2000, 2, 29), date(2027, 3, 1), False),
        (date(2000, 2, 29), date(2028, 2, 28), False),  # leap year: on the 29th
        (date(2000, 2, 29), date(2028, 2, 29), True),
        (date(2000, 2, 29), date(2100, 2, 28), True),  # 2100 is no leap year
        (date(2000, 2, 29), date(2000, 2, 29), True),
        (date(2000, 2, 28), date(2027, 2, 28), True),
        (date(2000, 2, 28), date(2028, 2, 28), True),
        (date(2026, 7, 1), date(2026, 7, 1), True),
        (date(2027, 6, 15), date(2026, 6, 15), False),  # not born yet
    ],
)
def test_the_leap_day_rule(born, day, celebrates):
    assert events.is_birthday(born, day) is celebrates


def test_running_twice_posts_once_and_next_year_again(db, users):
    _setup(db)
    manager = users["manager"]
    c = _member(db, manager, date(1990, 6, 15))
    other = _member(db, manager, date(1990, 6, 16))
    _member(db, manager, None)
    first = events.award_birthdays(db, DAY)
    assert (first.members, first.awarded, first.already) == (1, 1, 0)
    again = events.award_birthdays(db, DAY)
    assert (again.members, again.awarded, again.already) == (1, 0, 1)
    assert _birthday_journals(db) == 1 and _birthday_journals(db, c.id) == 1
    assert ledger.get_wallet(db, c.id).balance == 110
    assert ledger.get_wallet(db, other.id).balance == 10
    j = db.scalar(select(LoyaltyJournal).where(LoyaltyJournal.source_type == "birthday"))
    assert (j.kind, j.source_id, j.reason) == ("event", f"2026-{c.id}", "Birthday 2026")
    assert j.idem_key == f"birthday:2026-{c.id}:birthday"
    nxt = events.award_birthdays(db, DAY.replace(year=2027))
    assert nxt.awarded == 1 and _birthday_journals(db, c.id) == 2
    assert check_ledger(db).ok


def test_leap_day_members_on_the_28th_of_a_common_year(db, users):
    _setup(db)
    manager = users["manager"]
    leap = _member(db, manager, date(2000, 2, 29))
    eve = _member(db, manager, date(2001, 2, 28))
    run = events.award_birthdays(db, date(2027, 2, 28))
    assert run.awarded == 2
    assert events.award_birthdays(db, date(2027, 3, 1)).members == 0
    # In a leap year each on their own day.
    assert events.award_birthdays(db, date(2028, 2, 28)).members == 1
    assert _birthday_journals(db, eve.id) == 2 and _birthday_journals(db, leap.id) == 1
    assert events.award_birthdays(db, date(2028, 2, 29)).awarded == 1
    assert _birthday_journals(db, leap.id) == 2


def test_members_of_live_customers_earn_dormant_ones_too(db, users):
    """A dormant member gets birthday points as well: a reason to come back. An organisation
    stored with a date of birth (before they were refused) gets none."""
    _setup(db, active_days=90)
    manager = users["manager"]
    active = _member(db, manager, date(1990, 6, 15))
    dormant = _member(db, manager, date(1991, 6, 15))
    ledger.get_wallet(db, dormant.id).last_activity_at = utcnow() - timedelta(days=400)
    archived = _member(db, manager, date(1992, 6, 15), archived_at=utcnow())
    erased = _member(db, manager, date(1993, 6, 15), erased_at=utcnow())
    make_customer(db, birth_date=date(1994, 6, 15))  # not a member
    org = _member(db, manager, date(1995, 6, 15), party_type="organisation", kind="business")
    db.flush()
    run = events.award_birthdays(db, DAY)
    assert (run.members, run.awarded) == (2, 2)
    assert _birthday_journals(db, active.id) == _birthday_journals(db, dormant.id) == 1
    for c in (archived, erased, org):
        assert _birthday_journals(db, c.id) == 0


def test_the_day_is_read_from_the_birthday_index(db):
    """Migration 0050: each query of the job (two on 28 February of a common year) reads
    ``ix_customers_birthday`` instead of every customer. On a table of a few rows PostgreSQL
    would rather scan it, so it is told not to; with 1,000,000 customers it picks the index
    itself (the plans are in migration 0050's docstring)."""
    conn = db.connection()
    sent = []

    def keep(_conn, _cursor, statement, parameters, _context, _many):
        sent.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", keep)
    try:
        events._celebrating(db, date(2027, 2, 28))
    finally:
        event.remove(conn, "before_cursor_execute", keep)
    assert len(sent) == 2
    pg = conn.dialect.name == "postgresql"
    if pg:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    for statement, parameters in sent:
        explain = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
        rows = conn.exec_driver_sql(explain + statement, parameters)
        plan = "\n".join(str(r[-1]) for r in rows)
        assert "ix_customers_birthday" in plan, plan


def test_nothing_while_the_programme_is_off_or_without_a_birthday_rule(db, users):
    _setup(db)
    c = _member(db, users["manager"], date(1990, 6, 15))
    ledger.programme(db).active = False
    db.flush()
    assert events.award_birthdays(db, DAY).awarded == 0
    ledger.programme(db).active = True
    rule = db.scalar(select(LoyaltyRule).where(LoyaltyRule.event == "birthday"))
    rule.active = False
    db.flush()
    assert events.award_birthdays(db, DAY).awarded == 0
    assert _birthday_journals(db, c.id) == 0
    rule.active = True
    db.flush()
    assert events.award_birthdays(db, DAY).awarded == 1


def test_the_api_with_the_job_s_source_id_is_the_same_award(db, users, client, tokens):
    """``POST /loyalty/events`` with the job's source id is the same award (no second one)."""
    _setup(db)
    c = _member(db, users["manager"], date(1990, 6, 15))
    db.commit()
    events.award_birthdays(db, DAY)
    db.commit()
    r = client.post(
        "/api/v1/loyalty/events",
        json={"customer_id": c.id, "event": "birthday", "source_id": f"2026-{c.id}"},
        headers=tokens["manager"],
    )
    assert r.status_code == 201, r.text
    assert _birthday_journals(db, c.id) == 1


def test_the_job_is_registered_and_awards_today(db, users, monkeypatch):
    job = load_jobs()["loyalty_birthdays"]
    assert job.every_seconds <= 3600 and job.label == "Award birthday points"
    _setup(db)
    c = _member(db, users["manager"], _born_today(events.local_today(), 1990))
    assert job.func(db) == 1
    assert job.func(db) == 0
    assert _birthday_journals(db, c.id) == 1


def test_today_is_the_installation_s_day(monkeypatch):
    # 23:30 UTC on 14 June is already 15 June in Shanghai.
    late = datetime.fromisoformat("2026-06-14T23:30:00+00:00")
    monkeypatch.setenv("RETENTO_TIMEZONE", "Asia/Shanghai")
    get_settings.cache_clear()
    try:
        assert events.local_today(late) == date(2026, 6, 15)
    finally:
        monkeypatch.delenv("RETENTO_TIMEZONE")
        get_settings.cache_clear()
    assert events.local_today(late) == date(2026, 6, 14)


def test_cli_awards_a_given_day_once(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as s:
            _setup(s)
            admin = make_user(s, role="admin")
            c = _member(s, admin, date(1990, 6, 15))
            cid = c.id
        runner = CliRunner()
        r = runner.invoke(app, ["loyalty", "birthdays", "--date", "2026-06-15"])
        assert r.exit_code == 0, r.output
        assert "1 awarded birthday points, 0 had them already" in " ".join(r.output.split())
        r = runner.invoke(app, ["loyalty", "birthdays", "--date", "2026-06-15"])
        assert "0 awarded birthday points, 1 had them already" in " ".join(r.output.split())
        bad = runner.invoke(app, ["loyalty", "birthdays", "--date", "15/06/2026"])
        assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
        with transaction(make_session_factory(engine)) as s:
            assert ledger.get_wallet(s, cid).balance == 110
    finally:
        engine.dispose()
        get_settings.cache_clear()


# --- PostgreSQL: parallel runs ------------------------------------------------------------------


def _pg_members(live_pg, n: int) -> list[int]:
    with live_pg.session() as s:
        _setup(s)
        manager = make_user(s, role="manager")
        ids = [_member(s, manager, date(1980 + i, 6, 15)).id for i in range(n)]
        s.commit()
        return ids


def test_parallel_runs_post_one_award_per_member(live_pg):
    ids = _pg_members(live_pg, 5)

    def run(i: int):
        with live_pg.session() as s:
            r = events.award_birthdays(s, DAY)
            s.commit()
            return r.awarded, r.already

    results = run_parallel(4, run)
    assert all(isinstance(r, tuple) for r in results), results
    assert sum(a for a, _ in results) == 5 and sum(b for _, b in results) == 15
    with live_pg.session() as s:
        for cid in ids:
            assert _birthday_journals(s, cid) == 1
            assert ledger.get_wallet(s, cid).balance == 110
        assert check_ledger(s).ok


def _born_today(today: date, year: int) -> date:
    return today.replace(year=year) if (today.month, today.day) != (2, 29) else date(1992, 2, 29)


def test_two_schedulers_run_the_job_once(live_pg):
    """Two processes' schedulers on one tick: the lease lets one of them run it."""
    ids = _pg_members(live_pg, 2)
    jobs = {"loyalty_birthdays": load_jobs()["loyalty_birthdays"]}
    today = events.local_today()
    with live_pg.session() as s:
        for i, cid in enumerate(ids):
            s.get(Customer, cid).birth_date = _born_today(today, 1990 + 4 * i)
        s.commit()
    schedulers = [
        Scheduler(live_pg.session_factory, jobs=jobs, holder=f"proc-{i}") for i in range(2)
    ]
    ran = run_parallel(2, lambda i: schedulers[i].run_due())
    assert sorted(len(r) for r in ran) == [0, 1], ran
    with live_pg.session() as s:
        for cid in ids:
            assert _birthday_journals(s, cid) == 1
