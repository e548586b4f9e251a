"""The uplift report per playbook: came-back rate treated vs control with a 95 % interval, uplift,
Qini curve by risk, uplift in the top k by risk, incremental revenue minus cost.

Only settled cases count (window ended, or marked lost): a case still inside its window that
has not come back yet is undecided, and counting early returners alone would bias the rates.
The statistics are ``retento.analytics.uplift``'s.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import FieldError, InvalidInput, Msg, param
from retento.core.money import ZERO
from retento.retention.defaults import ensure_defaults
from retento.retention.models import RetentionCase, RetentionPlaybook
from retento.retention.reasons import NO_PHONE_NOTE
from retento.web.i18n import N_

QINI_POINTS = 21


def _settled(now: datetime):
    return or_(
        RetentionCase.outcome == "lost",
        RetentionCase.window_ends_at < now,
    )


def playbook_report(
    session: Session,
    playbook: RetentionPlaybook,
    *,
    top_k: float = 0.3,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One playbook's numbers (see the module docstring); estimates are None until both groups
    have settled cases."""
    from retento.analytics import uplift

    now = now or utcnow()
    rows = session.execute(
        select(
            RetentionCase.arm,
            RetentionCase.outcome,
            RetentionCase.revenue,
            RetentionCase.cost,
            RetentionCase.risk,
            RetentionCase.reached,
            RetentionCase.offer_accepted,
            RetentionCase.note.contains(NO_PHONE_NOTE, autoescape=True).label("no_phone"),
        ).where(RetentionCase.playbook_id == playbook.id, _settled(now))
    ).all()
    pending = session.scalar(
        select(RetentionCase.id)
        .where(RetentionCase.playbook_id == playbook.id, ~_settled(now))
        .limit(1)
    )
    treated = [r.arm == "treated" for r in rows]
    came = [r.outcome == "came_back" for r in rows]
    cost = sum((r.cost or ZERO for r in rows if r.arm == "treated"), ZERO)
    out: dict[str, Any] = {
        "playbook_id": playbook.id,
        "value_class": playbook.value_class,
        "reason": playbook.reason,
        "action": playbook.action,
        "name_en": playbook.name_en,
        "name_zh": playbook.name_zh,
        "control_share": playbook.control_share,
        "window_days": playbook.window_days,
        "settled": len(rows),
        "has_pending": pending is not None,
        "n_treated": sum(treated),
        "n_control": len(rows) - sum(treated),
        "reached": sum(1 for r in rows if r.arm == "treated" and r.reached),
        "offers_accepted": sum(1 for r in rows if r.arm == "treated" and r.offer_accepted),
        # Treated cases whose owner was asked not to call (no phone consent): their task was
        # still created, so they stay in the treated group (intention to treat).
        "no_phone_consent": sum(1 for r in rows if r.arm == "treated" and r.no_phone),
        "cost": str(cost.quantize(Decimal("0.01"))),
        "estimate": None,
        "qini": None,
        "qini_coefficient": None,
        "top_k": None,
        "revenue": None,
    }
    if not any(treated) or all(treated):
        return out
    out["estimate"] = uplift.uplift_estimate(came, treated).to_dict()
    out["revenue"] = uplift.incremental_revenue(
        [r.revenue or ZERO for r in rows], treated, cost=cost
    ).to_dict()
    risk = [r.risk if r.risk is not None else 0.0 for r in rows]
    try:
        curve = uplift.qini_curve(risk, treated, came)
        step = max(1, len(curve.fraction) // (QINI_POINTS - 1))
        idx = sorted(set(list(range(0, len(curve.fraction), step)) + [len(curve.fraction) - 1]))
        out["qini"] = [
            {
                "fraction": float(curve.fraction[i]),
                "value": float(curve.values[i]),
                "random": float(curve.random[i]),
            }
            for i in idx
        ]
        coef = float(uplift.qini_coefficient(risk, treated, came))
        out["qini_coefficient"] = None if math.isnan(coef) else coef
    except ValueError:
        pass
    try:
        out["top_k"] = {"k": top_k, **uplift.uplift_at_k(risk, treated, came, k=top_k).to_dict()}
    except ValueError:
        out["top_k"] = None
    return out


def top_k_error() -> InvalidInput:
    """``top_k`` is not a share: named as the Qini curve's select names it (the API's English
    keeps the code)."""
    where = param("top_k", N_("Top k by churn risk"))
    message = Msg("%(field)s must be a share between 0 and 1.", field=where)
    return FieldError("top_k", message).refuse()


def uplift_report(
    session: Session,
    *,
    actor: User,
    playbook_id: int | None = None,
    top_k: float = 0.3,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The report for every playbook (or one), in the playbook list's order."""
    require(actor, "retention:read")
    if not 0.0 < top_k < 1.0:
        raise top_k_error()
    ensure_defaults(session)
    stmt = select(RetentionPlaybook).order_by(RetentionPlaybook.id)
    if playbook_id is not None:
        stmt = stmt.where(RetentionPlaybook.id == playbook_id)
    books = session.scalars(stmt).all()
    if playbook_id is not None and not books:
        raise InvalidInput(
            Msg("Playbook %(id)s does not exist.", id=playbook_id), field="playbook_id"
        )
    return [playbook_report(session, pb, top_k=top_k, now=now) for pb in books]


def playbook_name(row: dict[str, Any], locale: str) -> str:
    """A report row's playbook name in ``locale`` (``en`` or ``zh_CN``); the English name when
    there is no Chinese one or for any other language."""
    from retento.web.i18n import normalise_locale

    if normalise_locale(locale) == "zh_CN" and row.get("name_zh"):
        return str(row["name_zh"])
    return str(row["name_en"])
