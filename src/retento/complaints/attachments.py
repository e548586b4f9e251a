"""Complaint attachments: files stored on disk (type, size and count limited) and read back."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints.models import ComplaintAttachment
from retento.complaints.service import _event, lock_complaint, require_work
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound
from retento.core.validation import content_matches_type

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 10
ATTACHMENT_TYPES = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".log"),
}


def _safe_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\-]+", "_", base).strip("._") or "file"
    if len(base) > 120:
        # Shortened from the middle: the type is checked by the ending, which must stay.
        suffix = Path(base).suffix[:10]
        base = base[: 120 - len(suffix)] + suffix
    return base


def add_attachment(
    session: Session,
    complaint_id: int,
    filename: str,
    content_type: str,
    data: bytes,
    *,
    actor: User,
    data_dir: str,
) -> ComplaintAttachment:
    """Store a file on disk (size and type limited) and attach it to the complaint."""
    require(actor, "complaint:read")
    # Locked: the count of files (at most MAX_ATTACHMENTS) is checked against committed uploads.
    c = lock_complaint(session, complaint_id)
    require_work(actor, c)
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype not in ATTACHMENT_TYPES:
        raise InvalidInput(
            Msg(
                "Files of type '%(type)s' are not accepted; allowed: %(allowed)s.",
                type=ctype or "unknown",
                allowed=", ".join(sorted(ATTACHMENT_TYPES)),
            ),
            field="file",
        )
    safe = _safe_name(filename)
    if not safe.lower().endswith(ATTACHMENT_TYPES[ctype]):
        raise InvalidInput(
            Msg(
                "The file name must end in %(endings)s for %(type)s.",
                endings=" or ".join(ATTACHMENT_TYPES[ctype]),
                type=ctype,
            ),
            field="file",
        )
    if not data:
        raise InvalidInput("The file is empty.", field="file")
    if not content_matches_type(ctype, data):
        raise InvalidInput(Msg("The file's contents are not %(type)s.", type=ctype), field="file")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            Msg("The file is larger than %(mb)s MB.", mb=MAX_ATTACHMENT_BYTES // (1024 * 1024)),
            field="file",
        )
    if len(c.attachments) >= MAX_ATTACHMENTS:
        raise Conflict(
            Msg("A complaint holds at most %(n)s files.", n=MAX_ATTACHMENTS), field="file"
        )
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(data_dir) / "complaints" / str(c.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:16]}_{safe}"
    path.write_bytes(data)
    att = ComplaintAttachment(
        complaint_id=c.id,
        filename=safe,
        content_type=ctype,
        size=len(data),
        sha256=digest,
        path=str(path),
        uploaded_by_id=actor.id,
    )
    session.add(att)
    session.flush()
    _event(session, c, "attachment", actor, safe, data={"attachment_id": att.id, "size": len(data)})
    record(session, actor, "create", "complaint_attachment", att.id, None, snapshot(att))
    return att


def get_attachment(session: Session, attachment_id: int, *, actor: User) -> ComplaintAttachment:
    require(actor, "complaint:read")
    att = session.get(ComplaintAttachment, attachment_id)
    if att is None:
        raise NotFound("Attachment", attachment_id)
    return att
