"""The complaints domain's e-mail module, discovered and imported by the mail layer
(``mail.kinds.load_email_modules``).

The e-mails to the complainant (kinds, texts, queueing, the follow-up link) are in ``outbound``,
which the complaint service uses; importing it here registers them. What is here builds on the
service: a customer's e-mailed reply, filed on the complaint's timeline.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from retento.complaints import outbound  # noqa: F401  (registers the kinds and the follow-up link)
from retento.mail.inbound import InboundMail, InboundRoute, Rejected, register_inbound

# --- replies by e-mail: threaded by the tracking code in the subject (mail/inbound.py) ---------

TRACKING_CODE = re.compile(r"\bRC-[A-HJ-NP-Z2-9]{10}\b", re.IGNORECASE)


def _match_code(subject: str) -> str | None:
    found = TRACKING_CODE.search(subject or "")
    return found.group(0).upper() if found else None


def file_reply(session: Session, code: str, mail: InboundMail) -> None:
    """A customer's e-mailed reply becomes a ``customer_reply`` on the complaint's timeline
    (resuming the SLA clock when we were waiting for the customer, as on the status page)."""
    from retento.complaints import service

    c = service.get_by_tracking_code(session, code)  # NotFound: refused with 550
    if mail.message_id and any(
        (ev.data or {}).get("message_id") == mail.message_id for ev in c.events
    ):
        return  # the same message delivered twice
    if not mail.text:
        raise Rejected("The reply is empty.")
    if c.status == "closed":
        raise Rejected("This complaint is closed; submit a new one.")
    ev = service.public_reply(session, code, mail.text)
    ev.data = {"channel": "email", "from": mail.sender, "message_id": mail.message_id}
    session.flush()


register_inbound(InboundRoute("complaint", _match_code, file_reply))
