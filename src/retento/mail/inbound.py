"""Inbound email: an SMTP or LMTP receiver (aiosmtpd) that hands each customer reply to the
domain it belongs to.

The mail layer knows no domain here either: a domain registers an ``InboundRoute`` (from its
``emails.py``) with a ``match`` that finds its key in the subject (complaints: the tracking code
``RC-…``) and a ``deliver`` that files the reply (complaints: a ``customer_reply`` event on the
timeline). A message is parsed with the standard library's ``email`` package: the plain-text
part (else the HTML part with its tags removed), quoted text and signatures trimmed, at most
``MAX_BYTES`` accepted. Replies the receiver cannot place are refused with a 5xx answer (the
sender's server tells the sender) and logged; an unexpected error is a 451 (try again later),
never a crash of the receiver.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr

from sqlalchemy.orm import Session, sessionmaker

from retento.core.db import transaction
from retento.core.errors import RetentoError
from retento.mail.kinds import load_email_modules

log = logging.getLogger("retento.mail.inbound")

MAX_BYTES = 1024 * 1024  # a reply with attachments larger than this is refused (552)
MAX_TEXT = 20000  # characters of reply text kept


@dataclass
class InboundMail:
    sender: str
    subject: str
    text: str
    message_id: str | None
    # An out-of-office answer, a bounce or other machine-written mail (``automatic``).
    automatic: bool = False


class Rejected(Exception):
    """The domain refuses the reply (closed case, empty text …): answered with a 550."""


@dataclass
class InboundRoute:
    name: str
    # subject -> the domain's key (e.g. a tracking code), or None when the subject is not ours
    match: Callable[[str], str | None]
    # files the reply; raises Rejected or a RetentoError (unknown key: NotFound) to refuse it
    deliver: Callable[[Session, str, InboundMail], None]


ROUTES: list[InboundRoute] = []


def register_inbound(route: InboundRoute) -> None:
    """Let replies whose subject ``route.match``es reach ``route.deliver``."""
    ROUTES[:] = [r for r in ROUTES if r.name != route.name] + [route]


# --- parsing ------------------------------------------------------------------------------------

# Where the quoted original starts, in the forms common mail programs write it (en and zh).
_QUOTE_HEADERS = [
    re.compile(r"^\s*On .{1,300}wrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*在.{1,300}写道[:：]\s*$"),
    re.compile(r"^\s*-{2,}\s*(Original Message|原始邮件)\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*(From|发件人)\s*[:：].+$", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),
]
_TAG = re.compile(r"<[^>]+>")


def _html_text(html: str) -> str:
    import html as html_lib

    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", html)
    html = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", html)
    return html_lib.unescape(_TAG.sub("", html))


def trim_reply(text: str) -> str:
    """The new part of a reply: stops at the quoted original or the signature, drops ``>`` lines."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.rstrip() == "--" or any(p.match(line) for p in _QUOTE_HEADERS):
            break
        if line.lstrip().startswith(">"):
            continue
        out.append(line.rstrip())
    return "\n".join(out).strip()[:MAX_TEXT]


_MACHINE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.I)
_AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply"}


def automatic(msg: EmailMessage, sender: str) -> bool:
    """Mail no person wrote (RFC 3834 auto-replies, RFC 3464 bounces, vacation notices): an
    "Automatic reply: … RC-…" must not become the customer's answer on a complaint (it would
    resume the SLA clock as if they had replied), nor be answered."""
    auto_submitted = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if msg.get_content_type() == "multipart/report":  # delivery and read reports
        return True
    if str(msg.get("Precedence", "")).strip().lower() in _AUTO_PRECEDENCE:
        return True
    if msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None:
        return True
    return bool(_MACHINE_SENDERS.match(sender))


def parse(raw: bytes) -> InboundMail:
    """Sender, subject, trimmed reply text and Message-ID of one raw message."""
    msg = message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if part is not None:
        try:
            content = part.get_content()
        except (LookupError, ValueError):  # unknown charset, broken encoding
            content = part.get_payload(decode=True).decode("utf-8", "replace")
        text = _html_text(content) if part.get_content_type() == "text/html" else content
    subject = " ".join(str(msg.get("Subject", "")).split())
    sender = parseaddr(str(msg.get("From", "")))[1].strip().lower()
    return InboundMail(
        sender=sender,
        subject=subject,
        text=trim_reply(text),
        message_id=(str(msg.get("Message-ID", "")).strip() or None),
        automatic=automatic(msg, sender),
    )


# --- accepting ----------------------------------------------------------------------------------


def accept(factory: sessionmaker[Session], raw: bytes) -> str:
    """File one message through the matching route; returns the SMTP answer line."""
    if len(raw) > MAX_BYTES:
        log.warning("inbound mail refused: %d bytes over the limit", len(raw))
        return "552 5.3.4 Message too big"
    try:
        mail = parse(raw)
    except Exception:  # a message the parser cannot read at all
        log.warning("inbound mail refused: unreadable message", exc_info=True)
        return "550 5.6.0 The message could not be read"
    if mail.automatic:
        # Accepted and dropped: refusing it would bounce a bounce, answering it loop.
        log.info("inbound mail from %s ignored: automatic (%r)", mail.sender, mail.subject)
        return "250 2.0.0 Automatic message ignored"
    for route in ROUTES:
        key = route.match(mail.subject)
        if key is None:
            continue
        try:
            with transaction(factory) as session:
                route.deliver(session, key, mail)
        except (Rejected, RetentoError) as exc:
            text = exc.message if isinstance(exc, RetentoError) else str(exc)
            reason = text.replace("\r", " ").replace("\n", " ")[:200]
            log.warning(
                "inbound mail from %s for %s %s refused: %s", mail.sender, route.name, key, reason
            )
            return f"550 5.1.1 {reason}"
        except Exception:
            log.exception("inbound mail from %s for %s %s failed", mail.sender, route.name, key)
            return "451 4.3.0 Temporary failure, try again later"
        log.info("inbound mail from %s filed to %s %s", mail.sender, route.name, key)
        return "250 2.0.0 Reply received"
    log.warning("inbound mail from %s refused: no known reference in %r", mail.sender, mail.subject)
    return "550 5.1.1 No tracking code in the subject"


class Handler:
    """aiosmtpd handler: the database work runs in a worker thread, never on the event loop."""

    def __init__(self, factory: sessionmaker[Session]):
        self.factory = factory

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, accept, self.factory, raw)


def make_controller(factory: sessionmaker[Session], host: str, port: int, *, lmtp: bool = False):
    """A started-on-demand receiver on ``host:port`` (``.start()`` / ``.stop()``)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.lmtp import LMTP
    from aiosmtpd.smtp import SMTP

    load_email_modules()  # the domains register their routes in their emails.py

    class Receiver(Controller):
        def factory(self):
            cls = LMTP if lmtp else SMTP
            return cls(self.handler, **self.SMTP_kwargs)

    return Receiver(Handler(factory), hostname=host, port=port, data_size_limit=MAX_BYTES)
