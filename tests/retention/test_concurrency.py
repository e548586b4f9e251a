"""PostgreSQL races: parallel evaluations raise each alert once, one open case per customer, gap-free
control-group numbering, one notice per alert; the queued actions, run by parallel workers, give
one task per treated case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from retento.mail.models import OutboxMessage
from retento.retention.models import (
    RetentionAlert,
    RetentionCase,
    RetentionOpenCase,
    RetentionTask,
)
from retento.retention.service import evaluate
from retento.work.models import WorkItem
from retento.work.queue import WorkRunner
from tests.factories import make_customer, make_order, make_user
from tests.factories.concurrency import run_parallel
from tests.retention.helpers import make_run

N_CUSTOMERS = 12


def _lapsed_customers(live_pg) -> list[int]:
    now = datetime.now(UTC)
    with live_pg.session() as s:
        owner = make_user(s, role="agent", email="owner@example.com")
        ids, scores = [], {}
        for i in range(N_CUSTOMERS):
            c = make_customer(s, owner_id=owner.id)
            for d in (200, 170, 140, 110):
                make_order(s, c, ordered_at=now - timedelta(days=d))
            ids.append(c.id)
            scores[c.id] = {"value_class": "vip" if i % 2 else "ordinary", "churn_risk": 0.95}
        make_run(s, scores)
        s.commit()
    return ids


def test_parallel_evaluations_raise_each_alert_once(live_pg):
    ids = _lapsed_customers(live_pg)

    def run(i: int) -> int:
        with live_pg.session() as s:
            report = evaluate(s)
            s.commit()
            return report.created

    results = run_parallel(6, run)
    assert all(isinstance(r, int) for r in results), results
    with live_pg.session() as s:
        alerts = s.scalars(select(RetentionAlert)).all()
        # Two causes per customer (risk and rhythm), each alerted once across all threads.
        assert len(alerts) == 2 * N_CUSTOMERS == sum(results)
        assert {(a.customer_id, a.rule) for a in alerts} == {
            (c, r) for c in ids for r in ("churn_risk", "rhythm")
        }
        cases = s.scalars(select(RetentionCase)).all()
        # One open case per customer however many causes: one arm, one task at a time.
        assert sorted(c.customer_id for c in cases) == sorted(ids)
        assert {c.alert_id for c in cases} <= {a.id for a in alerts}
        open_rows = s.execute(select(RetentionOpenCase.customer_id, RetentionOpenCase.case_id))
        assert dict(open_rows.all()) == {c.customer_id: c.id for c in cases}
        strata: dict[tuple[int, str], list[int]] = {}
        for c in cases:
            strata.setdefault((c.playbook_id, c.value_class), []).append(c.seq)
        for seqs in strata.values():  # numbered by reserve_seq: no repeats, no gaps (no rollback)
            assert sorted(seqs) == list(range(len(seqs)))
        acting = [
            c.id for c in cases if c.arm == "treated" and c.action in ("task", "call", "offer")
        ]
        # The evaluations acted on nobody: the treated cases' actions wait for a worker.
        assert s.scalar(select(func.count()).select_from(RetentionTask)) == 0
        queued = sorted(c.id for c in cases if c.action_status == "queued")
        assert queued == sorted(c.id for c in cases if c.arm == "treated")
        notices = s.scalar(select(func.count()).where(OutboxMessage.kind == "retention_alert"))
        control = {c.customer_id for c in cases if c.arm == "control"}
        # A held-out customer's other alert is held out too: no notice names them.
        assert notices == sum(1 for a in alerts if a.customer_id not in control)
        assert all(a.status == "closed" for a in alerts if a.customer_id in control)
    # Two workers drain the queue at once: each item is claimed once, each action done once.
    runners = [WorkRunner(live_pg.session_factory) for _ in range(2)]
    ran = run_parallel(2, lambda i: runners[i].run_once())
    assert all(isinstance(n, int) for n in ran), ran
    with live_pg.session() as s:
        assert sum(ran) == s.scalar(select(func.count()).select_from(WorkItem))
        assert {i.status for i in s.scalars(select(WorkItem))} <= {"done"}
        task_cases = s.scalars(select(RetentionTask.case_id)).all()
        assert sorted(task_cases) == sorted(acting)
        assert {c.action_status for c in s.scalars(select(RetentionCase))} == {"done"}
    again = run_parallel(3, run)
    assert again == [0, 0, 0]
