"""Notification e-mails to staff, through the outbox: one at once, or one digest a day.

* ``notification`` — a notification whose kind the user set to "E-mail at once".
* ``notification_digest`` — the day's "Daily digest" notifications of one user, one e-mail per
  user and day (``notification_digests`` has a unique (user, day) key; see ``digest.py``).

Written in the user's language; users without a usable address get the in-app entry only.
Discovered and imported by the mail layer (``mail.kinds.load_email_modules``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.mail.kinds import register_kind
from retento.mail.models import OutboxMessage
from retento.mail.service import BASE, Email, html_body, queue_email, valid_address
from retento.notifications.kinds import render_text
from retento.notifications.models import Notification
from retento.web.i18n import N_, normalise_locale, translate

register_kind("notification", N_("Notification"))
register_kind("notification_digest", N_("Notification digest"))

DIGEST_LISTED = 50  # items spelled out in one digest; the rest are counted


def address_of(user: User) -> str | None:
    addr = (user.email or "").strip()
    return addr if valid_address(addr) else None


def _text(n: Notification, loc: str) -> str:
    return render_text(n.kind, n.params, loc, n.message)


def queue_now(session: Session, n: Notification, user: User, *, now: datetime) -> bool:
    """Queue the e-mail of one notification; False when the user has no address."""
    addr = address_of(user)
    if addr is None:
        return False
    loc = normalise_locale(user.locale)
    text = _text(n, loc)
    paragraphs = [
        translate(loc, N_("Hello %(name)s,"), name=user.display_name or user.username),
        text,
    ]
    if n.link:
        paragraphs.append(BASE + n.link)
    paragraphs.append(
        translate(loc, N_("You can choose how you are notified under Notification settings."))
    )
    paragraphs.append(f"{BASE}/notifications/preferences")
    queue_email(
        session,
        Email(
            recipient=addr,
            subject=translate(loc, N_("Retento: %(text)s"), text=text)[:300].replace("\n", " "),
            body_text="\n\n".join(paragraphs) + "\n",
            body_html=html_body(paragraphs, loc),
            locale=loc,
            kind="notification",
            related_type="notification",
            related_id=n.id,
        ),
        actor=None,
        now=now,
    )
    return True


def queue_digest(
    session: Session, user: User, items: list[Notification], *, digest_id: int, now: datetime
) -> OutboxMessage | None:
    """Queue the day's digest for ``user``; None when the user has no address."""
    addr = address_of(user)
    if addr is None or not items:
        return None
    loc = normalise_locale(user.locale)
    lines = []
    for n in items[:DIGEST_LISTED]:
        line = "• " + _text(n, loc)
        if n.link:
            line += f"\n  {BASE}{n.link}"
        lines.append(line)
    paragraphs = [
        translate(loc, N_("Hello %(name)s,"), name=user.display_name or user.username),
        translate(loc, N_("Your notifications since the last digest (%(n)s):"), n=len(items)),
        "\n".join(lines),
    ]
    if len(items) > DIGEST_LISTED:
        paragraphs.append(translate(loc, N_("… and %(n)s more."), n=len(items) - DIGEST_LISTED))
    paragraphs += [
        f"{BASE}/notifications",
        translate(loc, N_("You can choose how you are notified under Notification settings.")),
        f"{BASE}/notifications/preferences",
    ]
    return queue_email(
        session,
        Email(
            recipient=addr,
            subject=translate(loc, N_("Retento: your daily digest (%(n)s)"), n=len(items))[:300],
            body_text="\n\n".join(paragraphs) + "\n",
            body_html=html_body(paragraphs, loc),
            locale=loc,
            kind="notification_digest",
            related_type="notification_digest",
            related_id=digest_id,
        ),
        actor=None,
        now=now,
    )
