"""Experience by mode and journey stage (SPEC §7), aggregated in SQL from two sources:

- experience records (rating 1–5), by their mode and stage;
- numeric answers to survey questions that carry an experience mode. An answer on a scale
  ``lo…hi`` is mapped linearly onto 1–5: ``1 + 4 (x − lo) / (hi − lo)``. Its stage is the stage
  of the customer's latest touchpoint at or before the response (when the customer answered),
  or "unknown" when there is none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Float, and_, cast, func, literal, select
from sqlalchemy.orm import Session

from retento.core.errors import InvalidInput, choice_error
from retento.journey.labels import SOURCE_LABELS
from retento.journey.models import MODES, ExperienceRecord
from retento.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse
from retento.touchpoints.models import STAGES, Touchpoint
from retento.web.i18n import N_

UNKNOWN_STAGE = "unknown"
SOURCES = ("record", "survey")


@dataclass
class Cell:
    mode: str
    stage: str
    source: str
    n: int
    mean: float | None


@dataclass
class Summary:
    """Counts and mean ratings (1–5) by mode, by stage, and by mode × stage (both sources)."""

    start: datetime | None
    end: datetime | None
    n: int
    mean: float | None
    by_mode: list[dict[str, Any]] = field(default_factory=list)
    by_stage: list[dict[str, Any]] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    raw: list[Cell] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _record_cells(session: Session, start, end) -> list[Cell]:
    e = ExperienceRecord
    stmt = select(e.mode, e.stage, func.count(), func.avg(cast(e.rating, Float))).group_by(
        e.mode, e.stage
    )
    if start is not None:
        stmt = stmt.where(e.occurred_at >= start)
    if end is not None:
        stmt = stmt.where(e.occurred_at < end)
    return [
        Cell(m, s, "record", int(n), float(avg) if avg is not None else None)
        for m, s, n, avg in session.execute(stmt).all()
    ]


def _survey_cells(session: Session, start, end) -> list[Cell]:
    a, q, r = SurveyAnswer, SurveyQuestion, SurveyResponse
    when = func.coalesce(r.completed_at, r.started_at)
    stage_at = (
        select(Touchpoint.stage)
        .where(Touchpoint.customer_id == r.customer_id, Touchpoint.occurred_at <= when)
        .order_by(Touchpoint.occurred_at.desc(), Touchpoint.id.desc())
        .limit(1)
        .correlate(r)
        .scalar_subquery()
    )
    scaled = literal(1.0) + literal(4.0) * (cast(a.number, Float) - q.scale_min) / cast(
        q.scale_max - q.scale_min, Float
    )
    inner = (
        select(
            q.experience_mode.label("mode"),
            func.coalesce(stage_at, UNKNOWN_STAGE).label("stage"),
            scaled.label("score"),
        )
        .select_from(a)
        .join(q, q.id == a.question_id)
        .join(r, r.id == a.response_id)
        .where(
            and_(
                q.experience_mode.is_not(None),
                a.number.is_not(None),
                q.scale_min.is_not(None),
                q.scale_max > q.scale_min,
            )
        )
    )
    if start is not None:
        inner = inner.where(when >= start)
    if end is not None:
        inner = inner.where(when < end)
    sub = inner.subquery()
    stmt = select(sub.c.mode, sub.c.stage, func.count(), func.avg(sub.c.score)).group_by(
        sub.c.mode, sub.c.stage
    )
    return [
        Cell(m, s, "survey", int(n), float(avg) if avg is not None else None)
        for m, s, n, avg in session.execute(stmt).all()
    ]


def _pool(cells: list[Cell]) -> tuple[int, float | None]:
    n = sum(c.n for c in cells)
    total = sum(c.n * c.mean for c in cells if c.mean is not None)
    return n, (total / n if n else None)


def experience_summary(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    source: str | None = None,
) -> Summary:
    """Experience in the period from records and mode-tagged survey answers (``source`` keeps
    one of them: ``record`` or ``survey``)."""
    if source not in (None, "", *SOURCES):
        choices = [(s, SOURCE_LABELS[s]) for s in SOURCES]
        raise choice_error("source", N_("Source"), choices).refuse()
    if start is not None and end is not None and end <= start:
        raise InvalidInput("The end of the period must come after its start.", field="until")
    raw: list[Cell] = []
    if source in (None, "", "record"):
        raw += _record_cells(session, start, end)
    if source in (None, "", "survey"):
        raw += _survey_cells(session, start, end)
    stage_order = (*STAGES, UNKNOWN_STAGE)
    n, mean = _pool(raw)
    by_mode = []
    for m in MODES:
        part = [c for c in raw if c.mode == m]
        mn, mm = _pool(part)
        rn, rm = _pool([c for c in part if c.source == "record"])
        sn, sm = _pool([c for c in part if c.source == "survey"])
        by_mode.append(
            {"mode": m, "n": mn, "mean": mm, "records": rn, "records_mean": rm,
             "answers": sn, "answers_mean": sm}
        )  # fmt: skip
    by_stage = []
    for s in stage_order:
        sn, sm = _pool([c for c in raw if c.stage == s])
        if s != UNKNOWN_STAGE or sn:
            by_stage.append({"stage": s, "n": sn, "mean": sm})
    cells = []
    for m in MODES:
        for s in stage_order:
            cn, cm = _pool([c for c in raw if c.mode == m and c.stage == s])
            if cn:
                cells.append({"mode": m, "stage": s, "n": cn, "mean": cm})
    return Summary(
        start=start,
        end=end,
        n=n,
        mean=mean,
        by_mode=by_mode,
        by_stage=by_stage,
        cells=cells,
        raw=raw,
    )
