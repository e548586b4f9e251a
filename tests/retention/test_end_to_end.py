"""End to end: the warning and win-back loop runs by itself, and the uplift report is right.

1. A VIP (key customer) whose complaint breaches its SLA and who stops buying gets alerts and a
   win-back task for the owner, with the owner notified by email — run only through the jobs,
   the event hooks and the worker, as ``retento worker`` (or ``retento serve`` with
   RETENTO_RUN_WORK_IN_WEB) runs them; nobody opens a page.
2. A simulated campaign with a known effect (came-back rate 20 % without, 40 % with the
   playbook; 50.00 revenue per returning customer): the report's 95 % interval holds the true
   uplift and the incremental-revenue interval holds the true net.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import insert, select

from retento.complaints.jobs import escalate
from retento.customers.models import Customer
from retento.jobs import load_jobs
from retento.mail.models import OutboxMessage
from retento.orders.models import Order
from retento.retention import playbook_apply, playbooks, report
from retento.retention.models import (
    RetentionAlert,
    RetentionCase,
    RetentionPlaybook,
    RetentionTask,
)
from retento.retention.outcomes import settle
from retento.retention.service import get_config
from tests.factories import make_customer, make_order, make_user
from tests.factories.complaints import make_complaint, only_policies
from tests.retention.helpers import make_run, run_queued_work


def test_vip_with_breached_complaint_who_stops_buying_gets_alert_and_task(
    db, users, session_factory
):
    now = datetime.now(UTC)
    owner = make_user(db, role="agent", email="owner@example.com", locale="zh_CN")
    vip = make_customer(db, name="Ada VIP", owner_id=owner.id)
    for days in (240, 210, 180, 150, 120):  # every 30 days, then nothing for 120 days
        make_order(db, vip, ordered_at=now - timedelta(days=days))
    make_run(
        db, {vip.id: {"value_class": "vip", "last_order_on": (now - timedelta(days=120)).date()}}
    )
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 600})
    received = now - timedelta(hours=11)
    c = make_complaint(db, users["admin"], customer_id=vip.id, received_at=received, severity=1)

    # The scheduler's complaint job finds the breach; its event raises the complaint alert.
    esc = escalate(db, now=now)
    assert c.id in esc.complaint_ids and c.resolution_breached
    alert = db.scalar(
        select(RetentionAlert).where(
            RetentionAlert.customer_id == vip.id, RetentionAlert.rule == "complaint"
        )
    )
    assert alert is not None
    assert (alert.reason_code, alert.severity, alert.value_class, alert.owner_id) == (
        "complaint_breached",
        "high",
        "key",
        owner.id,
    )
    # The case is open (treated: no control group for a key complaint); its call task is
    # queued for the worker, which the scheduler's process or `retento worker` runs.
    case = db.scalar(select(RetentionCase).where(RetentionCase.alert_id == alert.id))
    assert (case.arm, case.action, case.action_status) == ("treated", "call", "queued")
    assert run_queued_work(db, session_factory) == 1
    task = db.scalar(
        select(RetentionTask)
        .join(RetentionCase, RetentionCase.id == RetentionTask.case_id)
        .where(RetentionCase.alert_id == alert.id)
    )
    assert task is not None and task.owner_id == owner.id and task.status == "open"
    assert task.kind == "call" and task.due_on == (now + timedelta(days=1)).date()
    assert "致电" in task.script  # the owner reads Chinese
    mails = db.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "retention_alert", OutboxMessage.related_id == alert.id
        )
    ).all()
    assert len(mails) == 1 and mails[0].recipient == "owner@example.com"
    assert "超时" in mails[0].body_text or "SLA" in mails[0].body_text

    # The scheduled evaluation adds the lapse (rhythm) alert, once, and nothing twice.
    jobs = load_jobs()
    first = jobs["retention_evaluate"].func(db)
    second = jobs["retention_evaluate"].func(db)
    assert second["created"] == 0
    alerts = db.scalars(select(RetentionAlert).where(RetentionAlert.customer_id == vip.id)).all()
    assert sorted(a.rule for a in alerts) == ["complaint", "rhythm"]
    assert first["created"] == 1
    rhythm = next(a for a in alerts if a.rule == "rhythm")
    # One open win-back case per customer: the lapse is a second cause for the VIP the complaint
    # case already covers, so no second case or task; the alert stays in the owner's inbox.
    assert db.scalar(select(RetentionCase).where(RetentionCase.alert_id == rhythm.id)) is None
    case = db.scalar(select(RetentionCase).where(RetentionCase.customer_id == vip.id))
    assert case is not None and case.value_class == "key" and case.arm == "treated"
    open_tasks = db.scalars(
        select(RetentionTask).where(
            RetentionTask.customer_id == vip.id, RetentionTask.status == "open"
        )
    ).all()
    assert [t.owner_id for t in open_tasks] == [owner.id]
    assert rhythm.status == "open"
    assert first["actions_queued"] == 0 and run_queued_work(db, session_factory) == 0

    # The customer comes back: the order hook settles the case and closes the lapse alert.
    from retento.retention.models import RetentionOpenCase
    from retento.retention.outcomes import on_orders

    back = make_order(db, vip, ordered_at=now + timedelta(days=3))
    on_orders(db, [back])
    db.refresh(case)
    db.refresh(rhythm)
    assert case.outcome == "came_back" and case.revenue == back.revenue
    assert rhythm.status == "closed"
    # Settled: the customer's next cause may open a new case.
    assert db.get(RetentionOpenCase, vip.id) is None


def test_simulated_campaign_uplift_is_recovered_within_its_interval(db, users):
    rng = np.random.default_rng(20261204)
    n = 1000
    p_control, p_treated, spend = 0.20, 0.40, Decimal("50.00")
    get_config(db)
    pb = db.scalar(
        select(RetentionPlaybook).where(
            RetentionPlaybook.value_class == "ordinary", RetentionPlaybook.reason == "*"
        )
    )
    pb = playbooks.update_playbook(
        db, pb.id, {"control_share": 0.3, "window_days": 60}, actor=users["manager"]
    )
    start = datetime.now(UTC) - timedelta(days=100)
    db.execute(
        insert(Customer),
        [
            {"name": f"Sim {i}", "name_key": f"sim {i}", "external_id": f"SIM{i:05d}"}
            for i in range(n)
        ],
    )
    customers = list(
        db.scalars(
            select(Customer.id).where(Customer.external_id.like("SIM%")).order_by(Customer.id)
        )
    )
    classes = rng.choice(["key", "ordinary", "small"], size=n, p=[0.2, 0.5, 0.3])
    risk = rng.uniform(0.3, 1.0, size=n)
    db.execute(
        insert(RetentionAlert),
        [
            {
                "customer_id": cid,
                "rule": "churn_risk",
                "cause_key": "sim",
                "severity": "medium",
                "reason_code": "churn_risk",
                "reason_params": {"risk": round(100 * r)},
                "value_class": str(cls),
                "risk": float(r),
                "status": "open",
                "created_at": start,
                "version": 1,
            }
            for cid, cls, r in zip(customers, classes, risk, strict=True)
        ],
    )
    alerts = db.scalars(
        select(RetentionAlert)
        .where(RetentionAlert.cause_key == "sim")
        .order_by(RetentionAlert.customer_id)
    ).all()
    # Potential outcomes drawn up front: what each customer does without and with the offer.
    y0 = rng.random(n) < p_control
    y1 = rng.random(n) < p_treated
    treated, orders = 0, []
    for i, alert in enumerate(alerts):
        case = playbook_apply.apply_playbook(db, alert, playbook=pb, now=start)
        came = y1[i] if case.arm == "treated" else y0[i]
        treated += case.arm == "treated"
        if came:
            orders.append(
                {
                    "external_id": f"SIMO{i:05d}",
                    "customer_id": alert.customer_id,
                    "ordered_at": start + timedelta(days=10),
                    "status": "completed",
                    "revenue": spend,
                    "cost": Decimal("20.00"),
                    "profit": spend - Decimal("20.00"),
                }
            )
    db.execute(insert(Order), orders)
    settled = settle(db)
    assert settled["came_back"] + settled["lost"] == n

    by_class = {}
    for cls, arm in db.execute(select(RetentionCase.value_class, RetentionCase.arm)):
        by_class.setdefault(cls, []).append(arm == "control")
    for cls, flags in by_class.items():  # stratified: each class holds out its share
        assert abs(sum(flags) / len(flags) - 0.3) < 0.06, cls

    rep = report.uplift_report(db, actor=users["analyst"], playbook_id=pb.id)[0]
    est = rep["estimate"]
    assert rep["n_treated"] == treated and rep["n_treated"] + rep["n_control"] == n
    assert est["ci_low"] <= p_treated - p_control <= est["ci_high"]
    assert est["significant"] and est["ci_high"] - est["ci_low"] < 0.15
    cost = Decimal(rep["cost"])
    assert cost == pb.cost * treated
    true_net = treated * (p_treated - p_control) * float(spend) - float(cost)
    money = rep["revenue"]
    assert float(money["net_ci_low"]) <= true_net <= float(money["net_ci_high"])
    assert rep["qini"][0]["fraction"] == 0.0 and rep["qini"][-1]["fraction"] == 1.0
    assert rep["top_k"]["k"] == 0.3 and rep["top_k"]["n_treated"] > 0
