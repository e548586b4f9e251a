"""The rules a scoring run applies from the value settings (pure: no database here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from retento.analytics.stages import LoyaltyStageRules

#: Editable fields and their defaults (the migration inserts the same row).
DEFAULTS: dict[str, Any] = {
    "vip_top_pct": 5.0,
    "major_top_pct": 20.0,
    "ordinary_top_pct": 100.0,
    "small_profit_threshold": Decimal("0.00"),
    "new_days": 90,
    "regular_per_year": 2.0,
    "loyal_per_year": 4.0,
    "long_tenure_days": 730,
    "recent_days": 180,
    "frequency_window_days": 365,
    "lapsed_days": 365,
    "wallet_window_days": 365,
}
PYRAMID_FIELDS = ("vip_top_pct", "major_top_pct", "ordinary_top_pct", "small_profit_threshold")
STAGE_FIELDS = (
    "new_days",
    "regular_per_year",
    "loyal_per_year",
    "long_tenure_days",
    "recent_days",
    "frequency_window_days",
    "lapsed_days",
)
INT_FIELDS = {k for k, v in DEFAULTS.items() if isinstance(v, int)}


@dataclass(frozen=True)
class ValueRules:
    """What a scoring run applies: band shares of the pyramid and the loyalty-stage rules."""

    cutoffs: tuple[float, float, float] = (0.05, 0.15, 0.80)
    small_threshold: float = 0.0
    stages: LoyaltyStageRules = field(default_factory=LoyaltyStageRules)
    version: int | None = None

    def to_report(self) -> dict[str, Any]:
        """JSON for the run report: the rules this run used."""
        tops = _tops(self.cutoffs)
        return {
            "version": self.version,
            "cutoffs": [round(c, 6) for c in self.cutoffs],
            "top_pct": [round(t * 100, 4) for t in tops],
            "small_threshold": self.small_threshold,
            "stages": {k: getattr(self.stages, k) for k in STAGE_FIELDS},
        }


def _tops(cutoffs: tuple[float, float, float]) -> tuple[float, float, float]:
    a, b, c = cutoffs
    return (a, a + b, a + b + c)


def rules_from(row: Any) -> ValueRules:
    """The run rules of a settings row (or a dict of its fields)."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    vip, major, ordinary = (float(get(k)) / 100.0 for k in PYRAMID_FIELDS[:3])
    cutoffs = (vip, max(major - vip, 0.0), max(ordinary - major, 0.0))
    stages = LoyaltyStageRules(
        **{k: (int(get(k)) if k in INT_FIELDS else float(get(k))) for k in STAGE_FIELDS}
    )
    version = None if isinstance(row, dict) else row.version
    return ValueRules(cutoffs, float(get("small_profit_threshold")), stages, version)
