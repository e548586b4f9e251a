"""Loyalty jobs: nightly expiry, hold time-outs, tier reviews (all idempotent)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retento.jobs import job
from retento.loyalty import ledger
from retento.web.i18n import N_


@job("loyalty_expiry", every_seconds=3600, label=N_("Expire loyalty points"))
def expire_points(session: Session) -> int:
    """Move the remainder of every due lot to breakage (safe to run any number of times)."""
    from retento.loyalty.expiry import run_expiry

    if not ledger.programme(session).active:
        return 0
    return run_expiry(session)


@job("loyalty_holds", every_seconds=60, label=N_("Release timed-out point holds"))
def time_out_holds(session: Session) -> int:
    """Void checkout holds that were neither confirmed nor voided in time."""
    from retento.loyalty.service import expire_holds

    return expire_holds(session)


@job("loyalty_tiers", every_seconds=86400, label=N_("Review loyalty tiers"))
def review_tiers(session: Session) -> int:
    """Downgrade members whose grace period has ended; start grace for those below threshold."""
    from retento.loyalty.tiers import review_all

    if not ledger.programme(session).active:
        return 0
    return review_all(session)


@job("loyalty_stats", every_seconds=600, label=N_("Refresh loyalty statistics"))
def refresh_stats(session: Session) -> None:
    """Recount members, active members and tiers for the dashboard."""
    from retento.loyalty.reports import refresh_stats as refresh

    refresh(session)


@job("loyalty_expiry_notices", every_seconds=86400, label=N_("Email points-expiry notices"))
def expiring_notices(session: Session) -> int:
    """E-mail members whose points expire soon (once per lot and expiry date)."""
    from retento.loyalty.notices import send_expiring_notices

    return send_expiring_notices(session)


@job("loyalty_birthdays", every_seconds=3600, label=N_("Award birthday points"))
def birthday_points(session: Session) -> int:
    """Award the birthday event to the active members whose birthday is today (once a year
    each, by its key; hourly, so a restart on the day still awards it)."""
    from retento.loyalty.events import award_birthdays

    return award_birthdays(session).awarded
