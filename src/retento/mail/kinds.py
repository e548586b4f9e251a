"""Which kinds of e-mail exist, registered by the domains that send them.

The mail layer knows no domain. Each domain that sends e-mail has a ``retento/<domain>/emails.py``
module that calls ``register_kind`` for its kinds (and ``register_link`` / ``on_sent`` for its
one-time links and sent hooks). ``load_email_modules`` imports every such module it finds in the
package directory (as the web app discovers ``pages.py``), so a worker that imported nothing else
still knows every kind, link resolver and hook before it queues or sends.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from retento.core.errors import Msg
from retento.web.i18n import N_
from retento.web.labels import register_field_group, register_labels

PACKAGE_DIR = Path(__file__).resolve().parent.parent

# code -> untranslated label (message id), in registration order.
KINDS: dict[str, str] = {}
# code -> the permission a reader needs to see e-mails of that kind on the customer timeline
# (e-mails sent to the customer); kinds missing here (to staff, tests) are not shown there.
TIMELINE_KINDS: dict[str, str] = {}
# Kinds sent only with the customer's consent to e-mail (marketing): re-checked when sending,
# and they carry an unsubscribe link (``mail.unsubscribe``).
CONSENT_KINDS: set[str] = set()
_loaded = False
# The audit log's outbox summaries count e-mails per kind: each field is a kind of e-mail.
register_field_group("mail_outbox", "mail_kind")


def register_kind(
    code: str, label_msgid: str, *, to_customer: str | None = None, consent: bool = False
) -> None:
    """Make ``code`` a kind of e-mail the outbox accepts, shown as ``label_msgid``.

    ``to_customer`` is given for e-mails that go to the customer: the permission (the sending
    domain's read permission) a reader needs to see them on the customer's timeline.
    ``consent`` marks marketing mail, sent only while the customer agrees to e-mail."""
    if not code or len(code) > 30:
        raise ValueError(Msg("A mail kind is 1 to 30 characters: %(code)s", code=repr(code)))
    KINDS[code] = label_msgid
    register_labels("mail_kind", {code: label_msgid})
    if to_customer is not None:
        TIMELINE_KINDS[code] = to_customer
    if consent:
        CONSENT_KINDS.add(code)


def email_modules() -> list[str]:
    """Every ``retento.<package>.emails`` module that exists (discovered, so domains plug in)."""
    return [
        f"retento.{child.name}.emails"
        for child in sorted(PACKAGE_DIR.iterdir())
        if child.is_dir() and (child / "emails.py").is_file()
    ]


def load_email_modules() -> None:
    """Import every domain's ``emails.py`` once (they register kinds, links and hooks)."""
    global _loaded
    if _loaded:
        return
    for name in email_modules():
        importlib.import_module(name)
    _loaded = True


def known_kinds() -> tuple[str, ...]:
    """Every registered kind, after loading the domains' e-mail modules."""
    load_email_modules()
    return tuple(KINDS)


def customer_kinds() -> dict[str, str]:
    """Kinds of e-mail sent to customers, with the permission that shows them on a timeline."""
    load_email_modules()
    return dict(TIMELINE_KINDS)


def needs_consent(code: str) -> bool:
    """E-mails of ``code`` go only to customers who agree to e-mail (marketing)."""
    load_email_modules()
    return code in CONSENT_KINDS


def is_kind(code: str | None) -> bool:
    return bool(code) and code in known_kinds()


register_kind("test", N_("Test email"))
