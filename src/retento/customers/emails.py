"""The customers domain's part in sending e-mail (discovered by ``mail.kinds``): the consent
check the mail layer runs before it sends marketing mail (``mail.unsubscribe``)."""

from __future__ import annotations

from retento.customers.unsubscribe import may_get_marketing
from retento.mail.unsubscribe import register_consent_check

register_consent_check(may_get_marketing)
