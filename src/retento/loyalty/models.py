"""Loyalty programme tables: a double-entry points ledger with lots, tiers, rules, rewards, clubs.

Sign convention: a posting's ``amount`` is signed; every journal's postings sum to zero; an
account's ``balance`` is the sum of its postings (kept in the same transaction). Member wallets
are positive; the system accounts (``expense`` issues points, ``redemption`` receives spent
points, ``breakage`` receives expired points, ``hold`` keeps reserved points) mirror them, so the
outstanding liability is ``-(expense + redemption + breakage + hold)`` = sum of wallets + holds.
System accounts are sharded (``SHARDS`` rows per kind, chosen by customer id) so concurrent
postings of different members do not queue on one hot row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retento.core.config import get_settings
from retento.core.db import Base, MoneyColumn, UTCDateTime, utcnow
from retento.core.types import BigId
from retento.core.versioning import version_column

SHARDS = 16
ACCOUNT_KINDS = ("wallet", "expense", "redemption", "breakage", "hold")
SYSTEM_KINDS = ("expense", "redemption", "breakage", "hold")
JOURNAL_KINDS = (
    "earn",
    "event",
    "redeem",
    "clawback",
    # The part of a clawback the refund policy does not let it take (given back at once).
    "write_off",
    "return",
    "expire",
    "adjust",
    "hold",
    "hold_confirm",
    "hold_void",
    "reversal",
    # A customer merge moving the duplicate's points to the survivor (``loyalty.merge``).
    "transfer",
)
SOURCE_TYPES = (
    "order",
    "refund",
    "survey",
    "complaint_remedy",
    "manual",
    "reward",
    "hold",
    "referral",
    "birthday",
    "import",
    "system",
)
# "cap" first: it is the default, because SPEC §4 asks for "never a negative balance"; the
# other two are a business's explicit choice to recover spent points.
REFUND_POLICIES = ("cap", "negative", "debt")
TIER_BASES = ("points", "spend")
RULE_KINDS = ("spend", "product", "category", "event")
EVENTS = ("survey_answered", "referral", "birthday", "complaint_remedy", "club_attendance")
REWARD_KINDS = ("voucher", "gift", "service")
HOLD_STATUSES = ("open", "confirmed", "voided", "expired")


def _installation_currency() -> str:
    """A new programme's currency: the installation's (``RETENTO_CURRENCY``), so its liability
    is in the money every other page shows; a stored programme keeps the currency it has."""
    return get_settings().currency


def _in_locale(name: str, name_zh: str | None, locale: str) -> str:
    """``name_zh`` on Chinese pages when there is one, else ``name``."""
    return name_zh if name_zh and locale.startswith("zh") else name


class LoyaltyProgramme(Base):
    """The one programme's settings (a single row, created on first use)."""

    __tablename__ = "loyalty_programmes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="Loyalty programme")
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_enrol: Mapped[bool] = mapped_column(Boolean, default=True)
    # Money value of one point, for the liability report (e.g. 0.0100 = one cent).
    point_value: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal("0.01"))
    currency: Mapped[str] = mapped_column(String(3), default=_installation_currency)
    expiry_days: Mapped[int] = mapped_column(Integer, default=365)
    expiring_soon_days: Mapped[int] = mapped_column(Integer, default=30)
    # Return window: points earned on an order are pending (not spendable) this many days after
    # the order date; 0 = spendable at once.
    pending_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refund_policy: Mapped[str] = mapped_column(String(10), default="cap")
    negative_limit: Mapped[int] = mapped_column(Integer, default=1000)
    tier_basis: Mapped[str] = mapped_column(String(10), default="points")
    tier_window_days: Mapped[int] = mapped_column(Integer, default=365)
    hold_minutes: Mapped[int] = mapped_column(Integer, default=15)
    active_days: Mapped[int] = mapped_column(Integer, default=90)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}


class LoyaltyTier(Base):
    __tablename__ = "loyalty_tiers"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The name on Chinese pages and in Chinese notices (empty: ``name`` everywhere).
    name_zh: Mapped[str | None] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    # Points earned (or money spent) in the rolling window needed to reach and keep the tier.
    threshold: Mapped[int] = mapped_column(BigInteger, default=0)
    multiplier: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("1.00"))
    sla_class: Mapped[str | None] = mapped_column(String(30))
    invite_only: Mapped[bool] = mapped_column(Boolean, default=False)
    grace_days: Mapped[int] = mapped_column(Integer, default=30)
    benefits: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    def name_in(self, locale: str) -> str:
        """The tier's name in ``locale`` (the Chinese name, if any, in Chinese)."""
        return _in_locale(self.name, self.name_zh, locale)


class LoyaltyAccount(Base):
    """A member's wallet (``customer_id`` set) or a shard of a system account.

    PostgreSQL stores it with ``fillfactor = 50`` (migration 0021): balance updates that change
    no indexed column (the expiry job's) stay HOT updates even when every row of a page changes.
    """

    __tablename__ = "loyalty_accounts"
    __table_args__ = (
        Index("ix_loyalty_accounts_tier", "tier_id"),
        Index("ix_loyalty_accounts_active", "last_activity_at"),
        CheckConstraint("debt >= 0", name="debt_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    shard: Mapped[int] = mapped_column(Integer, default=0)
    # "expense:3" for system account shards (unique, so they exist once); NULL for wallets.
    system_key: Mapped[str | None] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="RESTRICT"), unique=True
    )
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    # Points clawed back beyond what was left (refund policy "negative"/"debt"); future earnings
    # pay it off first. A wallet's balance = its lots' remaining points - debt.
    debt: Mapped[int] = mapped_column(BigInteger, default=0)
    tier_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("loyalty_tiers.id", ondelete="SET NULL")
    )
    tier_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tier = relationship("LoyaltyTier", lazy="joined")
    customer = relationship("Customer")


class LoyaltyJournal(Base):
    """One business event; its postings sum to zero. Append-only: corrected by a reversal."""

    __tablename__ = "loyalty_journals"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_loyalty_journals_customer", "customer_id", "id"),
        Index("ix_loyalty_journals_source", "source_type", "source_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(14))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="RESTRICT")
    )
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str | None] = mapped_column(String(64))
    # "<source>:<id>:<event>" or "api:<user>:<Idempotency-Key>": a retry finds the first journal.
    idem_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(300))
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    reverses_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("loyalty_journals.id", ondelete="RESTRICT"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    postings: Mapped[list[LoyaltyPosting]] = relationship(
        back_populates="journal", order_by="LoyaltyPosting.id"
    )
    actor = relationship("User", lazy="joined")


class LoyaltyPosting(Base):
    __tablename__ = "loyalty_postings"
    __table_args__ = (Index("ix_loyalty_postings_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journal_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_journals.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_accounts.id", ondelete="RESTRICT")
    )
    amount: Mapped[int] = mapped_column(BigInteger)

    journal: Mapped[LoyaltyJournal] = relationship(back_populates="postings")


class LoyaltyLot(Base):
    """Points earned together, with their expiry; ``remaining`` = points - allocations - expired.

    Expiry is recorded on the lot itself (``expired``, ``expired_journal_id``), not as allocation
    rows: the nightly job then writes one row version per lot instead of a lot update plus an
    allocation row with three index entries. PostgreSQL stores lots with ``fillfactor = 50`` and
    no index covers ``remaining``/``expired`` (migration 0021): spending and expiring a lot are HOT
    updates, its new version written into the same page with no index entries.
    """

    __tablename__ = "loyalty_lots"
    __table_args__ = (
        Index("ix_loyalty_lots_account_expiry", "account_id", "expires_at"),
        # The "expiring soon" windows (notices, lists, retention rules). Not partial on
        # ``remaining > 0``: an index predicate on ``remaining`` made every spend and expiry of a
        # lot a non-HOT update (migration 0021); the expiry job finds lots by wallet range.
        Index("ix_loyalty_lots_due", "expires_at"),
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
        CheckConstraint("expired >= 0 AND expired <= points", name="expired_in_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_accounts.id", ondelete="RESTRICT")
    )
    journal_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_journals.id", ondelete="RESTRICT")
    )
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    # Points taken back by refunds: earned-in-window for tiers counts points - clawed.
    clawed: Mapped[int] = mapped_column(BigInteger, default=0)
    # Points of this lot that expired (to breakage), and the last journal that expired them (a
    # lot can expire twice when a refunded redemption gives points back to it after its expiry).
    expired: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    expired_journal_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("loyalty_journals.id", ondelete="RESTRICT")
    )
    qualifying: Mapped[bool] = mapped_column(Boolean, default=True)
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str | None] = mapped_column(String(64))
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Pending until this time (the order's return window): not spendable, not held, not
    # redeemed before it; NULL = spendable at once. Refunds and cancellations claw back as usual.
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The order amount paid the lot was earned on (clawbacks keep revenue / basis of the points).
    basis: Mapped[Decimal | None] = mapped_column(MoneyColumn)


class LoyaltyAllocation(Base):
    """Points of one lot consumed (positive) or given back (negative) by one journal (spending,
    clawbacks, holds, debt settlement; expiry is recorded on the lot, not here)."""

    __tablename__ = "loyalty_allocations"
    __table_args__ = (Index("ix_loyalty_allocations_journal", "journal_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journal_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_journals.id", ondelete="RESTRICT")
    )
    lot_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_lots.id", ondelete="RESTRICT"), index=True
    )
    points: Mapped[int] = mapped_column(BigInteger)


class LoyaltyHold(Base):
    """Points reserved for a checkout: confirmed (spent) or voided (given back); they time out."""

    __tablename__ = "loyalty_holds"
    __table_args__ = (Index("ix_loyalty_holds_due", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="RESTRICT"))
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="open")
    reference: Mapped[str | None] = mapped_column(String(64))
    journal_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_journals.id"))
    closing_journal_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("loyalty_journals.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoyaltyRule(Base):
    """An earning rule: per currency unit, per product or category, or per event."""

    __tablename__ = "loyalty_rules"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The name on Chinese pages (empty: ``name`` everywhere).
    name_zh: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    # Points per currency unit of net amount (spend/product/category) ...
    rate: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal("0"))
    # ... plus fixed points (per unit bought for product/category, per occurrence for events).
    fixed_points: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE")
    )
    category: Mapped[str | None] = mapped_column(String(100))
    event: Mapped[str | None] = mapped_column(String(30))
    min_spend: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0"))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cap_points: Mapped[int | None] = mapped_column(Integer)
    cap_period_days: Mapped[int | None] = mapped_column(Integer)
    apply_multiplier: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    def name_in(self, locale: str) -> str:
        """The rule's name in ``locale`` (the Chinese name, if any, in Chinese)."""
        return _in_locale(self.name, self.name_zh, locale)


class LoyaltyRuleUse(Base):
    """Points a rule gave a member in a journal (for caps per member and period)."""

    __tablename__ = "loyalty_rule_uses"
    __table_args__ = (Index("ix_loyalty_rule_uses_cap", "rule_id", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_rules.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    journal_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_journals.id", ondelete="CASCADE")
    )
    points: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoyaltyReward(Base):
    __tablename__ = "loyalty_rewards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The name shown to readers of Chinese (empty: ``name`` everywhere).
    name_zh: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    points_cost: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)
    min_tier_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("loyalty_tiers.id", ondelete="SET NULL")
    )
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by every UPDATE, stock changes of redemptions included: a reward form loaded before
    # a redemption must not write its old stock back.
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    min_tier = relationship("LoyaltyTier", lazy="joined")

    def name_in(self, locale: str) -> str:
        """The reward's name in ``locale`` (the Chinese name, if any, in Chinese)."""
        return _in_locale(self.name, self.name_zh, locale)


class LoyaltyRedemption(Base):
    """A reward handed out (or points used as payment on an order)."""

    __tablename__ = "loyalty_redemptions"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="RESTRICT"), index=True
    )
    reward_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("loyalty_rewards.id", ondelete="RESTRICT")
    )
    order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    points: Mapped[int] = mapped_column(BigInteger)
    # Points already given back because the order was refunded.
    returned: Mapped[int] = mapped_column(BigInteger, default=0)
    journal_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_journals.id"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reward = relationship("LoyaltyReward", lazy="joined")


class LoyaltyTierChange(Base):
    __tablename__ = "loyalty_tier_changes"
    __table_args__ = (Index("ix_loyalty_tier_changes_customer", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    from_tier_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("loyalty_tiers.id", ondelete="SET NULL")
    )
    to_tier_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("loyalty_tiers.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(String(20))
    qualifying: Mapped[int] = mapped_column(BigInteger, default=0)
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    from_tier = relationship("LoyaltyTier", foreign_keys=[from_tier_id], lazy="joined")
    to_tier = relationship("LoyaltyTier", foreign_keys=[to_tier_id], lazy="joined")


class LoyaltyClub(Base):
    """A member club (客户组织)."""

    __tablename__ = "loyalty_clubs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    min_tier_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("loyalty_tiers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltyClubMember(Base):
    __tablename__ = "loyalty_club_members"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (UniqueConstraint("club_id", "customer_id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    club_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_clubs.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer = relationship("Customer", lazy="joined")


class LoyaltyClubEvent(Base):
    __tablename__ = "loyalty_club_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    club_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_clubs.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(String(200))


class LoyaltyAttendance(Base):
    __tablename__ = "loyalty_attendance"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (UniqueConstraint("event_id", "customer_id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_club_events.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    touchpoint_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("touchpoints.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer = relationship("Customer", lazy="joined")


class LoyaltyStats(Base):
    """Member counts for the dashboard, refreshed by the ``loyalty_stats`` job (counting a
    million wallets on every page view would be too slow); money figures stay live."""

    __tablename__ = "loyalty_stats"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    members: Mapped[int] = mapped_column(BigInteger, default=0)
    active: Mapped[int] = mapped_column(BigInteger, default=0)
    # [[tier_id or null, members], ...] and [[from, to, changes], ...]
    tiers: Mapped[list] = mapped_column(JSON, default=list)
    flows: Mapped[list] = mapped_column(JSON, default=list)
