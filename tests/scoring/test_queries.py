"""The SQL summary and the analytics library's summarize agree on the BTYD definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import select

from retento.analytics import summarize
from retento.orders.models import Order
from retento.scoring.queries import customer_summary
from tests.scoring.conftest import AS_OF


def test_sql_summary_matches_summarize(db, population):
    sql = customer_summary(db, AS_OF).set_index("customer_id")
    rows = db.execute(select(Order.customer_id, Order.ordered_at, Order.revenue)).all()
    tx = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "revenue"])
    tx["ordered_at"] = pd.to_datetime(tx["ordered_at"].map(lambda d: d.replace(tzinfo=None)))
    tx["revenue"] = tx["revenue"].astype(float)
    lib = summarize(
        tx, "customer_id", "ordered_at", "revenue", freq="D", observation_end=AS_OF.date()
    )
    sql = sql.loc[lib.index]
    assert np.array_equal(sql["frequency"].to_numpy(), lib["frequency"].to_numpy())
    np.testing.assert_allclose(sql["recency_days"], lib["recency"], atol=1e-9)
    np.testing.assert_allclose(sql["T_days"], lib["T"], atol=1e-9)
    np.testing.assert_allclose(sql["monetary"], lib["monetary"], atol=1e-6)
