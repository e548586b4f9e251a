"""The kinds of e-mail the loyalty domain sends (discovered by ``mail.kinds``): the tier change
notice (``tiers.py``) and the points-expiring notice (``notices.py``)."""

from __future__ import annotations

from retento.mail.kinds import register_kind
from retento.web.i18n import N_

register_kind("loyalty_tier", N_("Loyalty tier notice"), to_customer="loyalty:read", consent=True)
register_kind(
    "loyalty_expiring", N_("Points expiring notice"), to_customer="loyalty:read", consent=True
)
