"""Pure order arithmetic: revenue, cost and profit from lines, discounts and refunds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from retento.core.money import ZERO


@dataclass(frozen=True)
class LineFigures:
    quantity: int
    unit_price: Decimal
    unit_cost: Decimal
    discount: Decimal


@dataclass(frozen=True)
class RefundFigures:
    amount: Decimal
    returned_units_cost: Decimal


@dataclass(frozen=True)
class OrderTotals:
    gross: Decimal
    revenue: Decimal
    cost: Decimal
    profit: Decimal
    refunded: Decimal


def order_totals(
    lines: Iterable[LineFigures], order_discount: Decimal, refunds: Iterable[RefundFigures] = ()
) -> OrderTotals:
    """revenue = Σ(q·price − line discount) − order discount − Σ refunds;
    cost = Σ q·unit cost − cost of returned units; profit = revenue − cost."""
    lines = list(lines)
    refunds = list(refunds)
    gross = sum((ln.quantity * ln.unit_price - ln.discount for ln in lines), ZERO) - order_discount
    refunded = sum((r.amount for r in refunds), ZERO)
    cost = sum((ln.quantity * ln.unit_cost for ln in lines), ZERO) - sum(
        (r.returned_units_cost for r in refunds), ZERO
    )
    revenue = gross - refunded
    return OrderTotals(
        gross=gross, revenue=revenue, cost=cost, profit=revenue - cost, refunded=refunded
    )
