"""Survey facts for the churn risk model (registered with retento.scoring.features): how often
the customer gave a detractor score (0-6 on the 0-10 recommendation question) in the year
before the moment."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.scoring.features import FeatureProvider, register_feature_provider

COLUMNS = ("nps_detractor",)
RECENT = timedelta(days=365)


def load(session: Session, as_of: datetime) -> pd.DataFrame:
    from retento.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse

    stmt = (
        select(SurveyResponse.customer_id, func.count())
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(
            SurveyResponse.customer_id.is_not(None),
            SurveyResponse.completed_at >= as_of - RECENT,
            SurveyResponse.completed_at < as_of,
            SurveyQuestion.qtype == "nps",
            SurveyAnswer.number <= 6,
        )
        .group_by(SurveyResponse.customer_id)
    )
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=["customer_id", *COLUMNS]).set_index("customer_id")


register_feature_provider(FeatureProvider("surveys", COLUMNS, load))
