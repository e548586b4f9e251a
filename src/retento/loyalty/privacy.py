"""What the loyalty programme keeps about a customer, for the privacy export and erasure.

Export: the wallet, every journal about the customer with all its postings (both sides, so each
journal shows that it sums to zero), the wallet's lots and their allocations, holds,
redemptions, rule uses, tier history, club memberships and attendance, expiry notices and the
stored loyalty measurement.

Erasure keeps the books: journals, postings, lots and allocations stay (the ledger still
balances and ``retento loyalty check`` passes; the wallet's points stay outstanding until they
are redeemed or expire, like any other member's). Free text that may name the person (journal
reasons typed by agents, hold references) goes through the erasure's redactor; club
memberships end; the loyalty measurement (profiling) is deleted.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from retento.customers.privacy import export_rows
from retento.customers.redaction import Redactor
from retento.loyalty.measure_models import LoyaltyMeasurement
from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyAttendance,
    LoyaltyClubMember,
    LoyaltyHold,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
    LoyaltyRedemption,
    LoyaltyRuleUse,
    LoyaltyTierChange,
)
from retento.loyalty.notice_models import LoyaltyNotice


def export_sections(session: Session, customer_id: int) -> dict[str, list[dict]]:
    """Sections named after their tables (``loyalty_lots.csv`` ...)."""
    wallet_ids = select(LoyaltyAccount.id).where(LoyaltyAccount.customer_id == customer_id)
    journal_ids = select(LoyaltyJournal.id).where(LoyaltyJournal.customer_id == customer_id)
    lot_ids = select(LoyaltyLot.id).where(LoyaltyLot.account_id.in_(wallet_ids))

    def rows(model, *where) -> list[dict]:
        return export_rows(session, model.__table__, *where)

    return {
        "loyalty_accounts": rows(LoyaltyAccount, LoyaltyAccount.customer_id == customer_id),
        "loyalty_journals": rows(LoyaltyJournal, LoyaltyJournal.customer_id == customer_id),
        "loyalty_postings": rows(
            LoyaltyPosting,
            (LoyaltyPosting.journal_id.in_(journal_ids))
            | (LoyaltyPosting.account_id.in_(wallet_ids)),
        ),
        "loyalty_lots": rows(LoyaltyLot, LoyaltyLot.account_id.in_(wallet_ids)),
        "loyalty_allocations": rows(LoyaltyAllocation, LoyaltyAllocation.lot_id.in_(lot_ids)),
        "loyalty_holds": rows(LoyaltyHold, LoyaltyHold.customer_id == customer_id),
        "loyalty_redemptions": rows(
            LoyaltyRedemption, LoyaltyRedemption.customer_id == customer_id
        ),
        "loyalty_rule_uses": rows(LoyaltyRuleUse, LoyaltyRuleUse.customer_id == customer_id),
        "loyalty_tier_changes": rows(
            LoyaltyTierChange, LoyaltyTierChange.customer_id == customer_id
        ),
        "loyalty_club_members": rows(
            LoyaltyClubMember, LoyaltyClubMember.customer_id == customer_id
        ),
        "loyalty_attendance": rows(LoyaltyAttendance, LoyaltyAttendance.customer_id == customer_id),
        "loyalty_notices": rows(LoyaltyNotice, LoyaltyNotice.customer_id == customer_id),
        "loyalty_measurements": rows(
            LoyaltyMeasurement, LoyaltyMeasurement.customer_id == customer_id
        ),
    }


def erase(session: Session, customer, redactor: Redactor) -> dict[str, int]:
    """Anonymise the loyalty records (see the module docstring); returns counts."""
    journals = list(
        session.scalars(select(LoyaltyJournal).where(LoyaltyJournal.customer_id == customer.id))
    )
    for j in journals:
        # An empty reason stays empty (the member page shows the kind's label for it), so no
        # code is stored where the API and exports expect text.
        j.reason = redactor.text(j.reason)
    holds = list(session.scalars(select(LoyaltyHold).where(LoyaltyHold.customer_id == customer.id)))
    for h in holds:
        if h.reference:
            h.reference = redactor.text(h.reference)
    clubs = session.execute(
        delete(LoyaltyClubMember).where(LoyaltyClubMember.customer_id == customer.id)
    ).rowcount
    measured = session.execute(
        delete(LoyaltyMeasurement).where(LoyaltyMeasurement.customer_id == customer.id)
    ).rowcount
    return {
        "loyalty_journals": len(journals),
        "loyalty_holds": len(holds),
        "loyalty_club_memberships": clubs or 0,
        "loyalty_measurements": measured or 0,
    }
