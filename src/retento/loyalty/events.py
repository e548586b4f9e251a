"""Event earning a business runs itself: birthday points (a daily job) and referrals (staff).

- **Birthdays** (``award_birthdays``): on a member's birthday, in the installation's time zone
  (``RETENTO_TIMEZONE``), the active ``birthday`` event rules award points. Members born on
  29 February get them on 28 February in common years. Every member earns (a wallet, of a
  person neither archived nor erased; organisations have no birthday), dormant ones too: a
  birthday greeting with points is a reason to come back, which is what the programme is for.
  Each award is keyed ``birthday:<year>-<customer id>:birthday``
  (``earning.award_event``'s once-per-(source, event) key), so a member earns once a year
  however often the job runs, in however many processes. The members of the day are found
  through ``ix_customers_birthday`` (month and day of birth, migration 0050), not by reading
  every customer.
- **Referrals** (``record_referral``): a member brought in a new customer; the ``referral``
  event rules award the member, once per referred customer (key
  ``referral:<referred id>:referral``, whoever recorded it). Self-referral and an unknown
  customer are refused naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.config import get_settings
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg
from retento.customers.models import BIRTH_DAY, BIRTH_MONTH, Customer
from retento.loyalty import ledger
from retento.loyalty.earning import active_rules, award_event
from retento.loyalty.models import LoyaltyAccount, LoyaltyJournal


def local_today(now: datetime | None = None) -> date:
    """Today in the installation's time zone (``RETENTO_TIMEZONE``)."""
    zone = ZoneInfo(get_settings().timezone or "UTC")
    return (now or utcnow()).astimezone(zone).date()


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def birthdays_on(day: date) -> list[tuple[int, int]]:
    """The (month, day) of the birth dates celebrated on ``day``: its own, and 29 February
    on 28 February of a common year."""
    out = [(day.month, day.day)]
    if (day.month, day.day) == (2, 28) and not is_leap(day.year):
        out.append((2, 29))
    return out


def is_birthday(birth_date: date, day: date) -> bool:
    """Whether someone born on ``birth_date`` celebrates on ``day`` (and was born by then)."""
    return birth_date <= day and (birth_date.month, birth_date.day) in birthdays_on(day)


def birthday_source_id(customer_id: int, year: int) -> str:
    """The birthday award's source id: one per member and year (the demo's shape too)."""
    return f"{year}-{customer_id}"


def birthday_in(birth_date: date, year: int) -> date:
    """The day someone born on ``birth_date`` celebrates in ``year``."""
    if (birth_date.month, birth_date.day) == (2, 29) and not is_leap(year):
        return date(year, 2, 28)
    return birth_date.replace(year=year)


@dataclass
class BirthdayRun:
    day: date
    members: int = 0  # members celebrating on ``day``
    awarded: int = 0  # journals posted by this run
    already: int = 0  # awarded earlier (this year's key exists)


def _celebrating(session: Session, day: date) -> list[int]:
    """Ids of the members (of persons neither archived nor erased) born on a day
    celebrated on ``day``, in id order (the order their wallets are locked).

    One query per month and day celebrated (two on 28 February of a common year), each
    comparing the expressions ``ix_customers_birthday`` holds for equality, under its
    ``birth_date IS NOT NULL``: so each reads its day's rows from that index on both
    databases. (An ``OR`` or ``IN`` of the two days makes SQLite, lacking statistics, walk
    ``ix_customers_archived_at`` over every customer instead.)"""
    c = Customer
    ids: list[int] = []
    for month, dom in birthdays_on(day):
        stmt = (
            select(c.id)
            .join(LoyaltyAccount, LoyaltyAccount.customer_id == c.id)
            .where(
                c.birth_date.is_not(None),
                BIRTH_MONTH == month,
                BIRTH_DAY == dom,
                c.birth_date <= day,
                c.party_type == "person",
                c.archived_at.is_(None),
                c.erased_at.is_(None),
            )
        )
        ids.extend(session.scalars(stmt))
    return sorted(ids)


def award_birthdays(
    session: Session, day: date | None = None, *, actor_id: int | None = None
) -> BirthdayRun:
    """Award the ``birthday`` event to the members celebrating on ``day`` (default:
    today in the installation's time zone). Safe to run any number of times, in parallel too:
    each member's wallet is locked before its key is looked up, so a parallel run has either
    committed its award (found, counted as ``already``) or waits."""
    now = utcnow()
    day = day or local_today(now)
    run = BirthdayRun(day)
    prog = ledger.programme(session)
    if not prog.active or not any(
        r.event == "birthday" for r in active_rules(session, now, ("event",))
    ):
        return run
    for customer_id in _celebrating(session, day):
        run.members += 1
        source_id = birthday_source_id(customer_id, day.year)
        ledger.get_wallet(session, customer_id, lock=True)
        if ledger.find_journal(session, f"birthday:{source_id}:birthday") is not None:
            run.already += 1
            continue
        j = award_event(
            session,
            customer_id,
            "birthday",
            source_type="birthday",
            source_id=source_id,
            actor_id=actor_id,
            reason=f"Birthday {day.year}",
            at=now,
        )
        if j is not None:
            run.awarded += 1
    return run


def referral_key(referred_id: int) -> str:
    return f"referral:{referred_id}:referral"


@dataclass
class Referral:
    journal: LoyaltyJournal
    created: bool  # False: this member's referral of the customer was recorded before


def record_referral(
    session: Session, referrer_id: int, referred_id: int, *, actor: User
) -> Referral:
    """Award the member ``referrer_id`` the ``referral`` event for bringing in ``referred_id``,
    once per referred customer. A repeat by the same member returns the first award; one by
    another member is a 409 naming ``referred_id``."""
    require(actor, "loyalty:adjust")
    if referred_id == referrer_id:
        raise InvalidInput(Msg("A customer cannot refer themselves."), field="referred_id")
    referred = session.get(Customer, referred_id)
    if referred is None:
        raise InvalidInput(
            Msg("Customer %(id)s does not exist.", id=referred_id), field="referred_id"
        )
    if referred.erased_at is not None:
        raise InvalidInput(
            Msg("Customer %(id)s's personal data was erased.", id=referred_id),
            field="referred_id",
        )
    if session.get(Customer, referrer_id) is None:
        raise InvalidInput(
            Msg("Customer %(id)s does not exist.", id=referrer_id), field="customer_id"
        )
    prog = ledger.programme(session)
    if not prog.active:
        raise Conflict(Msg("The loyalty programme is not active."), field="referred_id")
    # This member's requests one after the other: a double click finds the first's award.
    ledger.get_wallet(session, referrer_id, lock=True)
    earlier = ledger.find_journal(session, referral_key(referred_id))
    if earlier is not None:
        return Referral(_same_referrer(earlier, referrer_id, referred_id), False)
    now = utcnow()
    if not any(r.event == "referral" for r in active_rules(session, now, ("event",))):
        raise Conflict(
            Msg("No active earning rule awards points for a referral."), field="referred_id"
        )
    j = award_event(
        session,
        referrer_id,
        "referral",
        source_type="referral",
        source_id=referred_id,
        actor_id=actor.id,
        reason=f"Referral of customer {referred_id}",
        at=now,
    )
    if j is None:
        # Not a member while the programme enrols only with a first order, or a cap reached.
        raise Conflict(
            Msg(
                "No points were awarded: customer %(id)s earns none for a referral now.",
                id=referrer_id,
            ),
            field="referred_id",
        )
    # Another member's referral of the same customer, committed while this one ran.
    _same_referrer(j, referrer_id, referred_id)
    record(session, actor, "create", "loyalty_journal", j.id, None, snapshot(j))
    return Referral(j, True)


def _same_referrer(j: LoyaltyJournal, referrer_id: int, referred_id: int) -> LoyaltyJournal:
    """``j`` when it is ``referrer_id``'s award, else a 409: the customer was referred by
    someone else."""
    if j.customer_id != referrer_id:
        raise Conflict(
            Msg(
                "The referral of customer %(referred)s was already recorded for customer "
                "%(referrer)s.",
                referred=referred_id,
                referrer=j.customer_id,
            ),
            field="referred_id",
        )
    return j


def award_remedy(session: Session, remedy, complaint, *, actor_id: int | None) -> None:
    """A complaint remedy of type "loyalty points": post exactly the promised points to the
    customer's wallet (key ``complaint_remedy:<remedy id>:complaint_remedy``) and cost them.

    - **Members only.** The programme enrols with a first order (or a manager's adjustment),
      never with a remedy, as a playbook's offer and a granted reward enrol nobody: a remedy for
      a customer without a wallet is refused naming ``points`` (409), nothing recorded.
    - **Cost.** A remedy whose cost was left at 0 costs its points' value at the programme's
      point value (``ledger.points_value``, as the playbooks' offers), so the service recovery
      cost counts it; a cost typed in is kept.
    - **Programme on.** While the programme is switched off nothing could be posted: the remedy
      is refused naming ``points`` (409), nothing recorded (it was kept with no points given).
    """
    prog = ledger.programme(session)
    if not prog.active:
        raise Conflict(
            Msg(
                "The loyalty programme is switched off: points cannot be given as a remedy. "
                "Choose another compensation, or switch the programme on first."
            ),
            field="points",
        )
    if ledger.get_wallet(session, complaint.customer_id) is None:
        raise Conflict(
            Msg(
                "Customer %(id)s is not a loyalty member: points cannot be given as a remedy "
                "(a remedy enrols nobody). Choose another compensation, or enrol the customer "
                "in the programme first.",
                id=complaint.customer_id,
            ),
            field="points",
        )
    award_event(
        session,
        complaint.customer_id,
        "complaint_remedy",
        source_type="complaint_remedy",
        source_id=remedy.id,
        actor_id=actor_id,
        points=int(remedy.points),
        reason=f"Complaint {complaint.tracking_code}: remedy",
    )
    if not remedy.cost:
        remedy.cost = ledger.points_value(remedy.points, prog.point_value)
