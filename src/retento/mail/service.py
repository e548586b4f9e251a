"""The outbox: queue e-mails (insert only), claim and send them over SMTP, list and retry them.

Domains queue messages inside their own transaction with ``queue_email`` / ``queue_emails``; the
``mail_outbox`` job (``jobs.py``) hands them to the SMTP server later. One-time links are not
stored in the outbox: a body holds the marker ``[[link]]`` and the related entity's registered
link resolver builds the link at sending time, so a database dump reveals no usable survey link
(the surveys domain keeps only token hashes for the same reason).
"""

from __future__ import annotations

import html
import re
import secrets
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Protocol

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.config import Settings, get_settings
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound, Term
from retento.core.pagination import paginate
from retento.mail.kinds import is_kind, load_email_modules, needs_consent
from retento.mail.models import MAIL_STATUSES, OutboxMessage
from retento.mail.unsubscribe import NO_CONSENT, UNSUBSCRIBE_NOTE, may_email, unsubscribe_url
from retento.web.i18n import N_, normalise_locale, translate
from retento.web.labels import label_msgid

LINK = "[[link]]"
# Other site links in a body start with this marker; RETENTO_PUBLIC_BASE_URL replaces it when
# sending, so queued messages follow a changed setting.
BASE = "[[base]]"
# A message left in ``sending`` this long was claimed by a run that died; it is queued again.
CLAIM_LEASE = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=1)
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")

# Stored as the last error of a message cancelled for that reason (the outbox translates it).
LINK_GONE = N_("The link in this e-mail no longer works (answered or expired).")

# related_type -> resolver(session, related_id, locale) -> site path of the link, or None if it
# no longer works (answered, expired): the message is then cancelled instead of sent.
LinkResolver = Callable[[Session, int, str], str | None]
LINK_RESOLVERS: dict[str, LinkResolver] = {}


# kind -> hook(session, related_id, sent_at): what the e-mail's domain records once it has left
# (a survey invitation's "sent" time is when the customer got the link, not when it was queued).
SentHook = Callable[[Session, int, datetime], None]
SENT_HOOKS: dict[str, SentHook] = {}


def on_sent(kind: str, hook: SentHook) -> None:
    """Run ``hook`` in the sending transaction when an e-mail of ``kind`` is accepted."""
    SENT_HOOKS[kind] = hook


def register_link(related_type: str, resolver: LinkResolver) -> None:
    """Let messages about ``related_type`` carry a link built only when they are sent."""
    LINK_RESOLVERS[related_type] = resolver


def valid_address(value: str | None) -> bool:
    """A plain ``name@domain.tld`` address without spaces or header characters."""
    return bool(value) and len(value) <= 254 and bool(_EMAIL.match(value))  # type: ignore[arg-type]


@dataclass
class Email:
    """One message to queue; ``body_text`` may contain ``[[link]]`` when ``related_type`` has a
    registered link resolver."""

    recipient: str
    subject: str
    body_text: str
    kind: str
    locale: str = "en"
    body_html: str | None = None
    related_type: str | None = None
    related_id: int | None = None
    customer_id: int | None = None


SUBJECT_MAX = 300  # characters, as outbound_emails.subject holds


def one_line_subject(text: str) -> str:
    """A subject as one header line: every run of white space (line breaks and tabs too) one
    space, and at most ``SUBJECT_MAX`` characters (cut with "…").

    Subjects are written by the app around names and texts people typed ("Retention warning:
    <customer>", a survey's name). A line break there can never become a header of its own,
    and one record's odd name must not refuse its e-mail, nor fail the batch it is sent in
    (a retention evaluation, a survey distribution)."""
    subject = " ".join(text.split())
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1].rstrip() + "…"
    return subject


def _check(email: Email) -> dict[str, Any]:
    recipient = (email.recipient or "").strip()
    if not valid_address(recipient):
        raise InvalidInput(
            Msg("'%(address)s' is not an e-mail address.", address=email.recipient),
            field="recipient",
        )
    subject = one_line_subject(email.subject or "")
    if not subject:
        raise InvalidInput("The subject must be one line of 1 to 300 characters.", field="subject")
    if not (email.body_text or "").strip():
        raise InvalidInput("The message body is empty.", field="body_text")
    if not is_kind(email.kind):
        raise InvalidInput(Msg("Unknown kind '%(kind)s'.", kind=email.kind), field="kind")
    if LINK in email.body_text and email.related_type not in LINK_RESOLVERS:
        raise InvalidInput(
            Msg("A %(kind)s needs a related entity with a link resolver.", kind=LINK),
            field="related_type",
        )
    return {
        "recipient": recipient,
        "subject": subject,
        "body_text": email.body_text,
        "body_html": email.body_html,
        "locale": email.locale,
        "kind": email.kind,
        "related_type": email.related_type,
        "related_id": email.related_id,
        "customer_id": email.customer_id,
    }


def queue_email(
    session: Session, email: Email, *, actor: User | None, now: datetime | None = None
) -> OutboxMessage:
    """Put one message in the outbox (flush only; the caller's transaction decides)."""
    now = now or utcnow()
    msg = OutboxMessage(
        **_check(email),
        status="queued",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        created_by_id=actor.id if actor else None,
    )
    session.add(msg)
    session.flush()
    record(session, actor, "create", "mail_message", msg.id, None, _audit_view(msg))
    return msg


def queue_emails(
    session: Session, emails: list[Email], *, actor: User | None, now: datetime | None = None
) -> int:
    """Put many messages in the outbox with one insert and one audit entry; returns the count."""
    if not emails:
        return 0
    now = now or utcnow()
    rows = [
        {
            **_check(e),
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "created_by_id": actor.id if actor else None,
        }
        for e in emails
    ]
    session.execute(insert(OutboxMessage), rows)
    kinds: dict[str, int] = {}
    for e in emails:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    record(session, actor, "queue", "mail_outbox", None, None, {"queued": len(rows), **kinds})
    session.flush()
    return len(rows)


def _audit_view(msg: OutboxMessage) -> dict[str, Any]:
    # The body is left out: it is customer-facing text, not business data worth duplicating.
    return snapshot(msg, None) | {"body_text": None, "body_html": None}


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def status_counts(session: Session, *conditions: Any) -> dict[str, int]:
    """Messages per status (every status present, zero if none)."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).where(*conditions).group_by(OutboxMessage.status)
    ).all()
    out = dict.fromkeys(MAIL_STATUSES, 0)
    out.update({s: n for s, n in rows})
    return out


def list_messages(
    session: Session,
    *,
    actor: User,
    status: str | None = None,
    kind: str | None = None,
    recipient: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[OutboxMessage], int]:
    """The outbox, newest first, filtered by status, kind and a recipient fragment."""
    require(actor, "mail:manage")
    if status and status not in MAIL_STATUSES:
        raise InvalidInput(Msg("Unknown status '%(status)s'.", status=status), field="status")
    if kind and not is_kind(kind):
        raise InvalidInput(Msg("Unknown kind '%(kind)s'.", kind=kind), field="kind")
    stmt = select(OutboxMessage)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    if recipient:
        stmt = stmt.where(OutboxMessage.recipient.ilike(f"%{recipient.strip()}%"))
    stmt = stmt.order_by(OutboxMessage.id.desc())
    rows, total = paginate(session, stmt, limit=limit, offset=offset)
    return list(rows), total


def get_message(session: Session, message_id: int, *, actor: User) -> OutboxMessage:
    require(actor, "mail:manage")
    msg = session.get(OutboxMessage, message_id)
    if msg is None:
        raise NotFound("E-mail", message_id, field="message_id")
    return msg


def retry(
    session: Session, message_id: int, *, actor: User, now: datetime | None = None
) -> OutboxMessage:
    """Queue a failed message again with a fresh attempt budget."""
    msg = get_message(session, message_id, actor=actor)
    if msg.status != "failed":
        raise Conflict(
            Msg(
                "Only failed e-mails can be retried; e-mail %(id)s is %(status)s.",
                id=msg.id,
                status=Term(msg.status, label_msgid("mail_status", msg.status)),
            ),
            "status",
        )
    if not valid_address(msg.recipient):
        # Erased customers' messages keep no address: nothing could reach anyone.
        raise Conflict(
            Msg("E-mail %(id)s has no recipient address any more.", id=msg.id), "recipient"
        )
    before = _audit_view(msg)
    msg.status = "queued"
    msg.attempts = 0
    msg.next_attempt_at = now or utcnow()
    msg.claim_token = None
    msg.claimed_at = None
    session.flush()
    record(session, actor, "update", "mail_message", msg.id, before, _audit_view(msg))
    return msg


def retry_failed(session: Session, *, actor: User, now: datetime | None = None) -> int:
    """Queue every failed message again with a fresh attempt budget (after an SMTP outage
    failed them all); returns how many. Messages without a usable address stay failed."""
    require(actor, "mail:manage")
    now = now or utcnow()
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.recipient)
        .where(OutboxMessage.status == "failed")
        .with_for_update()
    ).all()
    ids = [i for i, recipient in rows if valid_address(recipient)]
    for start in range(0, len(ids), 500):
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids[start : start + 500]), OutboxMessage.status == "failed")
            .values(
                status="queued", attempts=0, next_attempt_at=now, claim_token=None, claimed_at=None
            )
            .execution_options(synchronize_session=False)
        )
    if ids:
        record(session, actor, "queue", "mail_outbox", None, None, {"queued": len(ids)})
    session.flush()
    return len(ids)


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def close(self) -> None: ...


class SmtpTransport:
    """One SMTP connection, opened on first use and reopened once if the server hung up."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host,
                s.smtp_port,
                timeout=s.smtp_timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
        if s.smtp_username:
            smtp.login(s.smtp_username, s.smtp_password)
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self._smtp = self._connect()
            self._smtp.send_message(message)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp = None


def absolute(settings: Settings, path: str) -> str:
    """``path`` on the public site (``RETENTO_PUBLIC_BASE_URL``)."""
    return settings.public_base_url.rstrip("/") + path


def preview_text(body: str, settings: Settings, link_text: str) -> str:
    """A queued body as the outbox shows it: site links on ``RETENTO_PUBLIC_BASE_URL`` and, for
    the one-time link that exists only once the message is sent, ``link_text``."""
    return body.replace(BASE, settings.public_base_url.rstrip("/")).replace(LINK, link_text)


def html_body(paragraphs: list[str], locale: str) -> str:
    """A minimal HTML alternative: escaped paragraphs, the link as an anchor."""
    lang = "zh-CN" if locale == "zh_CN" else "en"
    parts = []
    for p in paragraphs:
        if p == LINK:
            parts.append(f'<p><a href="{LINK}">{LINK}</a></p>')
        else:
            parts.append("<p>" + html.escape(p).replace("\n", "<br>") + "</p>")
    return f'<!DOCTYPE html><html lang="{lang}"><body>{"".join(parts)}</body></html>'


def build_message(
    msg: OutboxMessage, settings: Settings, link: str | None, now: datetime
) -> EmailMessage:
    """The MIME message for one outbox row, with the link filled in."""
    base = settings.public_base_url.rstrip("/")
    text = msg.body_text.replace(BASE, base)
    body_html = (
        msg.body_html.replace(BASE, html.escape(base, quote=True)) if msg.body_html else None
    )
    if link is not None:
        text = text.replace(LINK, link)
        if body_html:
            body_html = body_html.replace(LINK, html.escape(link, quote=True))
    unsubscribe = None
    if needs_consent(msg.kind) and msg.customer_id is not None:
        # Marketing mail says how to stop it: a footer and the header mail programs offer.
        unsubscribe = unsubscribe_url(settings, msg.customer_id, msg.locale)
        note = translate(normalise_locale(msg.locale), UNSUBSCRIBE_NOTE)
        text = text.rstrip("\n") + f"\n\n{note}\n{unsubscribe}\n"
        if body_html:
            href = html.escape(unsubscribe, quote=True)
            footer = f'<p>{html.escape(note)} <a href="{href}">{href}</a></p>'
            if "</body>" in body_html:
                body_html = body_html.replace("</body>", footer + "</body>", 1)
            else:
                body_html += footer
    em = EmailMessage()
    em["From"] = settings.mail_from
    em["To"] = msg.recipient
    em["Subject"] = msg.subject
    em["Date"] = format_datetime(now)
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    em["Message-ID"] = make_msgid(f"retento.{msg.id}", domain=domain)
    em["Auto-Submitted"] = "auto-generated"
    if unsubscribe is not None:
        em["List-Unsubscribe"] = f"<{unsubscribe}>"
    em.set_content(text)
    if body_html:
        em.add_alternative(body_html, subtype="html")
    # After the content: set_content and add_alternative drop every Content-* header set before.
    em["Content-Language"] = "zh-CN" if msg.locale == "zh_CN" else "en"
    return em


@dataclass
class SendReport:
    """What one run did; ``disabled`` means no SMTP host is configured (nothing was tried)."""

    disabled: bool = False
    waiting: int = 0
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    requeued_stale: int = 0
    skipped: int = 0  # claimed, but taken over by another run before its turn came
    errors: list[str] = field(default_factory=list)


def requeue_stale(session: Session, now: datetime) -> int:
    """Queue again messages whose run died while sending them (their attempt already counts)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - CLAIM_LEASE)
        .values(status="queued", claim_token=None, claimed_at=None, next_attempt_at=now)
    )
    session.flush()
    return result.rowcount or 0


def claim_batch(session: Session, limit: int, now: datetime, token: str | None = None) -> list[int]:
    """Mark up to ``limit`` due messages as ``sending`` for this run; returns their ids.

    The guarded UPDATE (``status = 'queued'``) only takes rows nobody else took: on PostgreSQL
    the candidates are read with ``SKIP LOCKED`` and a concurrent claimer re-checks the status
    after waiting for the row; SQLite runs one writer at a time.
    """
    candidates = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not candidates:
        return []
    token = token or secrets.token_hex(16)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates), OutboxMessage.status == "queued")
        .values(
            status="sending",
            claim_token=token,
            claimed_at=now,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.claim_token == token)
            .order_by(OutboxMessage.id)
        )
    )


def still_ours(session: Session, message_id: int, token: str, now: datetime) -> bool:
    """Renew this run's claim on a message just before sending it; False if it is not ours.

    A batch is claimed at once and sent one by one; a slow run may reach a message after
    ``CLAIM_LEASE``, when another run has taken it again as stale (and may be sending it right
    now). Checking the claim token, and renewing the lease for the message about to go, keeps
    one message from being sent by two runs."""
    renewed = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == "sending",
            OutboxMessage.claim_token == token,
        )
        .values(claimed_at=max(now, utcnow()))
        .execution_options(synchronize_session=False)
    )
    return bool(renewed.rowcount)


def _permanent(exc: Exception) -> bool:
    """5xx answers (unknown mailbox, rejected sender) will not get better by retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [
            f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in exc.recipients.items()
        ]
        return "Recipient refused: " + "; ".join(parts)
    if isinstance(exc, smtplib.SMTPResponseException):
        err = exc.smtp_error
        text = err.decode(errors="replace") if isinstance(err, bytes) else str(err)
        return f"SMTP {exc.smtp_code}: {text}"
    return f"{type(exc).__name__}: {exc}"[:1000]


def deliver(
    session: Session,
    message_id: int,
    transport: Transport,
    settings: Settings,
    now: datetime,
    report: SendReport,
) -> str:
    """Send one claimed message and record the outcome; returns the new status."""
    # The claim was a bulk UPDATE: reload, or an already loaded row would still look queued.
    msg = session.get(OutboxMessage, message_id, populate_existing=True)
    if msg is None or msg.status != "sending":
        return "skipped"
    if (
        needs_consent(msg.kind)
        and msg.customer_id is not None
        and not may_email(session, msg.customer_id)
    ):
        # Queued while the customer agreed; since then they unsubscribed or were erased.
        msg.status = "cancelled"
        msg.last_error = NO_CONSENT
        msg.claim_token = None
        session.flush()
        report.cancelled += 1
        return msg.status
    link = None
    if LINK in msg.body_text:
        resolver = LINK_RESOLVERS.get(msg.related_type or "")
        path = (
            resolver(session, msg.related_id, msg.locale) if resolver and msg.related_id else None
        )
        if path is None:
            msg.status = "cancelled"
            msg.last_error = LINK_GONE
            msg.claim_token = None
            session.flush()
            report.cancelled += 1
            return msg.status
        link = absolute(settings, path)
    try:
        transport.send(build_message(msg, settings, link, now))
    except (smtplib.SMTPException, OSError) as exc:
        msg.last_error = _describe(exc)
        msg.claim_token = None
        report.errors.append(f"#{msg.id} {msg.recipient}: {msg.last_error}")
        if _permanent(exc) or msg.attempts >= settings.mail_max_attempts:
            msg.status = "failed"
            report.failed += 1
        else:
            msg.status = "queued"
            msg.next_attempt_at = now + min(timedelta(minutes=2 ** (msg.attempts - 1)), MAX_BACKOFF)
            report.retrying += 1
        if isinstance(exc, OSError | smtplib.SMTPServerDisconnected):
            transport.close()
        session.flush()
        return msg.status
    msg.status = "sent"
    msg.sent_at = now
    msg.last_error = None
    msg.claim_token = None
    hook = SENT_HOOKS.get(msg.kind)
    if hook is not None and msg.related_id is not None:
        hook(session, msg.related_id, now)
    session.flush()
    report.sent += 1
    return msg.status


def waiting_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(or_(OutboxMessage.status == "queued", OutboxMessage.status == "sending"))
        )
        or 0
    )


def send_queued(
    session: Session,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
    transport: Transport | None = None,
) -> SendReport:
    """Send every due queued message now, committing after the claim and after each message.

    This is the one place that commits inside a unit of work, on purpose: an SMTP hand-off
    cannot be rolled back, so each accepted message is recorded as sent before the next is
    tried (a crash repeats at most the message in flight), and no database lock is held while
    the SMTP server is talking (SQLite has a single writer). Safe to run twice, also at the same
    time: claimed rows are invisible to other runs.
    """
    settings = settings or get_settings()
    now = now or utcnow()
    report = SendReport()
    if not settings.mail_enabled:
        report.disabled = True
        report.waiting = waiting_count(session)
        return report
    # Resolvers and sent hooks register on import; a worker may have imported nothing else.
    load_email_modules()
    report.requeued_stale = requeue_stale(session, now)
    token = secrets.token_hex(16)
    ids = claim_batch(session, settings.mail_batch_size, now, token)
    report.claimed = len(ids)
    session.commit()
    if not ids:
        return report
    own = transport is None
    transport = transport or SmtpTransport(settings)
    try:
        for message_id in ids:
            # Committed before the SMTP talk: no database lock is held while it lasts.
            ours = still_ours(session, message_id, token, now)
            session.commit()
            if not ours:
                report.skipped += 1
                continue
            deliver(session, message_id, transport, settings, now, report)
            session.commit()
    finally:
        if own:
            transport.close()
    if report.sent or report.failed or report.cancelled:
        record(
            session,
            None,
            "send",
            "mail_outbox",
            None,
            None,
            {
                "sent": report.sent,
                "retrying": report.retrying,
                "failed": report.failed,
                "cancelled": report.cancelled,
            },
        )
        session.flush()
    report.waiting = waiting_count(session)
    return report


def send_test(
    session: Session, address: str, *, actor: User | None, settings: Settings | None = None
) -> OutboxMessage:
    """Queue a test e-mail to ``address`` and send it at once; returns the message row."""
    if actor is not None:
        require(actor, "mail:manage")
    settings = settings or get_settings()
    msg = queue_email(session, smtp_test_email(address, settings), actor=actor)
    if not settings.mail_enabled:
        return msg
    now = utcnow()
    msg.status = "sending"
    msg.attempts = 1
    msg.claimed_at = now
    session.flush()
    transport = SmtpTransport(settings)
    try:
        deliver(session, msg.id, transport, settings, now, SendReport())
    finally:
        transport.close()
    if msg.status == "queued":
        # A test shows the problem now instead of retrying quietly in the background.
        msg.status = "failed"
        session.flush()
    return msg


def smtp_test_email(address: str, settings: Settings) -> Email:
    """A test message proving the SMTP settings work (sent in the installation's language)."""
    loc = normalise_locale(settings.default_locale)
    paragraphs = [
        translate(loc, N_("This is a test email from Retento.")),
        translate(
            loc,
            N_("It was sent through %(host)s:%(port)s as %(sender)s."),
            host=settings.smtp_host or "—",
            port=settings.smtp_port,
            sender=settings.mail_from,
        ),
    ]
    return Email(
        recipient=address,
        subject=translate(loc, N_("Retento test email")),
        body_text="\n\n".join(paragraphs) + "\n",
        body_html=html_body(paragraphs, loc),
        locale=loc,
        kind="test",
    )
