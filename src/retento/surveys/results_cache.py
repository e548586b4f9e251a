"""The computed survey results, cached per survey and recomputed only after a change.

Computing every metric (NPS, CSAT, c = b/a, delivered value, the PLS CSI, the funnel, the
satisfaction trap, the per-question distributions) reads every answer and takes 1–2 s at a
few hundred responses. The results page reads a small fingerprint from the database on every
view instead — one indexed aggregate over the survey's responses (count, highest id, latest
``updated_at``) plus the survey's own version, its questions, the latest scoring run and the
complaints — and reuses the stored results while the fingerprint is unchanged. Any write that
changes what the results show changes the fingerprint in the same transaction (a new or
deleted response changes the count or highest id; an edited response or answer moves
``updated_at``, see the flush hook in ``surveys.models``; a survey or question edit changes
the survey version or the question tuple), so every process — each worker keeps its own
cache — sees a write at its next view: never stale, no table and no invalidation message.

Filtered results (a period, channel or value class on the results page) are stored under their
own key next to the unfiltered ones, with the same fingerprint check: a filter never sees
another filter's numbers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.surveys.models import Survey, SurveyResponse
from retento.surveys.optional_domains import complaint_model

MAX_SURVEYS = 64  # entries: a survey's unfiltered and filtered results count one each

_lock = threading.Lock()
_store: OrderedDict[tuple[int, tuple], tuple[tuple, dict[str, Any]]] = OrderedDict()
stats = {"hits": 0, "misses": 0}


def _questions_key(survey: Survey) -> tuple:
    return tuple(
        (
            q.id,
            q.code,
            q.text,
            q.qtype,
            q.scale_min,
            q.scale_max,
            repr(q.options),
            q.satisfaction_dimension,
            q.value_dimension,
            q.csi_latent,
            q.csi_item,
        )  # fmt: skip
        for q in survey.questions
    )


def fingerprint(session: Session, survey: Survey) -> tuple:
    """Everything the cached results depend on, read from the database now."""
    from retento.scoring.service import latest_run

    n, max_id, max_updated = session.execute(
        select(
            func.count(), func.max(SurveyResponse.id), func.max(SurveyResponse.updated_at)
        ).where(SurveyResponse.survey_id == survey.id)
    ).one()
    run = latest_run(session)
    complaints: tuple = ()
    model = complaint_model()
    if model is not None:
        cols = [func.count(), func.max(model.id)]
        if hasattr(model, "updated_at"):
            cols.append(func.max(model.updated_at))
        complaints = tuple(session.execute(select(*cols)).one())
    return (
        survey.version,
        survey.updated_at,
        survey.expectation_tolerance,
        _questions_key(survey),
        n,
        max_id,
        max_updated,
        run.id if run is not None else None,
        complaints,
    )


def cached(
    session: Session,
    survey: Survey,
    compute: Callable[[], dict[str, Any]],
    *,
    key: tuple = (),
) -> dict[str, Any]:
    """The stored results of ``survey`` for filter ``key`` (``()``: unfiltered) if still
    current, else ``compute()`` stored."""
    slot = (survey.id, key)
    fp = fingerprint(session, survey)
    with _lock:
        hit = _store.get(slot)
        if hit is not None and hit[0] == fp:
            _store.move_to_end(slot)
            stats["hits"] += 1
            return hit[1]
    bundle = compute()
    bundle.setdefault("charts", {})
    with _lock:
        stats["misses"] += 1
        _store[slot] = (fp, bundle)
        _store.move_to_end(slot)
        while len(_store) > MAX_SURVEYS:
            _store.popitem(last=False)
    return bundle


def clear() -> None:
    """Forget every stored result (tests, benchmarks)."""
    with _lock:
        _store.clear()
