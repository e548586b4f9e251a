"""Satisfaction metrics as pure functions over plain numbers (no database, no web).

CSAT, NPS and CES follow their usual industry definitions; the expectation ratio c = b / a,
the three satisfaction levels, the word-of-mouth reach, customer delivered value and the
expression funnel follow SPEC §1 and §3 (the course material on 客户满意度 and 客户让渡价值).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from retento.core.errors import Msg

DISSATISFIED = "dissatisfied"
SATISFIED = "satisfied"
HIGHLY_SATISFIED = "highly_satisfied"
LEVELS = (DISSATISFIED, SATISFIED, HIGHLY_SATISFIED)
DEFAULT_TOLERANCE = 0.05
# People a customer tells about the experience, by level (SPEC §3, from the course material).
WOM_REACH: dict[str, int] = {DISSATISFIED: 22, SATISFIED: 8, HIGHLY_SATISFIED: 10}
VALUE_DIMENSIONS = ("product", "service", "personnel", "image")
COST_DIMENSIONS = ("money", "time", "energy", "physical")


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _clean(values: Iterable[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


@dataclass(frozen=True)
class CSATResult:
    """Customer satisfaction score: share of answers in the top boxes, and the mean."""

    n: int
    top_box_share: float | None
    mean: float | None
    scale_min: int
    scale_max: int
    top_boxes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def csat(
    values: Iterable[float | None], scale_min: int, scale_max: int, *, top_boxes: int = 2
) -> CSATResult:
    """CSAT = share of ratings in the ``top_boxes`` highest points of the scale (and the mean)."""
    if scale_max <= scale_min:
        raise ValueError("scale_max must be above scale_min")
    if top_boxes < 1 or top_boxes > scale_max - scale_min + 1:
        raise ValueError("top_boxes must be between 1 and the number of scale points")
    vals = _clean(values)
    threshold = scale_max - top_boxes + 1
    share = sum(1 for v in vals if v >= threshold) / len(vals) if vals else None
    return CSATResult(len(vals), share, _mean(vals), scale_min, scale_max, top_boxes)


def csat_pooled(
    items: Iterable[tuple[float | None, int, int]], *, top_boxes: int = 2
) -> dict[str, Any]:
    """CSAT over answers on different scales: ``(value, scale_min, scale_max)`` per answer.

    Each answer counts as a top-box hit on its own scale; the mean is reported on 0–100.
    """
    n = hits = 0
    total = 0.0
    for value, lo, hi in items:
        if value is None:
            continue
        n += 1
        hits += value >= hi - top_boxes + 1
        total += normalise(value, lo, hi)
    return {
        "n": n,
        "top_box_share": hits / n if n else None,
        "mean_pct": total / n if n else None,
    }


@dataclass(frozen=True)
class NPSResult:
    """Net promoter score: % promoters (9–10) − % detractors (0–6), from −100 to 100."""

    n: int
    promoters: int
    passives: int
    detractors: int
    score: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def nps(scores: Iterable[float | None]) -> NPSResult:
    """Promoters score 9–10, passives 7–8, detractors 0–6; NPS = 100 (P − D) / n."""
    vals = _clean(scores)
    for v in vals:
        if v < 0 or v > 10:
            raise ValueError(Msg("an NPS score lies in 0..10, got %(score)s", score=v))
    p = sum(1 for v in vals if v >= 9)
    d = sum(1 for v in vals if v <= 6)
    score = 100.0 * (p - d) / len(vals) if vals else None
    return NPSResult(len(vals), p, len(vals) - p - d, d, score)


@dataclass(frozen=True)
class CESResult:
    """Customer effort score: the mean agreement with "they made it easy" (higher = easier)."""

    n: int
    mean: float | None
    scale_min: int
    scale_max: int
    easy_share: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ces(values: Iterable[float | None], scale_min: int = 1, scale_max: int = 7) -> CESResult:
    """CES = mean answer; ``easy_share`` = share above the scale midpoint."""
    vals = _clean(values)
    mid = (scale_min + scale_max) / 2
    easy = sum(1 for v in vals if v > mid) / len(vals) if vals else None
    return CESResult(len(vals), _mean(vals), scale_min, scale_max, easy)


def satisfaction_level(c: float, tolerance: float = DEFAULT_TOLERANCE) -> str:
    """SPEC §3 levels: c < 1 − tol dissatisfied, |c − 1| ≤ tol satisfied, c > 1 + tol highly."""
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    if c < 1 - tolerance:
        return DISSATISFIED
    if c > 1 + tolerance:
        return HIGHLY_SATISFIED
    return SATISFIED


@dataclass(frozen=True)
class RatioResult:
    """The expectation ratio c = b / a of one item or dimension.

    ``c`` is the ratio of the mean perception to the mean expectation (robust to single small
    expectations); ``levels`` counts respondents by their own ratio b_i / a_i.
    """

    n: int
    mean_expectation: float | None
    mean_perception: float | None
    c: float | None
    level: str | None
    levels: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def expectation_ratio(
    pairs: Iterable[tuple[float | None, float | None]], tolerance: float = DEFAULT_TOLERANCE
) -> RatioResult:
    """c = mean(b) / mean(a) over pairs (a expectation, b perception) with both present, a > 0."""
    clean = [(float(a), float(b)) for a, b in pairs if a is not None and b is not None]
    for a, _ in clean:
        if a <= 0:
            raise ValueError("an expectation a must be positive for c = b / a")
    if not clean:
        return RatioResult(0, None, None, None, None, dict.fromkeys(LEVELS, 0))
    ma = sum(a for a, _ in clean) / len(clean)
    mb = sum(b for _, b in clean) / len(clean)
    c = mb / ma
    counts = Counter(satisfaction_level(b / a, tolerance) for a, b in clean)
    return RatioResult(
        len(clean),
        ma,
        mb,
        c,
        satisfaction_level(c, tolerance),
        {lv: counts.get(lv, 0) for lv in LEVELS},
    )


def ratios_by(
    groups: Mapping[str, Iterable[tuple[float | None, float | None]]],
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, RatioResult]:
    """``expectation_ratio`` per item or per dimension (a dimension pools its items' pairs)."""
    return {key: expectation_ratio(pairs, tolerance) for key, pairs in groups.items()}


def word_of_mouth(
    level_counts: Mapping[str, int], reach: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """People reached by word of mouth: customers per level × people each tells (22 / 8 / 10)."""
    reach = dict(WOM_REACH if reach is None else reach)
    rows = []
    for level in LEVELS:
        n = int(level_counts.get(level, 0))
        rows.append(
            {
                "level": level,
                "customers": n,
                "people_each": reach[level],
                "reach": n * reach[level],
            }
        )
    negative = rows[0]["reach"]
    positive = rows[1]["reach"] + rows[2]["reach"]
    return {
        "levels": rows,
        "positive_reach": positive,
        "negative_reach": negative,
        "net_reach": positive - negative,
    }


def normalise(value: float, scale_min: float, scale_max: float) -> float:
    """Map a score on [scale_min, scale_max] to 0–100."""
    if scale_max <= scale_min:
        raise ValueError("scale_max must be above scale_min")
    return 100.0 * (float(value) - scale_min) / (scale_max - scale_min)


@dataclass(frozen=True)
class DeliveredValue:
    """Customer delivered value (客户让渡价值) on 0–100 dimension scores.

    ``total_value`` is the mean of the value dimensions present, ``total_cost`` the mean of the
    cost dimensions present, ``delivered`` their difference (−100…100). The weakest dimension is
    the one contributing least: the lowest value score or the highest cost score.
    """

    dimensions: dict[str, float]
    total_value: float | None
    total_cost: float | None
    delivered: float | None
    weakest: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def delivered_value(scores: Mapping[str, float]) -> DeliveredValue:
    """Delivered value from per-dimension scores (0–100; costs: higher = more costly)."""
    unknown = set(scores) - set(VALUE_DIMENSIONS) - set(COST_DIMENSIONS)
    if unknown:
        raise ValueError(
            Msg("unknown delivered-value dimension(s): %(dimensions)s", dimensions=sorted(unknown))
        )
    values = [scores[d] for d in VALUE_DIMENSIONS if d in scores]
    costs = [scores[d] for d in COST_DIMENSIONS if d in scores]
    tv, tc = _mean(values), _mean(costs)
    delivered = tv - tc if tv is not None and tc is not None else None
    contribution = {d: (s if d in VALUE_DIMENSIONS else 100.0 - s) for d, s in scores.items()}
    weakest = min(contribution, key=lambda d: (contribution[d], d)) if contribution else None
    return DeliveredValue(dict(scores), tv, tc, delivered, weakest)


def delivered_value_by(
    rows: Iterable[tuple[Hashable, Mapping[str, float]]],
) -> dict[Hashable, DeliveredValue]:
    """Pool ``(group, {dimension: score})`` rows: each dimension averaged within its group."""
    acc: dict[Hashable, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for key, scores in rows:
        for dim, s in scores.items():
            acc[key][dim].append(float(s))
    return {
        key: delivered_value({d: sum(v) / len(v) for d, v in dims.items()})
        for key, dims in acc.items()
    }


def response_rates(
    invitations: Iterable[tuple[Hashable, bool, bool]],
) -> list[dict[str, Any]]:
    """Per group (channel or segment) from ``(group, opened, completed)`` rows: the rates."""
    acc: dict[Hashable, list[int]] = defaultdict(lambda: [0, 0, 0])
    for key, opened, completed in invitations:
        acc[key][0] += 1
        acc[key][1] += bool(opened) or bool(completed)
        acc[key][2] += bool(completed)
    return rates_from_counts((k, *v) for k, v in acc.items())


def rates_from_counts(
    counts: Iterable[tuple[Hashable, int, int, int]],
) -> list[dict[str, Any]]:
    """Rates from pre-aggregated ``(group, invited, opened, completed)`` counts (SQL GROUP BY)."""
    out = []
    for key, invited, opened, completed in sorted(counts, key=lambda r: str(r[0])):
        if invited <= 0:
            continue
        out.append(
            {
                "group": key,
                "invited": invited,
                "opened": opened,
                "completed": completed,
                "open_rate": opened / invited,
                "response_rate": completed / invited,
            }
        )
    return out


@dataclass(frozen=True)
class FunnelInput:
    """One respondent's path through the expression model, as far as the survey tells."""

    level: str | None
    problem: bool | None = None
    reported: str | None = None  # "no", "informal" (grumble to staff) or "formal" (complaint)
    resolved: bool | None = None
    lapsed: bool | None = None


COMPLAINT_KEYS = ("grumbles", "complaints", "handled", "satisfied_after", "left_after")


def expression_funnel(
    respondents: Sequence[FunnelInput],
    complaints: Mapping[str, int] | None = None,
    *,
    complaints_note: str | None = None,
) -> dict[str, Any]:
    """The SPEC §3 expression model: expectation → purchase → satisfied / dissatisfied → grumble
    → contact → handled → satisfied / not → formal complaint → satisfied / not → leaves.

    Survey counts: every respondent had expectations and bought; satisfied / dissatisfied by
    level; grumble = had a problem; contact = told the business (informally or formally);
    handled = contact with a known outcome; formal complaint = reported formally; leaves =
    dissatisfied or unresolved respondents whose behaviour has lapsed. ``complaints`` adds the
    counts of recorded grumbles and complaints; without them they are zero and ``note`` says why.
    """
    n = len(respondents)
    satisfied = sum(1 for r in respondents if r.level in (SATISFIED, HIGHLY_SATISFIED))
    dissatisfied = sum(1 for r in respondents if r.level == DISSATISFIED)
    grumble = [r for r in respondents if r.problem]
    contact = [r for r in respondents if r.reported in ("informal", "formal")]
    handled = [r for r in contact if r.resolved is not None]
    formal = [r for r in contact if r.reported == "formal"]
    formal_known = [r for r in formal if r.resolved is not None]
    at_risk = [r for r in respondents if r.level == DISSATISFIED or r.resolved is False]
    leaves = sum(1 for r in at_risk if r.lapsed)
    silent = sum(1 for r in grumble if r.reported == "no")
    stages = [
        ("expectation", n),
        ("purchase", n),
        ("satisfied", satisfied),
        ("dissatisfied", dissatisfied),
        ("grumble", len(grumble)),
        ("contact", len(contact)),
        ("handled", len(handled)),
        ("handled_satisfied", sum(1 for r in handled if r.resolved)),
        ("handled_not_satisfied", sum(1 for r in handled if not r.resolved)),
        ("formal_complaint", len(formal)),
        ("complaint_satisfied", sum(1 for r in formal_known if r.resolved)),
        ("complaint_not_satisfied", sum(1 for r in formal_known if not r.resolved)),
        ("leaves", leaves),
    ]
    recorded = {k: int((complaints or {}).get(k, 0)) for k in COMPLAINT_KEYS}
    return {
        "respondents": n,
        "stages": [{"stage": s, "count": c} for s, c in stages],
        "silent_with_problem": silent,
        "complaint_records": recorded,
        "note": complaints_note,
    }
