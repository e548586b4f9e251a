"""Profiling consent: the value setting "Profiling needs the customer's consent" (off by default).

When on, a scoring run neither computes nor keeps scores of customers without
``consent_profiling`` (and deletes what earlier runs kept of them), the run counts them, and
the 360 page, scores API, at-risk list, churn-risk warnings, automated playbooks, segments by
score and Insights leave them out at once. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from retento.audit.models import AuditEntry
from retento.core.errors import InvalidInput
from retento.customers.models import Customer
from retento.retention import queries_web
from retento.retention.models import RetentionAlert, RetentionCase
from retento.retention.service import evaluate
from retento.scoring import consent, queries, service, value_settings
from retento.scoring.models import CustomerScore, ScoreRun
from retento.scoring.schemas import ScoreRunCreate
from retento.scoring.value_rules import DEFAULTS
from tests.factories import make_customer, make_order
from tests.retention.helpers import make_run
from tests.scoring.conftest import AS_OF, build_scored, insert_population
from tests.shared_world import (  # noqa: F401 (fixtures)
    World,
    make_users,
    session_factory_fixture,
    users_fixture,
)
from tests.web.conftest import Browser


def _run(db) -> ScoreRun:
    run = service.run_scoring(db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=0), actor=None)
    assert run.status == "succeeded", run.error
    return run


def _scored(db, run_id: int) -> set[int]:
    return set(db.scalars(select(CustomerScore.customer_id).where(CustomerScore.run_id == run_id)))


def _consent(db, ids, value: bool) -> None:
    db.execute(update(Customer).where(Customer.id.in_(ids)).values(consent_profiling=value))
    db.flush()


def _turn_on(db, users, on: bool = True) -> None:
    value_settings.update_settings(db, {"profiling_needs_consent": on}, actor=users["manager"])


@pytest.fixture(scope="module")
def world_population():
    """The users, the population (nobody gave consent) and one run over it with the setting
    off (as ``_run`` makes it), made once per module and backend; each test that takes
    ``first_run`` (or this) runs in a SAVEPOINT on it. Those tests are kept together at the end
    of the module, so that it is built once per backend."""
    with World.for_module(lambda s: build_scored(s, actor=None, holdout_weeks=0)) as world:
        yield world


@pytest.fixture
def first_run(world_population, db) -> ScoreRun:
    run = db.get(ScoreRun, world_population.data["run_id"])
    assert run.status == "succeeded", run.error
    return run


def test_setting_is_versioned_validated_and_audited(db, users):
    row = value_settings.update_settings(
        db, {"profiling_needs_consent": "yes"}, actor=users["manager"], version=1
    )
    assert row.profiling_needs_consent is True and row.version == 2
    with pytest.raises(InvalidInput) as bad:
        value_settings.update_settings(
            db, {"profiling_needs_consent": "maybe"}, actor=users["manager"]
        )
    assert bad.value.field == "profiling_needs_consent"
    entry = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "value_settings")
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry.before["profiling_needs_consent"] is False
    assert entry.after["profiling_needs_consent"] is True


def test_api_reads_and_changes_the_setting(client, tokens, db, users):
    r = client.get("/api/v1/value/settings", headers=tokens["analyst"])
    assert r.status_code == 200 and r.json()["profiling_needs_consent"] is False
    r = client.put(
        "/api/v1/value/settings",
        json={"profiling_needs_consent": True, "version": 1},
        headers=tokens["manager"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["profiling_needs_consent"] is True and r.json()["version"] == 2
    stale = client.put(
        "/api/v1/value/settings",
        json={"profiling_needs_consent": False, "version": 1},
        headers=tokens["manager"],
    )
    assert stale.status_code == 409
    agent = client.put(
        "/api/v1/value/settings", json={"profiling_needs_consent": False}, headers=tokens["agent"]
    )
    assert agent.status_code == 403


def _lapsed_buyer(db, name: str, *, consent_given: bool, now: datetime) -> Customer:
    customer = make_customer(db, name=name, consent_profiling=consent_given)
    for days in (240, 210, 180, 150, 120):  # every 30 days, then nothing for 120 days
        make_order(db, customer, ordered_at=now - timedelta(days=days))
    return customer


def test_retention_leaves_out_customers_without_consent(db, users):
    now = datetime.now(UTC)
    agreed = _lapsed_buyer(db, "Agreed", consent_given=True, now=now)
    refused = _lapsed_buyer(db, "Refused", consent_given=False, now=now)
    last = (now - timedelta(days=120)).date()
    run = make_run(
        db,
        {
            c.id: {"value_class": "vip", "churn_risk": 0.9, "clv": 500, "last_order_on": last}
            for c in (agreed, refused)
        },
    )
    filters = queries_web.AtRiskFilters()
    rows, total, _ = queries_web.at_risk(db, run.id, filters, actor=users["manager"])
    assert {r.customer_id for r in rows} == {agreed.id, refused.id}  # setting off: both
    _turn_on(db, users)
    rows, total, _ = queries_web.at_risk(db, run.id, filters, actor=users["manager"])
    assert [r.customer_id for r in rows] == [agreed.id] and total == 1

    report = evaluate(db, now=now)
    alerts = db.scalars(select(RetentionAlert)).all()
    by_customer = {(a.customer_id, a.rule): a for a in alerts}
    # The churn-risk warning comes from scores: only for the customer who agreed.
    assert (agreed.id, "churn_risk") in by_customer
    assert (refused.id, "churn_risk") not in by_customer
    # The lapse (rhythm) warning is not profiling: both get it, the refusing one as unscored.
    assert by_customer[(refused.id, "rhythm")].value_class == "ordinary"
    assert by_customer[(agreed.id, "rhythm")].value_class == "key"
    # No automated playbook for the customer without consent; the alert stays with the owner.
    cases = db.scalars(select(RetentionCase)).all()
    assert {c.customer_id for c in cases} == {agreed.id}
    assert report.not_profiled >= 1
    assert by_customer[(refused.id, "rhythm")].status == "open"


def test_settings_page_checkbox_turns_it_on_and_off(client, db, users):
    web = Browser(client)
    web.login("manager")
    form = {k: str(v) for k, v in DEFAULTS.items()} | {"version": "1"}
    ok = web.post("/value/settings", form | {"profiling_needs_consent": "1"})
    assert ok.status_code == 303, ok.text
    db.expire_all()
    assert value_settings.get_settings(db).profiling_needs_consent is True
    ok = web.post("/value/settings", form | {"version": "2"})  # unticked: absent from the form
    assert ok.status_code == 303
    db.expire_all()
    row = value_settings.get_settings(db)
    assert row.profiling_needs_consent is False and row.version == 3
    agent = Browser(client)
    agent.login("agent")
    view = agent.get("/value/settings")
    assert (
        "Profiling needs the customer" in view.text
        and 'name="profiling_needs_consent"' not in view.text
    )


def test_count_of_customers_without_consent(db, users):
    make_customer(db, name="A", consent_profiling=True)
    make_customer(db, name="B", consent_profiling=False)
    counts = consent.left_out_counts(db)
    total = db.scalar(
        select(func.count(Customer.id)).where(
            Customer.archived_at.is_(None), Customer.consent_profiling.is_not(True)
        )
    )
    assert counts["customers"] == total >= 1


def test_cli_prints_the_counts(tmp_path, monkeypatch):
    """`retento score` on a migrated file with the setting on says how many were left out."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session
    from typer.testing import CliRunner

    from retento.cli import app
    from retento.core.config import get_settings
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'consent.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        eng = create_engine(url)
        with Session(eng) as session:  # the users and customers who bought over two years
            make_users(session)
            insert_population(session)
            session.commit()
        with eng.begin() as conn:
            conn.execute(text("UPDATE value_settings SET profiling_needs_consent = 1"))
            conn.execute(text("UPDATE customers SET consent_profiling = 1"))
            conn.execute(text("UPDATE customers SET consent_profiling = 0 WHERE id % 3 = 0"))
            refused = conn.execute(
                text(
                    "SELECT count(*) FROM customers WHERE archived_at IS NULL "
                    "AND consent_profiling = 0"
                )
            ).scalar_one()
        r = runner.invoke(app, ["score", "--holdout-weeks", "0"])
        out = " ".join(r.output.split())
        assert r.exit_code == 0, out
        assert f"Profiling needs consent: {refused:,} customer(s) left out" in out
        with eng.connect() as conn:
            kept = conn.execute(
                text(
                    "SELECT count(*) FROM customer_scores s JOIN customers c "
                    "ON c.id = s.customer_id WHERE c.consent_profiling = 0"
                )
            ).scalar_one()
        assert kept == 0
        eng.dispose()
    finally:
        get_settings.cache_clear()


def test_saved_insight_segments_leave_them_out(db, users):
    from retento.insights.models import InsightSegment, InsightSegmentMember
    from retento.insights.segments_service import members_select

    agreed = make_customer(db, name="In", consent_profiling=True)
    refused = make_customer(db, name="Out", consent_profiling=False)
    seg = InsightSegment(name="Consent test", method="kmeans", k=1, features=[], profile={})
    db.add(seg)
    db.flush()
    for c in (agreed, refused):
        db.add(InsightSegmentMember(segment_id=seg.id, customer_id=c.id, cluster=0))
    db.flush()
    assert set(db.scalars(members_select((seg.id, 0)))) == {agreed.id, refused.id}
    _turn_on(db, users)
    assert set(db.scalars(members_select((seg.id, 0)))) == {agreed.id}


# --- on the module's population and its first run (``world_population``), kept together -------


def test_off_by_default_everyone_is_scored(db, users, population, first_run):
    assert value_settings.get_settings(db).profiling_needs_consent is False
    assert not consent.required(db)
    run = first_run  # made with the setting off
    # Nobody in the population gave consent; with the setting off all are scored as before.
    assert _scored(db, run.id) == set(population["ids"])
    assert run.report["consent"] == {"required": False}


def test_on_scores_only_consenting_clears_earlier_scores_and_counts_them(
    db, users, population, first_run
):
    ids = population["ids"]
    first = first_run
    assert _scored(db, first.id) == set(ids)
    yes, no = ids[::2], ids[1::2]
    _consent(db, yes, True)
    _turn_on(db, users)
    second = _run(db)
    assert _scored(db, second.id) == set(yes)
    assert second.customers_scored == len(yes)
    # The earlier run's scores of the customers without consent are gone; the others stay.
    assert _scored(db, first.id) == set(yes)
    info = second.report["consent"]
    assert info["required"] is True
    assert info["left_out_customers"] == len(no)
    assert info["left_out_buyers"] == len(no)  # everyone in the population bought
    assert info["cleared"] == len(no)
    # No point of theirs is left in the stored chart samples of any run.
    for run in (first, second):
        db.refresh(run)
        points = {p[2] for p in run.report["distribution"]["scatter"]}
        points |= {p[2] for p in (run.report["churn"].get("distribution") or {}).get("scatter", [])}
        assert points and not points & set(no)
    audit = db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "score_run", AuditEntry.entity_id == str(second.id)
        )
    ).one()
    assert audit.after["consent"]["cleared"] == len(no)

    # A customer withdraws consent: gone from every reader at once, deleted by the next run.
    gone = yes[0]
    _consent(db, [gone], False)
    assert service.customer_scores(db, gone, actor=users["analyst"]) == []
    _, rows, _total = service.list_scores(db, actor=users["analyst"], limit=500)
    assert gone not in {r.customer_id for r in rows} and len(rows) == len(yes) - 1
    frame = queries.run_scores_frame(db, second.id)
    assert gone not in set(frame["customer_id"])
    members = set(db.scalars(queries.segment_customers(second.id, "value_class", "ordinary")))
    assert members and gone not in members
    assert gone in _scored(db, second.id)  # still stored until the next run
    third = _run(db)
    assert gone not in _scored(db, second.id) and gone not in _scored(db, third.id)
    assert third.report["consent"]["cleared"] == 1

    # Turned off again: everyone is scored by the next run.
    _turn_on(db, users, False)
    fourth = _run(db)
    assert _scored(db, fourth.id) == set(ids)


def test_insights_training_data_leaves_them_out(db, users, population, first_run):
    from retento.insights.segments_service import feature_frame

    ids = population["ids"]
    run = first_run  # the latest run
    _consent(db, ids[:60], True)
    frame, used, _notes = feature_frame(db, ["recency", "frequency", "monetary"])
    assert used.id == run.id and set(frame.index) == set(ids)
    _turn_on(db, users)
    frame, _used, _notes = feature_frame(db, ["recency", "frequency", "monetary"])
    assert set(frame.index) == set(ids[:60])


def test_pages_show_not_profiled_and_the_run_counts_both_languages(
    client, db, users, population, world_population
):
    ids = population["ids"]
    _consent(db, ids[:100], True)
    _turn_on(db, users)
    run = _run(db)
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/customers/{ids[110]}")
    assert page.status_code == 200 and 'id="score-not-profiled"' in page.text
    assert "Not profiled (no consent)" in page.text
    scored = web.get(f"/customers/{ids[0]}")
    assert 'id="score-not-profiled"' not in scored.text and 'id="customer-scores"' in scored.text
    dash = web.get(f"/value?run={run.id}")
    assert 'id="run-consent"' in dash.text and "20 customers left out" in dash.text
    settings = web.get("/value/settings")
    assert 'name="profiling_needs_consent"' in settings.text and " checked" in settings.text
    web.post("/locale", {"lang": "zh_CN", "next": "/value"})
    zh = web.get(f"/customers/{ids[110]}")
    assert "未作画像分析（无许可）" in zh.text
    zh_dash = web.get(f"/value?run={run.id}")
    assert "画像分析须经许可" in zh_dash.text
    zh_settings = web.get("/value/settings")
    assert "画像分析须经客户许可" in zh_settings.text


def test_consent_withdrawn_during_a_run_is_not_stored(
    db, users, population, world_population, monkeypatch
):
    """A customer who withdraws consent while the models are fitted gets no row in the run."""
    ids = population["ids"]
    _consent(db, ids, True)
    _turn_on(db, users)
    late = ids[5]
    real = service._with_churn

    def withdraw_meanwhile(session, scores, data, as_of, consent_only=False):
        assert late in set(scores["customer_id"])  # fitted with consent
        _consent(session, [late], False)
        return real(session, scores, data, as_of, consent_only)

    monkeypatch.setattr(service, "_with_churn", withdraw_meanwhile)
    run = _run(db)
    assert late not in _scored(db, run.id) and run.customers_scored == len(ids) - 1
