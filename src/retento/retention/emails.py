"""The kinds of e-mail the retention domain sends (discovered by ``mail.kinds``): the owner's
alert notice and the customer's win-back email (both in ``notify.py``)."""

from __future__ import annotations

from retento.mail.kinds import register_kind
from retento.web.i18n import N_

register_kind("retention_alert", N_("Retention warning"))
register_kind("retention_winback", N_("Win-back email"), to_customer="retention:read", consent=True)
