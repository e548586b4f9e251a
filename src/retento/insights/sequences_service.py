"""Purchase sequences in the app: frequent sequences of products (or categories) bought on
successive dates, and the next-product recommender evaluated by hit-rate@5 on the last weeks
against a popularity and a repeat-purchase baseline (whichever wins is said).

The library is :func:`retento.analytics.sequences.frequent_sequences` (PrefixSpan) and
:func:`retento.analytics.next_item.evaluate_next_item`.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retento.analytics.next_item import NextItemRecommender, evaluate_next_item
from retento.analytics.sequences import PurchaseSequences, frequent_sequences
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import InvalidInput, Msg, Term, Terms
from retento.insights import runs
from retento.insights.basket_service import LEVEL_LABELS, _names
from retento.insights.models import InsightRun
from retento.orders.models import Order, OrderLine
from retento.products.models import Product
from retento.web.i18n import N_

KIND = "sequences"
LEVELS = ("product", "category")
MAX_LINES = 5_000_000
TOP_PATTERNS = 200
TOP_NEXT = 100
HIT_K = 5


# The run form's labels: a refused value names its field as the form does (the code in the
# API's English text).
FIELD_LABELS = {
    "level": N_("Items"),
    "min_support": N_("Minimum support"),
    "max_len": N_("Most items in a sequence"),
    "max_gap_days": N_("Most days between steps"),
    "holdout_days": N_("Days held out for the test"),
    "max_patterns": N_("Most sequences"),
    "time_budget": N_("Time limit (seconds)"),
}


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

    def number(field: str, default: Any, lo: float, hi: float, *, optional: bool = False):
        raw = params.get(field, default)
        if raw is None or raw == "":
            if optional:
                return None
            raise InvalidInput(Msg("%(field)s is required.", field=_field(field)), field=field)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise InvalidInput(
                Msg("%(field)s must be a number.", field=_field(field)), field=field
            ) from None
        if not math.isfinite(value) or not lo <= value <= hi:
            raise InvalidInput(
                Msg(
                    "%(field)s must be between %(lo)s and %(hi)s.",
                    field=_field(field),
                    lo=format(lo, "g"),
                    hi=format(hi, "g"),
                ),
                field=field,
            )
        return value

    min_support = number("min_support", 0.01, 0.0, 1.0)
    if min_support == 0:
        raise InvalidInput(
            Msg("%(field)s must be above 0.", field=_field("min_support")), field="min_support"
        )
    max_len = int(number("max_len", 3, 2, 6))
    max_gap_days = number("max_gap_days", None, 0, 3650, optional=True)
    holdout_days = int(number("holdout_days", 90, 7, 730))
    max_patterns = int(number("max_patterns", 200_000, 1, 2_000_000))
    time_budget = number("time_budget", 60, 1, 600)
    return {
        "level": level,
        "min_support": min_support,
        "max_len": max_len,
        "max_gap_days": int(max_gap_days) if max_gap_days is not None else None,
        "holdout_days": holdout_days,
        "max_patterns": max_patterns,
        "time_budget": time_budget,
    }


def purchase_lines(session: Session, level: str) -> pd.DataFrame:
    item = OrderLine.product_id if level == "product" else Product.category
    stmt = (
        select(Order.customer_id, Order.ordered_at, item)
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status != "cancelled")
    )
    if level == "category":
        stmt = stmt.join(Product, Product.id == OrderLine.product_id).where(
            Product.category.is_not(None), Product.category != ""
        )
    rows = session.execute(stmt.limit(MAX_LINES + 1)).all()
    if len(rows) > MAX_LINES:
        raise InvalidInput(Msg("More than %(n)s order lines.", n=f"{MAX_LINES:,}"), field="level")
    if not rows:
        raise InvalidInput("There are no order lines to analyse.", field="level")
    df = pd.DataFrame(rows, columns=["customer", "at", "item"])
    df["at"] = pd.to_datetime(df["at"], utc=True).dt.tz_localize(None)
    return df


def _item(v: Any) -> Any:
    return int(v) if isinstance(v, np.integer | int) else str(v)


def compute(job: dict[str, Any], report: runs.Reporter) -> dict[str, Any]:
    p = job["params"]
    df: pd.DataFrame = job["lines"]
    report("sequences", 0.05)
    data = PurchaseSequences.from_arrays(df["customer"], df["at"], df["item"])
    report("patterns", 0.15)
    found = frequent_sequences(
        data,
        min_support=p["min_support"],
        max_len=p["max_len"],
        max_gap_days=p["max_gap_days"],
        max_patterns=p["max_patterns"],
        time_budget=p["time_budget"],
    )
    multi = found[found["n_elements"] >= 2].sort_values(
        ["support", "length"], ascending=[False, True], kind="stable"
    )
    patterns = [
        {
            "pattern": [[_item(x) for x in el] for el in row.pattern],
            "support": float(row.support),
            "customers": int(row.count),
            "length": int(row.length),
        }
        for row in multi.head(TOP_PATTERNS).itertuples(index=False)
    ]
    report("evaluation", 0.5)
    last_day = df["at"].max().normalize()
    cutoff = last_day - pd.Timedelta(days=p["holdout_days"])
    evaluation = None
    if df["at"].min() < cutoff:
        evaluation = evaluate_next_item(
            data,
            cutoff,
            k=HIT_K,
            min_support=p["min_support"],
            max_gap_days=p["max_gap_days"],
            max_patterns=p["max_patterns"],
            time_budget=p["time_budget"],
        )
    report("next products", 0.85)
    model = NextItemRecommender(
        min_support=p["min_support"],
        max_gap_days=p["max_gap_days"],
        max_patterns=p["max_patterns"],
        time_budget=p["time_budget"],
    ).fit(data)
    nxt = [
        {
            "antecedent": _item(r.antecedent),
            "consequent": _item(r.consequent),
            "support": float(r.support),
            "confidence": float(r.confidence),
        }
        for r in model.rules_.head(TOP_NEXT).itertuples(index=False)
    ]
    return {
        "level": p["level"],
        "n_customers": int(data.n_sequences),
        "n_purchase_dates": int(data.n_elements),
        "n_items": len(data.item_labels),
        "n_patterns": int(len(found)),
        "patterns": patterns,
        "next": nxt,
        "evaluation": evaluation,
        "first_day": str(df["at"].min().date()),
        "last_day": str(last_day.date()),
    }


def start_run(
    session: Session, factory: sessionmaker[Session], params: dict[str, Any], *, actor: User
) -> InsightRun:
    require(actor, "insight:manage")
    p = check_params(params)
    lines = purchase_lines(session, p["level"])
    return runs.start(
        session,
        factory,
        kind=KIND,
        params=p,
        data={"params": p, "lines": lines},
        rows=len(lines),
        compute=compute,
        actor=actor,
        budget_field="min_support",
    )


def names_for(session: Session, run: InsightRun) -> dict[str, str]:
    result = run.result or {}
    ids: set = set()
    for pat in result.get("patterns", []):
        for el in pat["pattern"]:
            ids.update(el)
    for r in result.get("next", []):
        ids.update((r["antecedent"], r["consequent"]))
    return _names(session, result.get("level", "product"), ids)


def evaluation_days(result: dict[str, Any]) -> tuple[date, date] | None:
    ev = result.get("evaluation")
    if not ev:
        return None
    return date.fromisoformat(ev["cutoff"]), date.fromisoformat(result["last_day"]) + timedelta(0)
