"""Stored loyalty measurements (SQLite and PostgreSQL): a run stores every customer, a rerun
replaces them, a failed run keeps the previous rows, one run at a time, the nightly job is
idempotent, and the stored reads (SQL re-weighting, summary) agree with a live computation."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, NotFound
from retento.loyalty import measure
from retento.loyalty import measure_store as store
from retento.loyalty.measure_jobs import nightly_measurement
from retento.loyalty.measure_models import LoyaltyMeasurement, LoyaltyMeasurementRun
from tests.factories import make_customer, make_order, make_user
from tests.loyalty.measure_data import AS_OF, build_base


@pytest.fixture
def base(db):
    return build_base(db)


@pytest.fixture
def admin(db):
    return make_user(db, role="admin")


def stored_rows(db) -> dict[int, LoyaltyMeasurement]:
    return {m.customer_id: m for m in db.scalars(select(LoyaltyMeasurement))}


def live(db, **kw) -> dict[int, pd.Series]:
    frame = measure.loyalty_measurement(db, as_of=AS_OF, **kw)
    return {int(r.customer_id): r for r in frame.itertuples(index=False)}


def test_a_run_stores_every_customer_as_the_live_computation_does(db, base, admin):
    run = store.run_measurement(db, actor=admin, as_of=AS_OF)
    assert run.status == "succeeded" and run.running is None and run.finished_at is not None
    assert run.customers == 12 and run.trap == 1
    assert run.params["weights"] == {"behavioural": 0.4, "intentional": 0.3, "emotional": 0.3}
    assert set(run.report["timings"]) == {"features_s", "measure_s", "store_s"}
    rows = stored_rows(db)
    expected = live(db)
    assert set(rows) == set(expected)  # archived customers are not stored
    read = {int(r.customer_id): r for r in store.stored_customers(db, actor=admin)[0].itertuples()}
    for cid, want in expected.items():
        got = rows[cid]
        assert got.run_id == run.id and got.computed_at == AS_OF
        assert (got.loyalty_type, got.rule) == (want.loyalty_type, want.rule)
        assert got.loyalty_index == pytest.approx(want.loyalty_index)
        assert got.satisfaction_trap == bool(want.satisfaction_trap)
        # The reasons written from the stored row are those of the live computation.
        assert (read[cid].reason_en, read[cid].reason_zh) == (want.reason_en, want.reason_zh)
        assert store.stored_for_customer(db, cid)[1]["reason_zh"] == want.reason_zh
    trap = rows[base["trap"].id]
    assert trap.trap_signal == "overdue" and "满意陷阱" in read[trap.customer_id].reason_zh
    assert rows[base["monopoly"].id].no_alternative and rows[base["kinship"].id].affiliated
    assert rows[base["trust"].id].n_orders == 12 and rows[base["trust"].id].median_gap_days == 28


def test_a_rerun_replaces_every_row(db, base, admin):
    first = store.run_measurement(db, actor=admin, as_of=AS_OF)
    make_order(db, base["nothing"], ordered_at=AS_OF - timedelta(days=3))
    newcomer = make_customer(db, name="Newcomer")
    second = store.run_measurement(db, actor=admin, as_of=AS_OF)
    rows = stored_rows(db)
    assert {m.run_id for m in rows.values()} == {second.id} and second.id != first.id
    assert len(rows) == 13 and newcomer.id in rows
    assert rows[base["nothing"].id].n_orders == 1
    runs = db.scalars(select(LoyaltyMeasurementRun).order_by(LoyaltyMeasurementRun.id)).all()
    assert [r.status for r in runs] == ["succeeded", "succeeded"]


def test_a_failed_run_keeps_the_previous_rows(db, base, admin, monkeypatch):
    good = store.run_measurement(db, actor=admin, as_of=AS_OF)
    before = {cid: m.loyalty_index for cid, m in stored_rows(db).items()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(measure, "customer_features", broken)
    bad = store.run_measurement(db, actor=admin, as_of=AS_OF)
    assert bad.status == "failed" and "disk on fire" in bad.error and bad.running is None
    db.expire_all()
    after = stored_rows(db)
    assert {m.run_id for m in after.values()} == {good.id}
    assert {cid: m.loyalty_index for cid, m in after.items()} == before
    assert store.latest_run(db).id == good.id


def test_a_failure_while_storing_rolls_the_replacement_back(db, base, admin, monkeypatch):
    good = store.run_measurement(db, actor=admin, as_of=AS_OF)
    monkeypatch.setattr(store, "CHUNK", 5)  # progress every 5 rows: fail with some rows written
    stored: list[float] = []

    def failing(stage: str, fraction: float) -> None:
        if stage == "store":
            stored.append(fraction)
            if len(stored) == 3:  # the old rows are deleted, some new ones written
                raise RuntimeError("connection lost")

    bad = store.run_measurement(db, actor=admin, as_of=AS_OF, progress=failing)
    assert bad.status == "failed" and "connection lost" in bad.error
    db.expire_all()
    rows = stored_rows(db)
    assert len(rows) == 12 and {m.run_id for m in rows.values()} == {good.id}
    assert store.latest_run(db).id == good.id


def test_one_run_at_a_time(db, base, admin):
    running = store.start_run(db, actor=admin, as_of=AS_OF)
    with pytest.raises(Conflict) as err:
        store.start_run(db, actor=admin)
    assert err.value.status == 409 and err.value.field == "run"
    # A run left "running" by a process that died long ago no longer blocks.
    running.started_at = utcnow() - store.STALE_RUN - timedelta(minutes=1)
    db.flush()
    fresh = store.start_run(db, actor=admin, as_of=AS_OF)
    db.refresh(running)
    assert running.status == "failed" and running.running is None and fresh.running is True


def test_starting_needs_score_run_and_valid_weights(db, base):
    agent = make_user(db, role="agent")
    from retento.core.errors import Forbidden

    with pytest.raises(Forbidden):
        store.start_run(db, actor=agent)
    admin = make_user(db, role="admin")
    with pytest.raises(InvalidInput) as err:
        store.start_run(db, actor=admin, weights={"behavioural": 0.0})
    assert err.value.field == "weights"


def _drain(db, session_factory) -> int:
    """Run the queued work (the nightly job queues its run for the worker)."""
    from retento.work import queue

    db.commit()
    ran = queue.WorkRunner(session_factory).run_once()
    db.expire_all()
    return ran


def test_the_nightly_job_is_idempotent(db, base, session_factory):
    first = nightly_measurement(db)
    assert first is not None
    assert db.get(LoyaltyMeasurementRun, first).status == "running"  # queued for the worker
    assert nightly_measurement(db) is None  # one is in progress
    assert _drain(db, session_factory) == 1
    assert db.get(LoyaltyMeasurementRun, first).status == "succeeded"
    assert nightly_measurement(db) is None  # ran less than 20 hours ago
    count = db.scalar(select(func.count()).select_from(LoyaltyMeasurementRun))
    assert count == 1
    assert db.scalar(select(func.count()).select_from(LoyaltyMeasurement)) == 12
    run = store.latest_run(db)
    run.started_at = utcnow() - timedelta(hours=21)
    db.flush()
    again = nightly_measurement(db)
    assert again is not None and again != run.id
    assert _drain(db, session_factory) == 1
    assert db.scalar(select(func.count()).select_from(LoyaltyMeasurement)) == 12


def test_the_nightly_job_skips_while_a_page_run_is_in_progress(db, base, admin):
    store.start_run(db, actor=admin)
    assert nightly_measurement(db) is None


def test_the_job_is_registered():
    from retento.jobs import load_jobs

    assert "loyalty_measurement" in load_jobs()


@pytest.mark.parametrize(
    "weights",
    [
        {"behavioural": 1.0},
        {"intentional": 1.0, "emotional": 1.0},
        {"behavioural": 0.2, "intentional": 0.2, "emotional": 0.6},
        {"behavioural": 0.5, "emotional": 0.5},
    ],
)
def test_reweighting_the_stored_scores_matches_a_live_computation(db, base, admin, weights):
    store.run_measurement(db, actor=admin, as_of=AS_OF)
    frame, total, stats, _ = store.stored_customers(db, actor=admin, weights=weights)
    expected = live(db, weights=weights)
    assert total == len(expected) == 12
    for r in frame.itertuples(index=False):
        want = expected[int(r.customer_id)]
        assert (r.loyalty_type, r.rule) == (want.loyalty_type, want.rule), r.name
        assert r.loyalty_index == pytest.approx(want.loyalty_index, nan_ok=True)
        assert (r.reason_en, r.reason_zh) == (want.reason_en, want.reason_zh)
    for t in ("trust", "inertia", "potential", "none"):
        page, total, _, _ = store.stored_customers(
            db, actor=admin, weights=weights, loyalty_type=t, limit=2
        )
        assert total == sum(1 for r in expected.values() if r.loyalty_type == t)
        assert len(page) == min(2, total) and set(page["loyalty_type"]) <= {t}
    for flag in (True, False):
        _, total, _, _ = store.stored_customers(db, actor=admin, weights=weights, trap=flag)
        assert total == sum(1 for r in expected.values() if bool(r.satisfaction_trap) == flag)
    want_stats = measure.summary(measure.loyalty_measurement(db, as_of=AS_OF, weights=weights))
    assert stats["types"] == want_stats["types"]
    assert stats["index_histogram"] == want_stats["index_histogram"]
    assert stats["index_mean"] == pytest.approx(want_stats["index_mean"])
    assert stats["trap"] == want_stats["trap"]


def test_the_stored_summary_and_filters(db, base, admin):
    store.run_measurement(db, actor=admin, as_of=AS_OF)
    frame, total, stats, run = store.stored_customers(db, actor=admin, trap=True)
    assert total == 1 and frame.iloc[0].customer_id == base["trap"].id
    want = measure.summary(measure.loyalty_measurement(db, as_of=AS_OF))
    assert stats["types"] == want["types"] and stats["trap"] == want["trap"] == 1
    assert stats["index_histogram"] == want["index_histogram"]
    for d in ("behavioural", "intentional", "emotional"):
        assert stats["dimension_means"][d] == pytest.approx(want["dimension_means"][d])
    page, total, _, _ = store.stored_customers(db, actor=admin, loyalty_type="kinship", limit=1)
    assert total == 2 and len(page) == 1
    everyone, _, _, _ = store.stored_customers(db, actor=admin)
    assert list(everyone["loyalty_index"]) == sorted(everyone["loyalty_index"])
    with pytest.raises(InvalidInput):
        store.stored_customers(db, actor=admin, loyalty_type="devoted")
    with pytest.raises(NotFound):
        store.stored_customers(db, actor=admin, customer_id=base["archived"].id)


def test_customers_archived_after_the_run_leave_the_lists(db, base, admin):
    store.run_measurement(db, actor=admin, as_of=AS_OF)
    base["trap"].archived_at = utcnow()
    db.flush()
    _, total, stats, _ = store.stored_customers(db, actor=admin, trap=True)
    assert total == 0  # the lists hide them at once ...
    assert stats["trap"] == 1 and stats["customers"] == 12  # ... the distribution is the run's
    _, _, weighted, _ = store.stored_customers(db, actor=admin, weights={"behavioural": 1.0})
    assert weighted["trap"] == 0 and weighted["customers"] == 11  # aggregated now
    with pytest.raises(NotFound):
        store.stored_customers(db, actor=admin, customer_id=base["trap"].id)


def test_before_the_first_run_everything_is_empty(db, base, admin):
    frame, total, stats, run = store.stored_customers(db, actor=admin)
    assert run is None and frame.empty and total == 0 and stats["customers"] == 0


def test_live_one_customer_uses_the_stored_reference(db, base, admin, monkeypatch):
    run = store.run_measurement(db, actor=admin, as_of=AS_OF)
    stored = stored_rows(db)[base["inertia"].id]

    def whole_base(*args, **kwargs):
        raise AssertionError("the whole base's reference was recomputed")

    monkeypatch.setattr(measure, "_frequency_reference", whole_base)
    page, _, _ = measure.measure_customers(
        db, actor=admin, customer_id=base["inertia"].id, as_of=AS_OF, reference=run.reference
    )
    row = page.iloc[0]
    assert row.loyalty_type == stored.loyalty_type and row.rule == stored.rule
    assert row.loyalty_index == pytest.approx(stored.loyalty_index)
    assert row.reason_en == store.stored_for_customer(db, stored.customer_id)[1]["reason_en"]


def test_parallel_starts_leave_exactly_one_run_in_progress(live_pg):
    """Ten managers press "Recompute" at once: one run starts, nine get 409 (PostgreSQL)."""
    from tests.factories.concurrency import run_parallel

    def press(_i: int):
        with live_pg.session() as s:
            run = store.start_run(s, actor=None)
            s.commit()
            return run.id

    results = run_parallel(10, press)
    started = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(started) == 1 and len(refused) == 9, results
    with live_pg.session() as s:
        running = s.scalars(
            select(LoyaltyMeasurementRun).where(LoyaltyMeasurementRun.running.is_(True))
        ).all()
        assert [r.id for r in running] == started


def test_readers_see_the_previous_rows_until_the_run_commits(live_pg):
    """The replacement is one transaction: a reader during the run sees the old run's rows."""
    with live_pg.session() as s:
        for i in range(3):
            make_customer(s, name=f"Reader {i}")
        first = store.run_measurement(s, actor=None)
        s.commit()
        first_id = first.id
    writer = live_pg.session()
    try:
        second = store.run_measurement(writer, actor=None)  # replaced, not yet committed
        assert second.status == "succeeded"
        with live_pg.session() as reader:
            ids = set(reader.scalars(select(LoyaltyMeasurement.run_id)))
            assert ids == {first_id} and store.latest_run(reader).id == first_id
        writer.commit()
    finally:
        writer.close()
    with live_pg.session() as reader:
        assert set(reader.scalars(select(LoyaltyMeasurement.run_id))) == {second.id}


def test_a_reweighted_distribution_is_reused_for_a_minute(db, base, admin, monkeypatch):
    run = store.run_measurement(db, actor=admin, as_of=AS_OF)
    weights = {"behavioural": 0.5, "emotional": 0.5}
    first = store.stored_summary(db, run, weights)
    base["trust"].archived_at = utcnow()
    db.flush()
    assert store.stored_summary(db, run, weights) == first  # paging: no second aggregate
    monkeypatch.setattr(store, "SUMMARY_TTL", 0.0)
    assert store.stored_summary(db, run, weights)["customers"] == first["customers"] - 1
    newer = store.run_measurement(db, actor=admin, as_of=AS_OF)  # a new run: a new key
    monkeypatch.setattr(store, "SUMMARY_TTL", 60.0)
    assert store.stored_summary(db, newer, weights)["customers"] == 11


def test_a_run_whose_rows_are_gone_no_longer_counts(db, base, admin, session_factory):
    """A demo reset deletes customers and, with them, the stored rows: back to "not computed",
    and the nightly job measures again at once."""
    from sqlalchemy import delete

    run = store.run_measurement(db, actor=admin, as_of=AS_OF)
    assert store.latest_run(db).id == run.id
    db.execute(delete(LoyaltyMeasurement))
    db.flush()
    assert store.latest_run(db) is None
    assert nightly_measurement(db) is not None
    assert _drain(db, session_factory) == 1 and store.latest_run(db) is not None
