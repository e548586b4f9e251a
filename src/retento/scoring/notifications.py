"""Scoring notifications: a scoring run finished, or failed.

Subscribes to ``scoring.run_finished`` (run, actor), emitted by ``scoring/jobs.py`` when the
nightly run or a run started from the web page has ended. Goes to whoever started the run, the
analysts and the admins; keyed by the run, so it is raised once.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.roles import users_working_like
from retento.core.hooks import subscribe
from retento.notifications.kinds import register_kind
from retento.notifications.service import notify
from retento.scoring.models import ScoreRun
from retento.web.i18n import N_

GROUP = N_("Scoring and imports")

register_kind(
    "scoring_finished",
    label=N_("A scoring run finished"),
    description=N_("For whoever started the run, the analysts and the admins."),
    text=N_("Scoring run #%(run)s finished: %(customers)s customers scored."),
    defaults={"admin": "off", "*": "in_app"},
    group=GROUP,
    roles=("admin", "manager", "analyst"),
    counts=("customers",),  # not "run": "#12345" names a run
)
register_kind(
    "scoring_failed",
    label=N_("A scoring run failed"),
    description=N_("For whoever started the run, the analysts and the admins."),
    text=N_("Scoring run #%(run)s failed: %(error)s"),
    defaults={"analyst": "email", "admin": "email", "*": "in_app"},
    group=GROUP,
    roles=("admin", "manager", "analyst"),
)


def on_run_finished(session: Session, run: ScoreRun, actor: User | None = None, **_) -> None:
    if run.status not in ("succeeded", "failed"):
        return
    # The analysts (and custom roles working like one that may read scores) and the admins.
    users: list[User | None] = list(
        users_working_like(session, "analyst", "admin", verb="score:read")
    )
    users.append(actor)
    ok = run.status == "succeeded"
    notify(
        session,
        "scoring_finished" if ok else "scoring_failed",
        users,
        key=str(run.id),
        params={"run": run.id, "customers": run.customers_scored}
        if ok
        else {"run": run.id, "error": (run.error or "")[:200]},
        link="/value",
        subject_type="score_run",
        subject_id=run.id,
    )


subscribe("scoring.run_finished", on_run_finished)
