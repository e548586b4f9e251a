"""The demo data runs a loyalty programme: tiers, earnings, redemptions, refunds, expiries."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from retento.demo import generator
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal
from tests.shared_world import (  # noqa: F401 (fixtures)
    World,
    make_users,
    session_factory_fixture,
    users_fixture,
)


def _build_demo(session) -> dict:
    """The users, then the whole demo of 300 customers (seed 5) in an installation whose
    currency is EUR."""
    from retento.core.config import get_settings

    make_users(session)
    session.commit()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(get_settings(), "currency", "EUR")
        summary = generator.generate(session, customers=300, seed=5, today=date(2026, 6, 30))
    return {"summary": summary}


@pytest.fixture(scope="module")
def world_demo():
    """``_build_demo``'s data, made once per module and backend; each test that takes it runs
    in a SAVEPOINT on it. Those tests are kept together, so that it is built once per backend."""
    with World.for_module(_build_demo) as world:
        yield world


def test_demo_runs_a_consistent_programme(db, world_demo):
    summary = world_demo.data["summary"]
    kinds = dict(
        db.execute(select(LoyaltyJournal.kind, func.count()).group_by(LoyaltyJournal.kind)).all()
    )
    assert kinds.get("earn", 0) > 50
    assert kinds.get("redeem", 0) > 0 and kinds.get("clawback", 0) > 0
    assert kinds.get("expire", 0) > 0
    assert summary["loyalty_members"] > 0
    rep = check_ledger(db)
    assert rep.ok, rep.problems


def _chinese(text: str | None) -> bool:
    return bool(text) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_demo_names_things_in_both_languages_and_counts_in_its_currency(
    db, client, users, world_demo, monkeypatch
):
    """The demo showed "Gold", "Tea mug" and "10 voucher" on Chinese pages and valued its points
    in CNY while every other amount was in the installation's currency."""
    from retento.complaints.models import Complaint, ComplaintCategory
    from retento.core.config import get_settings
    from retento.loyalty import ledger
    from retento.loyalty.models import LoyaltyReward, LoyaltyTier
    from retento.retention.models import RetentionPlaybook
    from tests.web.conftest import Browser

    monkeypatch.setattr(get_settings(), "currency", "EUR")  # the demo was made so too
    assert ledger.programme(db).currency == "EUR"
    tiers = db.scalars(select(LoyaltyTier)).all()
    rewards = db.scalars(select(LoyaltyReward)).all()
    assert tiers and rewards
    assert all(_chinese(x.name_zh) and not _chinese(x.name) for x in [*tiers, *rewards])
    voucher = next(r for r in rewards if r.code == "V10")
    assert (voucher.name, voucher.name_zh) == ("€10.00 voucher", "€10.00 代金券")
    used = db.scalars(
        select(ComplaintCategory).where(
            ComplaintCategory.id.in_(select(Complaint.category_id).distinct())
        )
    ).all()
    assert used and all(_chinese(c.name_zh) for c in used)
    books = db.scalars(select(RetentionPlaybook)).all()
    assert books and all(_chinese(b.name_zh) and _chinese(b.script_zh) for b in books)

    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    programme = web.get("/loyalty/programme").text
    for x in [*tiers, *rewards]:
        assert f">{x.name_zh}</a>" in programme and f">{x.name}</a>" not in programme
    dashboard = web.get("/complaints/dashboard").text
    for c in used:
        assert f"<td>{c.name_zh}</td>" in dashboard and f"<td>{c.name}</td>" not in dashboard
    assert 'id="liability-value">€' in web.get("/loyalty").text


def test_demo_run_again_names_its_kept_tiers_and_rewards_in_chinese(db):
    """``retento demo --reset`` keeps the programme's configuration: tiers and rewards an earlier
    demo made in English only get their Chinese names, those someone renamed are left alone."""
    from retento.loyalty.models import LoyaltyReward, LoyaltyTier

    db.add_all(
        [
            LoyaltyTier(code="silver", name="Silver", rank=0, threshold=0),
            LoyaltyTier(code="gold", name="Gold club", rank=1, threshold=1500),
            LoyaltyReward(code="MUG", name="Tea mug", kind="gift", points_cost=600),
            LoyaltyReward(
                code="CARE", name="Free care service", name_zh="保养", kind="service",
                points_cost=2500,
            ),
        ]
    )  # fmt: skip
    db.flush()
    # The demo's own steps and the loyalty step, which names the programme's tiers and rewards
    # (the other domains' steps neither make nor rename any).
    from retento.loyalty.demo import step_loyalty

    steps = [*generator.STEPS, step_loyalty]
    generator.generate(db, customers=60, seed=5, today=date(2026, 6, 30), steps=steps)
    tiers = dict(db.execute(select(LoyaltyTier.code, LoyaltyTier.name_zh)).tuples().all())
    assert tiers == {"silver": "银卡", "gold": None}
    rewards = dict(db.execute(select(LoyaltyReward.code, LoyaltyReward.name_zh)).tuples().all())
    assert rewards == {"MUG": "茶杯", "CARE": "保养"}
