"""Loyalty facts for the churn risk model (registered with retento.scoring.features): the
customer's tier level held since before the moment (0 = none) and their points transactions in
the 3 months before it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.scoring.features import FeatureProvider, register_feature_provider

COLUMNS = ("loyalty_tier", "loyalty_activity")
RECENT = timedelta(days=91)


def load(session: Session, as_of: datetime) -> pd.DataFrame:
    from retento.loyalty.models import LoyaltyAccount, LoyaltyJournal, LoyaltyTier

    tiers = session.execute(
        select(LoyaltyAccount.customer_id, LoyaltyTier.rank)
        .join(LoyaltyTier, LoyaltyTier.id == LoyaltyAccount.tier_id)
        .where(
            LoyaltyAccount.customer_id.is_not(None),
            LoyaltyAccount.tier_since.is_not(None),
            LoyaltyAccount.tier_since < as_of,
        )
    ).all()
    activity = session.execute(
        select(LoyaltyJournal.customer_id, func.count())
        .where(
            LoyaltyJournal.customer_id.is_not(None),
            LoyaltyJournal.created_at >= as_of - RECENT,
            LoyaltyJournal.created_at < as_of,
        )
        .group_by(LoyaltyJournal.customer_id)
    ).all()
    tier = pd.DataFrame(tiers, columns=["customer_id", "loyalty_tier"]).groupby("customer_id").max()
    act = pd.DataFrame(activity, columns=["customer_id", "loyalty_activity"]).set_index(
        "customer_id"
    )
    return tier.join(act, how="outer")


register_feature_provider(FeatureProvider("loyalty", COLUMNS, load))
