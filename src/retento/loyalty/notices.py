"""The "points expiring soon" notice: a nightly, idempotent job e-mails members whose points
expire within the programme's ``expiring_soon_days``.

Each lot is noticed once per expiry date: a ``loyalty_notices`` row with a unique
(lot, expiry) key is written in the same transaction as the e-mail, so running the job again
(or two runs at once) never tells a member twice. One e-mail per member and run covers all of
that member's lots not noticed yet. E-mails go through the outbox (kind ``loyalty_expiring``),
in the customer's language, and only to customers with a usable address and e-mail consent
(the same rule as every customer e-mail); the others get a ``skipped`` notice row so the list
can say why no e-mail went out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retento.core.config import get_settings
from retento.core.db import utcnow
from retento.customers.models import Customer
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyAccount, LoyaltyLot
from retento.loyalty.notice_models import LoyaltyNotice
from retento.mail.models import OutboxMessage
from retento.web.i18n import N_, Formatter, translate

BATCH = 5000

SUBJECT = N_("%(n)s of your points expire on %(date)s")
GREETING = N_("Dear %(name)s,")
BODY = N_("%(n)s points in your membership account expire on %(date)s.")
BALANCE = N_("Your balance is %(balance)s points. Use your points before they expire.")


def expiring_email(customer: Customer, wallet: LoyaltyAccount, lots: list[LoyaltyLot]):
    """The notice for ``lots`` (all expiring soon) in the customer's language."""
    from retento.mail.compose import CONSENT_NOTE, customer_email, customer_locale

    loc = customer_locale(customer)
    settings = get_settings()
    fmt = Formatter(loc, settings.timezone, settings.currency)
    first = min(lot.expires_at for lot in lots)
    n = sum(lot.remaining for lot in lots)
    paragraphs = [
        translate(loc, GREETING, name=customer.name),
        translate(loc, BODY, n=fmt.number(n), date=fmt.date(first, "long")),
        translate(loc, BALANCE, balance=fmt.number(wallet.balance)),
        translate(loc, CONSENT_NOTE),
    ]
    return customer_email(
        customer,
        loc,
        translate(loc, SUBJECT, n=fmt.number(n), date=fmt.date(first, "long")),
        paragraphs,
        kind="loyalty_expiring",
        related_type="customer",
        related_id=customer.id,
    )


def _due_lots(session: Session, now: datetime, by: datetime, after_id: int) -> list:
    noticed = exists().where(
        and_(
            LoyaltyNotice.lot_id == LoyaltyLot.id, LoyaltyNotice.expires_at == LoyaltyLot.expires_at
        )
    )
    return list(
        session.execute(
            select(LoyaltyLot, LoyaltyAccount.customer_id)
            .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyLot.account_id)
            .where(
                *ledger.expiring_lots(now, by),
                LoyaltyAccount.customer_id.is_not(None),
                LoyaltyAccount.customer_id > after_id,
                ~noticed,
            )
            .order_by(LoyaltyAccount.customer_id, LoyaltyLot.expires_at, LoyaltyLot.id)
            .limit(BATCH)
        ).all()
    )


def send_expiring_notices(session: Session, now: datetime | None = None) -> int:
    """Queue one e-mail per member with lots expiring soon that were not noticed yet; returns
    the number of e-mails queued. Safe to run any number of times."""
    from retento.mail.compose import emailable
    from retento.mail.service import queue_email

    prog = ledger.programme(session)
    if not prog.active:
        return 0
    now = now or utcnow()
    by = now + timedelta(days=prog.expiring_soon_days)
    queued = 0
    after = 0
    while True:
        rows = _due_lots(session, now, by, after)
        if not rows:
            break
        by_customer: dict[int, list[LoyaltyLot]] = defaultdict(list)
        for lot, cid in rows:
            by_customer[cid].append(lot)
        if len(rows) == BATCH and len(by_customer) > 1:
            # The last member may continue in the next batch: leave them for it.
            by_customer.pop(rows[-1][1])
        customers = {
            c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(by_customer)))
        }
        for cid, lots in sorted(by_customer.items()):
            c = customers.get(cid)
            if c is None:
                continue
            ok = emailable(c) and c.erased_at is None
            try:
                with session.begin_nested():
                    notices = [
                        LoyaltyNotice(
                            kind="expiring",
                            customer_id=cid,
                            lot_id=lot.id,
                            expires_at=lot.expires_at,
                            points=lot.remaining,
                            status="queued" if ok else "skipped",
                            created_at=now,
                        )
                        for lot in lots
                    ]
                    session.add_all(notices)
                    session.flush()  # the unique (lot, expiry) key: a concurrent run loses here
                    if ok:
                        w = ledger.get_wallet(session, cid)
                        msg = queue_email(session, expiring_email(c, w, lots), actor=None, now=now)
                        for notice in notices:
                            notice.message_id = msg.id
                        queued += 1
                    session.flush()
            except IntegrityError:
                continue  # another run noticed these lots first
        after = max(by_customer) if by_customer else rows[-1][1]
        if len(rows) < BATCH:
            break
    return queued


def notice_states(session: Session, customer_ids: list[int], now: datetime, by: datetime) -> dict:
    """For the "expiring soon" list: customer id -> ``sent`` / ``queued`` / ``failed`` /
    ``skipped`` (not e-mailable) of the latest notice about lots expiring in (now, by], or
    absent when no notice was made yet."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(LoyaltyNotice.customer_id, LoyaltyNotice.status, OutboxMessage.status)
        .outerjoin(OutboxMessage, OutboxMessage.id == LoyaltyNotice.message_id)
        .where(
            LoyaltyNotice.customer_id.in_(customer_ids),
            LoyaltyNotice.expires_at > now,
            LoyaltyNotice.expires_at <= by,
        )
        .order_by(LoyaltyNotice.id)
    ).all()
    out: dict[int, str] = {}
    for cid, status, mail_status in rows:
        if status == "skipped":
            out[cid] = "skipped"
        elif mail_status in ("sent", "failed", "cancelled"):
            out[cid] = mail_status
        else:
            out[cid] = "queued"
    return out
