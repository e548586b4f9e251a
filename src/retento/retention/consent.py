"""Phone consent in win-back: an owner task never has the owner phone a customer who has not
agreed to phone calls.

Every owner task of a treated case (kinds ``task``, ``call`` and ``offer``: the default scripts
of all three start with calling) is about contacting the customer personally. When the customer
has not agreed to phone calls (``Customer.consent_phone``) the task is still created (the case
stays treated: intention to treat, as for an e-mail that could not be sent), the case records
``reasons.NO_PHONE_NOTE`` (kept through outcome notes; the uplift report counts these cases)
and the task list and the customer's 360 box say plainly, in the reader's language, not to call
and which channel the customer did agree to. The notice follows the customer's consent as it is
now, so a consent given or withdrawn later shows at once.
"""

from __future__ import annotations

from typing import Any

from retento.mail.compose import emailable
from retento.web.i18n import N_, gettext

# Owner task kinds (``models.TASK_KINDS``): each one has the owner contact the customer.
CONTACT_KINDS = ("task", "call", "offer")

NOT_TO_CALL = N_("The customer has not agreed to phone calls: do not call them.")
OTHER_CHANNELS = N_("Reach them another way they agreed to: %(channels)s.")
NO_OTHER_CHANNEL = N_(
    "They have not agreed to e-mail or SMS either: talk to them when they next visit or get "
    "in touch."
)
CHANNEL_NAMES = {"email": N_("Email"), "sms": N_("SMS")}


def may_phone(customer: Any) -> bool:
    """The customer agreed to phone calls (``consent_phone``)."""
    return bool(getattr(customer, "consent_phone", False))


def other_channels(customer: Any) -> list[str]:
    """The channels the customer agreed to besides the phone: ``email`` (with an address),
    ``sms`` (with a phone number)."""
    out = []
    if emailable(customer):
        out.append("email")
    if customer.consent_sms and (customer.phone or "").strip():
        out.append("sms")
    return out


def phone_notice(customer: Any, locale: str) -> str | None:
    """What an owner task of ``customer`` says about calling, in ``locale``; None when the
    customer agreed to phone calls."""
    if customer is None or may_phone(customer):
        return None
    channels = other_channels(customer)
    sep = "、" if locale.startswith("zh") else ", "
    if channels:
        names = sep.join(gettext(locale, CHANNEL_NAMES[c]) for c in channels)
        advice = gettext(locale, OTHER_CHANNELS) % {"channels": names}
    else:
        advice = gettext(locale, NO_OTHER_CHANNEL)
    # Chinese sentences follow one another without a space ("请勿致电。请通过…").
    gap = "" if locale.startswith("zh") else " "
    return f"{gettext(locale, NOT_TO_CALL)}{gap}{advice}"


def phone_notices(session: Any, tasks: list, locale: str) -> dict[int, str]:
    """``{task id: notice}`` for the open owner tasks of customers who have not agreed to
    phone calls (one query for their customers)."""
    from sqlalchemy import select

    from retento.customers.models import Customer

    open_tasks = [t for t in tasks if t.status == "open" and t.kind in CONTACT_KINDS]
    ids = {t.customer_id for t in open_tasks}
    if not ids:
        return {}
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.id.in_(ids), Customer.consent_phone.is_(False))
        )
    }
    out: dict[int, str] = {}
    for t in open_tasks:
        notice = phone_notice(customers.get(t.customer_id), locale)
        if notice:
            out[t.id] = notice
    return out
