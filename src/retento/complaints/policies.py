"""SLA policy selection: which targets apply to a complaint (pure, no database).

Precedence, documented in docs/complaints.md:

1. only active policies whose conditions all match (an empty condition matches anything);
2. the most specific match wins: a policy naming both severity and value class beats one naming
   one of them, which beats a catch-all;
3. among equally specific matches the lower ``priority`` number wins;
4. then the older policy (lower id), so the choice is always deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from retento.core.errors import InvalidInput, Msg

SEVERITIES = (1, 2, 3, 4)
VALUE_CLASSES = ("vip", "major", "ordinary", "small", "below_zero")
DEFAULT_VALUE_CLASS = "ordinary"


@dataclass(frozen=True)
class PolicyRule:
    """The selection-relevant part of an SLA policy."""

    id: int
    name: str
    first_response: timedelta
    resolution: timedelta
    severity: int | None = None
    value_class: str | None = None
    priority: int = 100
    is_active: bool = True

    def __post_init__(self) -> None:
        if self.severity is not None and self.severity not in SEVERITIES:
            raise InvalidInput("severity must be 1, 2, 3 or 4.", field="severity")
        if self.value_class is not None and self.value_class not in VALUE_CLASSES:
            raise InvalidInput(
                Msg("value_class must be one of %(choices)s.", choices=", ".join(VALUE_CLASSES)),
                field="value_class",
            )
        if self.first_response <= timedelta(0):
            raise InvalidInput(
                "The first-response target must be positive.", field="first_response_minutes"
            )
        if self.resolution < self.first_response:
            raise InvalidInput(
                "The resolution target must not be shorter than the first response.",
                field="resolution_minutes",
            )

    def matches(self, severity: int, value_class: str) -> bool:
        return (
            self.is_active
            and (self.severity is None or self.severity == severity)
            and (self.value_class is None or self.value_class == value_class)
        )

    @property
    def specificity(self) -> int:
        return (self.severity is not None) + (self.value_class is not None)


def rank(rule: PolicyRule) -> tuple[int, int, int]:
    """Sort key: most specific first, then lower priority number, then lower id."""
    return (-rule.specificity, rule.priority, rule.id)


def select_policy(
    rules: Iterable[PolicyRule], severity: int, value_class: str | None
) -> PolicyRule | None:
    """The policy that applies to a complaint of ``severity`` from a ``value_class`` customer."""
    cls = value_class or DEFAULT_VALUE_CLASS
    matching = [r for r in rules if r.matches(severity, cls)]
    return min(matching, key=rank) if matching else None


def explain(rules: Iterable[PolicyRule], severity: int, value_class: str | None) -> list[str]:
    """Why each matching policy did or did not win, best first (for the admin page)."""
    cls = value_class or DEFAULT_VALUE_CLASS
    matching = sorted((r for r in rules if r.matches(severity, cls)), key=rank)
    return [
        f"{'✓' if i == 0 else '·'} {r.name} (specificity {r.specificity}, priority {r.priority})"
        for i, r in enumerate(matching)
    ]
