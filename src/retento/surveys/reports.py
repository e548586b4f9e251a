"""Survey results: CSAT / NPS / CES, c = b/a, word of mouth, funnel, delivered value, a customer's
history and the satisfaction trap. The CSI is in ``surveys.csi_report``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import InvalidInput, choice_error, range_error
from retento.customers.models import Customer
from retento.surveys import metrics
from retento.surveys.languages import survey_text
from retento.surveys.models import (
    CHANNELS,
    COST_DIMENSIONS,
    Survey,
    SurveyAnswer,
    SurveyDistribution,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
)
from retento.surveys.optional_domains import complaint_model
from retento.surveys.service import _survey
from retento.surveys.templates import PROBLEM_EXPERIENCED, PROBLEM_REPORTED, PROBLEM_RESOLVED
from retento.web.i18n import N_
from retento.web.labels import label_msgid

NO_COMPLAINTS_NOTE = (
    "Complaints are not recorded in this installation: the recorded grumble and complaint "
    "counts are zero and the funnel is built from the survey answers only."
)


def finite(value: Any) -> Any:
    """``value`` with every NaN / ±inf replaced by None and numpy scalars made plain Python.

    Reports carry statistics that can be undefined (the CSI GoF when every block has a single
    item, an index whose weights sum to zero, a bootstrap interval without successful
    resamples). JSON has no NaN, Jinja would print "nan" and the chart JSON would not parse, so
    every report leaves through here: undefined is None everywhere (the API writes null, the
    pages and the CLI "—").
    """
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


@dataclass
class Resp:
    """One completed response with its answers keyed by question id."""

    id: int
    customer_id: int | None
    channel: str
    completed_at: datetime | None
    answers: dict[int, tuple[float | None, float | None, list[str] | None]] = field(
        default_factory=dict
    )


@dataclass(frozen=True)
class ResponseFilter:
    """Which completed responses a report reads: completed in ``[since, until)``, on
    ``channel``, from customers of ``value_class`` in scoring run ``run_id`` (the latest run
    when the filter was made; no run selects no one). Build it with ``response_filter``."""

    since: datetime | None = None
    until: datetime | None = None
    channel: str | None = None
    value_class: str | None = None
    run_id: int | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.since, self.until, self.channel, self.value_class))

    def _members(self, column: Any) -> list:
        from retento.scoring.models import CustomerScore

        if self.value_class is None:
            return []
        members = select(CustomerScore.customer_id).where(
            CustomerScore.run_id == (self.run_id if self.run_id is not None else -1),
            CustomerScore.value_class == self.value_class,
        )
        return [column.in_(members)]

    def conditions(self) -> list:
        """``WHERE`` conditions on ``survey_responses`` rows."""
        out: list = []
        if self.since is not None:
            out.append(SurveyResponse.completed_at >= self.since)
        if self.until is not None:
            out.append(SurveyResponse.completed_at < self.until)
        if self.channel is not None:
            out.append(SurveyResponse.channel == self.channel)
        return out + self._members(SurveyResponse.customer_id)

    def invitation_conditions(self) -> list:
        """The same filter on ``survey_invitations`` (sent in the period) for response rates."""
        sent = func.coalesce(SurveyInvitation.sent_at, SurveyInvitation.created_at)
        out: list = []
        if self.since is not None:
            out.append(sent >= self.since)
        if self.until is not None:
            out.append(sent < self.until)
        if self.channel is not None:
            out.append(SurveyInvitation.channel == self.channel)
        return out + self._members(SurveyInvitation.customer_id)


NO_FILTER = ResponseFilter()


def response_filter(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    value_class: str | None = None,
) -> ResponseFilter:
    """A checked ``ResponseFilter``: an unknown channel or value class, or ``until`` not after
    ``since``, is an ``InvalidInput`` naming the field."""
    from retento.scoring.models import VALUE_CLASSES
    from retento.scoring.service import latest_run

    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since.", field="until")
    channel = (channel or "").strip() or None
    if channel is not None and channel not in CHANNELS:
        # Named as the results page's filters name them; the API's English keeps the codes.
        choices = [(c, label_msgid("survey_channel", c)) for c in CHANNELS]
        raise choice_error("channel", N_("Channel"), choices).refuse()
    value_class = (value_class or "").strip() or None
    run_id = None
    if value_class is not None:
        if value_class not in VALUE_CLASSES:
            choices = [(c, label_msgid("value_class", c)) for c in VALUE_CLASSES]
            raise choice_error("value_class", N_("Value class"), choices).refuse()
        run = latest_run(session)
        run_id = run.id if run is not None else None
    return ResponseFilter(since, until, channel, value_class, run_id)


def load_responses(
    session: Session,
    survey_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    customer_ids: Iterable[int] | None = None,
    flt: ResponseFilter | None = None,
) -> list[Resp]:
    """Completed responses with their numeric and choice answers, in one query (``flt``
    narrows them to a period, channel and value class)."""
    stmt = (
        select(
            SurveyResponse.id,
            SurveyResponse.customer_id,
            SurveyResponse.channel,
            SurveyResponse.completed_at,
            SurveyAnswer.question_id,
            SurveyAnswer.number,
            SurveyAnswer.expectation,
            SurveyAnswer.choices,
        )
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .where(SurveyResponse.survey_id == survey_id, SurveyResponse.status == "completed")
        .order_by(SurveyResponse.id)
    )
    if since is not None:
        stmt = stmt.where(SurveyResponse.completed_at >= since)
    if until is not None:
        stmt = stmt.where(SurveyResponse.completed_at < until)
    if customer_ids is not None:
        stmt = stmt.where(SurveyResponse.customer_id.in_(list(customer_ids)))
    if flt is not None:
        stmt = stmt.where(*flt.conditions())
    out: dict[int, Resp] = {}
    for rid, cid, channel, done, qid, number, expectation, choices in session.execute(stmt):
        r = out.get(rid)
        if r is None:
            r = out[rid] = Resp(rid, cid, channel, done)
        r.answers[qid] = (number, expectation, choices)
    return list(out.values())


def _csat_eligible(q: SurveyQuestion) -> bool:
    return (
        q.qtype in ("rating", "expectation_perception")
        and q.value_dimension not in COST_DIMENSIONS
        and q.csi_latent != "Expectation"
    )


def headline_csat_question(survey: Survey) -> SurveyQuestion | None:
    """The overall-satisfaction rating: first rating measuring CSI Satisfaction, else the first
    'overall' rating, else the first satisfaction rating."""
    ratings = [q for q in survey.questions if q.qtype == "rating" and _csat_eligible(q)]
    for pick in (
        lambda q: q.csi_latent == "Satisfaction",
        lambda q: q.satisfaction_dimension == "overall",
        lambda q: True,
    ):
        found = [q for q in ratings if pick(q)]
        if found:
            return found[0]
    return None


def _choice(r: Resp, q: SurveyQuestion | None) -> str | None:
    if q is None or q.id not in r.answers:
        return None
    choices = r.answers[q.id][2] or []
    return choices[0] if choices else None


def respondent_level(
    r: Resp, pairs_q: list[SurveyQuestion], headline: SurveyQuestion | None, tol: float
) -> str | None:
    """A respondent's level from their own c = Σb / Σa; without pairs, from the overall rating
    (top box highly satisfied, at least the midpoint satisfied, below it dissatisfied)."""
    sa = sb = 0.0
    for q in pairs_q:
        number, expectation, _ = r.answers.get(q.id, (None, None, None))
        if number is not None and expectation:
            sa += expectation
            sb += number
    if sa > 0:
        return metrics.satisfaction_level(sb / sa, tol)
    if headline is not None and headline.id in r.answers:
        v = r.answers[headline.id][0]
        if v is None:
            return None
        if v >= headline.scale_max:
            return metrics.HIGHLY_SATISFIED
        if v >= (headline.scale_min + headline.scale_max) / 2:
            return metrics.SATISFIED
        return metrics.DISSATISFIED
    return None


def _lapsed(session: Session, customer_ids: set[int]) -> dict[int, bool]:
    from retento.scoring.models import CustomerScore
    from retento.scoring.service import latest_run

    run = latest_run(session)
    if run is None or not customer_ids:
        return {}
    return dict(
        session.execute(
            select(CustomerScore.customer_id, CustomerScore.lapsed).where(
                CustomerScore.run_id == run.id, CustomerScore.customer_id.in_(customer_ids)
            )
        ).all()
    )


def complaint_counts(session: Session, customer_ids: set[int]) -> tuple[dict[str, int], str | None]:
    """Recorded grumbles / complaints of these customers, if the complaints domain exists.

    handled = resolved, in follow-up or closed; satisfied_after = a follow-up CSAT of 4 or 5;
    left_after = not won back.
    """
    model = complaint_model()
    if model is None or not hasattr(model, "customer_id"):
        return {}, NO_COMPLAINTS_NOTE
    if not customer_ids:
        return {}, None
    base = select(func.count()).select_from(model).where(model.customer_id.in_(customer_ids))
    counts: dict[str, int] = {}
    if hasattr(model, "kind"):
        counts["grumbles"] = session.scalar(base.where(model.kind == "grumble")) or 0
        counts["complaints"] = session.scalar(base.where(model.kind == "complaint")) or 0
    else:
        counts["complaints"] = session.scalar(base) or 0
    if hasattr(model, "status"):
        done = ("resolved", "follow_up", "closed")
        counts["handled"] = session.scalar(base.where(model.status.in_(done))) or 0
    if hasattr(model, "csat"):
        counts["satisfied_after"] = session.scalar(base.where(model.csat >= 4)) or 0
    if hasattr(model, "won_back"):
        counts["left_after"] = session.scalar(base.where(model.won_back.is_(False))) or 0
    return counts, None


def _per_question_scores(
    survey: Survey, resps: list[Resp]
) -> dict[int, list[tuple[float | None, float | None]]]:
    vals: dict[int, list[tuple[float | None, float | None]]] = defaultdict(list)
    for r in resps:
        for qid, (number, expectation, _) in r.answers.items():
            vals[qid].append((number, expectation))
    return vals


def survey_results(
    session: Session,
    survey_id: int,
    *,
    actor: User,
    tolerance: float | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    value_class: str | None = None,
) -> dict[str, Any]:
    """Every satisfaction metric of a survey in one report (the results dashboard), over the
    responses completed in ``[since, until)``, on ``channel``, from customers of
    ``value_class`` (latest scoring run) when given, with the headline figures split by
    channel and by value class."""
    require(actor, "survey:read")
    survey = _survey(session, survey_id)
    tol = survey.expectation_tolerance if tolerance is None else tolerance
    if not 0 <= tol <= 0.5:
        raise range_error("tolerance", N_("Tolerance of c = b/a"), 0, 0.5).refuse()
    flt = response_filter(
        session, since=since, until=until, channel=channel, value_class=value_class
    )
    resps = load_responses(session, survey.id, flt=flt)
    vals = _per_question_scores(survey, resps)
    qs = survey.questions

    csat_q = []
    dim_items: dict[str, list[tuple[float | None, int, int]]] = defaultdict(list)
    for q in qs:
        if not _csat_eligible(q):
            continue
        numbers = [n for n, _ in vals.get(q.id, [])]
        if q.qtype == "rating":
            csat_q.append(
                {"question": q.code, "dimension": q.satisfaction_dimension}
                | metrics.csat(numbers, q.scale_min, q.scale_max).as_dict()
            )
        if q.satisfaction_dimension:
            dim_items[q.satisfaction_dimension] += [(n, q.scale_min, q.scale_max) for n in numbers]
    headline = headline_csat_question(survey)
    headline_csat = next((c for c in csat_q if headline and c["question"] == headline.code), None)

    nps_qs = [q for q in qs if q.qtype == "nps"]
    nps_by_q = [
        {"question": q.code} | metrics.nps(n for n, _ in vals.get(q.id, [])).as_dict()
        for q in nps_qs
    ]
    trend: list[dict[str, Any]] = []
    if nps_qs:
        by_month: dict[str, list[float]] = defaultdict(list)
        for r in resps:
            v = r.answers.get(nps_qs[0].id, (None,))[0]
            if v is not None and r.completed_at is not None:
                by_month[r.completed_at.strftime("%Y-%m")].append(v)
        trend = [{"month": m} | metrics.nps(by_month[m]).as_dict() for m in sorted(by_month)]
    ces_by_q = [
        {"question": q.code}
        | metrics.ces((n for n, _ in vals.get(q.id, [])), q.scale_min, q.scale_max).as_dict()
        for q in qs
        if q.qtype == "ces"
    ]

    pair_qs = [q for q in qs if q.qtype == "expectation_perception"]
    item_pairs = {q.code: [(a, b) for b, a in vals.get(q.id, [])] for q in pair_qs}
    by_item = metrics.ratios_by(item_pairs, tol)
    dim_pairs: dict[str, list[tuple[float | None, float | None]]] = defaultdict(list)
    for q in pair_qs:
        dim_pairs[q.satisfaction_dimension or q.code] += item_pairs[q.code]
    by_dim = metrics.ratios_by(dim_pairs, tol)
    all_pairs = [p for q in pair_qs for p in item_pairs[q.code]]

    levels = [respondent_level(r, pair_qs, headline, tol) for r in resps]
    level_counts = {lv: sum(1 for x in levels if x == lv) for lv in metrics.LEVELS}

    by_code = {q.code: q for q in qs}
    customers = {r.customer_id for r in resps if r.customer_id is not None}
    lapsed = _lapsed(session, customers)
    funnel_in = [
        metrics.FunnelInput(
            level=lv,
            problem=None
            if _choice(r, by_code.get(PROBLEM_EXPERIENCED)) is None
            else _choice(r, by_code.get(PROBLEM_EXPERIENCED)) == "yes",
            reported=_choice(r, by_code.get(PROBLEM_REPORTED)),
            resolved=None
            if _choice(r, by_code.get(PROBLEM_RESOLVED)) is None
            else _choice(r, by_code.get(PROBLEM_RESOLVED)) == "yes",
            lapsed=lapsed.get(r.customer_id) if r.customer_id is not None else None,
        )
        for r, lv in zip(resps, levels, strict=True)
    ]
    counts, note = complaint_counts(session, customers)

    report = {
        "survey_id": survey.id,
        "responses": len(resps),
        "tolerance": tol,
        "csat": {
            "headline": headline_csat,
            "by_question": csat_q,
            "by_dimension": [
                {"dimension": d} | metrics.csat_pooled(items)
                for d, items in sorted(dim_items.items())
            ],
        },
        "nps": {
            "headline": nps_by_q[0] if nps_by_q else None,
            "by_question": nps_by_q,
            "trend": trend,
        },
        "ces": {"headline": ces_by_q[0] if ces_by_q else None, "by_question": ces_by_q},
        "expectation_ratio": {
            "overall": metrics.expectation_ratio(all_pairs, tol).as_dict(),
            "by_item": [
                {"question": q.code, "dimension": q.satisfaction_dimension}
                | by_item[q.code].as_dict()
                for q in pair_qs
            ],
            "by_dimension": [{"dimension": d} | r.as_dict() for d, r in by_dim.items()],
        },
        "levels": level_counts,
        "word_of_mouth": metrics.word_of_mouth(level_counts),
        "response_rates": response_rates(session, survey.id, flt),
        "funnel": metrics.expression_funnel(funnel_in, counts, complaints_note=note),
        "filters": {
            "since": flt.since,
            "until": flt.until,
            "channel": flt.channel,
            "value_class": flt.value_class,
        },
        "split": split(survey, resps, _value_classes(session, customers), headline, levels, nps_qs),
    }
    return finite(report)


def split(
    survey: Survey,
    resps: list[Resp],
    classes: dict[int, str],
    headline: SurveyQuestion | None,
    levels: list[str | None],
    nps_qs: list[SurveyQuestion],
) -> dict[str, list[dict[str, Any]]]:
    """Responses, CSAT (top-box share of the headline rating), NPS, CES and the share of
    dissatisfied respondents per channel and per value class (``unscored``: no class in the
    latest run, or no customer)."""
    ces_q = next((q for q in survey.questions if q.qtype == "ces"), None)

    def numbers(part: list[Resp], q: SurveyQuestion | None) -> list[float | None]:
        return [] if q is None else [r.answers.get(q.id, (None,))[0] for r in part]

    def figures(group: str, idx: list[int]) -> dict[str, Any]:
        part = [resps[i] for i in idx]
        lv = [levels[i] for i in idx if levels[i] is not None]
        row: dict[str, Any] = {"group": group, "responses": len(part)}
        row["csat"] = (
            metrics.csat(
                numbers(part, headline), headline.scale_min, headline.scale_max
            ).top_box_share
            if headline is not None
            else None
        )
        row["nps"] = metrics.nps(numbers(part, nps_qs[0])).score if nps_qs else None
        row["ces"] = (
            metrics.ces(numbers(part, ces_q), ces_q.scale_min, ces_q.scale_max).mean
            if ces_q is not None
            else None
        )
        row["dissatisfied_share"] = (
            sum(1 for x in lv if x == metrics.DISSATISFIED) / len(lv) if lv else None
        )
        return row

    by_channel: dict[str, list[int]] = defaultdict(list)
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(resps):
        by_channel[r.channel].append(i)
        cls = classes.get(r.customer_id) if r.customer_id is not None else None
        by_class[cls or "unscored"].append(i)
    from retento.scoring.models import VALUE_CLASSES

    class_order = {c: i for i, c in enumerate((*VALUE_CLASSES, "unscored"))}
    return {
        "by_channel": [figures(c, by_channel[c]) for c in sorted(by_channel)],
        "by_value_class": [
            figures(c, by_class[c])
            for c in sorted(by_class, key=lambda c: class_order.get(c, len(class_order)))
        ],
    }


def response_rates(
    session: Session, survey_id: int, flt: ResponseFilter | None = None
) -> dict[str, Any]:
    """Invited, opened and completed per channel and per segment (SQL aggregation); with a
    filter, the invitations sent in its period, on its channel, to its value class."""
    flt = flt or NO_FILTER
    opened = func.count(func.coalesce(SurveyInvitation.opened_at, SurveyInvitation.completed_at))
    done = func.count(SurveyInvitation.completed_at)
    base = select(func.count(), opened, done).where(
        SurveyInvitation.survey_id == survey_id, *flt.invitation_conditions()
    )
    by_channel = session.execute(
        base.add_columns(SurveyInvitation.channel).group_by(SurveyInvitation.channel)
    ).all()
    seg_key = SurveyDistribution.segment_kind, SurveyDistribution.segment_value
    by_segment = session.execute(
        base.add_columns(*seg_key)
        .join(SurveyDistribution, SurveyDistribution.id == SurveyInvitation.distribution_id)
        .group_by(*seg_key)
    ).all()
    responses = session.execute(
        select(SurveyResponse.channel, func.count())
        .where(
            SurveyResponse.survey_id == survey_id,
            SurveyResponse.status == "completed",
            *flt.conditions(),
        )
        .group_by(SurveyResponse.channel)
    ).all()
    return {
        "by_channel": metrics.rates_from_counts((c, n, o, d) for n, o, d, c in by_channel),
        "by_segment": metrics.rates_from_counts(
            (k if v is None else f"{k}:{v}", n, o, d) for n, o, d, k, v in by_segment
        ),
        "completed_by_channel": dict(sorted(responses)),
    }


def _dimension_scores(survey: Survey, r: Resp) -> dict[str, float]:
    acc: dict[str, list[float]] = defaultdict(list)
    for q in survey.questions:
        if q.value_dimension and q.id in r.answers:
            v = r.answers[q.id][0]
            if v is not None:
                acc[q.value_dimension].append(metrics.normalise(v, q.scale_min, q.scale_max))
    return {d: sum(v) / len(v) for d, v in acc.items()}


def delivered_value_report(
    session: Session,
    survey_id: int,
    *,
    actor: User,
    limit: int = 100,
    flt: ResponseFilter | None = None,
) -> dict[str, Any]:
    """Customer delivered value per customer (latest response), per value class and overall."""
    require(actor, "survey:read")
    survey = _survey(session, survey_id)
    if not any(q.value_dimension for q in survey.questions):
        raise InvalidInput(
            "No question of this survey measures a delivered-value dimension.", field="survey_id"
        )
    latest: dict[int, Resp] = {}
    for r in load_responses(session, survey.id, flt=flt):
        if r.customer_id is not None:
            prev = latest.get(r.customer_id)
            if prev is None or (r.completed_at or datetime.min) >= (
                prev.completed_at or datetime.min
            ):
                latest[r.customer_id] = r
    scores = {cid: _dimension_scores(survey, r) for cid, r in latest.items()}
    scores = {cid: s for cid, s in scores.items() if s}
    classes = _value_classes(session, set(scores))
    names = (
        dict(
            session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(scores))).all()
        )
        if scores
        else {}
    )
    per_customer = [
        {"customer_id": cid, "name": names.get(cid), "value_class": classes.get(cid)}
        | metrics.delivered_value(s).as_dict()
        for cid, s in scores.items()
    ]
    per_customer.sort(
        key=lambda x: (x["delivered"] is None, x["delivered"] if x["delivered"] is not None else 0)
    )
    segments = metrics.delivered_value_by(
        (classes.get(cid) or "unscored", s) for cid, s in scores.items()
    )
    overall = metrics.delivered_value_by(("all", s) for s in scores.values()).get("all")
    report = {
        "survey_id": survey.id,
        "customers": len(scores),
        "overall": overall.as_dict() if overall else None,
        "by_segment": [{"segment": k} | v.as_dict() for k, v in sorted(segments.items())],
        "per_customer": per_customer[:limit],
    }
    return finite(report)


def _value_classes(session: Session, customer_ids: set[int]) -> dict[int, str]:
    from retento.scoring.models import CustomerScore
    from retento.scoring.service import latest_run

    run = latest_run(session)
    if run is None or not customer_ids:
        return {}
    return dict(
        session.execute(
            select(CustomerScore.customer_id, CustomerScore.value_class).where(
                CustomerScore.run_id == run.id, CustomerScore.customer_id.in_(customer_ids)
            )
        ).all()
    )


@cache
def _history_stmts() -> tuple[Any, Any, Any]:
    """customer_history's three statements, built once (the ids are parameters): building them
    and their cache keys cost about as much CPU as running them."""
    responses = (
        select(SurveyResponse, Survey)
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .where(
            SurveyResponse.customer_id
            == bindparam("customer_id", type_=SurveyResponse.customer_id.type)
        )
        .order_by(SurveyResponse.started_at.desc(), SurveyResponse.id.desc())
    )
    answers = select(
        SurveyAnswer.response_id,
        SurveyAnswer.question_id,
        SurveyAnswer.number,
        SurveyAnswer.expectation,
        SurveyAnswer.choices,
    ).where(SurveyAnswer.response_id.in_(bindparam("ids", expanding=True)))
    questions = (
        select(SurveyQuestion)
        .where(SurveyQuestion.survey_id.in_(bindparam("ids", expanding=True)))
        .order_by(
            SurveyQuestion.survey_id, SurveyQuestion.section_position, SurveyQuestion.position
        )
    )
    return responses, answers, questions


def customer_history(
    session: Session, customer_id: int, *, actor: User, lang: str | None = None
) -> list[dict[str, Any]]:
    """A customer's survey responses with the headline scores (the 360 page panel); survey
    names in ``lang`` where the survey has it.

    At most three statements however many responses: the responses with their surveys, then
    every response's answers (their columns) and every survey's questions in one ``IN`` query
    each (not one lazy load per response and per survey)."""
    require(actor, "survey:read")
    stmts = _history_stmts()
    rows = session.execute(stmts[0], {"customer_id": customer_id}).all()
    if not rows:
        return []
    answers_of: dict[int, dict[int, tuple[Any, Any, Any]]] = defaultdict(dict)
    for rid, qid, number, expectation, choices in session.execute(
        stmts[1], {"ids": sorted({r.id for r, _s in rows})}
    ):
        answers_of[rid][qid] = (number, expectation, choices)
    questions_of: dict[int, list[SurveyQuestion]] = defaultdict(list)
    for q in session.scalars(stmts[2], {"ids": sorted({s.id for _r, s in rows})}):
        questions_of[q.survey_id].append(q)
    out = []
    for response, survey in rows:
        answers = answers_of.get(response.id, {})
        questions = questions_of.get(survey.id, [])
        # headline_csat_question reads only ``.questions`` (in the relationship's order).
        headline = headline_csat_question(SimpleNamespace(questions=questions))  # type: ignore[arg-type]
        nps_q = next((q for q in questions if q.qtype == "nps"), None)
        pair_qs = [q for q in questions if q.qtype == "expectation_perception"]
        resp = Resp(response.id, customer_id, response.channel, response.completed_at, answers)
        out.append(
            {
                "response_id": response.id,
                "survey_id": survey.id,
                "survey_name": survey_text(survey, "name", lang) or survey.name,
                "channel": response.channel,
                "status": response.status,
                "started_at": response.started_at,
                "completed_at": response.completed_at,
                "csat": answers[headline.id][0] if headline and headline.id in answers else None,
                "csat_scale_max": headline.scale_max if headline else None,
                "nps_score": answers[nps_q.id][0] if nps_q and nps_q.id in answers else None,
                "level": respondent_level(resp, pair_qs, headline, survey.expectation_tolerance),
            }
        )
    return finite(out)


def satisfaction_trap(
    session: Session, survey_id: int, *, actor: User, flt: ResponseFilter | None = None
) -> list[dict[str, Any]]:
    """Satisfied or highly satisfied respondents whose buying has lapsed (SPEC §4 满意陷阱)."""
    require(actor, "survey:read")
    survey = _survey(session, survey_id)
    resps = [r for r in load_responses(session, survey.id, flt=flt) if r.customer_id is not None]
    headline = headline_csat_question(survey)
    pair_qs = [q for q in survey.questions if q.qtype == "expectation_perception"]
    lapsed = _lapsed(session, {r.customer_id for r in resps})  # type: ignore[misc]
    out = []
    for r in resps:
        level = respondent_level(r, pair_qs, headline, survey.expectation_tolerance)
        if level in (metrics.SATISFIED, metrics.HIGHLY_SATISFIED) and lapsed.get(r.customer_id):
            out.append({"customer_id": r.customer_id, "response_id": r.id, "level": level})
    return out
