"""Loyalty measurement from the database (SQLite and PostgreSQL): the SQL features, the types,
the trap, subsets scored against the whole base, and the optional programme tables."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from retento.core.errors import InvalidInput
from retento.loyalty.measure import customer_features, loyalty_measurement, parse_weights, summary
from tests.factories import make_customer, make_order
from tests.loyalty.measure_data import AS_OF, answer, build_base, make_survey


@pytest.fixture
def base(db):
    """Hand-made customers, one per rule, plus edge cases."""
    return build_base(db)


def rows(frame: pd.DataFrame) -> dict[int, pd.Series]:
    return {int(r.customer_id): r for r in frame.itertuples(index=False)}


def test_features_are_aggregated_in_sql(db, base):
    f = customer_features(db, as_of=AS_OF).set_index("customer_id")
    t = f.loc[base["trust"].id]
    assert t.n_orders == 12 and t.median_gap_days == 28 and t.days_since_last_order == 10
    assert t.days_since_first_order == 10 + 11 * 28
    assert t.orders_recent == 3  # 10, 38 and 66 days ago
    assert t.satisfaction == 5 and t.recommend == 9 and t.repurchase_intent == 5
    assert t.discount_share == 0 and t.segment == "consumer"
    assert f.loc[base["interest"].id].discount_share == 1
    assert f.loc[base["inertia"].id].tenure_days == 2200
    trap = f.loc[base["trap"].id]
    assert trap.satisfaction == 5 and trap.recommend == 10  # latest completed answer wins
    assert f.loc[base["monopoly"].id].no_alternative
    assert f.loc[base["kinship"].id].affiliated and f.loc[base["kinship_flag"].id].affiliated
    assert not f.loc[base["trust"].id].affiliated
    assert f.loc[base["cancelled"].id].n_orders == 0
    assert f.loc[base["future"].id].n_orders == 0
    assert base["archived"].id not in f.index
    assert pd.isna(f.loc[base["one_time"].id].median_gap_days)


def test_types_and_trap_from_the_database(db, base):
    out = rows(loyalty_measurement(db, as_of=AS_OF))
    got = {name: out[c.id].loyalty_type for name, c in base.items() if c.id in out}
    assert got["trust"] == "trust"
    assert got["inertia"] == "inertia" and out[base["inertia"].id].rule == "R5a"
    assert got["interest"] == "interest"
    assert got["monopoly"] == "monopoly"
    assert got["kinship"] == "kinship" and got["kinship_flag"] == "kinship"
    assert got["potential"] == "potential"
    assert got["one_time"] == "none" and got["nothing"] == "none"
    trap = out[base["trap"].id]
    assert trap.satisfaction_trap and trap.trap_signal == "overdue"
    assert "last purchase was 120 days ago" in trap.reason_en and "满意陷阱" in trap.reason_zh
    assert not out[base["trust"].id].satisfaction_trap
    assert "archived" not in {r.name for r in out.values()}
    assert "buys every 4 weeks (12 purchases)" in out[base["inertia"].id].reason_en


def test_a_subset_is_scored_against_the_whole_base(db, base):
    full = rows(loyalty_measurement(db, as_of=AS_OF))
    ids = [base["trust"].id, base["one_time"].id]
    part = rows(loyalty_measurement(db, as_of=AS_OF, customer_ids=ids))
    assert set(part) == set(ids)
    for cid in ids:
        assert part[cid].loyalty_index == pytest.approx(full[cid].loyalty_index)
        assert part[cid].reason_en == full[cid].reason_en


def test_complaints_enter_the_emotional_dimension(db, base):
    from tests.factories.complaints import make_complaint

    cust = base["trust"]
    before = rows(loyalty_measurement(db, as_of=AS_OF, customer_ids=[cust.id]))[cust.id]
    make_complaint(db, customer_id=cust.id, received_at=AS_OF - timedelta(days=20))
    after = rows(loyalty_measurement(db, as_of=AS_OF, customer_ids=[cust.id]))[cust.id]
    assert after.complaints == 1 and after.complaints_open == 1
    assert after.emotional < before.emotional
    assert "1 complaint, 1 open" in after.reason_en


def test_ratings_on_other_scales_are_rescaled(db):
    survey = make_survey(db, "Ten-point", scale=(1, 10))
    cust = make_customer(db)
    answer(db, survey, cust, 3, sat=10, again=1)
    f = customer_features(db, as_of=AS_OF, customer_ids=[cust.id]).iloc[0]
    assert f.satisfaction == 5 and f.repurchase_intent == 1


def test_weights(db, base):
    cid = base["trust"].id
    only_b = rows(loyalty_measurement(db, as_of=AS_OF, weights={"behavioural": 1.0}))[cid]
    assert only_b.loyalty_index == pytest.approx(only_b.behavioural)
    assert parse_weights("0.5, 0.25, 0.25") == {
        "behavioural": 0.5,
        "intentional": 0.25,
        "emotional": 0.25,
    }
    assert parse_weights("emotional=1") == {"emotional": 1.0}
    assert parse_weights("") is None
    for bad in ("1,2", "x,y,z", "loyal=1", "-1,1,1", "0,0,0"):
        with pytest.raises(InvalidInput) as err:
            parse_weights(bad)
        assert err.value.field == "weights"


def test_empty_database(db):
    frame = loyalty_measurement(db, as_of=AS_OF)
    assert frame.empty
    s = summary(frame)
    assert s["customers"] == 0 and s["trap"] == 0 and s["index_mean"] is None


def test_summary_counts_every_type(db, base):
    s = summary(loyalty_measurement(db, as_of=AS_OF))
    counts = {t["type"]: t["customers"] for t in s["types"]}
    assert counts["kinship"] == 2 and counts["trust"] == 2  # the trap customer looks loyal too
    assert sum(counts.values()) == s["customers"] == sum(s["index_histogram"]["counts"])
    assert s["trap"] == 1


def test_programme_tiers_and_points_when_present(db, base):
    from retento.loyalty import models as lm

    gold = lm.LoyaltyTier(code="gold", name="Gold", rank=2, threshold=1000)
    silver = lm.LoyaltyTier(code="silver", name="Silver", rank=1, threshold=0)
    db.add_all([gold, silver])
    db.flush()
    cust = base["inertia"]
    acct = lm.LoyaltyAccount(kind="wallet", customer_id=cust.id, tier_id=gold.id, balance=40)
    db.add(acct)
    db.flush()
    journal = lm.LoyaltyJournal(kind="earn", customer_id=cust.id, source_type="manual", reason="t")
    spend = lm.LoyaltyJournal(kind="redeem", customer_id=cust.id, source_type="manual", reason="t")
    db.add_all([journal, spend])
    db.flush()
    db.add(
        lm.LoyaltyLot(
            account_id=acct.id,
            journal_id=journal.id,
            points=100,
            remaining=40,
            source_type="manual",
            earned_at=AS_OF - timedelta(days=50),
            expires_at=AS_OF + timedelta(days=300),
        )
    )
    db.add(lm.LoyaltyRedemption(customer_id=cust.id, points=60, journal_id=spend.id))
    db.flush()
    f = customer_features(db, as_of=AS_OF).set_index("customer_id")
    assert f.loc[cust.id].tier_rank == 1.0 and f.loc[cust.id].tier_name == "Gold"
    assert f.loc[cust.id].points_redeemed_share == pytest.approx(0.6)
    assert f.loc[base["trust"].id].tier_rank == 0.0  # not a member: nothing to lose
    assert pd.isna(f.loc[base["trust"].id].points_redeemed_share)
    r = rows(loyalty_measurement(db, as_of=AS_OF))[cust.id]
    assert "tier Gold" in r.reason_en


def test_median_gap_of_an_even_number_of_gaps(db):
    cust = make_customer(db)
    for days_ago in (170, 100, 60, 40, 30):  # gaps 70, 40, 20, 10 -> median (20 + 40) / 2
        make_order(db, cust, ordered_at=AS_OF - timedelta(days=days_ago) + timedelta(hours=2))
    f = customer_features(db, as_of=AS_OF, customer_ids=[cust.id]).iloc[0]
    assert f.median_gap_days == 30 and f.n_orders == 5
