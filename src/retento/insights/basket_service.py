"""Market baskets in the app: association rules on the database's order lines, and the
cross-sell suggestions the customer 360 and product pages draw from the latest product-level run.

Baskets are orders (not cancelled); items are products or product categories. Mining is
:class:`retento.analytics.basket.BasketAnalysis` (Eclat with bit-sets), with its caps on itemset
length, number of itemsets and time, so a run that would blow up stops and says which cap to
change.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retento.analytics.basket import BasketAnalysis, OrderLines
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import InvalidInput, Msg, Term, Terms
from retento.insights import runs
from retento.insights.models import InsightRun
from retento.orders.models import Order, OrderLine
from retento.products.models import Product
from retento.web.i18n import N_

KIND = "basket"
LEVELS = ("product", "category")
MAX_LINES = 5_000_000
TOP_RULES = 500
CROSS_SELL = 5


# The run form's labels: a refused value names its field as the form does (the code in the
# API's English text).
FIELD_LABELS = {
    "level": N_("Items"),
    "min_support": N_("Minimum support"),
    "min_confidence": N_("Minimum confidence"),
    "max_len": N_("Most items in a rule"),
    "max_itemsets": N_("Most itemsets"),
    "time_budget": N_("Time limit (seconds)"),
    "since": N_("Orders since"),
}
LEVEL_LABELS = {"product": N_("Products"), "category": N_("Categories")}


def _field(name: str) -> Term:
    return Term(name, FIELD_LABELS.get(name))


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    level = params.get("level", "product")
    if level not in LEVELS:
        raise InvalidInput(
            Msg(
                "%(field)s must be one of: %(choices)s.",
                field=_field("level"),
                choices=Terms(LEVEL_LABELS.items()),
            ),
            field="level",
        )

    def number(field: str, default: float, lo: float, hi: float, lo_open: bool = False) -> float:
        raw = params.get(field, default)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise InvalidInput(
                Msg("%(field)s must be a number.", field=_field(field)), field=field
            ) from None
        if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
            template = (
                N_("%(field)s must be above %(lo)s and at most %(hi)s.")
                if lo_open
                else N_("%(field)s must be at least %(lo)s and at most %(hi)s.")
            )
            # 2,000,000 rather than format()'s 2e+06; 0.01 stays 0.01
            bounds = {
                k: f"{v:,.0f}" if v == int(v) else f"{v:g}" for k, v in (("lo", lo), ("hi", hi))
            }
            raise InvalidInput(Msg(template, field=_field(field), **bounds), field=field)
        return value

    min_support = number("min_support", 0.01, 0.0, 1.0, lo_open=True)
    min_confidence = number("min_confidence", 0.1, 0.0, 1.0)
    max_len = int(number("max_len", 3, 2, 6))
    max_itemsets = int(number("max_itemsets", 200_000, 1, 2_000_000))
    time_budget = number("time_budget", 60, 1, 600)
    since = params.get("since") or None
    if since is not None:
        try:
            since = date.fromisoformat(str(since)).isoformat()
        except ValueError:
            raise InvalidInput(
                Msg("%(field)s must be a date as YYYY-MM-DD.", field=_field("since")),
                field="since",
            ) from None
    return {
        "level": level,
        "min_support": min_support,
        "min_confidence": min_confidence,
        "max_len": max_len,
        "max_itemsets": max_itemsets,
        "time_budget": time_budget,
        "since": since,
    }


def order_lines(session: Session, level: str, since: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(order ids, item ids) of the lines of orders that were not cancelled."""
    item = OrderLine.product_id if level == "product" else Product.category
    stmt = (
        select(OrderLine.order_id, item)
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
    )
    if level == "category":
        stmt = stmt.join(Product, Product.id == OrderLine.product_id).where(
            Product.category.is_not(None), Product.category != ""
        )
    stmt = stmt.where(Order.status != "cancelled")
    if since:
        start = datetime.combine(date.fromisoformat(since), time(), tzinfo=UTC)
        stmt = stmt.where(Order.ordered_at >= start)
    rows = session.execute(stmt.limit(MAX_LINES + 1)).all()
    if len(rows) > MAX_LINES:
        raise InvalidInput(
            Msg("More than %(n)s order lines: choose a later start date.", n=f"{MAX_LINES:,}"),
            field="since",
        )
    if not rows:
        raise InvalidInput("There are no order lines to analyse.", field="since")
    orders = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    items = np.asarray([r[1] for r in rows], dtype=object if level == "category" else np.int64)
    return orders, items


def _names(session: Session, level: str, ids: set) -> dict[str, str]:
    if level == "category":
        return {str(i): str(i) for i in ids}
    out: dict[str, str] = {}
    wanted = sorted(int(i) for i in ids)
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        for pid, name in session.execute(
            select(Product.id, Product.name).where(Product.id.in_(chunk))
        ):
            out[str(pid)] = name
    return out


def _item(v: Any) -> Any:
    return int(v) if isinstance(v, np.integer | int) else str(v)


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def compute(job: dict[str, Any], report: runs.Reporter) -> dict[str, Any]:
    p = job["params"]
    report("baskets", 0.05)
    lines = OrderLines.from_arrays(job["orders"], job["items"])
    report("itemsets", 0.2)
    model = BasketAnalysis(
        min_support=p["min_support"],
        min_confidence=p["min_confidence"],
        max_len=p["max_len"],
        max_itemsets=p["max_itemsets"],
        time_budget=p["time_budget"],
    ).fit(lines)
    report("rules", 0.9)
    rules = model.rules_.head(TOP_RULES)
    out_rules = []
    for r in rules.itertuples(index=False):
        out_rules.append(
            {
                "antecedents": [_item(x) for x in r.antecedents],
                "consequents": [_item(x) for x in r.consequents],
                "support": float(r.support),
                "confidence": float(r.confidence),
                "lift": float(r.lift),
                "leverage": float(r.leverage),
                "conviction": _num(float(r.conviction)),
            }
        )
    return {
        "level": p["level"],
        "n_lines": int(len(job["orders"])),
        "n_baskets": int(model.n_baskets_),
        "n_items": int(model.n_items_),
        "n_itemsets": int(len(model.itemsets_)),
        "n_rules": int(len(model.rules_)),
        "rules": out_rules,
    }


def start_run(
    session: Session, factory: sessionmaker[Session], params: dict[str, Any], *, actor: User
) -> InsightRun:
    require(actor, "insight:manage")
    p = check_params(params)
    orders, items = order_lines(session, p["level"], p["since"])
    run = runs.start(
        session,
        factory,
        kind=KIND,
        params=p,
        data={"params": p, "orders": orders, "items": items},
        rows=len(orders),
        compute=compute,
        actor=actor,
        budget_field="min_support",
    )
    return run


def names_for(session: Session, run: InsightRun) -> dict[str, str]:
    """Item id (as text) → product name (or the category) for the run's rules."""
    result = run.result or {}
    ids = {x for r in result.get("rules", []) for x in r["antecedents"] + r["consequents"]}
    return _names(session, result.get("level", "product"), ids)


def _suggest(rules: list[dict[str, Any]], held: set[int], k: int) -> list[dict[str, Any]]:
    best: dict[int, dict[str, Any]] = {}
    for r in rules:
        if len(r["consequents"]) != 1:
            continue
        item = r["consequents"][0]
        if item in held or not set(r["antecedents"]) <= held:
            continue
        cur = best.get(item)
        if cur is None or (r["lift"], r["confidence"]) > (cur["lift"], cur["confidence"]):
            best[item] = {
                "product_id": item,
                "because": r["antecedents"],
                "lift": r["lift"],
                "confidence": r["confidence"],
            }
    return sorted(best.values(), key=lambda x: (-x["lift"], -x["confidence"], x["product_id"]))[:k]


def _with_names(session: Session, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = {i["product_id"] for i in items} | {b for i in items for b in i["because"]}
    names = _names(session, "product", ids)
    for i in items:
        i["name"] = names.get(str(i["product_id"]), f"#{i['product_id']}")
        i["because_names"] = [names.get(str(b), f"#{b}") for b in i["because"]]
    return items


def latest_product_run(session: Session) -> InsightRun | None:
    return runs.latest_run(session, KIND, level="product")


def cross_sell_for_product(
    session: Session, product_id: int, k: int = CROSS_SELL
) -> tuple[InsightRun | None, list[dict[str, Any]]]:
    """What buyers of ``product_id`` also buy, by lift, from the latest product-level run."""
    run = latest_product_run(session)
    if run is None:
        return None, []
    return run, _with_names(session, _suggest(run.result.get("rules", []), {product_id}, k))


def cross_sell_for_customer(
    session: Session, customer_id: int, k: int = CROSS_SELL, recent_orders: int = 5
) -> tuple[InsightRun | None, list[dict[str, Any]]]:
    """Products to suggest to a customer: rules whose antecedent is among the products of the
    customer's last ``recent_orders`` orders, skipping anything they bought there."""
    run = latest_product_run(session)
    if run is None:
        return None, []
    recent = (
        select(Order.id)
        .where(Order.customer_id == customer_id, Order.status != "cancelled")
        .order_by(Order.ordered_at.desc())
        .limit(recent_orders)
        .subquery()
    )
    held = set(
        session.scalars(
            select(OrderLine.product_id).where(OrderLine.order_id.in_(select(recent.c.id)))
        )
    )
    if not held:
        return run, []
    return run, _with_names(session, _suggest(run.result.get("rules", []), held, k))
