"""Survey distributions as queued work (issue 15): the request records the distribution
'queued' and queues a ``surveys.distribution`` work item; a worker (or, with
RETENTO_RUN_WORK_IN_WEB, the web process after the response) creates the invitations and
e-mails in one transaction, with progress in the item's row for any web process to show."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from retento.auth.models import User
from retento.core.db import transaction, utcnow
from retento.core.errors import RetentoError
from retento.surveys import distributions
from retento.surveys.models import SurveyDistribution
from retento.surveys.schemas import DistributionCreate
from retento.web.i18n import N_
from retento.work import queue
from retento.work.queue import WorkContext, work_kind

log = logging.getLogger("retento.surveys")

WORK_KIND = "surveys.distribution"
WAITING = ("queued", "running")
# Stages the page shows while the invitations are created.
STAGE_LABELS = {
    "queued": N_("Waiting to start"),
    "segment": N_("Finding the customers"),
    "invitations": N_("Creating the invitations"),
    "emails": N_("Queueing the invitation emails"),
    "done": N_("Finishing"),
}


def work_ref(distribution_id: int) -> str:
    return f"survey_distribution:{distribution_id}"


queue.work_ref_label("survey_distribution", N_("Distribution #%(id)s"))


def enqueue(
    session: Session, dist: SurveyDistribution, data: DistributionCreate, actor_id: int | None
) -> int:
    """Queue a distribution recorded by ``start_distribution`` (in the caller's transaction)."""
    item = queue.enqueue(
        session,
        WORK_KIND,
        {"distribution_id": dist.id, "data": data.model_dump(mode="json"), "actor_id": actor_id},
        ref=work_ref(dist.id),
        actor_id=actor_id,
    )
    return item.id


def progress(session: Session, dist: SurveyDistribution) -> tuple[str | None, float | None]:
    """Stage and fraction of a waiting distribution (from its work item, any process)."""
    if dist.status not in WAITING:
        return ("done", 1.0) if dist.status == "done" else (None, None)
    item = queue.item_for_ref(session, work_ref(dist.id))
    if item is None:
        return None, None
    return queue.progress_of(item)


def _fail(factory: sessionmaker[Session], distribution_id: int, reason: str) -> None:
    with transaction(factory) as s:
        s.execute(
            update(SurveyDistribution)
            .where(SurveyDistribution.id == distribution_id, SurveyDistribution.status.in_(WAITING))
            .values(status="failed", error=reason[:4000], finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def _abandon(session: Session, payload: dict[str, Any], reason: str) -> None:
    dist = session.get(SurveyDistribution, payload.get("distribution_id"))
    if dist is not None and dist.status in WAITING:
        dist.status, dist.error, dist.finished_at = "failed", reason, utcnow()


@work_kind(WORK_KIND, N_("Survey distribution"), on_abandon=_abandon, stages=STAGE_LABELS)
def run_queued(ctx: WorkContext) -> dict[str, Any]:
    """Create the invitations of one distribution: once, however often the item is run."""
    dist_id = int(ctx.payload["distribution_id"])
    data = DistributionCreate.model_validate(ctx.payload.get("data") or {})
    actor_id = ctx.payload.get("actor_id")
    with transaction(ctx.factory) as s:  # mark it running (the page says so)
        s.execute(
            update(SurveyDistribution)
            .where(SurveyDistribution.id == dist_id, SurveyDistribution.status == "queued")
            .values(status="running")
            .execution_options(synchronize_session=False)
        )
    try:
        with transaction(ctx.factory) as s:
            actor = s.get(User, actor_id) if actor_id is not None else None
            links = distributions.execute_distribution(
                s, dist_id, data, actor=actor, progress=ctx.progress
            )
    except Exception as exc:
        reason = exc.message if isinstance(exc, RetentoError) else f"{type(exc).__name__}: {exc}"
        log.exception("survey distribution %s failed", dist_id)
        _fail(ctx.factory, dist_id, reason)
        raise
    with ctx.factory() as s:
        dist = s.get(SurveyDistribution, dist_id)
        return {
            "distribution_id": dist_id,
            "status": dist.status if dist else "missing",
            "invited": dist.invited if dist else 0,
            "ran": links is not None,  # False: another runner had done it already
        }
