"""The retention texts the system stores in another domain's records (the loyalty ledger's
reason of a win-back offer), registered so pages show them in the reader's language
(:mod:`retento.web.system_texts`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from retento.web.i18n import N_
from retento.web.system_texts import register_system_text

OFFER_REASON = N_("Win-back offer (%(playbook)s)")


def playbook_name(value: str, locale: str, session: Any) -> str:
    """A playbook's name as stored (English or Chinese) in ``locale``, when it still has it."""
    from retento.retention.models import RetentionPlaybook

    if session is None:
        return value
    pb = session.scalars(
        select(RetentionPlaybook)
        .where(or_(RetentionPlaybook.name_en == value, RetentionPlaybook.name_zh == value))
        .order_by(RetentionPlaybook.id)
        .limit(1)
    ).first()
    if pb is None:
        return value
    return pb.name_zh if locale == "zh_CN" and pb.name_zh else pb.name_en


register_system_text(
    OFFER_REASON, field="loyalty_journal.reason", params={"playbook": playbook_name}
)

# The lines an offer writes into its case's note (``offers``: read back by pattern, so stored
# in English), shown in the reader's language on the timeline, the alerts and the tasks.
for _line in (
    N_("loyalty points posted: %(points)s"),
    N_("not a loyalty member: no points posted"),
    N_("loyalty programme inactive: no points posted"),
):
    register_system_text(_line, field="retention.note")
