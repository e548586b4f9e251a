"""Programme configuration: settings, tiers, earning rules, rewards (managers only, audited).

Each of them is versioned (core.versioning): an update locks the row, then refuses with 409
``version_conflict`` when the client edited an older version (the ``version`` field of the body,
``If-Match`` of the API, the hidden input of the web form); without either, the last write wins.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints.policies import VALUE_CLASSES
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound
from retento.core.versioning import lock_for_edit
from retento.loyalty import ledger
from retento.loyalty.models import (
    LoyaltyProgramme,
    LoyaltyReward,
    LoyaltyRule,
    LoyaltyTier,
)
from retento.loyalty.schemas import ProgrammeUpdate, RewardIn, RuleIn, TierIn


def get_programme(session: Session, *, actor: User) -> LoyaltyProgramme:
    require(actor, "loyalty:read")
    return ledger.programme(session)


def update_programme(
    session: Session,
    data: ProgrammeUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> LoyaltyProgramme:
    require(actor, "loyalty:manage")
    p = ledger.programme(session)
    lock_for_edit(session, p, data.version, expected_version)
    before = snapshot(p)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for k, v in changes.items():
        if v is None:
            raise InvalidInput(Msg("%(field)s cannot be empty.", field=k), field=k)
    pending = changes.get("pending_days", p.pending_days)
    if pending and pending >= changes.get("expiry_days", p.expiry_days):
        raise InvalidInput(
            "The return window must be shorter than the points' life (expiry days).",
            field="pending_days",
        )
    for k, v in changes.items():
        setattr(p, k, v)
    session.flush()
    if p.active:
        ledger.ensure_system_accounts(session)
    record(session, actor, "update", "loyalty_programme", p.id, before, snapshot(p))
    return p


def list_tiers(session: Session, *, actor: User) -> list[LoyaltyTier]:
    require(actor, "loyalty:read")
    return list(session.scalars(select(LoyaltyTier).order_by(LoyaltyTier.rank)))


def _for_edit(session: Session, model, what: str, obj_id: int | None, *expected: int | None):
    """A new ``model`` row, or row ``obj_id`` locked and checked against the versions the
    client edited (``VersionConflict`` if it moved on since)."""
    if obj_id is None:
        return model()
    obj = session.get(model, obj_id)
    if obj is None:
        raise NotFound(what, obj_id)
    lock_for_edit(session, obj, *expected)
    return obj


def _unique(session: Session, model, field: str, value, own_id: int | None) -> None:
    other = session.scalar(select(model.id).where(getattr(model, field) == value))
    if other is not None and other != own_id:
        raise Conflict(
            Msg("%(field)s '%(value)s' is already used.", field=field, value=value), field=field
        )


def save_tier(
    session: Session,
    data: TierIn,
    *,
    actor: User,
    tier_id: int | None = None,
    expected_version: int | None = None,
) -> LoyaltyTier:
    require(actor, "loyalty:manage")
    if data.sla_class and data.sla_class not in VALUE_CLASSES:
        raise InvalidInput(
            Msg(
                "sla_class must be one of %(choices)s (the complaint SLA policies' value classes).",
                choices=", ".join(VALUE_CLASSES),
            ),
            field="sla_class",
        )
    _unique(session, LoyaltyTier, "code", data.code, tier_id)
    _unique(session, LoyaltyTier, "rank", data.rank, tier_id)
    t = _for_edit(session, LoyaltyTier, "Tier", tier_id, data.version, expected_version)
    before = snapshot(t) if tier_id is not None else None
    for k, v in data.model_dump(exclude={"version"}).items():
        setattr(t, k, v)
    t.name_zh = data.name_zh or None  # "" clears it
    session.add(t)
    session.flush()
    record(
        session, actor, "update" if before else "create", "loyalty_tier", t.id, before, snapshot(t)
    )
    return t


def delete_tier(session: Session, tier_id: int, *, actor: User, version: int | None = None) -> None:
    """Retire a tier without members; a stale ``version`` gets 409 and deletes nothing."""
    require(actor, "loyalty:manage")
    t = _for_edit(session, LoyaltyTier, "Tier", tier_id, version)
    from retento.loyalty.models import LoyaltyAccount

    # FOR UPDATE (not lock_for_edit's NO KEY UPDATE): waits for a transaction that is placing a
    # member in the tier (the FOR KEY SHARE of ``tiers.set_tier`` and ``tiers.hold_tiers``),
    # so the look-up below sees that member; one that starts later waits for this delete and
    # then finds no tier (``set_tier``: 422; an automatic change: 409 naming the tier). Without
    # it the member placed meanwhile lost the tier again at once (the foreign key sets it to
    # NULL), told of a tier that is gone.
    session.execute(select(LoyaltyTier.id).where(LoyaltyTier.id == t.id).with_for_update())
    if session.scalar(select(LoyaltyAccount.id).where(LoyaltyAccount.tier_id == t.id).limit(1)):
        raise Conflict("Members are in this tier; move them first.", field="tier_id")
    before = snapshot(t)
    session.delete(t)
    session.flush()
    record(session, actor, "delete", "loyalty_tier", tier_id, before, None)


def list_rules(session: Session, *, actor: User) -> list[LoyaltyRule]:
    require(actor, "loyalty:read")
    return list(session.scalars(select(LoyaltyRule).order_by(LoyaltyRule.id)))


def save_rule(
    session: Session,
    data: RuleIn,
    *,
    actor: User,
    rule_id: int | None = None,
    expected_version: int | None = None,
) -> LoyaltyRule:
    require(actor, "loyalty:manage")
    if data.product_id is not None:
        from retento.products.models import Product

        if session.get(Product, data.product_id) is None:
            raise InvalidInput(
                Msg("Product %(id)s does not exist.", id=data.product_id), field="product_id"
            )
    r = _for_edit(session, LoyaltyRule, "Rule", rule_id, data.version, expected_version)
    before = snapshot(r) if rule_id is not None else None
    values = data.model_dump(exclude={"version"})
    values["name_zh"] = values["name_zh"] or None  # "" clears it: the name everywhere
    for k, v in values.items():
        setattr(r, k, v)
    session.add(r)
    session.flush()
    record(
        session, actor, "update" if before else "create", "loyalty_rule", r.id, before, snapshot(r)
    )
    return r


def list_rewards(
    session: Session, *, actor: User, active_only: bool = False
) -> list[LoyaltyReward]:
    require(actor, "loyalty:read")
    stmt = select(LoyaltyReward).order_by(LoyaltyReward.points_cost, LoyaltyReward.id)
    if active_only:
        stmt = stmt.where(LoyaltyReward.active.is_(True))
    return list(session.scalars(stmt))


def save_reward(
    session: Session,
    data: RewardIn,
    *,
    actor: User,
    reward_id: int | None = None,
    expected_version: int | None = None,
) -> LoyaltyReward:
    require(actor, "loyalty:manage")
    _unique(session, LoyaltyReward, "code", data.code, reward_id)
    if data.min_tier_id is not None and session.get(LoyaltyTier, data.min_tier_id) is None:
        raise InvalidInput(
            Msg("Tier %(id)s does not exist.", id=data.min_tier_id), field="min_tier_id"
        )
    r = _for_edit(session, LoyaltyReward, "Reward", reward_id, data.version, expected_version)
    before = snapshot(r) if reward_id is not None else None
    for k, v in data.model_dump(exclude={"version"}).items():
        setattr(r, k, v)
    r.name_zh = data.name_zh or None  # "" clears it
    session.add(r)
    session.flush()
    record(
        session,
        actor,
        "update" if before else "create",
        "loyalty_reward",
        r.id,
        before,
        snapshot(r),
    )
    return r
