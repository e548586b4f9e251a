"""Demo step: a settled past win-back campaign, today's alerts, and owners' tasks.

Runs after scoring, complaints, surveys and loyalty (``retento.demo.generator.domain_steps``):

* a campaign 120 days ago on ``HISTORY`` at-risk customers, worked by the default playbooks with
  their control groups; customers came back with a known effect per class (key +15 points,
  ordinary +8, small +3, bad 0 over the control rate) through real orders, so the uplift report
  shows rates, intervals and money;
* today's evaluation of the warning rules on a bounded sample (``TODAY_SAMPLE`` customers), which
  raises alerts and opens cases; their actions (e-mails, offers, the owners' tasks) are queued
  for the worker as in production, and ``retento demo`` runs the queued work once the data is
  committed, so the owners' tasks are there when the demo opens.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from retento.retention.models import RetentionAlert, RetentionTask

HISTORY = 240
TODAY_SAMPLE = 400
BASE_RATE = {"key": 0.30, "ordinary": 0.22, "small": 0.15, "bad": 0.10}
EFFECT = {"key": 0.15, "ordinary": 0.08, "small": 0.03, "bad": 0.0}


def step_retention(session: Session, rng: np.random.Generator, ctx: Any) -> None:
    """Past campaign with outcomes, today's alerts and tasks (see the module docstring)."""
    if ctx.customer_ids is None or len(ctx.customer_ids) == 0 or "manager" not in ctx.user_ids:
        return
    from retento.auth.models import User
    from retento.customers.models import Customer
    from retento.orders.models import Order, OrderLine
    from retento.orders.service import recompute
    from retento.products.models import Product
    from retento.retention.outcomes import settle
    from retento.retention.playbook_apply import Batch, apply_playbook
    from retento.retention.rules import profiles
    from retento.retention.service import evaluate, get_config
    from retento.retention.tasks import set_task_status

    ctx.progress("retention", 0.0)
    config = get_config(session)
    config.default_owner_id = ctx.user_ids["manager"]
    # Not later than the real time: generated before 09:00 UTC, the win-back e-mails and alerts
    # would wait in the outbox until then (as the complaints and loyalty steps do).
    now = min(datetime.combine(ctx.today, time(9, 0), tzinfo=UTC), datetime.now(UTC))
    ids = [int(i) for i in ctx.customer_ids]
    prof = profiles(session)

    # 1. A settled campaign 120 days ago.
    start = now - timedelta(days=120)
    chosen = rng.choice(len(ids), size=min(HISTORY, len(ids)), replace=False)
    picked = [ids[int(i)] for i in chosen]
    owners = {
        cid: owner
        for cid, owner in session.execute(
            select(Customer.id, Customer.owner_id).where(Customer.id.in_(picked))
        )
    }
    rows = []
    for i in sorted(int(x) for x in chosen):
        cid = ids[i]
        p = prof.get(cid)
        rows.append(
            {
                "customer_id": cid,
                "rule": "churn_risk" if p is not None and p.risk is not None else "rhythm",
                "cause_key": f"demo:{start.date().isoformat()}",
                "severity": "medium",
                "reason_code": "rhythm",
                "reason_params": {"days": int(rng.integers(60, 200)), "gap": 30, "k": 2.0},
                "value_class": p.value_class if p else "ordinary",
                "risk": float(p.risk) if p and p.risk is not None else float(rng.uniform(0.4, 1)),
                "owner_id": owners.get(cid) or config.default_owner_id,
                "status": "open",
                "created_at": start,
                "version": 1,
            }
        )
    session.execute(insert(RetentionAlert), rows)
    alerts = session.scalars(
        select(RetentionAlert)
        .where(RetentionAlert.cause_key == f"demo:{start.date().isoformat()}")
        .order_by(RetentionAlert.id)
    ).all()
    product = session.scalars(select(Product).order_by(Product.id).limit(1)).first()
    came_back, batch = 0, Batch()
    for alert in alerts:
        case = apply_playbook(session, alert, now=start, batch=batch)
        if case is None:
            continue
        if case.arm == "treated" and case.action in ("task", "call", "offer"):
            task = session.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
            if task is not None:
                owner = session.get(User, task.owner_id) if task.owner_id else None
                if owner is not None:
                    result = "offer_accepted" if case.action == "offer" else "reached"
                    if rng.random() < 0.3:
                        result = "not_reached"
                    set_task_status(session, task.id, "done", actor=owner, result=result)
        rate = BASE_RATE.get(case.value_class, 0.15)
        if case.arm == "treated":
            rate += EFFECT.get(case.value_class, 0.0)
        if product is not None and rng.random() < rate:
            qty = int(rng.integers(1, 4))
            order = Order(
                external_id=f"DEMO-WB-{case.id}",
                customer_id=case.customer_id,
                ordered_at=start + timedelta(days=int(rng.integers(3, 55))),
                status="completed",
                channel="store",
                discount=Decimal("0.00"),
            )
            order.lines = [
                OrderLine(
                    line_no=1,
                    product_id=product.id,
                    quantity=qty,
                    unit_price=product.unit_price,
                    unit_cost=product.unit_cost,
                    discount=Decimal("0.00"),
                )
            ]
            recompute(order)
            session.add(order)
            came_back += 1
    session.flush()
    settled = settle(session, now=now)
    ctx.progress("retention", 0.6)

    # 2. Today's warnings on a sample, as the scheduled job raises them.
    sample = sorted(
        int(x) for x in rng.choice(ids, size=min(TODAY_SAMPLE, len(ids)), replace=False)
    )
    today = evaluate(session, customer_ids=sample, now=now)
    ctx.summary.update(
        retention_history_cases=len(alerts),
        retention_came_back=came_back,
        retention_settled=settled["came_back"] + settled["lost"],
        retention_alerts=today.created,
        retention_cases=today.cases,
        retention_actions_queued=today.actions_queued,
    )
    ctx.progress("retention", 1.0)
