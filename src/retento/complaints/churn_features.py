"""Complaint facts for the churn risk model (registered with retento.scoring.features).

As of a moment: complaints still open then, complaints of the last 6 months whose response or
resolution deadline had passed unmet by then, and the highest severity of the last 6 months.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from retento.scoring.features import FeatureProvider, register_feature_provider

COLUMNS = ("complaints_open", "complaints_breached", "complaint_severity")
RECENT = timedelta(days=182)


def load(session: Session, as_of: datetime) -> pd.DataFrame:
    from retento.complaints.models import OPEN_STATUSES, Complaint

    since = as_of - RECENT
    ended = func.coalesce(Complaint.resolved_at, Complaint.closed_at)
    open_then = (Complaint.received_at < as_of) & (
        Complaint.status.in_(OPEN_STATUSES) | (ended >= as_of)
    )
    recent = (Complaint.received_at >= since) & (Complaint.received_at < as_of)
    breached = recent & or_(
        # ever missed (a later reopen clears the current flag, not the customer's experience)
        and_(Complaint.resolution_ever_breached, Complaint.resolution_due_at < as_of),
        and_(Complaint.first_response_ever_breached, Complaint.first_response_due_at < as_of),
    )
    stmt = (
        select(
            Complaint.customer_id,
            func.count().filter(open_then),
            func.count().filter(breached),
            func.coalesce(func.max(Complaint.severity).filter(recent), 0),
        )
        .where(Complaint.received_at < as_of)
        .group_by(Complaint.customer_id)
    )
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=["customer_id", *COLUMNS]).set_index("customer_id")


register_feature_provider(FeatureProvider("complaints", COLUMNS, load))
