"""Touchpoint facts for the churn risk model (registered with retento.scoring.features): the
customer's contacts with us in the 3 months before the moment."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.scoring.features import FeatureProvider, register_feature_provider

COLUMNS = ("touchpoints_recent",)
RECENT = timedelta(days=91)


def load(session: Session, as_of: datetime) -> pd.DataFrame:
    from retento.touchpoints.models import Touchpoint

    stmt = (
        select(Touchpoint.customer_id, func.count())
        .where(Touchpoint.occurred_at >= as_of - RECENT, Touchpoint.occurred_at < as_of)
        .group_by(Touchpoint.customer_id)
    )
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=["customer_id", *COLUMNS]).set_index("customer_id")


register_feature_provider(FeatureProvider("touchpoints", COLUMNS, load))
