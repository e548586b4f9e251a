"""Unsubscribe links and the consent check of marketing e-mail.

Every e-mail of a kind registered with ``consent=True`` (survey invitations, win-back, loyalty
notices) carries, when it is sent, a footer with the customer's unsubscribe link and a
``List-Unsubscribe`` header. The link is ``/unsubscribe/<customer id>.<signature>``: the
signature is HMAC(secret_key) of the id, so the link cannot be guessed from another customer's,
and it is built at sending time (never stored in the outbox). The page behind it belongs to the
customers domain, which also registers the consent check: a message queued while the customer
agreed is cancelled instead of sent once they no longer do (unsubscribed, consent withdrawn,
erased). The mail layer knows no domain, hence the registry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

from sqlalchemy.orm import Session

from retento.core.config import Settings
from retento.web.i18n import N_, normalise_locale

UNSUBSCRIBE_PATH = "/unsubscribe/"
UNSUBSCRIBE_NOTE = N_("To stop receiving these emails, unsubscribe here:")
# Stored as the cancelled message's last error (the outbox shows it translated).
NO_CONSENT = N_("Not sent: the customer no longer agrees to receive these emails.")

# customer id -> may this customer still get consent-based e-mail (registered by customers).
ConsentCheck = Callable[[Session, int], bool]
_consent_check: list[ConsentCheck] = []


def register_consent_check(check: ConsentCheck) -> None:
    """Let the customers domain say, at sending time, whether a customer may get marketing mail."""
    _consent_check[:] = [check]


def may_email(session: Session, customer_id: int) -> bool:
    """True unless the registered check says the customer no longer agrees."""
    return all(check(session, customer_id) for check in _consent_check)


def _signature(customer_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"unsubscribe:{customer_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def unsubscribe_token(customer_id: int, secret: str) -> str:
    """The token of the customer's unsubscribe link."""
    return f"{customer_id}.{_signature(customer_id, secret)}"


def customer_of(token: str, secret: str) -> int | None:
    """The customer id an unsubscribe token was made for, or None if it is not a valid token."""
    head, _, sig = (token or "").partition(".")
    if not head.isdigit() or len(head) > 18 or not sig:
        return None
    customer_id = int(head)
    if not hmac.compare_digest(sig, _signature(customer_id, secret)):
        return None
    return customer_id


def unsubscribe_url(settings: Settings, customer_id: int, locale: str) -> str:
    """The absolute unsubscribe link, opening the page in the e-mail's language."""
    token = unsubscribe_token(customer_id, settings.secret_key)
    base = settings.public_base_url.rstrip("/")
    return f"{base}{UNSUBSCRIBE_PATH}{token}?lang={normalise_locale(locale)}"
