"""One-time survey link tokens: HMAC(secret_key, salt), stored only as a SHA-256 hash.

Kept apart from ``service`` so the e-mail module (``surveys.emails``) can rebuild a link at
sending time without importing the service, which queues those e-mails (no import circle).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from retento.core.config import get_settings
from retento.surveys.models import SurveyInvitation


def _secret() -> bytes:
    return get_settings().secret_key.encode()


def make_token(salt: str) -> str:
    """The link token of an invitation: HMAC(secret_key, salt), URL-safe."""
    digest = hmac.new(_secret(), f"survey-invitation:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_token(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def link_token(inv: SurveyInvitation) -> str:
    """The invitation's token; if the secret key changed since, a fresh token is issued."""
    token = make_token(inv.token_salt)
    if hash_token(token) != inv.token_hash:
        inv.token_salt = secrets.token_hex(16)
        token = make_token(inv.token_salt)
        inv.token_hash = hash_token(token)
    return token
