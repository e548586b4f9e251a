"""Retention jobs: evaluate the warning rules and settle win-back cases (both idempotent)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retento.jobs import job
from retento.web.i18n import N_


@job("retention_evaluate", every_seconds=900, label=N_("Evaluate retention alert rules"))
def evaluate_rules(session: Session) -> dict:
    """Raise the alerts every enabled rule calls for (a cause already alerted is skipped)."""
    from retento.retention.service import evaluate

    return evaluate(session).to_dict()


@job("retention_outcomes", every_seconds=3600, label=N_("Settle win-back case outcomes"))
def settle_cases(session: Session) -> dict:
    """Settle win-back cases whose window has ended: came back (with revenue) or lost."""
    from retento.retention.outcomes import settle

    return settle(session)
